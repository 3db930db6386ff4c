"""Custom output validators and interactors, with the Kattis problem package interface.

A validator is run as `validator input_file judge_answer_file feedback_dir
[flags...]` with the team output on its stdin (an interactor instead talks
to the submission, see judge/interactive.py). Exit code 42 accepts, 43
rejects with judgemessage.txt of the feedback folder as the message, and
score.txt may hold the test case's score. Anything else, including a crash
or a timeout, is the problem's fault and ends the judging in IE, never WA.

A validator is compiled once per distinct source: the cache key is a hash of
its language, files, compile command and judge image, and the compiled
program is kept on the judge host under the cache folder. It runs in a container of its own,
never the contestant's, with the same hardening, so the submission has no
access to the validator or the answer files.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import shutil
import signal
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path, PurePosixPath

import msgspec

from judge.languages import GCC_IMAGE, PYTHON_IMAGE, ImageRecipe
from judge.sandbox import MIB, RunnerReply, Sandbox, SandboxSettings, ValidatorReply

log = logging.getLogger(__name__)

ACCEPT_EXIT_CODE = 42
REJECT_EXIT_CODE = 43
VALIDATOR_LANGUAGES = ("c", "cpp", "python3")
MAX_VALIDATOR_BYTES = 16 * MIB
# Paths inside the validator container, written by the runner's 'D' frames.
INPUT_PATH = "/judge/input"
ANSWER_PATH = "/judge/answer"
# With the trailing slash: validators both append "/judgemessage.txt" and
# "judgemessage.txt" to this argument.
FEEDBACK_PATH = "/judge/feedback/"
BINARY_NAME = "validator"
# Bump when the compile commands below change, so cached programs are rebuilt.
CACHE_FORMAT_VERSION = "1"
MESSAGE_CHARS = 1000
LOG_CHARS = 500
_SOURCE_SUFFIXES = {"c": (".c",), "cpp": (".cpp", ".cc", ".cxx", ".c++", ".C"), "python3": (".py",)}


class ValidatorSpec(msgspec.Struct, frozen=True, kw_only=True):
    """An output validator or interactor of a problem: its language, source files and flags."""

    language: str
    # File name (no folders) to file content.
    sources: dict[str, str]
    # Python: the file to start; None picks the only .py file, else main.py or __main__.py.
    entry: str | None = None
    # The problem's `validator_flags`; each test's own arguments come after them.
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.language not in VALIDATOR_LANGUAGES:
            raise ValueError(f"validator.language: must be one of {', '.join(VALIDATOR_LANGUAGES)}, got {self.language!r}")
        if not self.sources:
            raise ValueError("validator.sources: at least one source file is needed")
        total = 0
        for name, text in self.sources.items():
            if not name or "/" in name or "\0" in name or name.startswith(".") or name == BINARY_NAME or len(name.encode()) > 200:
                raise ValueError(f"validator.sources: invalid file name {name!r}; use a plain name without folders")
            total += len(text.encode())
        if total > MAX_VALIDATOR_BYTES:
            raise ValueError(f"validator.sources: larger than {MAX_VALIDATOR_BYTES} bytes")
        if not self.compiled_sources():
            suffixes = ", ".join(_SOURCE_SUFFIXES[self.language])
            raise ValueError(f"validator.sources: no {self.language} source file ({suffixes}) among {sorted(self.sources)}")
        if self.entry is not None and (self.language != "python3" or self.entry not in self.sources):
            raise ValueError(f"validator.entry: {self.entry!r} must name one of the Python source files")
        if self.language == "python3":
            self.entry_file()
        for flag in self.flags:
            if "\0" in flag:
                raise ValueError("validator.flags: NUL byte in a flag")

    def compiled_sources(self) -> list[str]:
        """Return the files handed to the compiler, in a fixed order (headers are only written)."""
        return sorted(name for name in self.sources if name.endswith(_SOURCE_SUFFIXES[self.language]))

    def entry_file(self) -> str:
        if self.entry is not None:
            return self.entry
        python_files = self.compiled_sources()
        if len(python_files) == 1:
            return python_files[0]
        for name in ("main.py", "__main__.py", "validator.py", "interactor.py"):
            if name in self.sources:
                return name
        raise ValueError(f"validator.entry: several Python files {python_files}; name the one to start")


def validator_spec(
    language: str | None, files: dict[str, str], *, entry: str | None = None, flags: Sequence[str] = ()
) -> ValidatorSpec:
    """Build a ValidatorSpec from a package's validator files, keyed by their paths in the package.

    Files keep only their base names, because the validator's folder is flat
    in its container. Raises ValueError when two files share a name or the
    language cannot run as a validator.
    """
    if language not in VALIDATOR_LANGUAGES:
        raise ValueError(f"validator.language: {language!r} validators are not supported; use {', '.join(VALIDATOR_LANGUAGES)}")
    sources: dict[str, str] = {}
    for path, text in files.items():
        name = PurePosixPath(path).name
        if name in sources:
            raise ValueError(f"validator.sources: two files named {name!r}; the validator folder must not reuse a file name")
        sources[name] = text
    return ValidatorSpec(
        language=language,
        sources=sources,
        entry=PurePosixPath(entry).name if entry and language == "python3" else None,
        flags=tuple(flags),
    )


class ValidatorError(Exception):
    """The validator did not compile, crashed, timed out or exited with neither 42 nor 43: IE."""


class Judgement(msgspec.Struct, frozen=True):
    """A validator's decision on one test case."""

    accepted: bool
    message: str
    # From score.txt; None when the validator wrote none.
    score: float | None = None


class PreparedValidator(msgspec.Struct, frozen=True, kw_only=True):
    """A compiled validator: the files to put into /box of its container and the command to start."""

    key: str
    image: ImageRecipe
    # Name, content and whether it is executable.
    files: tuple[tuple[str, bytes, bool], ...]
    argv: tuple[str, ...]


class CompileOutcome(msgspec.Struct, frozen=True):
    success: bool
    # True when a compile error will repeat on every try, so it is worth caching.
    deterministic: bool
    log: str
    binary: bytes | None = None


def image_of(spec: ValidatorSpec) -> ImageRecipe:
    return PYTHON_IMAGE if spec.language == "python3" else GCC_IMAGE


def compile_command(spec: ValidatorSpec) -> list[str]:
    files = spec.compiled_sources()
    if spec.language == "c":
        return ["gcc", "-std=gnu17", "-O2", "-pipe", "-o", BINARY_NAME, *files, "-lm"]
    if spec.language == "cpp":
        return ["g++", "-std=gnu++17", "-O2", "-pipe", "-o", BINARY_NAME, *files]
    # Python: a syntax check of every file, so a broken validator fails once, here.
    check = "import sys\nfor path in sys.argv[1:]:\n    compile(open(path, 'rb').read(), path, 'exec')"
    return ["python3", "-c", check, *files]


def cache_key(spec: ValidatorSpec, image: str) -> str:
    """Return the cache key of a validator compiled in `image` (a rebuilt image has new libraries)."""
    digest = hashlib.sha256()
    digest.update(msgspec.json.encode([CACHE_FORMAT_VERSION, spec.language, compile_command(spec), image]))
    for name in sorted(spec.sources):
        digest.update(msgspec.json.encode([name, hashlib.sha256(spec.sources[name].encode()).hexdigest()]))
    return digest.hexdigest()[:24]


def _prepared(spec: ValidatorSpec, key: str, binary: bytes | None) -> PreparedValidator:
    if spec.language == "python3":
        files = tuple((name, text.encode(), False) for name, text in sorted(spec.sources.items()))
        return PreparedValidator(key=key, image=image_of(spec), files=files, argv=("python3", spec.entry_file()))
    assert binary is not None
    return PreparedValidator(key=key, image=image_of(spec), files=((BINARY_NAME, binary, True),), argv=(f"./{BINARY_NAME}",))


async def compile_validator(sandbox: Sandbox, spec: ValidatorSpec, uid: int) -> CompileOutcome:
    """Compile (C, C++) or syntax-check (Python) the validator in a fresh sandbox of its image."""
    for name, text in sorted(spec.sources.items()):
        await sandbox.write_source(name, text)
    reply, output = await sandbox.compile(uid=uid, argv=compile_command(spec))
    text = output.decode(errors="replace")
    settings = sandbox.settings
    if reply.wall_timeout or reply.cpu_ms > settings.compile_time_ms:
        return CompileOutcome(False, False, f"{text}\ncompilation exceeded its time limit ({settings.compile_time_ms} ms CPU)")
    if reply.oom_killed or reply.signal:
        return CompileOutcome(False, False, f"{text}\ncompiler killed by signal {reply.signal} (out of memory: {reply.oom_killed})")
    if reply.exit_code != 0:
        return CompileOutcome(False, True, text)
    binary = None if spec.language == "python3" else await sandbox.read_file(BINARY_NAME)
    return CompileOutcome(True, True, text, binary)


class ValidatorCache:
    """Compiled validators on the host, one folder per cache key, plus a small in-memory copy.

    A compile error is cached too (error.txt), so a broken validator costs
    one compilation, not one per submission. Folders appear by rename, so a
    reader never sees half of one.
    """

    def __init__(self, directory: Path, memory_entries: int = 32) -> None:
        self.directory = directory
        self.memory_entries = memory_entries
        self._memory: dict[str, PreparedValidator] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def prepare(self, spec: ValidatorSpec, image: str, compile: Callable[[], Awaitable[CompileOutcome]]) -> PreparedValidator:
        """Return the validator compiled in `image`, compiling it with `compile` on a cache miss; raises ValidatorError."""
        key = cache_key(spec, image)
        if key in self._memory:
            return self._memory[key]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._memory:
                return self._memory[key]
            prepared = await asyncio.to_thread(self._load, spec, key)
            if prepared is None:
                log.info("compiling %s validator %s", spec.language, key)
                outcome = await compile()
                if not outcome.success:
                    if outcome.deterministic:
                        await asyncio.to_thread(self._store, key, None, outcome.log)
                    raise ValidatorError(f"the output validator failed to compile: {_tail(outcome.log)}")
                await asyncio.to_thread(self._store, key, outcome.binary, None)
                prepared = _prepared(spec, key, outcome.binary)
            if len(self._memory) >= self.memory_entries:
                self._memory.pop(next(iter(self._memory)))
            self._memory[key] = prepared
            return prepared

    def _load(self, spec: ValidatorSpec, key: str) -> PreparedValidator | None:
        folder = self.directory / key
        error = folder / "error.txt"
        if error.is_file():
            raise ValidatorError(f"the output validator failed to compile: {_tail(error.read_text(errors='replace'))}")
        if spec.language == "python3":
            return _prepared(spec, key, None) if (folder / "ok").is_file() else None
        binary = folder / BINARY_NAME
        return _prepared(spec, key, binary.read_bytes()) if binary.is_file() else None

    def _store(self, key: str, binary: bytes | None, error: str | None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.directory / f".partial-{uuid.uuid4().hex}"
        partial.mkdir()
        try:
            if error is not None:
                (partial / "error.txt").write_text(error)
            elif binary is not None:
                (partial / BINARY_NAME).write_bytes(binary)
            else:
                (partial / "ok").write_text("")
            try:
                os.rename(partial, self.directory / key)
            except OSError:
                pass  # another judge process stored the same key first
        finally:
            shutil.rmtree(partial, ignore_errors=True)


class ValidatorRun:
    """A prepared validator loaded into its own container, used for every test of one submission."""

    def __init__(self, sandbox: Sandbox, prepared: PreparedValidator, spec: ValidatorSpec, *, uid: int) -> None:
        self.sandbox = sandbox
        self.prepared = prepared
        self.spec = spec
        self.uid = uid
        settings: SandboxSettings = sandbox.settings
        self.cpu_ms = settings.validator_time_ms
        self.wall_ms = settings.validator_wall_ms

    async def load(self, data_bytes: int) -> None:
        """Copy the validator in and size the container for it and for one test's data files."""
        settings = self.sandbox.settings
        memory_mb = settings.validator_memory_mb + math.ceil(data_bytes / MIB) + settings.memory_overhead_mb
        await self.sandbox.set_memory(memory_mb)
        for name, content, executable in self.prepared.files:
            await self.sandbox.write_file(name, content, executable=executable)

    def argv(self, test_args: tuple[str, ...]) -> list[str]:
        return [*self.prepared.argv, INPUT_PATH, ANSWER_PATH, FEEDBACK_PATH, *self.spec.flags, *test_args]

    async def send_test_data(self, input_data: bytes, answer_data: bytes) -> None:
        await self.sandbox.write_data("input", input_data)
        await self.sandbox.write_data("answer", answer_data)

    async def check(self, input_data: bytes, answer_data: bytes, team_output: bytes, test_args: tuple[str, ...]) -> Judgement:
        """Run the validator on one test's output; raises ValidatorError when it fails."""
        await self.send_test_data(input_data, answer_data)
        await self.sandbox.write_data("team_output", team_output)
        result = await self.sandbox.validate(uid=self.uid, argv=self.argv(test_args), cpu_ms=self.cpu_ms, wall_ms=self.wall_ms)
        return interpret(result, cpu_ms=self.cpu_ms, what="output validator")


def interpret(result: ValidatorReply, *, cpu_ms: int, what: str, stopped_reason: str = "") -> Judgement:
    """Turn a validator's exit into a Judgement; raise ValidatorError for anything but 42 or 43."""
    reply = result.reply
    problem = _failure(reply, cpu_ms, stopped_reason)
    if problem is None and reply.exit_code == REJECT_EXIT_CODE:
        return Judgement(False, _message(result) or f"the {what} rejected the output")
    if problem is None and reply.exit_code == ACCEPT_EXIT_CODE:
        # judgemessage.txt is meant for judges; the contestant only sees it with a rejection.
        return Judgement(True, "", _score(result.score))
    if problem is None:
        problem = f"exited with code {reply.exit_code}; expected {ACCEPT_EXIT_CODE} (accept) or {REJECT_EXIT_CODE} (reject)"
    details = [f"the {what} {problem}"]
    if result.judge_message.strip():
        details.append(f"judgemessage.txt: {_tail(result.judge_message.decode(errors='replace'))}")
    if result.log.strip():
        details.append(f"its output: {_tail(result.log.decode(errors='replace'))}")
    raise ValidatorError("; ".join(details))


def _failure(reply: RunnerReply, cpu_ms: int, stopped_reason: str) -> str | None:
    if reply.setup_error:
        return f"could not start: {reply.setup_error}"
    if reply.stopped:
        return stopped_reason or "was stopped by the judge"
    if reply.wall_timeout or reply.cpu_ms > cpu_ms or reply.signal == signal.SIGXCPU:
        return f"exceeded its time limit ({reply.cpu_ms} ms CPU, {reply.wall_ms:.0f} ms wall; limit {cpu_ms} ms CPU)"
    if reply.oom_killed:
        return f"exceeded its memory limit (peak {reply.memory_kb} KiB)"
    if reply.signal == signal.SIGXFSZ:
        return "wrote a file larger than its file size limit"
    if reply.signal:
        return f"was killed by signal {reply.signal}"
    return None


def _message(result: ValidatorReply) -> str:
    text = result.judge_message.decode(errors="replace").strip()
    if len(text) > MESSAGE_CHARS or result.judge_message_cut:
        return text[:MESSAGE_CHARS] + " [message cut]"
    return text


def _score(raw: bytes) -> float | None:
    text = raw.decode(errors="replace").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValidatorError(f"invalid score.txt {text[:40]!r}: expected a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValidatorError(f"invalid score.txt {text[:40]!r}: expected a finite number >= 0")
    return value


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= LOG_CHARS else "..." + text[-LOG_CHARS:]


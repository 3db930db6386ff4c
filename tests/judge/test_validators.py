"""Custom output validators: verdicts from exit codes, failures as IE, caching, isolation, a demo package."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio

from judge import pool as judge_pool_module
from judge.checkers import CheckerFlags
from judge.events import Verdict
from judge.function_style import FunctionOptions
from judge.job import JudgeJob, TestCase, problem_checker_fields, validator_args_for
from judge.packages import load_package
from judge.pool import JudgePool
from judge.validators import MESSAGE_CHARS, ValidatorSpec, cache_key, validator_spec
from server.packages import package_meta

from .conftest import TEST_SETTINGS, CaseFiles, Judged, judge

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="session")]

DEMO = Path(__file__).resolve().parents[2] / "demo" / "problems"
# Short validator limits keep the timeout cases quick.
SETTINGS = msgspec.structs.replace(TEST_SETTINGS, validator_time_ms=1000, validator_wall_ms=2000)
DOUBLER = "print(2 * int(input()))\n"
TRIPLER = "print(3 * int(input()))\n"

# Accepts when the team output has the answer's tokens; otherwise writes what differs.
TOKEN_VALIDATOR = """\
import sys
from pathlib import Path

answer = Path(sys.argv[2]).read_text().split()
output = sys.stdin.read().split()
if output == answer:
    sys.exit(42)
(Path(sys.argv[3]) / "judgemessage.txt").write_text(f"expected {' '.join(answer)}, got {' '.join(output)}")
sys.exit(43)
"""


def python_validator(source: str, **fields) -> ValidatorSpec:
    return ValidatorSpec(language="python3", sources={"validator.py": source}, **fields)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool(judge_ready: None, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[JudgePool]:
    # A fresh cache folder, so the first use of each validator compiles it here.
    cache = tmp_path_factory.mktemp("validator-cache")
    judge_pool = JudgePool(concurrency=2, warm_containers=1, settings=SETTINGS, validator_cache_dir=cache)
    await judge_pool.start()
    yield judge_pool
    await judge_pool.close()


@pytest.fixture
def compile_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each real validator compilation the pool runs."""
    calls: list[str] = []
    real = judge_pool_module.compile_validator

    async def counting(sandbox, spec, uid):
        calls.append(cache_key(spec, sandbox.image))
        return await real(sandbox, spec, uid)

    monkeypatch.setattr(judge_pool_module, "compile_validator", counting)
    return calls


async def validated(pool: JudgePool, files: CaseFiles, source: str, validator: ValidatorSpec, **fields) -> Judged:
    fields.setdefault("tests", (files.case("21\n", "42\n"), files.case("5\n", "10\n")))
    fields.setdefault("language", "python3")
    return await judge(pool, source=source, checker="custom", validator=validator, **fields)


async def test_validator_accepts(pool: JudgePool, case_files: CaseFiles) -> None:
    result = await validated(pool, case_files, DOUBLER, python_validator(TOKEN_VALIDATOR))
    assert result.final.verdict == Verdict.AC, result
    assert [test.verdict for test in result.tests] == [Verdict.AC, Verdict.AC]
    assert result.final.internal_error is None


async def test_validator_rejects_with_its_message(pool: JudgePool, case_files: CaseFiles) -> None:
    result = await validated(pool, case_files, TRIPLER, python_validator(TOKEN_VALIDATOR))
    assert result.final.verdict == Verdict.WA, result
    assert [test.verdict for test in result.tests] == [Verdict.WA]
    assert result.tests[0].message == "expected 42, got 63"
    assert result.final.internal_error is None


async def test_rejection_without_message_says_so(pool: JudgePool, case_files: CaseFiles) -> None:
    result = await validated(pool, case_files, DOUBLER, python_validator("raise SystemExit(43)\n"))
    assert result.final.verdict == Verdict.WA, result
    assert result.tests[0].message == "the output validator rejected the output"


async def test_validator_gets_kattis_arguments(pool: JudgePool, case_files: CaseFiles) -> None:
    # Rejects and reports everything it was given, so the test can read it back.
    source = """\
import json, os, sys
from pathlib import Path

report = {
    "argv": sys.argv[1:],
    "input": Path(sys.argv[1]).read_text(),
    "answer": Path(sys.argv[2]).read_text(),
    "stdin": sys.stdin.read(),
    "feedback_empty": os.listdir(sys.argv[3]) == [],
}
Path(sys.argv[3], "judgemessage.txt").write_text(json.dumps(report))
sys.exit(43)
"""
    test = msgspec.structs.replace(case_files.case("21\n", "42\n"), validator_args=("group_flag", "7"))
    validator = python_validator(source, flags=("case_sensitive", "x y"))
    result = await validated(pool, case_files, DOUBLER, validator, tests=(test,))

    assert result.final.verdict == Verdict.WA, result
    report = msgspec.json.decode(result.tests[0].message)
    assert report["argv"] == ["/judge/input", "/judge/answer", "/judge/feedback/", "case_sensitive", "x y", "group_flag", "7"]
    assert report["input"] == "21\n"
    assert report["answer"] == "42\n"
    assert report["stdin"] == "42\n"
    assert report["feedback_empty"] is True


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("raise RuntimeError('validator bug')\n", "exited with code 1"),
        ("pass\n", "exited with code 0"),
        ("raise SystemExit(1)\n", "exited with code 1"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", "killed by signal 11"),
        ("import sys\nsys.stdin.read()\nsys.exit(44)\n", "exited with code 44"),
    ],
    ids=["exception", "exit-0", "exit-1", "segfault", "exit-44"],
)
async def test_failing_validator_is_internal_error(pool: JudgePool, case_files: CaseFiles, source: str, reason: str) -> None:
    result = await validated(pool, case_files, DOUBLER, python_validator(source))
    assert result.final.verdict == Verdict.IE, result
    assert [test.verdict for test in result.tests] == [Verdict.IE]
    assert "organizers" in result.tests[0].message
    assert result.final.internal_error is not None
    assert reason in result.final.internal_error
    assert result.final.score == 0


async def test_validator_traceback_reaches_organizers(pool: JudgePool, case_files: CaseFiles) -> None:
    result = await validated(pool, case_files, DOUBLER, python_validator("raise RuntimeError('validator bug 4711')\n"))
    assert result.final.internal_error is not None
    assert "RuntimeError: validator bug 4711" in result.final.internal_error
    assert "4711" not in result.tests[0].message


@pytest.mark.parametrize(
    "source",
    ["import time\ntime.sleep(60)\n", "while True:\n    pass\n"],
    ids=["sleeping", "spinning"],
)
async def test_validator_timeout_is_internal_error(pool: JudgePool, case_files: CaseFiles, source: str) -> None:
    started = time.monotonic()
    result = await validated(pool, case_files, DOUBLER, python_validator(source))
    elapsed = time.monotonic() - started

    assert result.final.verdict == Verdict.IE, result
    assert "exceeded its time limit" in (result.final.internal_error or "")
    assert elapsed < SETTINGS.validator_wall_ms / 1000 + 5


async def test_validator_printing_a_lot_is_capped(pool: JudgePool, case_files: CaseFiles) -> None:
    # 64 MiB on stdout and stderr each, then a rejection.
    source = """\
import sys
from pathlib import Path

line = "x" * 1023 + "\\n"
for _ in range(65536):
    sys.stdout.write(line)
    sys.stderr.write(line)
Path(sys.argv[3], "judgemessage.txt").write_text("wrong, after much chatter")
sys.exit(43)
"""
    result = await validated(pool, case_files, DOUBLER, python_validator(source))
    assert result.final.verdict == Verdict.WA, result
    assert result.tests[0].message == "wrong, after much chatter"


async def test_long_judge_message_is_cut(pool: JudgePool, case_files: CaseFiles) -> None:
    source = "import sys\nfrom pathlib import Path\nPath(sys.argv[3], 'judgemessage.txt').write_text('m' * (4 << 20))\nsys.exit(43)\n"
    result = await validated(pool, case_files, DOUBLER, python_validator(source))
    assert result.final.verdict == Verdict.WA, result
    message = result.tests[0].message
    assert message.startswith("m" * MESSAGE_CHARS)
    assert message.endswith("[message cut]")
    assert len(message) < MESSAGE_CHARS + 20


async def test_validator_writing_past_file_limit_is_internal_error(pool: JudgePool, case_files: CaseFiles) -> None:
    size = SETTINGS.validator_file_bytes + (1 << 20)
    source = f"import sys\nfrom pathlib import Path\nPath(sys.argv[3], 'judgemessage.txt').write_text('m' * {size})\nsys.exit(43)\n"
    result = await validated(pool, case_files, DOUBLER, python_validator(source))
    assert result.final.verdict == Verdict.IE, result
    assert "File too large" in (result.final.internal_error or "")


@pytest.mark.parametrize(
    "trick",
    [
        "os.symlink('/judge/answer', feedback + 'judgemessage.txt')",
        "os.mkfifo(feedback + 'judgemessage.txt')",
        "open(feedback + 'judgemessage.txt', 'w').write('hidden'); os.chmod(feedback + 'judgemessage.txt', 0)",
    ],
    ids=["symlink", "fifo", "unreadable"],
)
async def test_odd_feedback_files_are_not_followed(pool: JudgePool, case_files: CaseFiles, trick: str) -> None:
    source = f"import os, sys\nfeedback = sys.argv[3]\n{trick}\nsys.exit(43)\n"
    result = await validated(pool, case_files, DOUBLER, python_validator(source))
    assert result.final.verdict == Verdict.WA, result
    assert result.tests[0].message == "the output validator rejected the output"


async def test_feedback_folder_is_fresh_for_each_test(pool: JudgePool, case_files: CaseFiles) -> None:
    # Leaves files, a read-only subfolder and a message behind; each test must start empty.
    source = """\
import os, sys
from pathlib import Path

feedback = Path(sys.argv[3])
if any(feedback.iterdir()):
    (feedback / "judgemessage.txt").write_text("feedback folder not empty")
    sys.exit(43)
(feedback / "deep" / "er").mkdir(parents=True)
(feedback / "deep" / "er" / "file").write_text("x")
os.chmod(feedback / "deep", 0o500)
(feedback / "judgemessage.txt").write_text("first")
sys.exit(42)
"""
    tests = tuple(case_files.case(f"{value}\n", f"{2 * value}\n") for value in (1, 2, 3))
    result = await validated(pool, case_files, DOUBLER, python_validator(source), tests=tests)
    assert [test.verdict for test in result.tests] == [Verdict.AC] * 3, result


async def test_cpp_validator_is_compiled_once(pool: JudgePool, case_files: CaseFiles, compile_calls: list[str]) -> None:
    source = """\
#include <fstream>
#include <iostream>
#include <string>
int main(int argc, char **argv) {
    std::ifstream answer(argv[2]);
    long expected, got;
    answer >> expected;
    if (!(std::cin >> got) || got != expected) {
        std::ofstream(std::string(argv[3]) + "/judgemessage.txt") << "expected " << expected;
        return 43;
    }
    return 42;
}
"""
    validator = ValidatorSpec(language="cpp", sources={"check.cpp": source})
    first = await validated(pool, case_files, DOUBLER, validator)
    second = await validated(pool, case_files, TRIPLER, validator)
    third = await validated(pool, case_files, DOUBLER, msgspec.structs.replace(validator, flags=("unused",)))

    assert first.final.verdict == Verdict.AC, first
    assert second.final.verdict == Verdict.WA, second
    assert second.tests[0].message == "expected 42"
    assert third.final.verdict == Verdict.AC, third
    # Flags do not change the program, so all three share one compilation.
    key = cache_key(validator, pool.image_tags["gcc"])
    assert compile_calls == [key]
    assert (pool.validators.directory / key / "validator").is_file()


async def test_c_validator_with_header(pool: JudgePool, case_files: CaseFiles) -> None:
    sources = {
        "check.c": '#include "verdicts.h"\n#include <stdio.h>\nint main(void){long x;return scanf("%ld",&x)==1&&x%2==0?ACCEPT:REJECT;}\n',
        "verdicts.h": "#define ACCEPT 42\n#define REJECT 43\n",
    }
    result = await validated(pool, case_files, DOUBLER, ValidatorSpec(language="c", sources=sources))
    assert result.final.verdict == Verdict.AC, result


C_EVEN_VALIDATOR = ValidatorSpec(
    language="c", sources={"check.c": '#include <stdio.h>\nint main(void){long x;return scanf("%ld",&x)==1&&x%2==0?42:43;}\n'}
)


async def validated_in_own_pool(pool: JudgePool, files: CaseFiles, validator: ValidatorSpec) -> Judged:
    """Judge DOUBLER with `validator` in a pool started here, even with images missing, and close it."""
    await pool.start_without_image_check()
    try:
        return await validated(pool, files, DOUBLER, validator)
    finally:
        await pool.close()


async def test_c_validator_without_c_languages(judge_ready: None, case_files: CaseFiles, tmp_path: Path) -> None:
    # Only Python is enabled: the C validator still runs, in the gcc image.
    from judge.languages import LANGUAGES

    python_only = [language for language in LANGUAGES if language.id == "python3"]
    only_python = JudgePool(concurrency=1, warm_containers=0, settings=SETTINGS, languages=python_only, validator_cache_dir=tmp_path)
    result = await validated_in_own_pool(only_python, case_files, C_EVEN_VALIDATOR)

    assert list(only_python.image_tags) == ["python"]
    assert result.final.verdict == Verdict.AC, result


async def test_missing_validator_image_named(judge_ready: None, case_files: CaseFiles, tmp_path: Path) -> None:
    from judge.images import image_tag
    from judge.languages import PYTHON_IMAGE

    tags = {"python": image_tag(PYTHON_IMAGE), "gcc": "codearena-judge-gcc:doesnotexist"}
    broken = JudgePool(concurrency=1, warm_containers=0, settings=SETTINGS, image_tags=tags, validator_cache_dir=tmp_path)
    result = await validated_in_own_pool(broken, case_files, C_EVEN_VALIDATOR)

    assert result.final.verdict == Verdict.IE, result
    assert "codearena-judge-gcc:doesnotexist for gcc output validators is missing" in (result.final.internal_error or "")
    assert "codearena judge images build" in (result.final.internal_error or "")


async def test_compile_error_cached_as_internal_error(pool: JudgePool, case_files: CaseFiles, compile_calls: list[str]) -> None:
    validator = ValidatorSpec(language="cpp", sources={"broken.cpp": "int main( { return 42; }\n"})
    first = await validated(pool, case_files, DOUBLER, validator)
    second = await validated(pool, case_files, DOUBLER, validator)

    for result in (first, second):
        assert result.final.verdict == Verdict.IE, result
        assert result.tests == []
        assert "failed to compile" in (result.final.internal_error or "")
        assert "broken.cpp" in (result.final.internal_error or "")
    assert compile_calls == [cache_key(validator, pool.image_tags["gcc"])]


async def test_python_syntax_error_is_internal_error(pool: JudgePool, case_files: CaseFiles) -> None:
    result = await validated(pool, case_files, DOUBLER, python_validator("def broken(:\n"))
    assert result.final.verdict == Verdict.IE, result
    assert "SyntaxError" in (result.final.internal_error or "")


async def test_contestant_error_comes_before_validator(pool: JudgePool, case_files: CaseFiles) -> None:
    # The validator would fail, but a crashing program never reaches it.
    result = await validated(pool, case_files, "raise SystemExit(3)\n", python_validator("raise RuntimeError()\n"))
    assert result.final.verdict == Verdict.RTE, result


async def test_score_file_sets_test_scores(pool: JudgePool, case_files: CaseFiles) -> None:
    # Scores the output by its value: the answer is the maximum score.
    source = """\
import sys
from pathlib import Path

value = int(sys.stdin.read())
Path(sys.argv[3], "score.txt").write_text(f"{value / 2}\\n")
sys.exit(42)
"""
    tests = (
        case_files.case("3\n", "", name="s1", group="g1", points=10),
        case_files.case("5\n", "", name="s2", group="g1", points=10),
        case_files.case("8\n", "", name="s3", points=10),
    )
    result = await validated(pool, case_files, DOUBLER, python_validator(source), tests=tests, stop_on_first_failure=False)

    assert result.final.verdict == Verdict.AC, result
    assert [test.score for test in result.tests] == [3.0, 5.0, 8.0]
    assert [test.group_score for test in result.tests] == [None, 8.0, None]
    assert result.final.score == 16.0
    assert result.final.max_score == 30.0


async def test_bad_score_file_is_internal_error(pool: JudgePool, case_files: CaseFiles) -> None:
    source = "import sys\nfrom pathlib import Path\nPath(sys.argv[3], 'score.txt').write_text('lots')\nsys.exit(42)\n"
    result = await validated(pool, case_files, DOUBLER, python_validator(source))
    assert result.final.verdict == Verdict.IE, result
    assert "score.txt" in (result.final.internal_error or "")


# Finds a marker in any file the program can read and prints what it found.
SEARCHER = """\
import os

MARKERS = [MARK_A + "-ANSWER", MARK_B + "-VALIDATOR"]
found = set()
for root, folders, files in os.walk("/"):
    if root.startswith(("/proc", "/sys", "/dev")):
        folders[:] = []
        continue
    for name in files:
        try:
            with open(os.path.join(root, name), "rb") as file:
                data = file.read(1 << 24)
        except OSError:
            continue
        found.update(marker for marker in MARKERS if marker.encode() in data)
for path in ("/judge/answer", "/judge/input", "/judge/feedback", "/box/validator.py"):
    try:
        found.update(marker for marker in MARKERS if marker.encode() in open(path, "rb").read())
    except OSError:
        pass
print(" ".join(sorted(found)) or "nothing")
"""


async def test_contestant_cannot_read_answer_or_validator(pool: JudgePool, case_files: CaseFiles) -> None:
    marker_a, marker_b = "SECRET-7f3a", "SECRET-91c2"
    answer = f"{marker_a}-ANSWER"
    # The validator's source contains the second marker, and accepts only output equal to the answer.
    validator = python_validator(TOKEN_VALIDATOR + f"# {marker_b}-VALIDATOR\n")
    prefix = f"MARK_A = {marker_a[:7]!r} + {marker_a[7:]!r}\nMARK_B = {marker_b[:7]!r} + {marker_b[7:]!r}\n"
    tests = (case_files.case("1\n", answer + "\n"),)

    blind = await validated(pool, case_files, prefix + SEARCHER, validator, tests=tests, time_limit_ms=5000)
    assert blind.final.verdict == Verdict.WA, blind
    assert blind.tests[0].message == f"expected {answer}, got nothing"

    # Control: with the answer marker in its own source the same search finds it.
    control = await validated(pool, case_files, prefix + SEARCHER + f"# {answer}\n", validator, tests=tests, time_limit_ms=5000)
    assert control.final.verdict == Verdict.AC, control


async def test_default_checker_uses_test_arguments(pool: JudgePool, case_files: CaseFiles) -> None:
    # The second test's group loosens the float tolerance.
    strict = case_files.case("1\n", "1.0\n")
    loose = msgspec.structs.replace(case_files.case("1\n", "1.0\n"), validator_args=("float_tolerance", "0.2"))
    source = "print(1.1)\n"
    result = await judge(pool, language="python3", source=source, tests=(loose, strict), stop_on_first_failure=False,
                         checker_flags=CheckerFlags(float_tolerance=1e-6))  # fmt: skip
    assert [test.verdict for test in result.tests] == [Verdict.AC, Verdict.WA], result


async def test_invalid_test_arguments_are_internal_error(pool: JudgePool, case_files: CaseFiles) -> None:
    test = msgspec.structs.replace(case_files.case("1\n", "2\n"), validator_args=("no_such_flag",))
    result = await judge(pool, language="python3", source=DOUBLER, tests=(test,))
    assert result.final.verdict == Verdict.IE, result
    assert "no_such_flag" in (result.final.internal_error or "")


def stored_problem(root: Path) -> tuple[dict, dict[str, str]]:
    """The package_meta an import stores for the package, and its files by sha256."""
    package = load_package(root)
    paths = [test.input_path for test in package.tests] + [test.answer_path for test in package.tests]
    paths += [file.path for file in package.files]
    stored, blobs = {}, {}
    for path in paths:
        data = (root / path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        stored[path] = (digest, len(data))
        blobs[digest] = data.decode()
    meta = package_meta(package, stored)
    return {"package": package, "meta": msgspec.json.decode(msgspec.json.encode(meta))}, blobs


def package_job(root: Path, submission_path: str, **fields) -> JudgeJob:
    """A job judging one of a package's own submissions, built the way a stored problem is."""
    problem, blobs = stored_problem(root)
    package = problem["package"]
    submission = next(item for item in package.submissions if item.path == submission_path)
    group_settings = {group.name: group.settings for group in package.groups}
    tests = tuple(
        TestCase(
            name=test.name,
            input_path=str(root / test.input_path),
            answer_path=str(root / test.answer_path),
            validator_args=validator_args_for(group_settings[test.group], test.settings),
        )
        for test in package.tests
    )
    checker_fields = problem_checker_fields(
        problem_type=package.problem_type,
        checker=package.checker,
        checker_flags=package.checker_flags,
        package_meta=problem["meta"],
        read_text=blobs.__getitem__,
    )
    fields.setdefault("time_limit_ms", round((package.time_limit.seconds or 2) * 1000))
    return JudgeJob(
        submission_id=submission_path,
        language=submission.language,
        source=(root / submission.files[0]).read_text(),
        tests=tests,
        memory_limit_mb=package.memory_limit_mb or 256,
        **checker_fields,
        **fields,
    )


SHORTEST_PATH_SUBMISSIONS = [
    ("submissions/accepted/dijkstra.cpp", Verdict.AC),
    ("submissions/accepted/dijkstra.py", Verdict.AC),
    ("submissions/wrong_answer/fewest_streets.py", Verdict.WA),
    ("submissions/wrong_answer/time_only.cpp", Verdict.WA),
    ("submissions/time_limit_exceeded/bellman_ford.py", Verdict.TLE),
]


@pytest.mark.parametrize(("path", "verdict"), SHORTEST_PATH_SUBMISSIONS, ids=[path.split("/")[-1] for path, _ in SHORTEST_PATH_SUBMISSIONS])
async def test_demo_package_with_cpp_validator(pool: JudgePool, path: str, verdict: Verdict) -> None:
    job = package_job(DEMO / "shortestpath", path)
    assert job.validator is not None and job.validator.language == "cpp"
    events = [event async for event in pool.judge(job)]
    result = Judged(events)
    assert result.final.verdict == verdict, result
    if verdict == Verdict.AC:
        assert result.final.passed == result.final.total == len(job.tests)


async def test_spec_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="validator.language"):
        ValidatorSpec(language="java", sources={"V.java": ""})
    with pytest.raises(ValueError, match="validator.sources"):
        ValidatorSpec(language="cpp", sources={})
    with pytest.raises(ValueError, match="invalid file name"):
        ValidatorSpec(language="cpp", sources={"sub/v.cpp": ""})
    with pytest.raises(ValueError, match="no cpp source"):
        ValidatorSpec(language="cpp", sources={"v.h": ""})
    with pytest.raises(ValueError, match="several Python files"):
        ValidatorSpec(language="python3", sources={"a.py": "", "b.py": ""})
    with pytest.raises(ValueError, match="two files named"):
        validator_spec("cpp", {"a/v.cpp": "", "b/v.cpp": ""})
    with pytest.raises(ValueError, match="'script' validators"):
        validator_spec("script", {"run": ""})


async def test_job_needs_validator_for_custom_checker() -> None:
    fields = dict(submission_id=1, language="c", source="", tests=(), time_limit_ms=1000, memory_limit_mb=64)
    validator = python_validator("pass\n")
    with pytest.raises(ValueError, match="validator: checker custom"):
        JudgeJob(checker="custom", **fields)
    with pytest.raises(ValueError, match="only checker custom"):
        JudgeJob(validator=validator, **fields)
    with pytest.raises(ValueError, match="interactive"):
        JudgeJob(interactive=True, **fields)
    job = JudgeJob(checker="custom", validator=validator, interactive=True, **fields)
    assert msgspec.json.decode(msgspec.json.encode(job), type=JudgeJob) == job


async def test_cache_key_follows_sources_not_flags() -> None:
    spec = ValidatorSpec(language="cpp", sources={"v.cpp": "int main(){return 42;}"})
    key = cache_key(spec, "image:1")
    assert key == cache_key(msgspec.structs.replace(spec, flags=("a",)), "image:1")
    assert key != cache_key(spec, "image:2")
    assert key != cache_key(ValidatorSpec(language="cpp", sources={"v.cpp": "int main(){return 43;}"}), "image:1")
    assert key != cache_key(ValidatorSpec(language="c", sources={"v.c": "int main(){return 42;}"}), "image:1")




@pytest.mark.parametrize(
    ("name", "checker", "interactive", "language"),
    [("shortestpath", "custom", False, "cpp"), ("guess", "custom", True, "python3"), ("twosum", "function", False, None), ("aplusb", "default", False, None)],
)
async def test_checker_fields_from_stored_problem(name: str, checker: str, interactive: bool, language: str | None) -> None:
    problem, blobs = stored_problem(DEMO / name)
    package = problem["package"]
    fields = problem_checker_fields(
        problem_type=package.problem_type,
        checker=package.checker,
        checker_flags=package.checker_flags,
        package_meta=problem["meta"],
        read_text=blobs.__getitem__,
    )
    assert fields["checker"] == checker
    assert fields["interactive"] is interactive
    if language is None:
        assert "validator" not in fields
    else:
        assert fields["validator"].language == language
        program = package.output_validators[0]
        assert set(fields["validator"].sources) == {Path(path).name for path in program.files}
    if checker == "function":
        assert fields["function_options"] == FunctionOptions(unordered=True)
    JudgeJob(submission_id=1, language="python3", source="", tests=(), time_limit_ms=1000, memory_limit_mb=64, **fields)


async def test_checker_fields_reject_bad_settings() -> None:
    common = dict(problem_type="pass-fail", package_meta={}, read_text=lambda sha: "")
    with pytest.raises(ValueError, match="checker_flags"):
        problem_checker_fields(checker="default", checker_flags={"unordered": True}, **common)
    with pytest.raises(ValueError, match="has none"):
        problem_checker_fields(checker="custom", checker_flags={}, **common)


async def test_validator_args_join_group_and_test() -> None:
    assert validator_args_for({"output_validator_args": ["a", "b"]}, {"output_validator_args": "c d"}) == ("a", "b", "c", "d")
    assert validator_args_for(None, None) == ()

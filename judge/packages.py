"""Kattis problem packages: read and validate a package folder or zip into plain data.

Both the `legacy` format and `problem_format_version: 2023-07-draft` load.
Nothing here touches the database or HTTP: `load_package` returns a Package
whose file references are paths relative to the package folder, and the
caller stores them. Every error is a PackageError whose message names the
file at fault. Format reference: the Kattis problem package format
specification, versions legacy and 2023-07-draft.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from judge.latex_markdown import latex_to_markdown, plain_problem_name
from judge.package_archive import ArchiveError, ArchiveLimits, check_folder_links, extract_archive, package_root
from judge.package_tests import (
    PackageError,
    TestCaseSpec,
    TestDataReader,
    TestGroupSpec,
    json_safe,
    read_yaml,
    validator_args,
)

__all__ = [
    "DEFAULT_TIME_LIMIT_MS",
    "FunctionStyle",
    "LoadOptions",
    "Package",
    "PackageError",
    "Program",
    "Statement",
    "Submission",
    "TestCaseSpec",
    "TestGroupSpec",
    "TimeLimitPolicy",
    "DerivedTimeLimit",
    "derive_time_limit",
    "load_package",
    "open_package",
    "parse_default_validator_flags",
    "slug_from_short_name",
]

LEGACY = "legacy"
DRAFT = "2023-07-draft"
FORMAT_VERSIONS = {"legacy": LEGACY, "legacy-icpc": LEGACY, "2023-07-draft": DRAFT, "2023-07": DRAFT, "draft": DRAFT}
# Used until the accepted submissions have been timed (see derive_time_limit).
DEFAULT_TIME_LIMIT_MS = 2000

KNOWN_PROBLEM_KEYS = {
    "problem_format_version", "type", "name", "uuid", "version", "author", "credits", "source", "source_url",
    "license", "rights_owner", "embargo_until", "limits", "validation", "validator_flags", "grading", "keywords",
    "languages", "allow_file_writing", "constants", "codearena",
}
KNOWN_LIMIT_KEYS = {
    "time_multiplier", "time_safety_margin", "time_multipliers", "time_limit", "time_resolution", "memory", "output",
    "code", "compilation_time", "compilation_memory", "validation_time", "validation_memory", "validation_output",
    "validation_passes",
}
PROBLEM_TYPES = ("pass-fail", "scoring", "interactive", "multi-pass", "submit-answer")
# Verdicts a submission in each submissions/ folder may end with.
SUBMISSION_VERDICTS: dict[str, tuple[str, ...]] = {
    "accepted": ("AC",),
    "partially_accepted": ("AC", "WA", "TLE", "RTE", "MLE", "OLE"),
    "wrong_answer": ("WA",),
    "time_limit_exceeded": ("TLE",),
    "run_time_error": ("RTE",),
    "memory_limit_exceeded": ("MLE",),
    "output_limit_exceeded": ("OLE",),
    "compile_error": ("CE",),
    "rejected": ("WA", "TLE", "RTE", "MLE", "OLE"),
    "brute_force": ("TLE", "RTE", "MLE"),
}
LANGUAGE_BY_EXTENSION = {
    ".c": "c", ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp", ".c++": "cpp", ".py": "python3", ".java": "java",
    ".js": "javascript", ".kt": "kotlin", ".go": "go", ".rs": "rust", ".rb": "ruby", ".cs": "csharp",
    ".hs": "haskell", ".php": "php", ".pas": "pascal", ".scala": "scala", ".swift": "swift", ".ml": "ocaml",
}
VALIDATOR_LANGUAGES = ("c", "cpp", "python3")
CODEARENA_KEYS = {"style", "unordered", "float_tolerance", "difficulty", "category", "tags", "checker"}
DEFAULT_VALIDATOR_FLAGS = ("case_sensitive", "space_change_sensitive")
DEFAULT_VALIDATOR_TOLERANCES = ("float_absolute_tolerance", "float_relative_tolerance", "float_tolerance")
STATEMENT_FOLDERS = ("statement", "problem_statement", "")
STATEMENT_NAME = re.compile(r"^problem(?:\.([a-z]{2,3}(?:-[A-Z]{2})?))?\.(md|tex|pdf)$")
STATEMENT_FORMATS = ("md", "tex", "pdf")
SKIPPED_NAMES = {"__MACOSX", "__pycache__", ".git", ".svn", ".hg", ".DS_Store", ".idea", ".vscode"}
MAX_FOLDER_DEPTH = 32
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9 +#._-]{0,31}$")


class LoadOptions(msgspec.Struct, frozen=True, kw_only=True):
    max_test_bytes: int = 64 * 1024 * 1024
    archive: ArchiveLimits = ArchiveLimits()


class PackageFile(msgspec.Struct, frozen=True):
    path: str
    size: int


class Program(msgspec.Struct, frozen=True, kw_only=True):
    """An output validator or example submission: one file, or a folder of files."""

    name: str
    path: str
    # c, cpp, python3, ...; "script" when the folder has its own build or run script.
    language: str | None
    # Relative path of the file to start (Python) or None when all sources build together.
    entry: str | None
    files: list[str]


class Submission(Program, frozen=True, kw_only=True):
    # The submissions/ folder it is in: accepted, wrong_answer, ...
    expected: str
    verdicts: tuple[str, ...]


class Statement(msgspec.Struct, frozen=True):
    language: str
    format: str
    path: str


class TimeLimitPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Time limit rule: a limit given by the package, or one derived from the accepted submissions' times."""

    seconds: float | None
    # "problem.yaml", ".timelimit" (a DOMjudge file) or "pending" (derive it by timing the submissions).
    source: str
    legacy: bool
    time_multiplier: float = 5.0
    time_safety_margin: float = 2.0
    ac_to_time_limit: float = 2.0
    time_limit_to_tle: float = 1.5
    time_resolution: float = 1.0


class DerivedTimeLimit(msgspec.Struct, frozen=True):
    seconds: float
    warnings: list[str]


class Validation(msgspec.Struct, frozen=True, kw_only=True):
    custom: bool
    interactive: bool
    score: bool
    args: list[str]


class FunctionStyle(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    unordered: bool = False
    float_tolerance: float | None = None


class Package(msgspec.Struct, kw_only=True):
    root: str
    short_name: str
    format_version: str
    title: str
    names: dict[str, str]
    uuid: str | None
    description: str
    statements: list[Statement]
    statement: Statement | None
    problem_type: str
    types: list[str]
    scoring: bool
    checker: str
    checker_flags: dict[str, Any]
    validation: Validation
    function: FunctionStyle | None
    time_limit: TimeLimitPolicy
    memory_limit_mb: int | None
    output_limit_kb: int | None
    limits: dict[str, Any]
    groups: list[TestGroupSpec]
    tests: list[TestCaseSpec]
    max_score: float
    output_validators: list[Program]
    submissions: list[Submission]
    # Every file of the package except problem.yaml and the .in/.ans files.
    files: list[PackageFile]
    sample_interactions: list[dict[str, str]]
    difficulty: str | None
    category: str | None
    tags: list[str]
    problem_yaml: dict[str, Any]
    warnings: list[str]


def slug_from_short_name(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")
    if not slug:
        raise PackageError(f"cannot make a problem slug from the package name {name!r}; pass a slug explicitly")
    return slug


@contextmanager
def open_package(path: Path, options: LoadOptions = LoadOptions()) -> Iterator[tuple[Path, str]]:
    """Yield the package folder and its short name; a zip is extracted to a temporary folder first."""
    if path.is_dir():
        try:
            check_folder_links(path)
        except ArchiveError as exc:
            raise PackageError(str(exc)) from None
        yield path, path.resolve().name
        return
    if not path.is_file():
        raise PackageError(f"{path}: no such file or folder")
    scratch = Path(tempfile.mkdtemp(prefix="codearena-package-"))
    try:
        try:
            extract_archive(path, scratch, options.archive)
            root = package_root(scratch)
        except ArchiveError as exc:
            raise PackageError(str(exc)) from None
        short_name = root.name if root != scratch else re.sub(r"\.(zip|kpp)$", "", path.name)
        yield root, short_name
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def load_package(root: Path, short_name: str | None = None, options: LoadOptions = LoadOptions()) -> Package:
    """Read and validate the package folder `root`."""
    root = root.resolve()
    warnings: list[str] = []
    problem_yaml = _read_problem_yaml(root)
    for key in problem_yaml:
        if key not in KNOWN_PROBLEM_KEYS:
            warnings.append(f"problem.yaml: unknown key {key!r} ignored")

    format_version = _format_version(problem_yaml)
    legacy = format_version == LEGACY
    types = _problem_types(problem_yaml, legacy)
    validation = _validation(problem_yaml, types, root, legacy)
    if validation.interactive and "interactive" not in types:
        types.append("interactive")
    codearena = _codearena(problem_yaml)
    function = _function_style(codearena, validation, types)
    scoring = "scoring" in types

    reader = TestDataReader(root, format_version=format_version, scoring=scoring, max_test_bytes=options.max_test_bytes)
    groups, tests, max_score = reader.read()
    warnings.extend(reader.warnings)
    checker_flags = _default_checker_flags(problem_yaml, groups, validation, function)

    statements = _statements(root)
    statement = _pick_statement(statements)
    description, statement_title = _description(root, statement)
    names = _names(problem_yaml, legacy)
    title = names.get("en") or next(iter(names.values()), None) or statement_title or short_name or root.name
    if len(title) > 200:
        warnings.append("problem.yaml: name longer than 200 characters, shortened")
        title = title[:200]

    files = _package_files(root, options)
    limits_raw = _limits(problem_yaml)
    checker = codearena.get("checker", "default")
    if validation.custom:
        checker = "custom"
    if function:
        checker = "function"
    problem_type = "scoring" if scoring else "pass-fail"
    if function:
        problem_type = "function"
    if "interactive" in types:
        problem_type = "interactive"
    return Package(
        root=str(root),
        short_name=short_name or root.name,
        format_version=format_version,
        title=title.strip(),
        names=names,
        uuid=str(problem_yaml["uuid"]) if problem_yaml.get("uuid") is not None else None,
        description=description,
        statements=statements,
        statement=statement,
        problem_type=problem_type,
        types=types,
        scoring=scoring,
        checker=checker,
        checker_flags=checker_flags,
        validation=validation,
        function=function,
        time_limit=_time_limit_policy(problem_yaml, root, legacy),
        memory_limit_mb=_positive_int(limits_raw, "memory", "MiB"),
        output_limit_kb=_output_limit_kb(limits_raw),
        limits=json_safe(limits_raw),
        groups=groups,
        tests=tests,
        max_score=max_score,
        output_validators=_output_validators(root, validation, legacy, warnings),
        submissions=_submissions(root, warnings),
        files=files,
        sample_interactions=[
            {"name": name, "text": path.read_text(encoding="utf-8", errors="replace")} for name, path in reader.interactions
        ],
        difficulty=codearena.get("difficulty"),
        category=codearena.get("category"),
        tags=_tags(problem_yaml, codearena, warnings),
        problem_yaml=json_safe(problem_yaml),
        warnings=warnings,
    )


def _read_problem_yaml(root: Path) -> dict[str, Any]:
    path = root / "problem.yaml"
    if not path.is_file():
        raise PackageError("problem.yaml: missing at the top of the package")
    content = read_yaml(path, root)
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise PackageError(f"problem.yaml: expected a mapping of keys, got {type(content).__name__}")
    return content


def _format_version(problem_yaml: dict[str, Any]) -> str:
    version = problem_yaml.get("problem_format_version", "legacy")
    if str(version) not in FORMAT_VERSIONS:
        raise PackageError(
            f"problem.yaml: problem_format_version {version!r} is not supported; use legacy or 2023-07-draft"
        )
    return FORMAT_VERSIONS[str(version)]


def _problem_types(problem_yaml: dict[str, Any], legacy: bool) -> list[str]:
    value = problem_yaml.get("type", "pass-fail")
    types = [value] if isinstance(value, str) else value
    if not isinstance(types, list) or not types or not all(isinstance(item, str) for item in types):
        raise PackageError("problem.yaml: type must be a string or a non-empty list of strings")
    allowed = ("pass-fail", "scoring") if legacy else PROBLEM_TYPES
    for item in types:
        if item not in allowed:
            raise PackageError(f"problem.yaml: type {item!r} is not one of {', '.join(allowed)}")
    if "pass-fail" in types and "scoring" in types:
        raise PackageError("problem.yaml: type cannot be both pass-fail and scoring")
    for unsupported in ("multi-pass", "submit-answer"):
        if unsupported in types:
            raise PackageError(f"problem.yaml: type {unsupported} is not supported by this judge")
    if "scoring" not in types and "pass-fail" not in types:
        types.insert(0, "pass-fail")
    return list(dict.fromkeys(types))


def _validation(problem_yaml: dict[str, Any], types: list[str], root: Path, legacy: bool) -> Validation:
    value = problem_yaml.get("validation", "default")
    if not isinstance(value, str) or not value.split():
        raise PackageError("problem.yaml: validation must be a string such as 'default' or 'custom interactive'")
    words = value.split()
    if words[0] not in ("default", "custom"):
        raise PackageError(f"problem.yaml: validation must start with default or custom, got {value!r}")
    for word in words[1:]:
        if word not in ("score", "interactive") or words[0] == "default":
            raise PackageError(f"problem.yaml: validation {value!r}: only 'custom' may be followed by score or interactive")

    has_validator = any((root / folder).is_dir() and any((root / folder).iterdir()) for folder in ("output_validators", "output_validator"))
    interactive = "interactive" in words or "interactive" in types
    custom = words[0] == "custom" or interactive or (not legacy and has_validator)
    if custom and not has_validator:
        reason = "interactive problems need an interactor" if interactive else "validation is custom"
        raise PackageError(f"output_validators/: missing, but {reason}; add the validator program there")
    if "score" in words and "scoring" not in types:
        raise PackageError("problem.yaml: validation 'custom score' is only allowed for scoring problems")
    flags = validator_args(problem_yaml.get("validator_flags"), "problem.yaml: validator_flags")
    return Validation(custom=custom, interactive=interactive, score="score" in words, args=flags)


def _codearena(problem_yaml: dict[str, Any]) -> dict[str, Any]:
    value = problem_yaml.get("codearena") or {}
    if not isinstance(value, dict):
        raise PackageError("problem.yaml: codearena must be a mapping, for example {style: function}")
    for key in value:
        if key not in CODEARENA_KEYS:
            raise PackageError(f"problem.yaml: unknown key codearena.{key}; known keys: {', '.join(sorted(CODEARENA_KEYS))}")
    if value.get("style", "standard") not in ("standard", "function"):
        raise PackageError(f"problem.yaml: codearena.style must be standard or function, got {value.get('style')!r}")
    if value.get("difficulty") is not None and value["difficulty"] not in ("EASY", "MEDIUM", "HARD"):
        raise PackageError(f"problem.yaml: codearena.difficulty must be EASY, MEDIUM or HARD, got {value['difficulty']!r}")
    if value.get("checker", "default") not in ("default", "exact"):
        raise PackageError(f"problem.yaml: codearena.checker must be default or exact, got {value.get('checker')!r}")
    category = value.get("category")
    if category is not None and (not isinstance(category, str) or len(category) > 64):
        raise PackageError("problem.yaml: codearena.category must be a string of at most 64 characters")
    return value


def _function_style(codearena: dict[str, Any], validation: Validation, types: list[str]) -> FunctionStyle | None:
    if codearena.get("style", "standard") != "function":
        return None
    if validation.custom or "interactive" in types:
        raise PackageError("problem.yaml: codearena.style function cannot be combined with a custom or interactive validator")
    try:
        return msgspec.convert(
            {key: codearena[key] for key in ("unordered", "float_tolerance") if key in codearena}, FunctionStyle
        )
    except msgspec.ValidationError as exc:
        raise PackageError(f"problem.yaml: codearena: {exc}") from None


def parse_default_validator_flags(args: Sequence[str], where: str) -> dict[str, Any]:
    """Parse flags of the default output validator into checker_flags (case_sensitive, float_tolerance, ...)."""
    flags: dict[str, Any] = {}
    index = 0
    while index < len(args):
        word = args[index]
        if word in DEFAULT_VALIDATOR_FLAGS:
            flags[word] = True
            index += 1
            continue
        if word in DEFAULT_VALIDATOR_TOLERANCES:
            value = args[index + 1] if index + 1 < len(args) else None
            try:
                number = float(value) if value is not None else math.nan
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or number < 0:
                raise PackageError(f"{where}: {word} needs a number >= 0 after it, got {value!r}")
            flags[word] = number
            index += 2
            continue
        raise PackageError(
            f"{where}: unknown flag {word!r} for the default output validator; known flags: "
            + ", ".join(DEFAULT_VALIDATOR_FLAGS + DEFAULT_VALIDATOR_TOLERANCES)
        )
    return flags


def _default_checker_flags(
    problem_yaml: dict[str, Any], groups: list[TestGroupSpec], validation: Validation, function: FunctionStyle | None
) -> dict[str, Any]:
    if function is not None:
        flags: dict[str, Any] = {"unordered": function.unordered}
        if function.float_tolerance is not None:
            flags["float_tolerance"] = function.float_tolerance
        return flags
    if validation.custom:
        return {}
    flags = parse_default_validator_flags(validation.args, "problem.yaml: validator_flags")
    for group in groups:
        args = group.settings.get("output_validator_args")
        if args:
            parse_default_validator_flags(args, f"data/{group.name}: output_validator_args")
    # Flags that every group shares apply to the whole problem; group flags stay in the group settings.
    shared = [group.settings.get("output_validator_args") for group in groups]
    if shared and all(args == shared[0] for args in shared) and shared[0]:
        flags.update(parse_default_validator_flags(shared[0], "data/testdata.yaml: output_validator_args"))
    return flags


def _statements(root: Path) -> list[Statement]:
    statements = []
    for folder in STATEMENT_FOLDERS:
        directory = root / folder if folder else root
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            match = STATEMENT_NAME.match(path.name)
            if match and path.is_file():
                statements.append(Statement(match.group(1) or "en", match.group(2), path.relative_to(root).as_posix()))
    return statements


def _pick_statement(statements: list[Statement]) -> Statement | None:
    if not statements:
        return None
    languages = sorted({statement.language for statement in statements}, key=lambda language: (language != "en", language))
    chosen = [statement for statement in statements if statement.language == languages[0]]
    return min(chosen, key=lambda statement: STATEMENT_FORMATS.index(statement.format))


def _description(root: Path, statement: Statement | None) -> tuple[str, str | None]:
    if statement is None:
        return "", None
    path = root / statement.path
    if statement.format == "pdf":
        return f"The statement of this problem is the PDF file `{statement.path}` of its package.\n", None
    try:
        text = path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        raise PackageError(f"{statement.path}: not valid UTF-8 text") from None
    if statement.format == "md":
        return text, None
    return latex_to_markdown(text), plain_problem_name(text)


def _names(problem_yaml: dict[str, Any], legacy: bool) -> dict[str, str]:
    value = problem_yaml.get("name")
    if value is None:
        return {}
    if isinstance(value, (str, int, float)):
        return {"en": str(value)}
    if isinstance(value, dict) and value and all(isinstance(item, (str, int, float)) for item in value.values()):
        return {str(language): str(name) for language, name in value.items()}
    raise PackageError("problem.yaml: name must be a string or a map from language code to name")


def _number(value: Any, where: str, *, minimum: float = 0.0, strict: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PackageError(f"problem.yaml: {where} must be a number, got {value!r}")
    if not math.isfinite(value) or value < minimum or (strict and value == minimum and minimum == 0):
        bound = f"> {minimum:g}" if strict and minimum == 0 else f">= {minimum:g}"
        raise PackageError(f"problem.yaml: {where} must be a number {bound}, got {value!r}")
    return float(value)


def _limits(problem_yaml: dict[str, Any]) -> dict[str, Any]:
    limits = problem_yaml.get("limits") or {}
    if not isinstance(limits, dict):
        raise PackageError("problem.yaml: limits must be a mapping, for example {memory: 256, time_limit: 1}")
    return limits


def _positive_int(limits: dict[str, Any], key: str, unit: str) -> int | None:
    value = limits.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or value != int(value):
        raise PackageError(f"problem.yaml: limits.{key} must be a positive whole number of {unit}, got {value!r}")
    return int(value)


def _output_limit_kb(limits: dict[str, Any]) -> int | None:
    megabytes = _positive_int(limits, "output", "MiB")
    return None if megabytes is None else megabytes * 1024


def _time_limit_policy(problem_yaml: dict[str, Any], root: Path, legacy: bool) -> TimeLimitPolicy:
    limits = _limits(problem_yaml)
    for key in limits:
        if key not in KNOWN_LIMIT_KEYS:
            raise PackageError(f"problem.yaml: unknown key limits.{key}; known keys: {', '.join(sorted(KNOWN_LIMIT_KEYS))}")
    for key in ("code", "compilation_time", "compilation_memory", "validation_time", "validation_memory", "validation_output"):
        if key in limits:
            _number(limits[key], f"limits.{key}")

    values: dict[str, Any] = {"legacy": legacy}
    if "time_multiplier" in limits:
        values["time_multiplier"] = _number(limits["time_multiplier"], "limits.time_multiplier", minimum=1, strict=False)
    if "time_safety_margin" in limits:
        values["time_safety_margin"] = _number(limits["time_safety_margin"], "limits.time_safety_margin", minimum=1, strict=False)
    multipliers = limits.get("time_multipliers") or {}
    if not isinstance(multipliers, dict):
        raise PackageError("problem.yaml: limits.time_multipliers must be a mapping with ac_to_time_limit and time_limit_to_tle")
    for key in multipliers:
        if key not in ("ac_to_time_limit", "time_limit_to_tle"):
            raise PackageError(f"problem.yaml: unknown key limits.time_multipliers.{key}")
        values[key] = _number(multipliers[key], f"limits.time_multipliers.{key}", minimum=1, strict=False)
    if "time_resolution" in limits:
        values["time_resolution"] = _number(limits["time_resolution"], "limits.time_resolution")

    if "time_limit" in limits:
        return TimeLimitPolicy(seconds=_number(limits["time_limit"], "limits.time_limit"), source="problem.yaml", **values)
    timelimit_file = root / ".timelimit"
    if timelimit_file.is_file():
        text = timelimit_file.read_text(encoding="utf-8", errors="replace").strip()
        try:
            seconds = float(text)
        except ValueError:
            raise PackageError(f".timelimit: expected a number of seconds, got {text[:40]!r}") from None
        if not math.isfinite(seconds) or seconds <= 0:
            raise PackageError(f".timelimit: expected a number of seconds > 0, got {text[:40]!r}")
        return TimeLimitPolicy(seconds=seconds, source=".timelimit", **values)
    return TimeLimitPolicy(seconds=None, source="pending", **values)


def derive_time_limit(
    policy: TimeLimitPolicy, accepted_seconds: Sequence[float], time_limit_exceeded_seconds: Sequence[float] = ()
) -> DerivedTimeLimit:
    """Derive a time limit from the run times of the accepted and too-slow submissions.

    legacy: the slowest accepted time times `time_multiplier`, rounded up to
    whole seconds; a too-slow submission faster than the limit times
    `time_safety_margin` gets a warning. 2023-07-draft: the smallest multiple
    of `time_resolution` at least the slowest accepted time times
    `ac_to_time_limit`, which times `time_limit_to_tle` must not exceed the
    fastest too-slow submission.
    """
    if not accepted_seconds:
        raise PackageError("submissions/accepted: no accepted submission was timed, so the time limit cannot be derived")
    slowest = max(accepted_seconds)
    fastest_tle = min(time_limit_exceeded_seconds) if time_limit_exceeded_seconds else math.inf
    warnings: list[str] = []

    if policy.legacy:
        seconds = float(max(1, math.ceil(slowest * policy.time_multiplier - 1e-9)))
        if fastest_tle < seconds * policy.time_safety_margin:
            warnings.append(
                f"a time_limit_exceeded submission ran in {fastest_tle:.3f} s, within the safety margin "
                f"({seconds:g} s x {policy.time_safety_margin:g})"
            )
        return DerivedTimeLimit(seconds, warnings)

    resolution = policy.time_resolution
    steps = max(1, math.ceil(slowest * policy.ac_to_time_limit / resolution - 1e-9))
    seconds = round(steps * resolution, 6)
    if seconds * policy.time_limit_to_tle > fastest_tle:
        raise PackageError(
            f"no time limit fits: the slowest accepted submission needs {seconds:g} s "
            f"(x{policy.ac_to_time_limit:g}), but a time_limit_exceeded submission ran in {fastest_tle:.3f} s "
            f"(limit x{policy.time_limit_to_tle:g} must not exceed it)"
        )
    return DerivedTimeLimit(seconds, warnings)


def _language_of(files: list[Path]) -> str | None:
    languages = []
    for path in files:
        language = LANGUAGE_BY_EXTENSION.get(path.suffix.lower() if path.suffix != ".C" else ".cpp")
        if language == "python3":
            first_line = path.read_bytes()[:200].split(b"\n", 1)[0]
            if re.match(rb"^#!.*python2", first_line):
                language = "python2"
        if language:
            languages.append(language)
    if not languages:
        return None
    for preferred in ("cpp", "c", "java", "kotlin"):
        if preferred in languages:
            return preferred
    return languages[0]


def _program_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(item for item in path.rglob("*") if item.is_file() and not _skipped(item, path))


def _program(root: Path, path: Path, name: str) -> Program:
    files = _program_files(path)
    build_scripts = path.is_dir() and ((path / "build").is_file() or (path / "run").is_file())
    language = "script" if build_scripts else _language_of(files)
    entry = None
    if language in ("python3", "python2"):
        python_files = [item for item in files if item.suffix == ".py"]
        main = [item for item in python_files if item.name in ("__main__.py", "main.py")]
        entry_path = main[0] if main else python_files[0]
        entry = entry_path.relative_to(root).as_posix()
    elif len(files) == 1:
        entry = files[0].relative_to(root).as_posix()
    return Program(
        name=name,
        path=path.relative_to(root).as_posix(),
        language=language,
        entry=entry,
        files=[item.relative_to(root).as_posix() for item in files],
    )


def _output_validators(root: Path, validation: Validation, legacy: bool, warnings: list[str]) -> list[Program]:
    programs = []
    plural = root / "output_validators"
    if plural.is_dir():
        for path in sorted(plural.iterdir()):
            if _skipped(path, plural):
                continue
            programs.append(_program(root, path, path.stem if path.is_file() else path.name))
    single = root / "output_validator"
    if single.is_dir() and any(single.iterdir()):
        programs.append(_program(root, single, "output_validator"))

    for program in programs:
        if program.language not in VALIDATOR_LANGUAGES and program.language != "script":
            raise PackageError(
                f"{program.path}: cannot tell the validator's language; give it C (.c), C++ (.cpp, .cc) or Python 3 (.py) sources"
            )
    if len(programs) > 1 and validation.custom:
        # The legacy format lets every validator judge an output, the 2023-07 draft has just one.
        warnings.append(
            f"{len(programs)} output validators found, and only the first, {programs[0].path}, judges outputs; "
            "merge them into one validator"
        )
    if programs and not validation.custom:
        warnings.append("output_validators/ is present but problem.yaml says validation: default; the validators are stored but not used")
    return programs


def _submissions(root: Path, warnings: list[str]) -> list[Submission]:
    folder = root / "submissions"
    if not folder.is_dir():
        warnings.append("submissions/: missing; a package should have at least one accepted submission")
        return []
    submissions = []
    for category in sorted(folder.iterdir()):
        if not category.is_dir() or _skipped(category, folder):
            continue
        if category.name not in SUBMISSION_VERDICTS:
            warnings.append(f"submissions/{category.name}: unknown folder; its programs are stored without an expected verdict")
        for path in sorted(category.iterdir()):
            if _skipped(path, category):
                continue
            program = _program(root, path, path.name)
            submissions.append(
                Submission(
                    **msgspec.structs.asdict(program),
                    expected=category.name,
                    verdicts=SUBMISSION_VERDICTS.get(category.name, ()),
                )
            )
    if not any(submission.expected == "accepted" for submission in submissions):
        warnings.append("submissions/accepted: no accepted submission; the package cannot be verified")
    return submissions


def _skipped(path: Path, parent: Path) -> bool:
    relative = path.relative_to(parent).parts if path != parent else ()
    return any(part in SKIPPED_NAMES or (part.startswith(".") and part != ".timelimit") or part.endswith(".pyc") for part in relative)


def _package_files(root: Path, options: LoadOptions) -> list[PackageFile]:
    """List every file but problem.yaml and test data, with caps on count and total size."""
    files: list[PackageFile] = []
    total = 0
    count = 0
    seen: set[str] = set()
    for folder, directories, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        depth = len(Path(folder).relative_to(root).parts)
        if real in seen or depth > MAX_FOLDER_DEPTH:
            raise PackageError(f"{Path(folder).relative_to(root).as_posix()}: folders nest too deep or loop through links")
        seen.add(real)
        directories[:] = sorted(name for name in directories if not _skipped(Path(folder) / name, root))
        for name in sorted(names):
            path = Path(folder) / name
            if _skipped(path, root):
                continue
            count += 1
            size = path.stat().st_size
            total += size
            if count > options.archive.max_entries:
                raise PackageError(f"the package has more than {options.archive.max_entries} files")
            if total > options.archive.max_total_bytes:
                raise PackageError(f"the package is larger than {options.archive.max_total_bytes} bytes")
            relative = path.relative_to(root).as_posix()
            if relative == "problem.yaml" or _is_test_file(relative):
                continue
            files.append(PackageFile(relative, size))
    return files


def _is_test_file(relative: str) -> bool:
    parts = relative.split("/")
    return len(parts) > 2 and parts[0] == "data" and parts[1] in ("sample", "secret") and relative.endswith((".in", ".ans")) and not any(
        part.endswith((".files", ".download")) for part in parts[:-1]
    )


def _tags(problem_yaml: dict[str, Any], codearena: dict[str, Any], warnings: list[str]) -> list[str]:
    keywords = problem_yaml.get("keywords") or []
    if isinstance(keywords, str):
        keywords = keywords.split()
    extra = codearena.get("tags") or []
    if not isinstance(keywords, list) or not isinstance(extra, list):
        raise PackageError("problem.yaml: keywords and codearena.tags must be lists of words")
    tags = []
    for word in [*keywords, *extra]:
        tag = str(word).strip().lower()
        if TAG_PATTERN.match(tag):
            tags.append(tag)
        else:
            warnings.append(f"problem.yaml: keyword {word!r} is not a valid tag and was left out")
    return sorted(set(tags))[:20]

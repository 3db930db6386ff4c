"""A judge job: everything needed to judge one submission, and nothing else."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from judge.checkers import CHECKERS, CheckerFlags
from judge.function_style import FunctionOptions
from judge.languages import LANGUAGES_BY_ID
from judge.validators import ValidatorSpec, validator_spec

MAX_SOURCE_BYTES = 1 << 20
# Besides the built-in checkers: "custom" runs the job's output validator,
# "function" compares the return value of a function-style submission.
CUSTOM_CHECKER = "custom"
FUNCTION_CHECKER = "function"
CHECKER_NAMES = (*CHECKERS, CUSTOM_CHECKER, FUNCTION_CHECKER)


class TestCase(msgspec.Struct, frozen=True, kw_only=True):
    """One test case; the paths are on the judge host and stay there."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    input_path: str
    answer_path: str
    # Test group (IOI subtask). A group scores its points only if all its tests pass.
    group: str | None = None
    points: float = 0.0
    # Arguments for the output validator after the problem's flags: the
    # `output_validator_args` of the test's group and of the test itself.
    validator_args: tuple[str, ...] = ()


class JudgeJob(msgspec.Struct, frozen=True, kw_only=True):
    submission_id: int | str
    language: str
    source: str
    tests: tuple[TestCase, ...]
    time_limit_ms: int
    memory_limit_mb: int
    output_limit_kb: int = 8192
    # default, exact, custom (the output validator below) or function.
    checker: str = "default"
    checker_flags: CheckerFlags = CheckerFlags()
    # The output validator of checker "custom"; the interactor of an interactive problem.
    validator: ValidatorSpec | None = None
    # Interactive problem: the submission talks to the validator instead of printing an output.
    interactive: bool = False
    # How checker "function" compares return values.
    function_options: FunctionOptions = FunctionOptions()
    # True: ICPC, stop at the first test that fails. False: IOI, run every test.
    stop_on_first_failure: bool = True
    # Attempt number of this judging, echoed in the events (retries and rejudges).
    attempt: int = 1

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES_BY_ID:
            raise ValueError(f"language: unknown language {self.language!r}")
        if len(self.source.encode()) > MAX_SOURCE_BYTES:
            raise ValueError(f"source: longer than {MAX_SOURCE_BYTES} bytes")
        if not 1 <= self.time_limit_ms <= 60_000:
            raise ValueError(f"time_limit_ms: must be 1..60000, got {self.time_limit_ms}")
        if not 16 <= self.memory_limit_mb <= 16_384:
            raise ValueError(f"memory_limit_mb: must be 16..16384, got {self.memory_limit_mb}")
        if not 1 <= self.output_limit_kb <= 1_048_576:
            raise ValueError(f"output_limit_kb: must be 1..1048576, got {self.output_limit_kb}")
        if self.checker not in CHECKER_NAMES:
            raise ValueError(f"checker: unknown checker {self.checker!r}; known: {', '.join(CHECKER_NAMES)}")
        if self.checker == CUSTOM_CHECKER and self.validator is None:
            raise ValueError("validator: checker custom needs the output validator's sources")
        if self.checker != CUSTOM_CHECKER and self.validator is not None:
            raise ValueError(f"validator: only checker custom runs an output validator, not checker {self.checker!r}")
        if self.interactive and self.checker != CUSTOM_CHECKER:
            raise ValueError("interactive: an interactive problem needs checker custom with the interactor as validator")
        names = [test.name for test in self.tests]
        if len(set(names)) != len(names):
            raise ValueError("tests: test names must be unique")
        for test in self.tests:
            if test.points < 0:
                raise ValueError(f"tests: points of test {test.name!r} must be >= 0")
            if any("\0" in arg for arg in test.validator_args):
                raise ValueError(f"tests: NUL byte in the validator arguments of test {test.name!r}")


def problem_checker_fields(
    *,
    problem_type: str,
    checker: str,
    checker_flags: Mapping[str, Any],
    package_meta: Mapping[str, Any] | None,
    read_text: Callable[[str], str],
) -> dict[str, Any]:
    """Build the JudgeJob fields that choose how a stored problem is checked.

    Takes the problem's columns and its `package_meta` (see
    server/packages.py). `read_text(sha256)` returns a stored package file,
    used for the output validator's sources. Raises ValueError when the
    stored settings cannot be judged.
    """
    fields: dict[str, Any] = {"checker": checker, "interactive": problem_type == "interactive"}
    try:
        if checker == FUNCTION_CHECKER:
            fields["function_options"] = msgspec.convert(dict(checker_flags), FunctionOptions)
        elif checker != CUSTOM_CHECKER:
            fields["checker_flags"] = msgspec.convert(dict(checker_flags), CheckerFlags)
    except msgspec.ValidationError as error:
        raise ValueError(f"checker_flags: {error}") from None
    if checker != CUSTOM_CHECKER:
        return fields

    meta = package_meta or {}
    programs = meta.get("output_validators") or []
    if not programs:
        raise ValueError("validator: the problem uses a custom output validator, but its package has none")
    # NOTE: a legacy package may hold several output validators that must all accept. Only the
    # first runs, and the import warns about the others.
    program = programs[0]
    files = {file["path"]: read_text(file["sha256"]) for file in program["files"]}
    args = (meta.get("validation") or {}).get("args") or ()
    fields["validator"] = validator_spec(program.get("language"), files, entry=program.get("entry"), flags=args)
    return fields


def validator_args_for(group_settings: Mapping[str, Any] | None, test_settings: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Return a test case's output validator arguments: its group's `output_validator_args`, then its own."""
    args: list[str] = []
    for settings in (group_settings or {}, test_settings or {}):
        value = settings.get("output_validator_args") or ()
        args.extend(value.split() if isinstance(value, str) else (str(item) for item in value))
    return tuple(args)

"""A judge job: everything needed to judge one submission, and nothing else."""

from __future__ import annotations

import msgspec

from judge.checkers import CHECKERS, CheckerFlags
from judge.languages import LANGUAGES_BY_ID

MAX_SOURCE_BYTES = 1 << 20


class TestCase(msgspec.Struct, frozen=True, kw_only=True):
    """One test case; the paths are on the judge host and stay there."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    input_path: str
    answer_path: str
    # Test group (IOI subtask). A group scores its points only if all its tests pass.
    group: str | None = None
    points: float = 0.0


class JudgeJob(msgspec.Struct, frozen=True, kw_only=True):
    submission_id: int | str
    language: str
    source: str
    tests: tuple[TestCase, ...]
    time_limit_ms: int
    memory_limit_mb: int
    output_limit_kb: int = 8192
    checker: str = "default"
    checker_flags: CheckerFlags = CheckerFlags()
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
        if self.checker not in CHECKERS:
            raise ValueError(f"checker: unknown checker {self.checker!r}; known: {', '.join(CHECKERS)}")
        names = [test.name for test in self.tests]
        if len(set(names)) != len(names):
            raise ValueError("tests: test names must be unique")
        for test in self.tests:
            if test.points < 0:
                raise ValueError(f"tests: points of test {test.name!r} must be >= 0")

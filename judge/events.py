"""Events streamed while a submission is judged, in this order:
Compiling, Compiled, one TestFinished per test run, Final.
"""

from __future__ import annotations

import enum

import msgspec


class Verdict(enum.StrEnum):
    AC = "AC"  # accepted
    WA = "WA"  # wrong answer
    TLE = "TLE"  # time limit exceeded (CPU time, or wall time for a sleeping program)
    MLE = "MLE"  # memory limit exceeded
    RTE = "RTE"  # run-time error: non-zero exit code or killed by a signal
    OLE = "OLE"  # output limit exceeded
    CE = "CE"  # compilation error
    IE = "IE"  # internal error of the judge; never the contestant's fault


class Compiling(msgspec.Struct, frozen=True, kw_only=True, tag="compiling", tag_field="type"):
    submission_id: int | str
    attempt: int
    language: str


class Compiled(msgspec.Struct, frozen=True, kw_only=True, tag="compiled", tag_field="type"):
    submission_id: int | str
    attempt: int
    success: bool
    time_ms: int
    # Compiler messages, cut at 64 KiB.
    output: str


class TestFinished(msgspec.Struct, frozen=True, kw_only=True, tag="test", tag_field="type"):
    __test__ = False  # not a pytest test class, despite the name

    submission_id: int | str
    attempt: int
    index: int
    name: str
    verdict: Verdict
    time_ms: int  # CPU time
    wall_ms: int
    memory_kb: int  # peak resident set size (ru_maxrss)
    exit_code: int | None = None
    signal: int | None = None
    # Checker message for WA; why the verdict was given otherwise.
    message: str = ""
    group: str | None = None
    # Score of the test's group once it is decided (0 after a failure), else None.
    group_score: float | None = None
    points: float = 0.0
    # What the output validator's score.txt gave this test; None when it wrote
    # none. An accepted test earns this instead of `points`.
    score: float | None = None


class Final(msgspec.Struct, frozen=True, kw_only=True, tag="final", tag_field="type"):
    submission_id: int | str
    attempt: int
    verdict: Verdict
    time_ms: int  # max CPU time over the tests run
    memory_kb: int  # max peak memory over the tests run
    passed: int
    total: int
    score: float
    max_score: float
    # For organizers only: what went wrong inside the judge (IE).
    internal_error: str | None = None


JudgeEvent = Compiling | Compiled | TestFinished | Final

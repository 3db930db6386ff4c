"""The judge job of a stored problem: its test cases with their validator arguments, and how it is checked.

The judge worker and `codearena problems verify` both build their jobs here,
so a package's example submissions are judged exactly as contestants'
submissions to the imported problem are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from judge.job import JudgeJob, TestCase, problem_checker_fields, validator_args_for

# Returns the path on this machine of a stored file (test data or package file), fetching it first if needed.
BlobPath = Callable[[str], Awaitable[Path]]


class StoredTest(msgspec.Struct, frozen=True, kw_only=True):
    """A test case as the database stores it: names, points and the sha256 of its files."""

    name: str
    input_sha256: str
    answer_sha256: str
    group: str | None = None
    points: float = 0.0
    # The testdata.yaml settings of the test's group (TestGroup.settings).
    group_settings: dict[str, Any] = {}


class StoredProblem(msgspec.Struct, frozen=True, kw_only=True):
    """The columns of a problem that its judge job needs, with its test cases in judging order."""

    problem_type: str
    checker: str
    checker_flags: dict[str, Any]
    # Problem.package_meta of an imported package (see server/packages.py); None for problems made in the app.
    package_meta: dict[str, Any] | None
    time_limit_ms: int
    memory_limit_mb: int
    output_limit_kb: int
    tests: tuple[StoredTest, ...]

    @property
    def max_score(self) -> float:
        return sum(test.points for test in self.tests)

    def stops_on_first_failure(self, ioi_contest: bool = False) -> bool:
        """Scoring problems and IOI contests run every test; the others stop at the first failed one."""
        return self.problem_type != "scoring" and not ioi_contest


@dataclass(frozen=True)
class PreparedProblem:
    """A stored problem with its files on this machine: makes one JudgeJob per submission."""

    problem: StoredProblem
    tests: tuple[TestCase, ...]
    # JudgeJob fields from problem_checker_fields: checker, checker_flags, validator, interactive, function_options.
    checker_fields: dict[str, Any]

    def job(
        self,
        *,
        submission_id: int | str,
        language: str,
        source: str,
        stop_on_first_failure: bool,
        attempt: int = 1,
        time_limit_ms: int | None = None,
    ) -> JudgeJob:
        """Build the job of one submission, under `time_limit_ms` if given, else the problem's time limit.

        Raises ValueError when the submission or the problem is invalid.
        """
        return JudgeJob(
            submission_id=submission_id,
            attempt=attempt,
            language=language,
            source=source,
            tests=self.tests,
            time_limit_ms=self.problem.time_limit_ms if time_limit_ms is None else time_limit_ms,
            memory_limit_mb=self.problem.memory_limit_mb,
            output_limit_kb=self.problem.output_limit_kb,
            stop_on_first_failure=stop_on_first_failure,
            **self.checker_fields,
        )


async def prepare_problem(problem: StoredProblem, path_of: BlobPath) -> PreparedProblem:
    """Fetch the problem's test files and output validator, and build its checker fields.

    Raises ValueError when the stored settings cannot be judged (for example
    a validator in a language the judge does not run), and whatever
    `path_of` raises when a file is unavailable.
    """
    test_settings = (problem.package_meta or {}).get("test_case_settings") or {}
    tests = []
    for test in problem.tests:
        tests.append(
            TestCase(
                name=test.name,
                input_path=str(await path_of(test.input_sha256)),
                answer_path=str(await path_of(test.answer_sha256)),
                group=test.group,
                points=test.points,
                validator_args=validator_args_for(test.group_settings, test_settings.get(test.name)),
            )
        )

    loop = asyncio.get_running_loop()

    def read_text(sha256: str) -> str:
        # Runs in a worker thread: the fetch (perhaps a download) runs on the event loop, the read here.
        path = asyncio.run_coroutine_threadsafe(path_of(sha256), loop).result()
        return path.read_text(encoding="utf-8")

    fields = await asyncio.to_thread(
        problem_checker_fields,
        problem_type=problem.problem_type,
        checker=problem.checker,
        checker_flags=problem.checker_flags,
        package_meta=problem.package_meta,
        read_text=read_text,
    )
    return PreparedProblem(problem=problem, tests=tuple(tests), checker_fields=fields)

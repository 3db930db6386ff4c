"""Verify a problem package: judge every example submission and compare with its folder's verdict.

The package is imported into a scratch space (a temporary data folder and
SQLite database), so a package that verifies also imports. The submissions
then run in the real judge (JudgePool). Their judge jobs come from the stored
problem through judge/problem_job.py, as the judge worker's do, so output
validators, interactors, function style and validator arguments work as in
a contest. When the package gives no time limit, the accepted submissions
are first timed under a generous limit and the limit is derived from their
times as the package format prescribes.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from db.blobs import BlobStore
from db.engine import create_engine, create_session_factory
from db.migrate import upgrade
from db.models import Problem, TestCase
from judge import function_style
from judge.events import Final
from judge.job import JudgeJob
from judge.languages import LANGUAGES_BY_ID
from judge.packages import LoadOptions, Package, PackageError, derive_time_limit, load_package, open_package
from judge.problem_job import PreparedProblem, StoredProblem, prepare_problem
from judge.worker import stored_problem
from server.packages import import_package
from server.settings import Settings

logger = logging.getLogger(__name__)

# Time limit while the accepted submissions are timed to derive the real one.
TIMING_LIMIT_MS = 10_000
_MIGRATION_LOCK = threading.Lock()


class SubmissionResult(msgspec.Struct, kw_only=True):
    path: str
    expected: str
    allowed: tuple[str, ...]
    # ok, mismatch or skipped.
    status: str
    verdict: str | None = None
    time_ms: int | None = None
    score: float | None = None
    note: str = ""


class VerifyReport(msgspec.Struct, kw_only=True):
    slug: str
    time_limit_ms: int
    time_limit_source: str
    results: list[SubmissionResult]
    warnings: list[str]

    @property
    def mismatches(self) -> list[SubmissionResult]:
        return [result for result in self.results if result.status == "mismatch"]


def _skip_reason(package: Package, submission) -> str | None:
    if submission.language not in LANGUAGES_BY_ID:
        return f"language {submission.language or 'unknown'} is not judged here"
    if len(submission.files) != 1:
        return "programs of several files are not judged here"
    if package.function is not None and submission.language not in function_style.SUPPORTED_LANGUAGES:
        return f"function-style problems take {' or '.join(function_style.SUPPORTED_LANGUAGES)}"
    return None


def _job(package: Package, prepared: PreparedProblem, submission, time_limit_ms: int, index: int) -> JudgeJob:
    # Function-style sources go in as written: the judge adds the harness itself.
    source = (Path(package.root) / submission.files[0]).read_text(encoding="utf-8", errors="replace")
    return prepared.job(
        submission_id=f"verify-{index}",
        language=submission.language,
        source=source,
        stop_on_first_failure=prepared.problem.stops_on_first_failure(),
        time_limit_ms=time_limit_ms,
    )


async def _final(pool, job: JudgeJob) -> Final:
    final = None
    async for event in pool.judge(job):
        if isinstance(event, Final):
            final = event
    assert final is not None, "the judge ended without a final verdict"
    return final


async def _scratch_import(package: Package, settings: Settings, scratch: Path) -> tuple[str, StoredProblem, BlobStore]:
    database = scratch / "verify.sqlite3"
    url = f"sqlite+aiosqlite:///{database}"
    await asyncio.to_thread(_upgrade, url)
    blobs = BlobStore(scratch / "blobs")
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            result = await import_package(session, blobs, package, limits=settings.limits)
            problem = await session.scalar(
                select(Problem)
                .where(Problem.id == result.problem_id)
                .options(selectinload(Problem.test_cases).selectinload(TestCase.group))
            )
            return problem.slug, stored_problem(problem), blobs
    finally:
        await engine.dispose()


def _upgrade(url: str) -> None:
    # Alembic keeps the running migration in module globals, so packages verified at once migrate one by one.
    with _MIGRATION_LOCK:
        upgrade(url)


async def verify_package(
    path: Path,
    settings: Settings,
    pool_factory: Callable[[], object],
    progress: Callable[[SubmissionResult], None] = lambda result: None,
) -> VerifyReport:
    """Import `path` into a scratch space and judge each of its submissions with a pool from `pool_factory`."""
    options = LoadOptions(max_test_bytes=settings.limits.max_test_bytes)
    scratch = Path(tempfile.mkdtemp(prefix="codearena-verify-"))
    try:
        with open_package(path, options) as (root, short_name):
            package = await asyncio.to_thread(load_package, root, short_name, options)
            slug, problem, blobs = await _scratch_import(package, settings, scratch)

            async def path_of(sha256: str) -> Path:
                return blobs.path_of(sha256)

            try:
                prepared = await prepare_problem(problem, path_of)
            except ValueError as exc:
                prepared = f"the judge cannot check this problem: {exc}"
            async with pool_factory() as pool:
                return await _judge_all(package, slug, problem, prepared, pool, progress)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


async def _judge_all(
    package: Package, slug: str, problem: StoredProblem, prepared: PreparedProblem | str, pool, progress
) -> VerifyReport:
    """Judge the package's submissions. A str `prepared` is the reason the problem cannot be judged: all are skipped."""
    warnings = list(package.warnings)
    runnable = []
    results: dict[str, SubmissionResult] = {}
    for submission in package.submissions:
        reason = prepared if isinstance(prepared, str) else _skip_reason(package, submission)
        if reason is None and submission.verdicts:
            runnable.append(submission)
            continue
        note = reason or f"submissions/{submission.expected} has no expected verdict"
        results[submission.path] = SubmissionResult(
            path=submission.path, expected=submission.expected, allowed=submission.verdicts, status="skipped", note=note
        )

    time_limit_ms = problem.time_limit_ms
    source = package.time_limit.source
    if package.time_limit.seconds is None:
        accepted = [submission for submission in runnable if submission.expected == "accepted"]
        finals = await asyncio.gather(
            *(_final(pool, _job(package, prepared, item, TIMING_LIMIT_MS, index)) for index, item in enumerate(accepted))
        )
        times = [
            final.time_ms / 1000 / LANGUAGES_BY_ID[item.language].time_multiplier
            for item, final in zip(accepted, finals)
            if final.verdict == "AC"
        ]
        try:
            derived = derive_time_limit(package.time_limit, times)
        except PackageError as exc:
            warnings.append(str(exc))
        else:
            time_limit_ms = round(derived.seconds * 1000)
            source = "derived"
            warnings.extend(derived.warnings)

    async def judge(index: int, submission) -> SubmissionResult:
        final = await _final(pool, _job(package, prepared, submission, time_limit_ms, index))
        verdict = str(final.verdict)
        result = SubmissionResult(
            path=submission.path,
            expected=submission.expected,
            allowed=submission.verdicts,
            status="ok" if verdict in submission.verdicts else "mismatch",
            verdict=verdict,
            time_ms=final.time_ms,
            score=final.score if package.scoring else None,
            note=final.internal_error or "",
        )
        progress(result)
        return result

    for result in await asyncio.gather(*(judge(index, item) for index, item in enumerate(runnable))):
        results[result.path] = result
    ordered = [results[submission.path] for submission in package.submissions]
    return VerifyReport(slug=slug, time_limit_ms=time_limit_ms, time_limit_source=source, results=ordered, warnings=warnings)

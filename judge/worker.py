"""Judge worker: load a submission, judge it in the pool, store the results, publish them.

Writes are idempotent per attempt. A worker first takes the judging's lease
(status JUDGING, `worker` = its name, `lease_expires_at` in the future) and
renews it while it runs; every later write locks the judging row and checks
that the lease is still its own. A job delivered twice therefore finds the
judging held (and is offered again later) or already JUDGED (and is dropped),
and a worker whose lease was taken over after it stalled stops writing. The
unique (judging, position) constraint on test results backs this up.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.blobs import BlobStore
from db.models import Contest, Judging, Problem, Submission, SubmissionStatus, TestCase, TestResult, Verdict, utcnow
from judge.events import Compiled, Compiling, Final, JudgeEvent, TestFinished
from judge.job import JudgeJob
from judge.languages import LANGUAGES, Language
from judge.problem_job import StoredProblem, StoredTest, prepare_problem
from server.live import LiveContext
from server.queue import Job, JobOutcome, JudgeQueue
from server.submissions import live_summary, publish_event, reset_to_queued, run_hooks

logger = logging.getLogger(__name__)

DEFAULT_LEASE_S = 60.0
DOWNLOAD_CHUNK = 1 << 20
# Redis hash of self-test results: field "<worker>|<language id>", value a LanguageReport.
LANGUAGE_REPORT_KEY = "codearena:judge:languages"
# A worker re-sends its reports this often; servers ignore reports older than LANGUAGE_REPORT_TTL_S.
LANGUAGE_REPORT_REFRESH_S = 60.0
LANGUAGE_REPORT_TTL_S = 300.0
# Delay before a language that failed its first self-test is checked again.
SELF_TEST_RETRY_S = 2.0


class LanguageReport(msgspec.Struct, frozen=True):
    """A worker's self-test result for one language."""

    id: str
    version: str | None
    status: str
    reason: str | None
    worker: str
    reported_at: datetime


def worker_name() -> str:
    """Return a name unique to this process, shown to organizers as the judging's worker."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class TestDataUnavailableError(Exception):
    """A test file is neither on this machine nor downloadable from the server."""

    __test__ = False  # not a pytest test class

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        # True when the server was unreachable or failed (5xx): the job waits and is tried again.
        self.transient = transient


class TestData:
    """Paths of test files on this machine, by sha256.

    The server's blob store is used when it is on this machine (same data
    dir). Otherwise files are downloaded once from the server's
    `/api/v1/judge/blobs/{sha256}` with the worker token, checked against the
    hash and cached under `cache_dir`.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, blobs: BlobStore, cache_dir: Path, server_url: str = "", token: str = "") -> None:
        self.blobs = blobs
        self.cache = BlobStore(cache_dir)
        self.server_url = server_url.rstrip("/")
        self.token = token
        self._downloads: dict[str, asyncio.Lock] = {}

    async def path_of(self, sha256: str) -> Path:
        local = self.blobs.path_of(sha256)
        if local.is_file():
            return local
        cached = self.cache.path_of(sha256)
        if cached.is_file():
            return cached
        lock = self._downloads.setdefault(sha256, asyncio.Lock())
        async with lock:
            if not cached.is_file():
                await self._download(sha256, cached)
        return cached

    async def _download(self, sha256: str, target: Path) -> None:
        import httpx

        if not self.server_url or not self.token:
            raise TestDataUnavailableError(
                f"test file {sha256} is not on this machine; set server.public_url and judge.worker_token "
                "so the worker can fetch it from the server"
            )
        url = f"{self.server_url}/api/v1/judge/blobs/{sha256}"
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".download-")
        digest = hashlib.sha256()
        try:
            with os.fdopen(descriptor, "wb") as stream:
                async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=120.0)) as client:
                    async with client.stream("GET", url, headers={"Authorization": f"Bearer {self.token}"}) as response:
                        if response.status_code != 200:
                            raise TestDataUnavailableError(
                                f"fetching test file {sha256} from {url} failed: HTTP {response.status_code}",
                                transient=response.status_code >= 500,
                            )
                        async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK):
                            digest.update(chunk)
                            stream.write(chunk)
            if digest.hexdigest() != sha256:
                raise TestDataUnavailableError(f"test file downloaded from {url} does not match its sha256", transient=True)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
            logger.info("downloaded test file %s from %s", sha256, self.server_url)
        except httpx.HTTPError as exc:
            raise TestDataUnavailableError(f"fetching test file {sha256} from {url} failed: {exc}", transient=True) from exc
        finally:
            Path(temporary).unlink(missing_ok=True)


@dataclass
class Claim:
    """A judging this worker holds, with what the job needs."""

    judging_id: int
    submission_id: int
    user_id: int
    attempt: int
    # Automatic IE retries get no further retry; rejudges by staff do.
    is_automatic_retry: bool
    language: str
    source: str
    stop_on_first_failure: bool
    problem: StoredProblem
    # TestCase row id of each test, in judging order.
    test_ids: list[int]
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    # The first failed test's checker or run-time message, for organizers only.
    failure_message: str | None = None


class JudgeWorker:
    """Judges jobs from any queue with one judge pool; one instance per process."""

    def __init__(
        self,
        live: LiveContext,
        pool: Any,
        queue: JudgeQueue,
        test_data: TestData,
        *,
        name: str,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self.live = live
        self.pool = pool
        self.queue = queue
        self.test_data = test_data
        self.name = name
        self.lease = timedelta(seconds=lease_s)

    async def handle(self, job: Job) -> JobOutcome:
        claim = await self._acquire(job)
        if isinstance(claim, JobOutcome):
            return claim
        await publish_event(
            self.live, claim.submission_id, claim.user_id, "judging",
            {"submission_id": claim.submission_id, "attempt": claim.attempt, "status": SubmissionStatus.JUDGING.value},
        )  # fmt: skip

        renewal = asyncio.create_task(self._renew_lease(claim))
        try:
            final = await self._judge(claim)
        except TestDataUnavailableError as exc:
            await self._release(claim, str(exc))
            return JobOutcome.BUSY
        finally:
            renewal.cancel()
            await asyncio.gather(renewal, return_exceptions=True)
        if final is None:
            logger.warning("submission %d attempt %d: lease lost to another worker; stopped", job.submission_id, job.attempt)
            return JobOutcome.BUSY
        return await self._finish(claim, final)

    async def _acquire(self, job: Job) -> Claim | JobOutcome:
        now = utcnow()
        async with self.live.session_factory() as session:
            judging = await session.scalar(
                select(Judging)
                .where(Judging.submission_id == job.submission_id, Judging.attempt == job.attempt)
                .with_for_update()
            )
            if judging is None:
                logger.warning("submission %d attempt %d no longer exists; job dropped", job.submission_id, job.attempt)
                return JobOutcome.DONE
            if judging.status == SubmissionStatus.JUDGED:
                return JobOutcome.DONE
            if judging.status == SubmissionStatus.JUDGING and judging.lease_expires_at and judging.lease_expires_at > now:
                return JobOutcome.BUSY
            if judging.status == SubmissionStatus.JUDGING:
                logger.info(
                    "submission %d attempt %d: taking over from worker %s, whose lease ran out",
                    job.submission_id, job.attempt, judging.worker,
                )  # fmt: skip

            judging.status = SubmissionStatus.JUDGING
            judging.worker = self.name
            judging.started_at = now
            judging.lease_expires_at = now + self.lease
            judging.compile_output = None
            await session.execute(delete(TestResult).where(TestResult.judging_id == judging.id))

            submission = await session.get(Submission, job.submission_id, with_for_update=True)
            assert submission is not None
            if submission.attempt == judging.attempt and submission.status == SubmissionStatus.QUEUED:
                submission.status = SubmissionStatus.JUDGING
            claim = await self._load(session, judging, submission)
            await session.commit()
        return claim

    async def _load(self, session: AsyncSession, judging: Judging, submission: Submission) -> Claim:
        problem = await session.scalar(
            select(Problem)
            .where(Problem.id == submission.problem_id)
            .options(selectinload(Problem.test_cases).selectinload(TestCase.group))
        )
        assert problem is not None
        ioi_contest = False
        if submission.contest_id is not None:
            contest = await session.get(Contest, submission.contest_id)
            ioi_contest = contest is not None and contest.scoring == "ioi"
        stored = stored_problem(problem)
        return Claim(
            judging_id=judging.id,
            submission_id=submission.id,
            user_id=submission.user_id,
            attempt=judging.attempt,
            is_automatic_retry=judging.attempt > 1 and judging.requested_by_id is None,
            language=submission.language,
            source=submission.code,
            stop_on_first_failure=stored.stops_on_first_failure(ioi_contest),
            problem=stored,
            test_ids=[test.id for test in problem.test_cases],
        )

    async def _build_job(self, claim: Claim) -> JudgeJob:
        prepared = await prepare_problem(claim.problem, self.test_data.path_of)
        return prepared.job(
            submission_id=claim.submission_id,
            attempt=claim.attempt,
            language=claim.language,
            source=claim.source,
            stop_on_first_failure=claim.stop_on_first_failure,
        )

    async def _judge(self, claim: Claim) -> Final | None:
        """Run the job and store each event; return the Final event, or None when the lease was lost."""
        try:
            job = await self._build_job(claim)
        except (TestDataUnavailableError, ValueError, TypeError, LookupError, OSError) as exc:
            if isinstance(exc, TestDataUnavailableError) and exc.transient:
                raise
            logger.error("submission %d attempt %d: cannot build the judge job: %s", claim.submission_id, claim.attempt, exc)
            return self._internal_error(claim, f"cannot build the judge job: {exc}")

        events = self.pool.judge(job)
        try:
            async for event in events:
                if claim.lost.is_set():
                    return None
                if isinstance(event, Final):
                    return event
                if not await self._record(claim, event):
                    return None
                if isinstance(event, TestFinished) and event.verdict != Verdict.AC and claim.failure_message is None:
                    claim.failure_message = f"test {event.index + 1} ({event.name}): {event.verdict.value} {event.message}".strip()
        except Exception as exc:
            logger.exception("submission %d attempt %d: the judge failed", claim.submission_id, claim.attempt)
            return self._internal_error(claim, f"judge failed: {type(exc).__name__}: {exc}")
        finally:
            await events.aclose()
        return self._internal_error(claim, "the judge stopped without a final verdict")

    async def _release(self, claim: Claim, reason: str) -> None:
        """Give the judging back to the queue unjudged, for a failure that is not the submission's."""
        async with self.live.session_factory() as session:
            judging = await self._held_judging(session, claim)
            if judging is None:
                return
            judging.status = SubmissionStatus.QUEUED
            judging.worker = None
            judging.started_at = None
            judging.lease_expires_at = None
            await session.execute(delete(TestResult).where(TestResult.judging_id == judging.id))
            submission = await session.get(Submission, claim.submission_id, with_for_update=True)
            if submission is not None and submission.attempt == claim.attempt and submission.status == SubmissionStatus.JUDGING:
                submission.status = SubmissionStatus.QUEUED
            await session.commit()
        logger.warning("submission %d attempt %d put back in the queue: %s", claim.submission_id, claim.attempt, reason)

    def _internal_error(self, claim: Claim, reason: str) -> Final:
        return Final(
            submission_id=claim.submission_id,
            attempt=claim.attempt,
            verdict=Verdict.IE,
            time_ms=0,
            memory_kb=0,
            passed=0,
            total=len(claim.problem.tests),
            score=0.0,
            max_score=claim.problem.max_score,
            internal_error=reason,
        )

    async def _record(self, claim: Claim, event: JudgeEvent) -> bool:
        """Store and publish one event; return False when the lease is no longer ours."""
        base = {"submission_id": claim.submission_id, "attempt": claim.attempt}
        if isinstance(event, Compiling):
            await publish_event(self.live, claim.submission_id, claim.user_id, "compiling", {**base, "language": event.language})
            return True

        async with self.live.session_factory() as session:
            judging = await self._held_judging(session, claim)
            if judging is None:
                return False
            if isinstance(event, Compiled):
                judging.compile_output = event.output
            elif isinstance(event, TestFinished):
                if event.group is not None and event.group_score is not None:
                    # IOI boards take the best of each group across submissions, so keep each group's score.
                    judging.group_scores = {**judging.group_scores, event.group: event.group_score}
                test_id = claim.test_ids[event.index] if event.index < len(claim.test_ids) else None
                session.add(
                    TestResult(
                        judging_id=claim.judging_id,
                        test_case_id=test_id,
                        position=event.index + 1,
                        name=event.name,
                        group=event.group,
                        verdict=Verdict(event.verdict.value),
                        time_ms=event.time_ms,
                        wall_ms=event.wall_ms,
                        memory_kb=event.memory_kb,
                        score=event.points if event.verdict == Verdict.AC else 0.0,
                    )
                )
            try:
                await session.commit()
            except IntegrityError:
                # Only a second writer for the same attempt gets here; the lease makes that a bug.
                logger.error("submission %d attempt %d: result of test %s already stored", claim.submission_id, claim.attempt, getattr(event, "index", "?"))
                await session.rollback()

        if isinstance(event, Compiled):
            kind = "compiled" if event.success else "compile_error"
            await publish_event(
                self.live, claim.submission_id, claim.user_id, kind,
                {**base, "success": event.success, "time_ms": event.time_ms, "output": event.output},
            )  # fmt: skip
        elif isinstance(event, TestFinished):
            await publish_event(
                self.live, claim.submission_id, claim.user_id, "test",
                {
                    **base,
                    "index": event.index + 1,
                    "name": event.name,
                    "group": event.group,
                    "verdict": event.verdict.value,
                    "time_ms": event.time_ms,
                    "wall_ms": event.wall_ms,
                    "memory_kb": event.memory_kb,
                },
            )  # fmt: skip
        return True

    async def _held_judging(self, session: AsyncSession, claim: Claim) -> Judging | None:
        """Lock the judging and renew the lease if it is still this worker's; else flag the claim lost."""
        judging = await session.scalar(select(Judging).where(Judging.id == claim.judging_id).with_for_update())
        if judging is None or judging.status != SubmissionStatus.JUDGING or judging.worker != self.name:
            claim.lost.set()
            return None
        judging.lease_expires_at = utcnow() + self.lease
        return judging

    async def _renew_lease(self, claim: Claim) -> None:
        interval = self.lease.total_seconds() / 3
        while not claim.lost.is_set():
            await asyncio.sleep(interval)
            try:
                async with self.live.session_factory() as session:
                    if await self._held_judging(session, claim) is not None:
                        await session.commit()
            except Exception as exc:  # noqa: BLE001 - the next renewal tries again; the lease has slack
                logger.warning("submission %d: cannot renew the judging lease: %s", claim.submission_id, exc)

    async def _finish(self, claim: Claim, final: Final) -> JobOutcome:
        retry_attempt: int | None = None
        async with self.live.session_factory() as session:
            judging = await self._held_judging(session, claim)
            if judging is None:
                return JobOutcome.BUSY
            _apply_final(judging, final)
            submission = await session.get(Submission, claim.submission_id, with_for_update=True)
            assert submission is not None
            is_current = submission.attempt == claim.attempt
            if is_current and final.verdict == Verdict.IE and not claim.is_automatic_retry:
                latest = await session.scalar(select(func.max(Judging.attempt)).where(Judging.submission_id == submission.id))
                retry_attempt = (latest or claim.attempt) + 1
                session.add(Judging(submission_id=submission.id, attempt=retry_attempt, status=SubmissionStatus.QUEUED))
                reset_to_queued(submission, retry_attempt)
            elif is_current:
                submission.status = SubmissionStatus.JUDGED
                submission.verdict = judging.verdict
                submission.score = judging.score
                submission.execution_time_ms = judging.execution_time_ms
                submission.memory_used_kb = judging.memory_used_kb
                submission.test_cases_passed = judging.test_cases_passed
                submission.test_cases_total = judging.test_cases_total
                submission.error_message = final.internal_error if final.verdict == Verdict.IE else claim.failure_message
                submission.judged_at = judging.finished_at
            await session.commit()

        if retry_attempt is not None:
            logger.warning(
                "submission %d attempt %d ended in IE (%s); retrying as attempt %d",
                claim.submission_id, claim.attempt, final.internal_error, retry_attempt,
            )  # fmt: skip
            await self.queue.enqueue(Job(claim.submission_id, retry_attempt))
            await publish_event(self.live, claim.submission_id, claim.user_id, "queued", live_summary(submission))
            return JobOutcome.DONE

        logger.info(
            "submission %d attempt %d judged: %s, %d/%d tests",
            claim.submission_id, claim.attempt, final.verdict.value, final.passed, final.total,
        )  # fmt: skip
        if is_current:
            await publish_event(self.live, claim.submission_id, claim.user_id, "final", live_summary(submission))
            await run_hooks(self.live, self.live.on_judged, claim.submission_id, "on_judged")
        return JobOutcome.DONE


def stored_problem(problem: Problem) -> StoredProblem:
    """Copy what the judge job needs out of a Problem row loaded with its test cases and their groups."""
    tests = tuple(
        StoredTest(
            name=test.name,
            input_sha256=test.input_sha256,
            answer_sha256=test.answer_sha256,
            group=test.group.name if test.group else None,
            points=test.points,
            group_settings=dict(test.group.settings or {}) if test.group else {},
        )
        for test in problem.test_cases
    )
    return StoredProblem(
        problem_type=problem.problem_type,
        checker=problem.checker,
        checker_flags=dict(problem.checker_flags or {}),
        package_meta=problem.package_meta,
        time_limit_ms=problem.time_limit_ms,
        memory_limit_mb=problem.memory_limit_mb,
        output_limit_kb=problem.output_limit_kb,
        tests=tests,
    )


def _apply_final(judging: Judging, final: Final) -> None:
    judging.status = SubmissionStatus.JUDGED
    judging.verdict = Verdict(final.verdict.value)
    judging.score = final.score
    judging.execution_time_ms = final.time_ms
    judging.memory_used_kb = final.memory_kb
    judging.test_cases_passed = final.passed
    judging.test_cases_total = final.total
    judging.internal_error = final.internal_error
    judging.finished_at = utcnow()
    judging.lease_expires_at = None



class JudgeService:
    """A started judge pool, the worker that feeds it, and the languages' self-test results."""

    def __init__(
        self,
        live: LiveContext,
        queue: JudgeQueue,
        *,
        name: str,
        lease_s: float = DEFAULT_LEASE_S,
        server_url: str = "",
        redis: Any | None = None,
    ) -> None:
        settings = live.settings
        self.live = live
        self.name = name
        self.redis = redis
        disabled = set(settings.judge.disabled_languages)
        self.languages = [language for language in LANGUAGES if language.id not in disabled]
        self.concurrency = settings.judge.concurrency or os.cpu_count() or 1
        self.language_reports: dict[str, LanguageReport] | None = None
        self.test_data = TestData(
            live.blobs, settings.data_dir / "judge-cache", server_url or settings.server.public_url, settings.judge.worker_token
        )
        self.pool: Any = None
        self.worker: JudgeWorker | None = None
        self._queue = queue
        self._lease_s = lease_s
        self._self_test: asyncio.Task | None = None

    async def start(self) -> JudgeWorker:
        """Start the pool (raises RuntimeError naming the fix when Docker or an image is missing)."""
        from judge.pool import JudgePool

        self.pool = JudgePool(
            concurrency=self.concurrency,
            warm_containers=self.live.settings.judge.warm_containers,
            languages=self.languages,
        )
        try:
            await self.pool.start()
        except BaseException:
            await self.pool.close()
            raise
        self.worker = JudgeWorker(self.live, self.pool, self._queue, self.test_data, name=self.name, lease_s=self._lease_s)
        self._self_test = asyncio.create_task(self._run_self_tests(), name="judge-self-test")
        logger.info("judge %s started: %d languages, concurrency %d", self.name, len(self.languages), self.concurrency)
        return self.worker

    async def _run_self_tests(self) -> None:
        """Check every language, then keep re-checking broken ones and re-sending the reports to Redis."""
        await self._check_languages(self.languages)
        if self._broken():
            # A sandbox can fail once at start-up, for example while Docker is busy.
            await asyncio.sleep(SELF_TEST_RETRY_S)
            await self._check_languages(self._broken())
        while True:
            if self.redis is not None:
                await self._send_reports()
            await asyncio.sleep(LANGUAGE_REPORT_REFRESH_S)
            if self._broken():
                await self._check_languages(self._broken())

    def _broken(self) -> list[Language]:
        reports = self.language_reports or {}
        return [language for language in self.languages if language.id in reports and reports[language.id].status == "broken"]

    async def _check_languages(self, languages: list[Language]) -> None:
        from judge.selftest import check_languages

        try:
            statuses = await check_languages(self.pool.docker, pool=self.pool, languages=languages)
        except Exception:
            logger.exception("language self-tests failed to run")
            return
        now = utcnow()
        reports = dict(self.language_reports or {})
        for status in statuses:
            reports[status.id] = LanguageReport(status.id, status.version, status.status, status.reason, self.name, now)
        self.language_reports = reports
        broken = sorted(status.id for status in statuses if status.status == "broken")
        logger.info("language self-tests done: %d ok, broken: %s", len(statuses) - len(broken), ", ".join(broken) or "none")

    async def _send_reports(self) -> None:
        if not self.language_reports:
            return
        now = utcnow()
        mapping = {
            f"{self.name}|{report.id}": msgspec.json.encode(msgspec.structs.replace(report, reported_at=now))
            for report in self.language_reports.values()
        }
        try:
            await self.redis.hset(LANGUAGE_REPORT_KEY, mapping=mapping)
        except Exception as exc:  # noqa: BLE001 - servers show the languages as unknown until the next refresh
            logger.warning("cannot store the language self-test results in Redis: %s", exc)

    async def _withdraw_reports(self) -> None:
        if self.redis is None or not self.language_reports:
            return
        try:
            await self.redis.hdel(LANGUAGE_REPORT_KEY, *(f"{self.name}|{language}" for language in self.language_reports))
        except Exception as exc:  # noqa: BLE001 - the reports expire on their own
            logger.warning("cannot remove the language reports of %s from Redis: %s", self.name, exc)

    async def close(self) -> None:
        if self._self_test is not None:
            self._self_test.cancel()
            await asyncio.gather(self._self_test, return_exceptions=True)
        await self._withdraw_reports()
        if self.pool is not None:
            await self.pool.close()
        logger.info("judge %s stopped", self.name)

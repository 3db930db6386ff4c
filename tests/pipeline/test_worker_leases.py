"""The worker's lease: a job delivered twice, or taken over from a stalled worker, is judged into the record once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import select, update

from db.blobs import BlobStore
from db.models import Judging, Problem, Submission, SubmissionStatus, TestResult, User, Verdict, utcnow
from judge.events import TestFinished
from judge.languages import LANGUAGES_BY_ID
from judge.pool import JudgePool
from judge.worker import JudgeWorker, TestData
from realtime.hub import Hub, create_channels_plugin
from realtime.rankings import MemoryRankings
from server.live import LiveContext, submission_channel
from server.problems import NewTest, store_tests
from server.queue import EmbeddedQueue, Job, JobOutcome
from server.submissions import create_submission
from tests.pipeline.conftest import PROGRAMS, free_port

pytestmark = [pytest.mark.docker, pytest.mark.redis]


class GatedPool:
    """Fault injection around the real pool: the stream stops after `pause_after` tests until released."""

    def __init__(self, pool: JudgePool, pause_after: int) -> None:
        self.pool = pool
        self.pause_after = pause_after
        self.paused = asyncio.Event()
        self.release = asyncio.Event()

    async def judge(self, job):
        finished = 0
        async for event in self.pool.judge(job):
            yield event
            if isinstance(event, TestFinished):
                finished += 1
                if finished == self.pause_after:
                    self.paused.set()
                    await self.release.wait()


@pytest.fixture
async def pool(docker_ready):
    pool = JudgePool(concurrency=2, warm_containers=1, languages=[LANGUAGES_BY_ID["python3"]])
    await pool.start()
    yield pool
    await pool.close()


@pytest.fixture
async def live(settings, db):
    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"codearena-test-{uuid.uuid4().hex[:12]}"
    live = LiveContext(
        settings=settings,
        session_factory=db,
        hub=Hub(create_channels_plugin(redis), redis, key_prefix=prefix),
        rankings=MemoryRankings(),
        blobs=BlobStore(settings.data_dir / "blobs"),
    )
    yield live
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def queued_submission(live: LiveContext) -> int:
    async with live.session_factory() as session:
        user = User(username="ann", email="ann@example.com", password_hash="-")
        problem = Problem(slug="sum", title="Sum", time_limit_ms=1000, memory_limit_mb=64)
        session.add_all([user, problem])
        await session.flush()
        tests = [NewTest(input=f"{n} {n}\n".encode(), answer=f"{2 * n}\n".encode()) for n in (1, 2, 3)]
        await store_tests(session, live.blobs, problem, tests)
        await session.commit()
        submission = await create_submission(session, user, problem, "python3", PROGRAMS["AC"], None)
        return submission.id


def make_worker(live: LiveContext, pool, name: str) -> JudgeWorker:
    test_data = TestData(live.blobs, Path(live.settings.data_dir) / "judge-cache")
    return JudgeWorker(live, pool, EmbeddedQueue(), test_data, name=name, lease_s=30)


async def stored(live: LiveContext, submission_id: int) -> tuple[Judging, list[tuple[int, str]], Submission]:
    async with live.session_factory() as session:
        judging = await session.scalar(select(Judging).where(Judging.submission_id == submission_id))
        results = (
            await session.execute(
                select(TestResult.position, TestResult.verdict).where(TestResult.judging_id == judging.id).order_by(TestResult.position)
            )
        ).all()
        submission = await session.get(Submission, submission_id)
    return judging, [(position, verdict.value) for position, verdict in results], submission


async def test_takeover_judges_once(live, pool):
    judged_hooks: list[int] = []

    async def count_judged(_live, submission_id: int) -> None:
        judged_hooks.append(submission_id)

    live.on_judged.append(count_judged)
    submission_id = await queued_submission(live)
    job = Job(submission_id, 1)
    gated = GatedPool(pool, pause_after=1)
    stalled = make_worker(live, gated, "stalled")
    second = make_worker(live, pool, "second")
    late = make_worker(live, pool, "late")

    stalled_task = asyncio.create_task(stalled.handle(job))
    await asyncio.wait_for(gated.paused.wait(), 30)
    await asyncio.sleep(0.2)
    while_held = await second.handle(job)
    judging, results_while_held, _ = await stored(live, submission_id)

    assert while_held is JobOutcome.BUSY
    assert judging.worker == "stalled"
    assert judging.status == SubmissionStatus.JUDGING
    assert results_while_held == [(1, "AC")]

    # The stalled worker stops renewing: its lease runs out.
    async with live.session_factory() as session:
        await session.execute(update(Judging).where(Judging.id == judging.id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    taken_over = await second.handle(job)
    judging, results, submission = await stored(live, submission_id)

    assert taken_over is JobOutcome.DONE
    assert judging.worker == "second"
    assert judging.status == SubmissionStatus.JUDGED
    assert results == [(1, "AC"), (2, "AC"), (3, "AC")]
    assert submission.status == SubmissionStatus.JUDGED
    assert submission.verdict == Verdict.AC
    finished_at = judging.finished_at

    gated.release.set()
    stalled_outcome = await asyncio.wait_for(stalled_task, 30)
    redelivered = await late.handle(job)
    judging, results_after, submission = await stored(live, submission_id)

    assert stalled_outcome is JobOutcome.BUSY
    assert redelivered is JobOutcome.DONE
    assert results_after == results
    assert judging.worker == "second"
    assert judging.finished_at == finished_at
    assert submission.test_cases_passed == 3
    assert judged_hooks == [submission_id]
    events = await live.hub.since(submission_channel(submission_id), 0)
    assert [envelope.type for envelope in events].count("final") == 1
    seqs = [envelope.seq for envelope in events]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_missing_judging_dropped(live, pool):
    worker = make_worker(live, pool, "w")

    assert await worker.handle(Job(424242, 1)) is JobOutcome.DONE


async def test_unreachable_server_releases_job(live, pool):
    submission_id = await queued_submission(live)
    closed_port = free_port()
    # A worker on another machine: no local blob store, and the server it fetches from is down.
    data_dir = Path(live.settings.data_dir)
    test_data = TestData(BlobStore(data_dir / "elsewhere"), data_dir / "cache", f"http://127.0.0.1:{closed_port}", "token")
    worker = JudgeWorker(live, pool, EmbeddedQueue(), test_data, name="remote", lease_s=30)

    outcome = await worker.handle(Job(submission_id, 1))
    judging, results, submission = await stored(live, submission_id)

    assert outcome is JobOutcome.BUSY
    assert judging.status == SubmissionStatus.QUEUED
    assert judging.worker is None
    assert judging.verdict is None
    assert results == []
    assert submission.status == SubmissionStatus.QUEUED
    assert submission.attempt == 1

"""The Redis Stream job queue on a real Redis: delivery, claiming from dead consumers, renewal, recovery."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from server.queue import EmbeddedQueue, Job, JobOutcome, RedisQueue, StreamConsumer

pytestmark = pytest.mark.redis

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def queue() -> AsyncIterator[RedisQueue]:
    redis = Redis.from_url(REDIS_URL)
    stream = f"codearena:test:{uuid.uuid4().hex}:jobs"
    queue = RedisQueue(redis, stream=stream, group="judges")
    await queue.setup()
    yield queue
    await redis.delete(stream)
    await redis.aclose()


async def wait_for(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def stream_state(queue: RedisQueue) -> tuple[int, int]:
    """Return (entries in the stream, entries pending in the group)."""
    pending = await queue.redis.xpending(queue.stream, queue.group)
    return await queue.redis.xlen(queue.stream), pending["pending"]


async def test_each_job_handled_once(queue):
    seen: list[Job] = []

    async def handler(job: Job) -> JobOutcome:
        seen.append(job)
        return JobOutcome.DONE

    consumers = [StreamConsumer(queue, f"c{number}", handler, concurrency=2, claim_idle_s=5) for number in range(2)]
    for consumer in consumers:
        await consumer.start()
    jobs = [Job(number, 1) for number in range(1, 31)]
    await queue.enqueue_many(jobs[:10])
    for job in jobs[10:]:
        await queue.enqueue(job)

    await wait_for(lambda: len(seen) >= len(jobs))
    await asyncio.sleep(0.3)
    for consumer in consumers:
        await consumer.stop()

    assert sorted(seen) == jobs
    assert await stream_state(queue) == (0, 0)


async def test_dead_consumer_job_claimed(queue):
    started = asyncio.Event()
    finished: list[tuple[str, Job]] = []

    async def hangs(job: Job) -> JobOutcome:
        started.set()
        await asyncio.Event().wait()
        return JobOutcome.DONE

    async def works(job: Job) -> JobOutcome:
        finished.append(("survivor", job))
        return JobOutcome.DONE

    doomed = StreamConsumer(queue, "doomed", hangs, concurrency=1, claim_idle_s=0.6)
    await doomed.start()
    await queue.enqueue(Job(7, 1))
    await asyncio.wait_for(started.wait(), 5)
    # Cancelling its tasks leaves the entry pending with no consumer renewing it, as after SIGKILL.
    await doomed.stop()
    assert await stream_state(queue) == (1, 1)

    survivor = StreamConsumer(queue, "survivor", works, concurrency=1, claim_idle_s=0.6)
    await survivor.start()
    await wait_for(lambda: finished)
    await asyncio.sleep(0.2)
    await survivor.stop()

    assert finished == [("survivor", Job(7, 1))]
    assert await stream_state(queue) == (0, 0)


async def test_renewal_keeps_long_job(queue):
    calls: list[str] = []

    def handler_of(name: str, seconds: float):
        async def handler(job: Job) -> JobOutcome:
            calls.append(name)
            await asyncio.sleep(seconds)
            return JobOutcome.DONE

        return handler

    slow = StreamConsumer(queue, "slow", handler_of("slow", 2.0), concurrency=1, claim_idle_s=0.5)
    await slow.start()
    await queue.enqueue(Job(1, 1))
    await wait_for(lambda: calls)
    other = StreamConsumer(queue, "other", handler_of("other", 0), concurrency=1, claim_idle_s=0.5)
    await other.start()

    await asyncio.sleep(2.5)
    await other.stop()
    await slow.stop()

    assert calls == ["slow"]
    assert await stream_state(queue) == (0, 0)


async def test_busy_job_offered_again(queue):
    outcomes = [JobOutcome.BUSY, JobOutcome.BUSY, JobOutcome.DONE]
    calls: list[Job] = []

    async def handler(job: Job) -> JobOutcome:
        calls.append(job)
        return outcomes[len(calls) - 1]

    consumer = StreamConsumer(queue, "c", handler, concurrency=1, claim_idle_s=0.3)
    await consumer.start()
    await queue.enqueue(Job(3, 2))
    await wait_for(lambda: len(calls) == 3)
    await asyncio.sleep(0.2)
    await consumer.stop()

    assert calls == [Job(3, 2)] * 3
    assert await stream_state(queue) == (0, 0)


async def test_failing_handler_leaves_job_pending(queue):
    calls: list[Job] = []

    async def handler(job: Job) -> JobOutcome:
        calls.append(job)
        if len(calls) == 1:
            raise RuntimeError("injected failure")
        return JobOutcome.DONE

    consumer = StreamConsumer(queue, "c", handler, concurrency=1, claim_idle_s=0.3)
    await consumer.start()
    await queue.enqueue(Job(4, 1))
    await wait_for(lambda: len(calls) == 2)
    await asyncio.sleep(0.2)
    await consumer.stop()

    assert await stream_state(queue) == (0, 0)


async def test_malformed_entry_dropped(queue):
    calls: list[Job] = []

    async def handler(job: Job) -> JobOutcome:
        calls.append(job)
        return JobOutcome.DONE

    await queue.redis.xadd(queue.stream, {"submission_id": "abc", "attempt": "1"})
    await queue.enqueue(Job(5, 1))
    consumer = StreamConsumer(queue, "c", handler, concurrency=1, claim_idle_s=1)
    await consumer.start()
    await wait_for(lambda: calls)
    await asyncio.sleep(0.2)
    await consumer.stop()

    assert calls == [Job(5, 1)]
    assert await stream_state(queue) == (0, 0)


async def test_waiting_jobs_and_stats(queue):
    await queue.enqueue_many([Job(1, 1), Job(2, 1), Job(2, 2)])

    assert await queue.waiting_jobs() == {Job(1, 1), Job(2, 1), Job(2, 2)}
    assert await queue.stats() == {"waiting": 3, "running": 0}


async def test_embedded_queue_retries_busy_jobs():
    queue = EmbeddedQueue()
    calls: list[Job] = []

    async def handler(job: Job) -> JobOutcome:
        calls.append(job)
        return JobOutcome.BUSY if len(calls) == 1 else JobOutcome.DONE

    queue.start(handler, concurrency=2)
    await queue.enqueue(Job(9, 1))
    await wait_for(lambda: len(calls) == 2, timeout=5)
    await queue.stop()

    assert calls == [Job(9, 1), Job(9, 1)]
    assert await queue.stats() == {"waiting": 0, "running": 0}

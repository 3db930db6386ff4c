"""The judge queue: an in-process asyncio queue, or a Redis Stream with a consumer group.

A job is the pair (submission id, attempt); everything else is read from the
database by the worker. Delivery is at least once: the worker's writes are
idempotent per attempt (see judge/worker.py), so a job delivered twice is
judged into the record once.

Redis mode: producers XADD to `codearena:judge:jobs`; every `codearena judge`
process reads it through the consumer group `judges`. A consumer renews the
entries it works on (XCLAIM with JUSTID resets their idle time), so an entry
that stays idle longer than the claim timeout belongs to a dead consumer and
the next free consumer takes it with XAUTOCLAIM. Finished entries are acked
and deleted, so the stream holds only waiting and running jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, NamedTuple, Protocol

from redis.exceptions import RedisError, ResponseError

logger = logging.getLogger(__name__)

JOB_STREAM = "codearena:judge:jobs"
CONSUMER_GROUP = "judges"
# An entry idle this long belongs to a consumer that stopped renewing it.
DEFAULT_CLAIM_IDLE_S = 60.0
# How long a consumer waits on XREADGROUP before it looks for stale entries again.
READ_BLOCK_MS = 2000
# Embedded mode: how long a job waits before it is offered again when it was busy elsewhere.
BUSY_RETRY_DELAY_S = 1.0


class Job(NamedTuple):
    submission_id: int
    attempt: int


class JobOutcome(enum.Enum):
    # Finished, or nothing left to do: remove the job from the queue.
    DONE = "done"
    # Another live worker has the judging's lease: offer the job again later.
    BUSY = "busy"


JobHandler = Callable[[Job], Awaitable[JobOutcome]]


class JudgeQueue(Protocol):
    async def enqueue(self, job: Job) -> None: ...

    async def enqueue_many(self, jobs: Iterable[Job]) -> None: ...

    async def waiting_jobs(self) -> set[Job] | None:
        """Return the jobs in the queue, or None when it cannot tell (then recovery requeues everything)."""
        ...

    async def stats(self) -> dict[str, int]: ...


class EmbeddedQueue:
    """In-process queue drained by `concurrency` tasks in the server process."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._running = 0

    async def enqueue(self, job: Job) -> None:
        self._queue.put_nowait(job)

    async def enqueue_many(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            self._queue.put_nowait(job)

    async def waiting_jobs(self) -> set[Job] | None:
        # The queue lives in this process, so after a restart it is empty.
        return None

    async def stats(self) -> dict[str, int]:
        return {"waiting": self._queue.qsize(), "running": self._running}

    def start(self, handler: JobHandler, concurrency: int) -> None:
        for number in range(concurrency):
            self._tasks.append(asyncio.create_task(self._drain(handler), name=f"judge-queue-{number}"))
        logger.info("embedded judge queue started with %d consumers", concurrency)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _drain(self, handler: JobHandler) -> None:
        while True:
            job = await self._queue.get()
            self._running += 1
            try:
                outcome = await handler(job)
            except Exception:
                # The handler records judge failures itself, so this is a bug in it. Startup recovery requeues the job.
                logger.exception("judge job %s failed; it is judged again after the next restart", job)
                continue
            finally:
                self._running -= 1
            if outcome is JobOutcome.BUSY:
                asyncio.get_running_loop().call_later(BUSY_RETRY_DELAY_S, self._queue.put_nowait, job)


def _decode_job(fields: dict[Any, Any]) -> Job | None:
    try:
        values = {_text(key): int(_text(value)) for key, value in fields.items()}
        return Job(values["submission_id"], values["attempt"])
    except (KeyError, ValueError, TypeError):
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisQueue:
    """Producer side of the Redis Stream, and what consumers share."""

    def __init__(self, redis: Any, stream: str = JOB_STREAM, group: str = CONSUMER_GROUP) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group

    async def setup(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def enqueue(self, job: Job) -> None:
        await self.redis.xadd(self.stream, {"submission_id": job.submission_id, "attempt": job.attempt})

    async def enqueue_many(self, jobs: Iterable[Job]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for job in jobs:
                pipe.xadd(self.stream, {"submission_id": job.submission_id, "attempt": job.attempt})
            await pipe.execute()

    async def waiting_jobs(self) -> set[Job] | None:
        jobs: set[Job] = set()
        start = "-"
        while True:
            entries = await self.redis.xrange(self.stream, min=start, max="+", count=500)
            for entry_id, fields in entries:
                job = _decode_job(fields)
                if job is not None:
                    jobs.add(job)
            if len(entries) < 500:
                return jobs
            start = "(" + _text(entries[-1][0])

    async def stats(self) -> dict[str, int]:
        try:
            groups = await self.redis.xinfo_groups(self.stream)
        except ResponseError:
            return {"waiting": 0, "running": 0}
        for group in groups:
            if _text(group.get("name")) == self.group:
                pending = int(group.get("pending", 0))
                lag = group.get("lag")
                length = await self.redis.xlen(self.stream)
                waiting = int(lag) if lag is not None else max(0, length - pending)
                return {"waiting": waiting, "running": pending}
        return {"waiting": await self.redis.xlen(self.stream), "running": 0}


class StreamConsumer:
    """Drains the stream with `concurrency` tasks, each judging one job at a time."""

    def __init__(
        self,
        queue: RedisQueue,
        name: str,
        handler: JobHandler,
        *,
        concurrency: int,
        claim_idle_s: float = DEFAULT_CLAIM_IDLE_S,
        block_ms: int = READ_BLOCK_MS,
    ) -> None:
        self.queue = queue
        self.name = name
        self.handler = handler
        self.concurrency = concurrency
        self.claim_idle_ms = max(1, int(claim_idle_s * 1000))
        self.block_ms = min(block_ms, self.claim_idle_ms)
        self._claim_cursor = "0-0"
        self._tasks: list[asyncio.Task] = []
        self._stopping = asyncio.Event()
        self._busy = 0

    @property
    def busy(self) -> int:
        return self._busy

    async def start(self) -> None:
        await self.queue.setup()
        for number in range(self.concurrency):
            self._tasks.append(asyncio.create_task(self._consume(), name=f"judge-consumer-{number}"))
        logger.info(
            "judge consumer %s reading %s with %d tasks, claim timeout %.1f s",
            self.name, self.queue.stream, self.concurrency, self.claim_idle_ms / 1000,
        )  # fmt: skip

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop taking jobs; wait up to `grace_s` for running ones, then cancel them (they stay pending)."""
        self._stopping.set()
        if self._tasks and grace_s > 0:
            await asyncio.wait(self._tasks, timeout=grace_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        logger.info("judge consumer %s stopped", self.name)

    async def _consume(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                entry = await self._claim_stale() or await self._read_new()
                if entry is not None:
                    await self._process(*entry)
                failures = 0
            except (RedisError, OSError) as exc:
                failures += 1
                delay = min(30.0, 0.5 * 2**failures)
                logger.warning("judge consumer %s: Redis failed (%s); retrying in %.1f s", self.name, exc, delay)
                if "NOGROUP" in str(exc):
                    with contextlib.suppress(RedisError, OSError):
                        await self.queue.setup()
                await asyncio.sleep(delay)

    async def _claim_stale(self) -> tuple[str, dict] | None:
        reply = await self.queue.redis.xautoclaim(
            self.queue.stream,
            self.queue.group,
            self.name,
            min_idle_time=self.claim_idle_ms,
            start_id=self._claim_cursor,
            count=1,
        )
        self._claim_cursor = _text(reply[0])
        for entry_id, fields in reply[1]:
            if fields is None:
                continue
            logger.info("judge consumer %s claimed stale job entry %s", self.name, _text(entry_id))
            return _text(entry_id), fields
        return None

    async def _read_new(self) -> tuple[str, dict] | None:
        reply = await self.queue.redis.xreadgroup(
            self.queue.group, self.name, {self.queue.stream: ">"}, count=1, block=self.block_ms
        )
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                return _text(entry_id), fields
        return None

    async def _process(self, entry_id: str, fields: dict) -> None:
        job = _decode_job(fields)
        if job is None:
            logger.error("dropping malformed job entry %s: %r", entry_id, fields)
            await self._finish(entry_id)
            return

        self._busy += 1
        renewal = asyncio.create_task(self._renew(entry_id))
        try:
            outcome = await self.handler(job)
        except Exception:
            # Left pending: another consumer claims it after the claim timeout.
            logger.exception("judge job %s (entry %s) failed; it stays pending for another try", job, entry_id)
            return
        finally:
            renewal.cancel()
            await asyncio.gather(renewal, return_exceptions=True)
            self._busy -= 1

        if outcome is JobOutcome.DONE:
            await self._finish(entry_id)

    async def _renew(self, entry_id: str) -> None:
        interval = self.claim_idle_ms / 3000
        while True:
            await asyncio.sleep(interval)
            try:
                await self.queue.redis.xclaim(
                    self.queue.stream, self.queue.group, self.name, min_idle_time=0, message_ids=[entry_id], justid=True
                )
            except Exception as exc:  # noqa: BLE001 - a missed renewal only risks a takeover, which the lease guards
                logger.warning("judge consumer %s cannot renew job entry %s: %s", self.name, entry_id, exc)

    async def _finish(self, entry_id: str) -> None:
        async with self.queue.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.queue.stream, self.queue.group, entry_id)
            pipe.xdel(self.queue.stream, entry_id)
            await pipe.execute()

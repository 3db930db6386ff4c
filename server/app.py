"""Litestar application factory."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from db.blobs import BlobStore
from db.engine import create_engine, create_session_factory
from db.migrate import ensure_schema_current
from realtime.hub import Hub, create_channels_plugin
from realtime.rankings import MemoryRankings, RedisRankings
from server.accounts import Accounts
from server.api.docs import swagger_plugin
from server.contests import advance_all, run_clock
from server.deps import provide_session
from server.errors import exception_handlers
from server.live import LiveContext
from server.query_check import reject_unknown_query_parameters
from server.queue import EmbeddedQueue, RedisQueue, StreamConsumer
from server.ratelimit import MemoryRateLimiter, RedisRateLimiter
from server.routes import ROUTE_HANDLERS
from server.scoreboard import scoreboards_for
from server.security import AccessTokens, Passwords
from server.settings import Settings

logger = logging.getLogger(__name__)


def server_config(app: Litestar, host: str, port: int, **options: Any) -> uvicorn.Config:
    """Return the uvicorn configuration every CodeArena server process uses."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # realtime.ws sends live envelopes with a zero timeout, which relies on this protocol
        # waiting for a paused transport before it writes a frame, never after.
        ws="websockets-sansio",
        # Verdict events are small, so per-message deflate would only cost CPU per socket.
        ws_per_message_deflate=False,
        log_config=None,
        # Access logs would record WebSocket query strings, which may carry tokens.
        access_log=False,
        **options,
    )


def create_app(settings: Settings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        state = app.state
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.database_url, echo=settings.database.echo, pool_size=settings.database.pool_size)
        try:
            await ensure_schema_current(engine)
        except Exception:
            await engine.dispose()
            raise

        state.engine = engine
        state.session_factory = create_session_factory(engine)
        state.live = LiveContext(
            settings=settings,
            session_factory=state.session_factory,
            hub=state.hub,
            rankings=RedisRankings(redis) if redis is not None else MemoryRankings(),
            blobs=state.blobs,
        )

        # Registered before the judge starts, so judgings recovered at start-up update the scoreboards.
        state.scoreboards = scoreboards_for(state.live)
        try:
            judging = await start_judging(app, settings, redis)
        except BaseException:
            await engine.dispose()
            raise

        # Contest transitions missed while no server ran happen before the first request is served.
        try:
            missed = await advance_all(state.live, publish=False)
        except Exception:
            logger.exception("contest catch-up at start-up failed; the contest clock retries every second")
            missed = []
        clock = asyncio.create_task(run_clock(state.live, missed), name="contest-clock")

        logger.info("server started (%s database)", "SQLite" if settings.embedded_database else "PostgreSQL")
        try:
            yield
        finally:
            clock.cancel()
            await asyncio.gather(clock, return_exceptions=True)
            await judging.stop()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()
            logger.info("server stopped")

    redis = None
    if settings.uses_redis:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis.url)
    channels = create_channels_plugin(redis)

    passwords = Passwords(settings.auth)
    access_tokens = AccessTokens(settings.auth)
    state = {
        "settings": settings,
        "passwords": passwords,
        "access_tokens": access_tokens,
        "accounts": Accounts(passwords, access_tokens, settings.auth.refresh_token_ttl_s),
        "blobs": BlobStore(settings.data_dir / "blobs"),
        "health_probes": {},
        "redis": redis,
        "hub": Hub(channels, redis),
        "judge_queue": RedisQueue(redis) if redis is not None else EmbeddedQueue(),
        "rate_limiter": (
            RedisRateLimiter(redis, settings.limits.submissions_per_minute)
            if redis is not None
            else MemoryRateLimiter(settings.limits.submissions_per_minute)
        ),
    }

    return Litestar(
        route_handlers=ROUTE_HANDLERS,
        plugins=[channels],
        dependencies={"db_session": Provide(provide_session)},
        before_request=reject_unknown_query_parameters,
        exception_handlers=exception_handlers,
        lifespan=[lifespan],
        state=State(state),
        request_max_body_size=settings.limits.max_upload_bytes,
        # The process configures logging once (codearena's CLI); Litestar would add its own format.
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="CodeArena",
            version="0.1.0",
            path="/docs",
            render_plugins=[swagger_plugin()],
        ),
    )


# With Redis, how often the server looks for judgings missing from the job
# stream, and how old a judging must be before it counts as missing.
RECOVERY_INTERVAL_S = 30.0
RECOVERY_MIN_AGE_S = 30.0


class JudgingRuntime:
    """The server's part of judging: the embedded judge, if any, and recovery of lost jobs."""

    def __init__(self) -> None:
        self.service = None
        self.consumer: StreamConsumer | None = None
        self.queue: EmbeddedQueue | None = None
        self.sweeper: asyncio.Task | None = None

    async def stop(self) -> None:
        if self.sweeper is not None:
            self.sweeper.cancel()
            await asyncio.gather(self.sweeper, return_exceptions=True)
        if self.consumer is not None:
            await self.consumer.stop()
        if self.queue is not None:
            await self.queue.stop()
        if self.service is not None:
            await self.service.close()


async def start_judging(app: Litestar, settings: Settings, redis) -> JudgingRuntime:
    """Recover unfinished judgings, start the embedded judge when configured, and with Redis a periodic sweep."""
    from judge.worker import JudgeService, worker_name
    from server.api.health import ComponentHealth
    from server.submissions import recover_unfinished

    state = app.state
    queue = state.judge_queue
    judging = JudgingRuntime()
    if redis is not None:
        await queue.setup()
    # Embedded: this process is the only judge, so what it left JUDGING is requeued from scratch.
    await recover_unfinished(state.live, queue, reset_running=redis is None)

    if settings.judge.embedded:
        service = JudgeService(state.live, queue, name=worker_name(), redis=redis)
        try:
            worker = await service.start()
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; or set CODEARENA_JUDGE_EMBEDDED=false to run the server without its judge") from None
        judging.service = service
        state.judge_service = service
        if redis is not None:
            judging.consumer = StreamConsumer(queue, service.name, worker.handle, concurrency=service.concurrency)
            await judging.consumer.start()
        else:
            queue.start(worker.handle, service.concurrency)
            judging.queue = queue

        async def docker_probe() -> ComponentHealth:
            started = time.perf_counter()
            try:
                await service.pool.docker.version()
            except Exception as exc:  # noqa: BLE001 - any failure means "down", reported with its text
                return ComponentHealth("down", detail=f"{type(exc).__name__}: {exc}")
            return ComponentHealth("up", latency_ms=round((time.perf_counter() - started) * 1000, 2))

        state.health_probes["docker"] = docker_probe
    elif redis is None:
        logger.warning("judge.embedded is off and redis.url is empty: submissions stay queued until a judge runs")

    async def queue_probe() -> ComponentHealth:
        try:
            stats = await queue.stats()
        except Exception as exc:  # noqa: BLE001
            return ComponentHealth("down", detail=f"{type(exc).__name__}: {exc}")
        return ComponentHealth("up", detail=f"{stats['waiting']} waiting, {stats['running']} running")

    state.health_probes["judge_queue"] = queue_probe

    if redis is not None:

        async def sweep() -> None:
            while True:
                await asyncio.sleep(RECOVERY_INTERVAL_S)
                try:
                    await recover_unfinished(state.live, queue, reset_running=False, min_age_s=RECOVERY_MIN_AGE_S)
                except Exception as exc:  # noqa: BLE001 - the next sweep tries again
                    logger.warning("recovery sweep of the judge queue failed: %s", exc)

        judging.sweeper = asyncio.create_task(sweep(), name="judge-recovery-sweep")
    return judging

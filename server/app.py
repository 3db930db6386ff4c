"""Litestar application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from db.blobs import BlobStore
from db.engine import create_engine, create_session_factory
from db.migrate import ensure_schema_current
from realtime.hub import Hub, create_channels_plugin
from realtime.rankings import MemoryRankings, RedisRankings
from server.accounts import Accounts
from server.deps import provide_session
from server.errors import exception_handlers
from server.live import LiveContext
from server.routes import ROUTE_HANDLERS
from server.security import AccessTokens, Passwords
from server.settings import Settings

logger = logging.getLogger(__name__)


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
        logger.info("server started (%s database)", "SQLite" if settings.embedded_database else "PostgreSQL")
        try:
            yield
        finally:
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
    }

    return Litestar(
        route_handlers=ROUTE_HANDLERS,
        plugins=[channels],
        dependencies={"db_session": Provide(provide_session)},
        exception_handlers=exception_handlers,
        lifespan=[lifespan],
        state=State(state),
        request_max_body_size=settings.limits.max_upload_bytes,
        openapi_config=OpenAPIConfig(
            title="CodeArena",
            version="0.1.0",
            path="/docs",
            render_plugins=[SwaggerRenderPlugin(path="/")],
        ),
    )

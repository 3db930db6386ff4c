"""GET /health: state of the database and, when configured, Redis and Docker."""

from __future__ import annotations

import time

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from sqlalchemy import text


class ComponentHealth(msgspec.Struct, omit_defaults=True):
    status: str
    latency_ms: float | None = None
    detail: str | None = None


class HealthReport(msgspec.Struct):
    status: str
    mode: str
    components: dict[str, ComponentHealth]


async def _check_database(state: State) -> ComponentHealth:
    started = time.perf_counter()
    try:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "down", reported with its text
        return ComponentHealth("down", detail=f"{type(exc).__name__}: {exc}")
    return ComponentHealth("up", latency_ms=round((time.perf_counter() - started) * 1000, 2))


async def _check_redis(state: State) -> ComponentHealth:
    started = time.perf_counter()
    try:
        await state.redis.ping()
    except Exception as exc:  # noqa: BLE001
        return ComponentHealth("down", detail=f"{type(exc).__name__}: {exc}")
    return ComponentHealth("up", latency_ms=round((time.perf_counter() - started) * 1000, 2))


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/", cache=False)
    async def health(self, state: State) -> Response[HealthReport]:
        components = {"database": await _check_database(state)}
        if getattr(state, "redis", None) is not None:
            components["redis"] = await _check_redis(state)
        for name, probe in getattr(state, "health_probes", {}).items():
            components[name] = await probe()

        healthy = all(component.status == "up" for component in components.values())
        mode = "production" if state.settings.uses_redis else "embedded"
        report = HealthReport("ok" if healthy else "degraded", mode, components)
        return Response(report, status_code=200 if healthy else 503)

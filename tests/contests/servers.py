"""`codearena serve` subprocesses on loopback ports, sharing a fresh PostgreSQL database and a Redis database.

Redis pub/sub channels are global to a Redis server, while keys live in the
numbered database, so a test claims a database number no other test uses and
deletes its keys afterwards.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from db.migrate import upgrade
from tests.conftest import Account
from tests.contests.conftest import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
ADMIN_URL = os.environ.get("CODEARENA_TEST_DATABASE_URL") or "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
CLAIM_KEY = "codearena-db-claim"
CLAIM_TTL_S = 900


async def _admin(statement: str) -> None:
    import asyncpg

    url = make_url(ADMIN_URL).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@asynccontextmanager
async def fresh_postgres():
    """Yield the URL of a new, migrated PostgreSQL database, dropped on exit."""
    name = f"codearena_servers_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def claimed_redis_db():
    """Yield a Redis database number claimed for this test (1 to 14), emptied of CodeArena keys on exit."""
    from redis.asyncio import Redis

    token = uuid.uuid4().hex
    for number in range(1, 15):
        client = Redis(host=REDIS_HOST, port=REDIS_PORT, db=number)
        if await client.set(CLAIM_KEY, token, nx=True, ex=CLAIM_TTL_S):
            break
        await client.aclose()
    else:
        raise RuntimeError("no free Redis database between 1 and 14; another test run holds them all")
    try:
        await _delete_keys(client)
        yield number
    finally:
        await _delete_keys(client)
        if await client.get(CLAIM_KEY) == token.encode():
            await client.delete(CLAIM_KEY)
        await client.aclose()


async def _delete_keys(client) -> None:
    keys = [key async for key in client.scan_iter(match="codearena:*")]
    if keys:
        await client.delete(*keys)


@dataclass
class ServerProcess:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def server_environment(database_url: str, redis_db: int | None, data_dir: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CODEARENA_")}
    environment.update(
        {
            "CODEARENA_DATABASE_URL": database_url,
            "CODEARENA_DATA_DIR": str(data_dir),
            "CODEARENA_JUDGE_EMBEDDED": "false",
            "CODEARENA_AUTH_ARGON2_TIME_COST": "1",
            "CODEARENA_AUTH_ARGON2_MEMORY_COST_KIB": "1024",
            "CODEARENA_AUTH_ARGON2_PARALLELISM": "1",
        }
    )
    if redis_db is not None:
        environment["CODEARENA_REDIS_URL"] = f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}"
    return environment


async def start_server(environment: dict[str, str], log: Path) -> ServerProcess:
    port = free_port()
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "--log-level", "WARNING", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPOSITORY,
        env=environment,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    handle.close()
    server = ServerProcess(process, port, log)
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"codearena serve exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                if (await http.get(f"{server.base_url}/health")).status_code in (200, 503):
                    return server
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"codearena serve did not answer on port {port}: {log.read_text()[-2000:]}")


def stop_server(server: ServerProcess) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)


async def account(http: httpx.AsyncClient, database_url: str, username: str, role: str = "contestant") -> Account:
    """Register and log in a user over HTTP; other roles are set in the database."""
    password = "correct horse"
    response = await http.post(
        "/api/v1/auth/register", json={"username": username, "email": f"{username}@example.com", "password": password}
    )
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    if role != "contestant":
        await _set_role(database_url, user_id, role)
    tokens = (await http.post("/api/v1/auth/login", json={"username": username, "password": password})).json()
    return Account(user_id, username, password, tokens["access_token"], tokens["refresh_token"])


async def _set_role(database_url: str, user_id: int, role: str) -> None:
    import asyncpg

    url = make_url(database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await connection.execute("UPDATE users SET role = $1 WHERE id = $2", role, user_id)
    finally:
        await connection.close()


@asynccontextmanager
async def judge_side(database_url: str, redis_db: int, data_dir: Path):
    """Yield a LiveContext like a standalone judge worker's, with the contest hooks installed."""
    from redis.asyncio import Redis

    from db.blobs import BlobStore
    from db.engine import create_engine, create_session_factory
    from realtime.hub import Hub, create_channels_plugin
    from realtime.rankings import RedisRankings
    from server.live import LiveContext
    from server.scoreboard import register_contest_hooks
    from server.settings import load_settings

    settings = load_settings(environ=server_environment(database_url, redis_db, data_dir))
    engine = create_engine(database_url)
    redis = Redis.from_url(settings.redis.url)
    live = LiveContext(
        settings=settings,
        session_factory=create_session_factory(engine),
        hub=Hub(create_channels_plugin(redis), redis),
        rankings=RedisRankings(redis),
        blobs=BlobStore(data_dir / "blobs"),
    )
    register_contest_hooks(live)
    try:
        yield live
    finally:
        await redis.aclose()
        await engine.dispose()


async def run_hooks(live: Any, kind: str, submission_id: int) -> None:
    for hook in getattr(live, kind):
        await hook(live, submission_id)

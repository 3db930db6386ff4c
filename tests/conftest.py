"""Shared fixtures: a migrated database per test, the app, and users of each role.

The suite runs against embedded SQLite by default and against PostgreSQL when
CODEARENA_TEST_DATABASE_URL is a postgresql+asyncpg:// URL; `scripts/test`
runs it both ways.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url

from db.migrate import upgrade
from db.models import Base, Role
from server.settings import DEFAULT_SETTINGS_FILE, Settings, load_settings

POSTGRES_URL = os.environ.get("CODEARENA_TEST_DATABASE_URL", "")


def pytest_report_header() -> str:
    return f"codearena database: {'PostgreSQL ' + POSTGRES_URL if POSTGRES_URL else 'embedded SQLite'}"


async def _admin_execute(url: str, statement: str) -> None:
    import asyncpg

    admin = make_url(url).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Create one migrated database for the session: a PostgreSQL database or an SQLite template file."""
    if POSTGRES_URL:
        name = f"codearena_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        asyncio.run(_admin_execute(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
        asyncio.run(_admin_execute(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        template = tmp_path_factory.mktemp("template") / "codearena.sqlite3"
        upgrade(f"sqlite+aiosqlite:///{template}")
        yield str(template)


async def _empty_postgres(url: str) -> None:
    import asyncpg

    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture
async def database_url(migrated_database: str, tmp_path: Path) -> str:
    """A migrated, empty database for one test."""
    if POSTGRES_URL:
        await _empty_postgres(migrated_database)
        return migrated_database
    target = tmp_path / "data" / "codearena.sqlite3"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_database, target)
    return f"sqlite+aiosqlite:///{target}"


def make_settings(data_dir: Path, database_url: str, **sections: dict) -> Settings:
    overrides: dict[str, dict] = {
        "data": {"dir": str(data_dir)},
        # Cheap argon2 parameters keep the suite fast; production defaults are in litestar.yml.
        "auth": {"argon2_time_cost": 1, "argon2_memory_cost_kib": 1024, "argon2_parallelism": 1},
        "judge": {"embedded": False},
        "database": {"url": database_url},
    }
    for section, values in sections.items():
        overrides.setdefault(section, {}).update(values)
    return load_settings(path=DEFAULT_SETTINGS_FILE, environ={}, overrides=overrides)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", database_url)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    from server.app import create_app

    return create_app(settings)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator:
    """A session factory on the test's own event loop.

    The test client runs the app on another loop, and asyncpg connections
    cannot cross loops, so tests never use `app.state.session_factory`.
    """
    from db.engine import create_engine, create_session_factory

    engine = create_engine(settings.database_url)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


@dataclass
class Account:
    id: int
    username: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


MakeAccount = Callable[..., Awaitable[Account]]


@pytest.fixture
def make_account(client: AsyncTestClient, db) -> MakeAccount:
    """Register a user through the API (promoted to `role` in the database) and log in."""
    counter = iter(range(1, 10_000))

    async def create(username: str | None = None, role: Role = Role.CONTESTANT, password: str = "correct horse") -> Account:
        username = username or f"user{next(counter)}"
        response = await client.post(
            "/api/v1/auth/register", json={"username": username, "email": f"{username}@example.com", "password": password}
        )
        assert response.status_code == 201, response.text
        user_id = response.json()["id"]
        if role != Role.CONTESTANT:
            from db.models import User

            async with db() as session:
                user = await session.get(User, user_id)
                user.role = role
                await session.commit()
        response = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        tokens = response.json()
        return Account(user_id, username, password, tokens["access_token"], tokens["refresh_token"])

    return create


@pytest.fixture
async def organizer(make_account: MakeAccount) -> Account:
    return await make_account("organizer", role=Role.ORGANIZER)


@pytest.fixture
async def contestant(make_account: MakeAccount) -> Account:
    return await make_account("contestant")

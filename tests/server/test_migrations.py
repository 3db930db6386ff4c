"""Migrations: upgrade to head and downgrade to base cleanly, on both databases."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from db.engine import create_engine
from db.migrate import SchemaOutdatedError, current_revision, downgrade, ensure_schema_current, head_revision, upgrade
from db.models import Base

POSTGRES_URL = os.environ.get("CODEARENA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()


def _round_trip(url: str) -> None:
    expected = {table.name for table in Base.metadata.sorted_tables}

    upgrade(url)
    assert expected <= asyncio.run(_tables(url))
    assert asyncio.run(_revision(url)) == head_revision()

    downgrade(url, "base")
    assert asyncio.run(_tables(url)) <= {"alembic_version"}
    assert asyncio.run(_revision(url)) is None

    upgrade(url)
    assert expected <= asyncio.run(_tables(url))


@pytest.fixture
def postgres_database():
    import asyncpg

    name = f"codearena_migrations_{uuid.uuid4().hex[:8]}"
    admin = make_url(POSTGRES_URL).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.postgres
def test_postgres_upgrade_downgrade_round_trip(postgres_database):
    _round_trip(postgres_database)


def test_sqlite_upgrade_downgrade_round_trip(tmp_path):
    _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")


async def test_outdated_schema_detected(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        with pytest.raises(SchemaOutdatedError) as error:
            await ensure_schema_current(engine)
    finally:
        await engine.dispose()

    assert "codearena db upgrade" in str(error.value)

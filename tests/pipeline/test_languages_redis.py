"""Language status in Redis mode: merged from the self-test reports of every judge worker."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from db.models import utcnow
from judge.worker import LANGUAGE_REPORT_KEY, LANGUAGE_REPORT_TTL_S, LanguageReport
from server.app import create_app
from tests.conftest import make_settings
from tests.pipeline.conftest import PROGRAMS, sum_problem

pytestmark = pytest.mark.redis


async def store_reports(redis_url: str, reports: list[LanguageReport]) -> None:
    redis = Redis.from_url(redis_url)
    await redis.delete(LANGUAGE_REPORT_KEY)
    if reports:
        await redis.hset(
            LANGUAGE_REPORT_KEY, mapping={f"{report.worker}|{report.id}": msgspec.json.encode(report) for report in reports}
        )
    await redis.aclose()


async def test_reports_merged_across_workers(tmp_path, database_url, redis_url, db):
    now = utcnow()
    stale = now - timedelta(seconds=LANGUAGE_REPORT_TTL_S + 60)
    settings = make_settings(tmp_path / "data", database_url, redis={"url": redis_url})

    async with AsyncTestClient(app=create_app(settings)) as client:
        await client.post("/api/v1/auth/register", json={"username": "org", "email": "o@example.com", "password": "correct horse"})
        async with db() as session:
            from db.models import Role, User

            (await session.get(User, 1)).role = Role.ORGANIZER
            await session.commit()
        token = (await client.post("/api/v1/auth/login", json={"username": "org", "password": "correct horse"})).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        problem = (await client.post("/api/v1/problems", json=sum_problem(), headers=headers)).json()

        async def submit(language: str):
            body = {"problem_id": problem["id"], "language": language, "code": PROGRAMS["AC"]}
            return await client.post("/api/v1/submissions", json=body, headers=headers)

        await store_reports(
            redis_url,
            [
                LanguageReport("python3", "3.11.2", "ok", None, "host-a:1:aaaaaa", now),
                LanguageReport("python3", None, "broken", "image missing", "host-b:2:bbbbbb", now),
                LanguageReport("java", None, "broken", "self-test program got WA", "host-a:1:aaaaaa", now),
                LanguageReport("cpp", "12.2.0", "ok", None, "host-c:3:cccccc", stale),
            ],
        )
        merged = {item["id"]: item for item in (await client.get("/api/v1/languages")).json()}
        accepted = await submit("python3")
        on_broken = await submit("java")
        on_unreported = await submit("cpp")
        redis = Redis.from_url(redis_url)
        remaining = sorted(key.decode() for key in await redis.hkeys(LANGUAGE_REPORT_KEY))
        await redis.aclose()

    assert merged["python3"]["status"] == "ok"
    assert merged["python3"]["version"] == "3.11.2"
    assert merged["java"]["status"] == "broken"
    assert merged["java"]["reason"] == "self-test program got WA"
    assert merged["cpp"]["status"] == "unknown"
    assert accepted.status_code == 202
    assert on_broken.status_code == 400
    assert "self-test failed" in on_broken.json()["detail"]
    assert on_unreported.status_code == 202
    assert "host-c:3:cccccc|cpp" not in remaining
    assert len(remaining) == 3

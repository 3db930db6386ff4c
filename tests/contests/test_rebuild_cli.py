"""`codearena scoreboard rebuild CONTEST`: rankings recomputed from the database into Redis."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from db.engine import create_engine, create_session_factory
from db.models import Contest, ContestProblem, ContestState, Participant, Problem, User, utcnow
from realtime.rankings import RedisRankings, icpc_key
from tests.contests.conftest import set_verdict, store_submission
from tests.contests.servers import REDIS_HOST, REDIS_PORT, REPOSITORY, claimed_redis_db, fresh_postgres, server_environment

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def _seed(database_url: str) -> tuple[dict, dict[str, int]]:
    """A running contest with two participants: ann solved A at minute 7, bob has a wrong answer."""
    engine = create_engine(database_url)
    factory = create_session_factory(engine)
    start = utcnow() - timedelta(hours=1)
    async with factory() as session:
        users = {name: User(username=name, email=f"{name}@example.com", password_hash="-") for name in ("ann", "bob")}
        problem = Problem(slug="a", title="A", is_public=False)
        contest = Contest(
            title="Rebuild", start_time=start, end_time=start + timedelta(hours=5), state=ContestState.RUNNING,
            problems=[ContestProblem(problem=problem, label="A")],
        )
        session.add_all([*users.values(), contest])
        await session.flush()
        participants = {}
        for name, user in users.items():
            participant = Participant(contest_id=contest.id, user_id=user.id)
            session.add(participant)
            await session.flush()
            participants[name] = participant.id
        await session.commit()
        contest_dict = {"id": contest.id, "start_time": start.isoformat()}
        user_ids = {name: user.id for name, user in users.items()}
        problem_id = problem.id

    for name, verdict, minute in (("ann", "AC", 7), ("bob", "WA", 9)):
        submission = await store_submission(factory, contest_dict, user_ids[name], problem_id, timedelta(minutes=minute), None)
        await set_verdict(factory, submission, verdict)
    await engine.dispose()
    return contest_dict, participants


def _rebuild(environment: dict[str, str], contest_id: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "scoreboard", "rebuild", str(contest_id)],
        cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=120,
    )


async def test_rebuild_fills_redis_rankings(tmp_path):
    async with fresh_postgres() as database_url, claimed_redis_db() as redis_db:
        contest, participants = await _seed(database_url)
        environment = server_environment(database_url, redis_db, tmp_path / "data")

        result = _rebuild(environment, contest["id"])
        missing = _rebuild(environment, 999)

        client = Redis(host=REDIS_HOST, port=REDIS_PORT, db=redis_db)
        try:
            rankings = RedisRankings(client)
            public = await rankings.top(contest["id"], "public", 0, 10)
            jury = await rankings.top(contest["id"], "jury", 0, 10)
        finally:
            await client.aclose()

    assert result.returncode == 0, result.stderr
    assert "2 participants" in result.stdout
    expected = [(participants["ann"], icpc_key(1, 7, 7 * 60)), (participants["bob"], icpc_key(0, 0, 0))]
    assert public == expected
    assert jury == expected
    assert missing.returncode != 0
    assert "contest 999 not found" in missing.stderr


def test_rebuild_needs_redis(tmp_path):
    environment = server_environment(f"sqlite+aiosqlite:///{tmp_path / 'none.sqlite3'}", None, tmp_path)

    result = _rebuild(environment, 1)

    assert result.returncode != 0
    assert "redis.url" in result.stderr

"""Practice statistics and the judge's blob route, on judged rows written straight to the database."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from litestar.testing import AsyncTestClient

from db.models import Contest, ContestProblem, ContestState, Problem, Submission, SubmissionStatus, Verdict, utcnow
from server.app import create_app
from server.stats import DIFFICULTY_POINTS
from tests.conftest import make_settings
from tests.pipeline.conftest import sum_problem


async def create_problem(client, organizer, **changes) -> dict:
    response = await client.post("/api/v1/problems", json=sum_problem(**changes), headers=organizer.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def judged(db, user_id: int, problem_id: int, verdict: str, *, time_ms: int = 10, language: str = "python3", contest_id=None) -> int:
    """Store a judged submission the way the worker leaves it."""
    async with db() as session:
        submission = Submission(
            user_id=user_id,
            problem_id=problem_id,
            contest_id=contest_id,
            language=language,
            code="print()",
            status=SubmissionStatus.JUDGED,
            verdict=Verdict(verdict),
            execution_time_ms=time_ms,
            memory_used_kb=1000,
            test_cases_passed=1,
            test_cases_total=3,
            judged_at=utcnow(),
        )
        session.add(submission)
        await session.commit()
        return submission.id


async def test_leaderboard_ranks_share_ties(client, db, organizer, make_account):
    easy = await create_problem(client, organizer, difficulty="EASY")
    medium = await create_problem(client, organizer, difficulty="MEDIUM")
    hard = await create_problem(client, organizer, difficulty="HARD")
    ann, bob, cid, dan, eve = [await make_account(name) for name in ("ann", "bob", "cid", "dan", "eve")]
    await judged(db, ann.id, easy["id"], "AC")
    await judged(db, ann.id, hard["id"], "AC")
    await judged(db, ann.id, hard["id"], "AC")
    await judged(db, bob.id, easy["id"], "AC")
    await judged(db, bob.id, hard["id"], "AC")
    await judged(db, cid.id, medium["id"], "AC")
    await judged(db, cid.id, easy["id"], "WA")
    await judged(db, dan.id, easy["id"], "AC")
    await judged(db, eve.id, easy["id"], "WA")

    response = await client.get("/api/v1/leaderboard")

    assert response.status_code == 200
    board = response.json()
    rows = [(item["rank"], item["username"], item["solved"], item["score"]) for item in board["items"]]
    points = DIFFICULTY_POINTS
    assert rows == [
        (1, "ann", 2, points["EASY"] + points["HARD"]),
        (1, "bob", 2, points["EASY"] + points["HARD"]),
        (3, "cid", 1, points["MEDIUM"]),
        (4, "dan", 1, points["EASY"]),
    ]
    assert board["total"] == 4
    page = (await client.get("/api/v1/leaderboard", params={"per_page": 2, "page": 2})).json()
    assert [item["username"] for item in page["items"]] == ["cid", "dan"]


async def test_leaderboard_ignores_running_contests(client, db, organizer, contestant):
    problem = await create_problem(client, organizer, is_public=False)
    async with db() as session:
        contest = Contest(
            title="Live",
            start_time=utcnow() - timedelta(minutes=5),
            end_time=utcnow() + timedelta(hours=1),
            state=ContestState.RUNNING,
        )
        session.add(contest)
        await session.flush()
        session.add(ContestProblem(contest_id=contest.id, problem_id=problem["id"], label="A"))
        await session.commit()
        contest_id = contest.id
    await judged(db, contestant.id, problem["id"], "AC", contest_id=contest_id)

    running = (await client.get("/api/v1/leaderboard")).json()
    async with db() as session:
        (await session.get(Contest, contest_id)).state = ContestState.ENDED
        await session.commit()
    ended = (await client.get("/api/v1/leaderboard")).json()

    assert running["items"] == []
    assert [(item["username"], item["solved"]) for item in ended["items"]] == [("contestant", 1)]


async def test_solved_list_hides_hidden_problems(client, db, organizer, contestant):
    public = await create_problem(client, organizer)
    hidden = await create_problem(client, organizer, is_public=False)
    await judged(db, contestant.id, public["id"], "WA")
    await judged(db, contestant.id, public["id"], "AC")
    await judged(db, contestant.id, public["id"], "AC")
    await judged(db, contestant.id, hidden["id"], "AC")

    anonymous = await client.get(f"/api/v1/users/{contestant.username}/solved")
    staff = await client.get(f"/api/v1/users/{contestant.id}/solved", headers=organizer.headers)
    missing = await client.get("/api/v1/users/nobody/solved")

    assert anonymous.status_code == 200
    assert [item["problem_id"] for item in anonymous.json()["items"]] == [public["id"]]
    assert anonymous.json()["total"] == 1
    assert sorted(item["problem_id"] for item in staff.json()["items"]) == sorted([public["id"], hidden["id"]])
    assert missing.status_code == 404


async def test_faster_than_percent(client, db, organizer, contestant):
    problem = await create_problem(client, organizer)
    other = await create_problem(client, organizer)
    ours = await judged(db, contestant.id, problem["id"], "AC", time_ms=20)
    for time_ms in (10, 20, 30, 40):
        await judged(db, organizer.id, problem["id"], "AC", time_ms=time_ms)
    await judged(db, organizer.id, problem["id"], "AC", time_ms=100, language="cpp")
    await judged(db, organizer.id, problem["id"], "WA", time_ms=100)
    await judged(db, organizer.id, other["id"], "AC", time_ms=100)
    wrong = await judged(db, contestant.id, problem["id"], "WA", time_ms=5)
    alone = await judged(db, contestant.id, problem["id"], "AC", time_ms=7, language="javascript")

    accepted = (await client.get(f"/api/v1/submissions/{ours}")).json()
    rejected = (await client.get(f"/api/v1/submissions/{wrong}")).json()
    only_one = (await client.get(f"/api/v1/submissions/{alone}")).json()

    # Slower than 20 ms among the other python3 AC: 30 and 40 of 10, 20, 30, 40.
    assert accepted["faster_than_percent"] == 50.0
    assert "faster_than_percent" not in rejected
    assert "faster_than_percent" not in only_one


async def test_problem_stats(client, db, organizer, contestant, make_account):
    problem = await create_problem(client, organizer)
    other = await make_account("other")
    await judged(db, contestant.id, problem["id"], "WA")
    await judged(db, contestant.id, problem["id"], "AC")
    await judged(db, other.id, problem["id"], "AC", language="cpp")
    await judged(db, other.id, problem["id"], "CE", language="cpp")

    response = await client.get(f"/api/v1/problems/{problem['slug']}/stats")
    hidden = await create_problem(client, organizer, is_public=False)
    hidden_response = await client.get(f"/api/v1/problems/{hidden['id']}/stats")

    assert response.status_code == 200
    stats = response.json()
    assert stats["submissions"] == 3
    assert stats["accepted"] == 2
    assert stats["acceptance_rate"] == 66.7
    assert stats["solvers"] == 2
    assert stats["verdicts"] == {"WA": 1, "AC": 2, "CE": 1}
    assert stats["languages"] == {"python3": {"WA": 1, "AC": 1}, "cpp": {"AC": 1, "CE": 1}}
    assert hidden_response.status_code == 404


async def test_blob_route_needs_worker_token(tmp_path, database_url, db):
    data = b"10 20\n" * 1000
    sha = hashlib.sha256(data).hexdigest()
    closed = make_settings(tmp_path / "closed", database_url)
    opened = make_settings(tmp_path / "open", database_url, judge={"worker_token": "s3cret-token-for-tests"})

    async with AsyncTestClient(app=create_app(closed)) as client:
        off = await client.get(f"/api/v1/judge/blobs/{sha}", headers={"Authorization": "Bearer anything"})
    async with AsyncTestClient(app=create_app(opened)) as client:
        register = await client.post("/api/v1/auth/register", json={"username": "org", "email": "o@example.com", "password": "correct horse"})
        assert register.status_code == 201
        async with db() as session:
            from db.models import Role, User

            (await session.get(User, register.json()["id"])).role = Role.ORGANIZER
            await session.commit()
        token = (await client.post("/api/v1/auth/login", json={"username": "org", "password": "correct horse"})).json()["access_token"]
        created = await client.post(
            "/api/v1/problems",
            json=sum_problem(tests=[{"input": data.decode(), "output": "30\n"}]),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201
        anonymous = await client.get(f"/api/v1/judge/blobs/{sha}")
        user_token = await client.get(f"/api/v1/judge/blobs/{sha}", headers={"Authorization": f"Bearer {token}"})
        worker = await client.get(f"/api/v1/judge/blobs/{sha}", headers={"Authorization": "Bearer s3cret-token-for-tests"})
        unknown = await client.get(f"/api/v1/judge/blobs/{'0' * 64}", headers={"Authorization": "Bearer s3cret-token-for-tests"})
        malformed = await client.get("/api/v1/judge/blobs/..%2Fsecret", headers={"Authorization": "Bearer s3cret-token-for-tests"})

    assert off.status_code == 404
    assert anonymous.status_code == 401
    assert user_token.status_code == 401
    assert worker.status_code == 200
    assert worker.content == data
    assert unknown.status_code == 404
    assert malformed.status_code in (400, 404)
    async with db() as session:
        assert await session.get(Problem, created.json()["id"]) is not None

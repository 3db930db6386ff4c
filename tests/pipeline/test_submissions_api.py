"""Submission API without a judge: entry rules, visibility, listings, rejudge bookkeeping.

The app here runs with judge.embedded off and no Redis, so submissions stay
QUEUED; judged results come from tests/pipeline/test_judging_embedded.py.
"""

from __future__ import annotations

from datetime import timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from db.models import (
    Contest,
    ContestProblem,
    ContestState,
    Judging,
    Participant,
    Problem,
    Submission,
    SubmissionStatus,
    utcnow,
)
from server.app import create_app
from tests.conftest import make_settings
from tests.pipeline.conftest import PROGRAMS, sum_problem


async def create_problem(client, organizer, **changes) -> dict:
    response = await client.post("/api/v1/problems", json=sum_problem(**changes), headers=organizer.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def submit(client, account, problem_id: int, code: str = PROGRAMS["AC"], **extra):
    body = {"problem_id": problem_id, "language": "python3", "code": code, **extra}
    return await client.post("/api/v1/submissions", json=body, headers=account.headers)


async def add_contest(db, organizer_id: int, problem_id: int, *, state=ContestState.RUNNING, starts_in=-60, lasts=3600) -> int:
    start = utcnow() + timedelta(seconds=starts_in)
    async with db() as session:
        contest = Contest(
            title="Round 1",
            start_time=start,
            end_time=start + timedelta(seconds=lasts),
            state=state,
            created_by_id=organizer_id,
        )
        session.add(contest)
        await session.flush()
        session.add(ContestProblem(contest_id=contest.id, problem_id=problem_id, label="A"))
        await session.commit()
        return contest.id


async def register(db, contest_id: int, user_id: int, status: str = "registered") -> None:
    async with db() as session:
        session.add(Participant(contest_id=contest_id, user_id=user_id, status=status))
        await session.commit()


async def test_submit_queues_submission(client, db, organizer, contestant):
    problem = await create_problem(client, organizer)

    response = await submit(client, contestant, problem["id"])

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "QUEUED"
    assert body["attempt"] == 1
    async with db() as session:
        submission = await session.get(Submission, body["id"])
        judgings = (await session.scalars(select(Judging).where(Judging.submission_id == body["id"]))).all()
    assert submission.status == SubmissionStatus.QUEUED
    assert submission.user_id == contestant.id
    assert [(judging.attempt, judging.status) for judging in judgings] == [(1, SubmissionStatus.QUEUED)]


async def test_submit_needs_login(client, organizer):
    problem = await create_problem(client, organizer)

    response = await client.post("/api/v1/submissions", json={"problem_id": problem["id"], "language": "python3", "code": "x"})

    assert response.status_code == 401


async def test_unknown_language_names_field(client, organizer, contestant):
    problem = await create_problem(client, organizer)

    response = await submit(client, contestant, problem["id"], language="cobol")

    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["field"] == "language"
    assert "python3" in body["detail"]
    assert "cpp" in body["detail"]


async def test_disabled_language_rejected(tmp_path, database_url):
    settings = make_settings(tmp_path / "data", database_url, judge={"disabled_languages": ["java"]})
    async with AsyncTestClient(app=create_app(settings)) as client:
        await client.post("/api/v1/auth/register", json={"username": "ann", "email": "ann@example.com", "password": "correct horse"})
        token = (await client.post("/api/v1/auth/login", json={"username": "ann", "password": "correct horse"})).json()["access_token"]

        response = await client.post(
            "/api/v1/submissions",
            json={"problem_id": 1, "language": "java", "code": "class Main {}"},
            headers={"Authorization": f"Bearer {token}"},
        )
        languages = {item["id"]: item for item in (await client.get("/api/v1/languages")).json()}

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "language"
    assert "disabled" in response.json()["detail"]
    assert "java" not in response.json()["detail"].split("use one of:")[1].replace(" ", "").split(",")
    assert languages["java"]["status"] == "disabled"
    assert languages["java"]["reason"]


async def test_function_problem_takes_only_its_languages(client, db, organizer, contestant):
    problem = await create_problem(client, organizer)
    async with db() as session:
        stored = await session.get(Problem, problem["id"])
        stored.checker = "function"
        await session.commit()

    rejected = await submit(client, contestant, problem["id"], language="c")
    accepted = await submit(client, contestant, problem["id"], code="def solution(a, b):\n    return a + b\n")
    detail = (await client.get(f"/api/v1/problems/{problem['id']}")).json()

    assert rejected.status_code == 400
    assert rejected.json()["errors"][0]["field"] == "language"
    assert "python3 or javascript" in rejected.json()["detail"]
    assert accepted.status_code == 202
    assert set(detail["time_limits_ms"]) == {"python3", "javascript"}


async def test_problem_lists_time_limit_per_language(client, organizer):
    problem = await create_problem(client, organizer, time_limit_ms=1500)
    detail = (await client.get(f"/api/v1/problems/{problem['id']}")).json()

    assert detail["time_limit_ms"] == 1500
    assert detail["time_limits_ms"]["c"] == 1500
    assert detail["time_limits_ms"]["python3"] == 4500
    assert detail["time_limits_ms"]["java"] == 3000


async def test_languages_listed_without_judge(client):
    response = await client.get("/api/v1/languages")

    assert response.status_code == 200
    languages = {item["id"]: item for item in response.json()}
    assert {"c", "cpp", "python3", "java", "javascript"} <= set(languages)
    assert languages["python3"]["name"].startswith("Python 3")
    assert languages["python3"]["status"] == "unknown"
    assert "no judge runs" in languages["python3"]["reason"]
    assert languages["python3"]["time_multiplier"] == 3.0
    assert languages["c"]["time_multiplier"] == 1.0


async def test_hidden_problem_same_as_missing(client, organizer, contestant):
    hidden = await create_problem(client, organizer, is_public=False)

    on_hidden = await submit(client, contestant, hidden["id"])
    on_missing = await submit(client, contestant, 999_999)

    assert on_hidden.status_code == 404
    assert on_missing.status_code == 404
    assert on_hidden.json()["detail"].replace(str(hidden["id"]), "N") == on_missing.json()["detail"].replace("999999", "N")
    assert (await submit(client, organizer, hidden["id"])).status_code == 202


async def test_source_size_limit(client, organizer, contestant, settings):
    problem = await create_problem(client, organizer)
    limit = settings.limits.max_source_bytes
    comment = "#" * (limit - len(PROGRAMS["AC"]) - 1) + "\n"

    at_limit = await submit(client, contestant, problem["id"], code=PROGRAMS["AC"] + comment)
    over_limit = await submit(client, contestant, problem["id"], code=PROGRAMS["AC"] + comment + "#")

    assert len((PROGRAMS["AC"] + comment).encode()) == limit
    assert at_limit.status_code == 202
    assert over_limit.status_code == 413
    assert over_limit.json()["field"] == "code"
    assert str(limit) in over_limit.json()["detail"]


async def test_multibyte_source_counted_in_bytes(client, organizer, contestant, settings):
    problem = await create_problem(client, organizer)
    limit = settings.limits.max_source_bytes

    response = await submit(client, contestant, problem["id"], code="# " + "é" * (limit // 2))

    assert response.status_code == 413


async def test_empty_and_nul_source_rejected(client, organizer, contestant):
    problem = await create_problem(client, organizer)

    empty = await submit(client, contestant, problem["id"], code="  \n")
    nul = await submit(client, contestant, problem["id"], code="print(1)\x00\n")

    assert empty.status_code == 400
    assert empty.json()["errors"][0]["field"] == "code"
    assert nul.status_code == 400
    assert "NUL" in nul.json()["detail"]


async def test_bad_bodies_name_the_problem(client, organizer, contestant):
    problem = await create_problem(client, organizer)
    headers = {**contestant.headers, "Content-Type": "application/json"}

    malformed = await client.post("/api/v1/submissions", content=b'{"problem_id": 1,', headers=headers)
    missing = await client.post("/api/v1/submissions", json={"language": "python3", "code": "x"}, headers=contestant.headers)
    unknown = await submit(client, contestant, problem["id"], extra_field=1)
    wrong_type = await client.post(
        "/api/v1/submissions", json={"problem_id": "one", "language": "python3", "code": "x"}, headers=contestant.headers
    )

    assert malformed.status_code == 400
    assert "malformed JSON" in malformed.json()["detail"]
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "problem_id"
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "extra_field"
    assert wrong_type.status_code == 400
    assert wrong_type.json()["errors"][0]["field"] == "problem_id"


async def test_rate_limit_per_user(client, db, organizer, contestant, make_account, settings):
    problem = await create_problem(client, organizer)
    limit = settings.limits.submissions_per_minute

    accepted = [await submit(client, contestant, problem["id"]) for _ in range(limit)]
    limited = await submit(client, contestant, problem["id"])
    other = await make_account("other")
    other_response = await submit(client, other, problem["id"])

    assert [response.status_code for response in accepted] == [202] * limit
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert str(limit) in limited.json()["detail"]
    assert other_response.status_code == 202
    async with db() as session:
        rows = (await session.scalars(select(Submission.id).where(Submission.user_id == contestant.id))).all()
    assert len(rows) == limit


async def test_invalid_submissions_not_rate_limited(client, organizer, contestant, settings):
    problem = await create_problem(client, organizer)

    for _ in range(settings.limits.submissions_per_minute + 2):
        assert (await submit(client, contestant, problem["id"], language="cobol")).status_code == 400

    assert (await submit(client, contestant, problem["id"])).status_code == 202


async def test_contest_submission_rules(client, db, organizer, contestant):
    problem = await create_problem(client, organizer, is_public=False)
    other_problem = await create_problem(client, organizer)
    running = await add_contest(db, organizer.id, problem["id"])
    scheduled = await add_contest(db, organizer.id, problem["id"], state=ContestState.SCHEDULED, starts_in=3600)
    ended = await add_contest(db, organizer.id, problem["id"], state=ContestState.ENDED, starts_in=-7200)
    overdue = await add_contest(db, organizer.id, problem["id"], starts_in=-7200)

    missing = await submit(client, contestant, problem["id"], contest_id=999_999)
    unregistered = await submit(client, contestant, problem["id"], contest_id=running)
    for contest_id in (running, scheduled, ended, overdue):
        await register(db, contest_id, contestant.id)
    before_start = await submit(client, contestant, problem["id"], contest_id=scheduled)
    after_end = await submit(client, contestant, problem["id"], contest_id=ended)
    past_end_time = await submit(client, contestant, problem["id"], contest_id=overdue)
    not_in_contest = await submit(client, contestant, other_problem["id"], contest_id=running)
    practice_during_contest = await submit(client, contestant, problem["id"])
    accepted = await submit(client, contestant, problem["id"], contest_id=running)

    assert missing.status_code == 404
    assert missing.json()["field"] == "contest_id"
    assert unregistered.status_code == 403
    assert "register" in unregistered.json()["detail"]
    assert before_start.status_code == 409
    assert "has not started" in before_start.json()["detail"]
    assert after_end.status_code == 409
    assert "has ended" in after_end.json()["detail"]
    assert past_end_time.status_code == 409
    assert "has ended" in past_end_time.json()["detail"]
    assert not_in_contest.status_code == 400
    assert not_in_contest.json()["errors"][0]["field"] == "problem_id"
    assert practice_during_contest.status_code == 409
    assert f"contest_id {running}" in practice_during_contest.json()["detail"]
    assert accepted.status_code == 202
    async with db() as session:
        stored = await session.get(Submission, accepted.json()["id"])
    assert stored.contest_id == running


async def test_invited_participant_cannot_submit(client, db, organizer, contestant):
    problem = await create_problem(client, organizer, is_public=False)
    contest_id = await add_contest(db, organizer.id, problem["id"])
    await register(db, contest_id, contestant.id, status="invited")

    response = await submit(client, contestant, problem["id"], contest_id=contest_id)

    assert response.status_code == 403


async def test_code_visible_to_author_and_staff(client, organizer, contestant, make_account):
    problem = await create_problem(client, organizer)
    submission_id = (await submit(client, contestant, problem["id"])).json()["id"]
    other = await make_account("other")

    own = (await client.get(f"/api/v1/submissions/{submission_id}", headers=contestant.headers)).json()
    foreign = (await client.get(f"/api/v1/submissions/{submission_id}", headers=other.headers)).json()
    anonymous = (await client.get(f"/api/v1/submissions/{submission_id}")).json()
    staff = (await client.get(f"/api/v1/submissions/{submission_id}", headers=organizer.headers)).json()

    assert own["code"] == PROGRAMS["AC"]
    assert own["tests"] == []
    assert "judgings" not in own
    assert "internal_error" not in own
    for view in (foreign, anonymous):
        assert view["id"] == submission_id
        assert view["status"] == "QUEUED"
        assert "code" not in view
        assert "tests" not in view
        assert "compile_output" not in view
    assert staff["code"] == PROGRAMS["AC"]
    assert [judging["attempt"] for judging in staff["judgings"]] == [1]


async def test_listing_never_shows_code_to_non_staff(client, organizer, contestant):
    problem = await create_problem(client, organizer)
    await submit(client, contestant, problem["id"])

    own = await client.get("/api/v1/submissions", params={"user": contestant.username}, headers=contestant.headers)
    requested = await client.get("/api/v1/submissions", params={"include_code": "true"}, headers=contestant.headers)
    staff = await client.get("/api/v1/submissions", params={"include_code": "true"}, headers=organizer.headers)

    assert own.status_code == 200
    assert own.json()["total"] == 1
    assert "code" not in own.json()["items"][0]
    assert requested.status_code == 403
    assert staff.json()["items"][0]["code"] == PROGRAMS["AC"]


async def test_running_contest_submissions_private(client, db, organizer, contestant, make_account):
    problem = await create_problem(client, organizer, is_public=False)
    contest_id = await add_contest(db, organizer.id, problem["id"])
    await register(db, contest_id, contestant.id)
    submission_id = (await submit(client, contestant, problem["id"], contest_id=contest_id)).json()["id"]
    other = await make_account("other")

    foreign = await client.get(f"/api/v1/submissions/{submission_id}", headers=other.headers)
    listing = await client.get("/api/v1/submissions", params={"contest": contest_id}, headers=other.headers)
    own = await client.get("/api/v1/submissions", params={"contest": contest_id}, headers=contestant.headers)
    staff = await client.get("/api/v1/submissions", params={"contest": contest_id}, headers=organizer.headers)

    assert foreign.status_code == 404
    assert listing.json()["total"] == 0
    assert own.json()["total"] == 1
    assert staff.json()["total"] == 1


async def test_listing_filters_and_pages(client, organizer, contestant, make_account):
    first = await create_problem(client, organizer)
    second = await create_problem(client, organizer)
    other = await make_account("other")
    ids = [
        (await submit(client, contestant, first["id"])).json()["id"],
        (await submit(client, contestant, second["id"])).json()["id"],
        (await submit(client, other, first["id"])).json()["id"],
    ]

    async def listed(**params) -> list[int]:
        response = await client.get("/api/v1/submissions", params=params, headers=organizer.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await listed() == ids[::-1]
    assert await listed(user=contestant.username) == [ids[1], ids[0]]
    assert await listed(user=str(other.id)) == [ids[2]]
    assert await listed(problem=first["slug"]) == [ids[2], ids[0]]
    assert await listed(problem=str(second["id"])) == [ids[1]]
    assert await listed(status="QUEUED", language="python3") == ids[::-1]
    assert await listed(verdict="AC") == []
    assert await listed(user="nobody") == []
    assert await listed(per_page=2, page=2) == [ids[0]]
    bad = await client.get("/api/v1/submissions", params={"verdict": "MAYBE"})
    assert bad.status_code == 400


async def test_rejudge_adds_attempt(client, db, organizer, contestant):
    problem = await create_problem(client, organizer)
    submission_id = (await submit(client, contestant, problem["id"])).json()["id"]

    forbidden = await client.post(f"/api/v1/submissions/{submission_id}/rejudge", headers=contestant.headers)
    first = await client.post(f"/api/v1/submissions/{submission_id}/rejudge", headers=organizer.headers)
    second = await client.post(f"/api/v1/submissions/{submission_id}/rejudge", headers=organizer.headers)
    missing = await client.post("/api/v1/submissions/999999/rejudge", headers=organizer.headers)

    assert forbidden.status_code == 403
    assert first.status_code == 202
    assert first.json()["attempt"] == 2
    assert second.json()["attempt"] == 3
    assert missing.status_code == 404
    staff_view = (await client.get(f"/api/v1/submissions/{submission_id}", headers=organizer.headers)).json()
    assert staff_view["attempt"] == 3
    assert [(judging["attempt"], judging["requested_by_id"]) for judging in staff_view["judgings"]] == [
        (1, None),
        (2, organizer.id),
        (3, organizer.id),
    ]
    async with db() as session:
        statuses = (await session.scalars(select(Judging.status).where(Judging.submission_id == submission_id))).all()
    assert statuses == [SubmissionStatus.QUEUED] * 3


async def test_problem_rejudge_filters(client, db, organizer, contestant):
    problem = await create_problem(client, organizer)
    other_problem = await create_problem(client, organizer)
    ids = [(await submit(client, contestant, problem["id"])).json()["id"] for _ in range(3)]
    await submit(client, contestant, other_problem["id"])
    async with db() as session:
        judged = await session.get(Submission, ids[0])
        judged.status = SubmissionStatus.JUDGED
        judged.verdict = "WA"
        await session.commit()

    forbidden = await client.post(f"/api/v1/problems/{problem['id']}/rejudge", headers=contestant.headers)
    only_wa = await client.post(f"/api/v1/problems/{problem['slug']}/rejudge", params={"verdict": "WA"}, headers=organizer.headers)
    everything = await client.post(f"/api/v1/problems/{problem['id']}/rejudge", headers=organizer.headers)
    missing = await client.post("/api/v1/problems/no-such-problem/rejudge", headers=organizer.headers)

    assert forbidden.status_code == 403
    assert only_wa.status_code == 202
    assert only_wa.json() == {"submission_ids": [ids[0]], "count": 1}
    assert everything.json()["submission_ids"] == ids
    assert missing.status_code == 404
    async with db() as session:
        attempts = dict((await session.execute(select(Submission.id, Submission.attempt).where(Submission.id.in_(ids)))).all())
    assert attempts == {ids[0]: 3, ids[1]: 2, ids[2]: 2}

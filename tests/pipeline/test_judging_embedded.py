"""Submissions judged by the embedded judge in the app: verdicts, details, rejudges, IE retries."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from db.models import Judging, TestCase, TestResult
from tests.conftest import make_settings
from tests.pipeline.conftest import EXPECTED, PROGRAMS, sum_problem

pytestmark = pytest.mark.docker


@pytest.fixture
def settings(tmp_path, database_url, docker_ready):
    return make_settings(
        tmp_path / "data",
        database_url,
        judge={
            "embedded": True,
            "concurrency": 2,
            "warm_containers": 1,
            "disabled_languages": ["c", "cpp", "cpp20", "java", "javascript"],
        },
        limits={"submissions_per_minute": 100},
    )


async def create_problem(client, organizer, **changes) -> dict:
    response = await client.post("/api/v1/problems", json=sum_problem(**changes), headers=organizer.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def submit(client, account, problem_id: int, code: str) -> int:
    response = await client.post(
        "/api/v1/submissions", json={"problem_id": problem_id, "language": "python3", "code": code}, headers=account.headers
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def wait_judged(client, account, submission_id: int, timeout: float = 60.0, attempt: int = 1) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        detail = (await client.get(f"/api/v1/submissions/{submission_id}", headers=account.headers)).json()
        if detail["status"] == "JUDGED" and detail["attempt"] >= attempt:
            return detail
        await asyncio.sleep(0.1)
    raise AssertionError(f"submission {submission_id} not judged within {timeout} s: {detail}")


async def test_verdicts_and_details(client, organizer, contestant, make_account):
    problem = await create_problem(client, organizer)
    ids = {kind: await submit(client, contestant, problem["id"], code) for kind, code in PROGRAMS.items()}
    other = await make_account("other")

    results = {kind: await wait_judged(client, contestant, submission_id) for kind, submission_id in ids.items()}

    for kind, (verdict, tests_run, passed) in EXPECTED.items():
        detail = results[kind]
        assert detail["verdict"] == verdict, (kind, detail)
        assert len(detail["tests"]) == tests_run, kind
        assert detail["test_cases_passed"] == passed, kind
        assert detail["test_cases_total"] == 3, kind
        assert [test["index"] for test in detail["tests"]] == list(range(1, tests_run + 1)), kind
        assert detail["code"] == PROGRAMS[kind]
    assert results["TLE"]["tests"][1]["verdict"] == "TLE"
    # The CPU limit is 300 ms times the python3 multiplier of 3; the kill lands near it.
    assert results["TLE"]["tests"][1]["time_ms"] >= 800
    assert "SyntaxError" in results["CE"]["compile_output"]
    assert "error_message" not in results["WA"]
    staff_view = (await client.get(f"/api/v1/submissions/{ids['WA']}", headers=organizer.headers)).json()
    assert "WA" in staff_view["error_message"]
    foreign = (await client.get(f"/api/v1/submissions/{ids['CE']}", headers=other.headers)).json()
    assert foreign["verdict"] == "CE"
    assert "compile_output" not in foreign
    assert "tests" not in foreign
    assert "code" not in foreign
    accepted = (await client.get(f"/api/v1/users/{contestant.username}/solved")).json()
    assert [item["problem_id"] for item in accepted["items"]] == [problem["id"]]


async def test_rejudge_keeps_history(app, client, organizer, contestant):
    judged_hooks: list[int] = []

    async def count_judged(live, submission_id: int) -> None:
        judged_hooks.append(submission_id)

    app.state.live.on_judged.append(count_judged)
    problem = await create_problem(client, organizer)
    submission_id = await submit(client, contestant, problem["id"], PROGRAMS["WA"])
    first = await wait_judged(client, contestant, submission_id)

    fixed_answer = await client.put(
        f"/api/v1/problems/{problem['id']}/tests",
        json={"tests": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 6\n", "output": "-1\n"}]},
        headers=organizer.headers,
    )
    assert fixed_answer.status_code == 200
    rejudge = await client.post(f"/api/v1/submissions/{submission_id}/rejudge", headers=organizer.headers)
    assert rejudge.status_code == 202
    second = await wait_judged(client, contestant, submission_id, attempt=2)
    staff_view = (await client.get(f"/api/v1/submissions/{submission_id}", headers=organizer.headers)).json()

    assert first["verdict"] == "WA"
    assert second["verdict"] == "AC"
    assert second["attempt"] == 2
    history = staff_view["judgings"]
    assert [(judging["attempt"], judging["status"], judging["verdict"]) for judging in history] == [
        (1, "JUDGED", "WA"),
        (2, "JUDGED", "AC"),
    ]
    assert [test["verdict"] for test in history[0]["tests"]] == ["AC", "WA"]
    assert [test["verdict"] for test in history[1]["tests"]] == ["AC", "AC"]
    assert history[1]["requested_by_id"] == organizer.id
    assert judged_hooks == [submission_id, submission_id]


async def test_internal_error_retried_once(app, client, db, organizer, contestant):
    problem = await create_problem(client, organizer)
    async with db() as session:
        answer_sha = await session.scalar(
            select(TestCase.answer_sha256).where(TestCase.problem_id == problem["id"], TestCase.position == 2)
        )
    # Fault: a test file vanishes from the blob store, and no server is configured to fetch it from.
    app.state.blobs.path_of(answer_sha).unlink()

    submission_id = await submit(client, contestant, problem["id"], PROGRAMS["AC"])
    detail = await wait_judged(client, contestant, submission_id, attempt=2)
    staff_view = (await client.get(f"/api/v1/submissions/{submission_id}", headers=organizer.headers)).json()
    await asyncio.sleep(1.0)
    after_wait = (await client.get(f"/api/v1/submissions/{submission_id}", headers=organizer.headers)).json()

    assert detail["verdict"] == "IE"
    assert detail["attempt"] == 2
    assert "internal_error" not in detail
    assert answer_sha in staff_view["internal_error"]
    assert [(judging["attempt"], judging["verdict"], judging["requested_by_id"]) for judging in staff_view["judgings"]] == [
        (1, "IE", None),
        (2, "IE", None),
    ]
    assert len(after_wait["judgings"]) == 2
    async with db() as session:
        stored = (await session.scalars(select(TestResult).join(Judging).where(Judging.submission_id == submission_id))).all()
    assert stored == []

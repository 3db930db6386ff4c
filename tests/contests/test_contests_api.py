"""Contests over REST: authoring, validation, lifecycle actions, the clock, registration, visibility."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from db.models import Contest, ContestState, Problem, Role, utcnow
from server import contests
from server.app import create_app
from server.live import contest_channel
from tests.contests.conftest import contest_body, iso, on_app_loop, register


async def _create(client, organizer, make_problems, start_in: timedelta = timedelta(hours=1), **changes) -> dict:
    problem_ids = await make_problems(2)
    body = contest_body(problem_ids, utcnow() + start_in, **changes)
    response = await client.post("/api/v1/contests", json=body, headers=organizer.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _action(client, contest: dict, action: str, account) -> dict:
    response = await client.post(f"/api/v1/contests/{contest['id']}/{action}", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _events(client, app, contest: dict) -> list:
    envelopes = await on_app_loop(client, app.state.hub.since, contest_channel(contest["id"], "events"), 0)
    return [envelope.data for envelope in envelopes if envelope.type == "contest"]


async def test_organizer_creates_draft_contest(client, organizer, make_problems):
    contest = await _create(client, organizer, make_problems, freeze_time=None, scoring="icpc")

    assert contest["state"] == "draft"
    assert contest["organizers"] == ["organizer"]
    assert contest["is_organizer"] is True
    assert [problem["label"] for problem in contest["problems"]] == ["A", "B"]
    assert [problem["points"] for problem in contest["problems"]] == [1.0, 1.0]


async def test_contest_problems_leave_public_archive(client, db, organizer, make_problems):
    problem_ids = await make_problems(1, is_public=True)
    body = contest_body(problem_ids, utcnow() + timedelta(hours=1))

    response = await client.post("/api/v1/contests", json=body, headers=organizer.headers)

    assert response.status_code == 201
    async with db() as session:
        assert (await session.get(Problem, problem_ids[0])).is_public is False


@pytest.mark.parametrize("role", [None, Role.CONTESTANT])
async def test_create_needs_staff(role, client, make_account, make_problems):
    problem_ids = await make_problems(1)
    headers = (await make_account("someone", role=role)).headers if role else {}

    response = await client.post("/api/v1/contests", json=contest_body(problem_ids, utcnow()), headers=headers)

    assert response.status_code == (403 if role else 401)


START = utcnow().replace(microsecond=0) + timedelta(days=1)

# (changes to a valid body, field the error must name)
INVALID_BODIES = [
    ({"end_time": iso(START)}, "end_time"),
    ({"end_time": iso(START - timedelta(minutes=1))}, "end_time"),
    ({"freeze_time": iso(START - timedelta(minutes=1))}, "freeze_time"),
    ({"freeze_time": iso(START + timedelta(hours=6))}, "freeze_time"),
    ({"start_time": "2030-01-01T10:00:00"}, "start_time"),
    ({"start_time": "tomorrow"}, "start_time"),
    ({"end_time": iso(START + timedelta(days=30))}, "end_time"),
    ({"scoring": "codeforces"}, "scoring"),
    ({"title": ""}, "title"),
    ({"registration": "maybe"}, "registration"),
    ({"penalty_minutes": -1}, "penalty_minutes"),
    ({"problems": [{"problem_id": 999, "label": "A"}]}, "problems[0].problem_id"),
    ({"problems": [{"problem_id": "PROBLEM_1", "label": "A"}, {"problem_id": "PROBLEM_2", "label": "A"}]}, "problems[1].label"),
    ({"problems": [{"problem_id": "PROBLEM_1", "label": "A"}, {"problem_id": "PROBLEM_1", "label": "B"}]}, "problems[1].problem_id"),
    ({"problems": [{"problem_id": "PROBLEM_1", "label": "a"}]}, "problems[0].label"),
    ({"problems": [{"problem_id": "PROBLEM_1", "label": "A", "points": 0}]}, "problems[0].points"),
    ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize("changes, field", INVALID_BODIES, ids=[field for _, field in INVALID_BODIES])
async def test_invalid_contest_names_field(changes, field, client, organizer, make_problems):
    problem_ids = await make_problems(2)
    body = contest_body(problem_ids, START)
    if "problems" in changes:
        changes = {"problems": [
            {**item, "problem_id": problem_ids[int(item["problem_id"][-1]) - 1]} if isinstance(item["problem_id"], str) else item
            for item in changes["problems"]
        ]}
    body.update(changes)

    response = await client.post("/api/v1/contests", json=body, headers=organizer.headers)

    assert 400 <= response.status_code < 500
    problem = response.json()
    assert field in problem["detail"], problem
    listing = await client.get("/api/v1/contests", headers=organizer.headers)
    assert listing.json()["total"] == 0


async def test_draft_hidden_from_others(client, organizer, contestant, make_problems):
    contest = await _create(client, organizer, make_problems)

    assert (await client.get(f"/api/v1/contests/{contest['id']}", headers=contestant.headers)).status_code == 404
    assert (await client.get(f"/api/v1/contests/{contest['id']}")).status_code == 404
    assert (await client.get("/api/v1/contests", headers=contestant.headers)).json()["total"] == 0
    assert (await client.get("/api/v1/contests", headers=organizer.headers)).json()["total"] == 1


async def test_list_filters_by_state(client, organizer, make_problems):
    draft = await _create(client, organizer, make_problems)
    scheduled = await _create(client, organizer, make_problems)
    await _action(client, scheduled, "publish", organizer)

    response = await client.get("/api/v1/contests", params={"state": "scheduled"})

    assert [item["id"] for item in response.json()["items"]] == [scheduled["id"]]
    assert draft["id"] not in [item["id"] for item in (await client.get("/api/v1/contests")).json()["items"]]
    assert (await client.get("/api/v1/contests", params={"state": "paused"})).status_code == 400


async def test_other_organizer_cannot_manage(client, organizer, make_account, make_problems):
    contest = await _create(client, organizer, make_problems)
    await _action(client, contest, "publish", organizer)
    other = await make_account("other", role=Role.ORGANIZER)

    for response in (
        await client.post(f"/api/v1/contests/{contest['id']}/start", headers=other.headers),
        await client.patch(f"/api/v1/contests/{contest['id']}", json={"title": "Mine"}, headers=other.headers),
        await client.delete(f"/api/v1/contests/{contest['id']}", headers=other.headers),
    ):
        assert response.status_code == 403

    response = await client.post(f"/api/v1/contests/{contest['id']}/organizers", json={"username": "other"}, headers=organizer.headers)
    assert response.status_code == 201
    assert response.json()["organizers"] == ["organizer", "other"]
    assert (await client.post(f"/api/v1/contests/{contest['id']}/start", headers=other.headers)).status_code == 200


async def test_organizer_needs_staff_role(client, organizer, contestant, make_problems):
    contest = await _create(client, organizer, make_problems)

    response = await client.post(
        f"/api/v1/contests/{contest['id']}/organizers", json={"username": contestant.username}, headers=organizer.headers
    )

    assert response.status_code == 400
    assert "username" in response.json()["detail"]
    last = await client.delete(f"/api/v1/contests/{contest['id']}/organizers/{organizer.id}", headers=organizer.headers)
    assert last.status_code == 409


async def test_lifecycle_actions_publish_events(client, app, db, organizer, make_problems):
    contest = await _create(client, organizer, make_problems)

    states = []
    for action in ("publish", "start", "freeze", "unfreeze", "end", "finalize"):
        states.append((await _action(client, contest, action, organizer))["state"])

    assert states == ["scheduled", "running", "frozen", "running", "ended", "finalized"]
    events = await _events(client, app, contest)
    assert [(event["change"], event["state"]) for event in events] == [
        ("publish", "scheduled"), ("start", "running"), ("freeze", "frozen"),
        ("unfreeze", "running"), ("end", "ended"), ("finalize", "finalized"),
    ]
    detail = (await client.get(f"/api/v1/contests/{contest['id']}")).json()
    assert detail["frozen"] is False
    assert detail["unfrozen_at"] is not None


async def test_unfreeze_before_scheduled_freeze_keeps_it(client, app, db, organizer, make_contest):
    scheduled = utcnow() + timedelta(minutes=30)
    contest = await make_contest(freeze_time=iso(scheduled))
    url = f"/api/v1/contests/{contest['id']}"

    frozen = (await client.post(f"{url}/freeze", headers=organizer.headers)).json()
    thawed = (await client.post(f"{url}/unfreeze", headers=organizer.headers)).json()
    detail = (await client.get(url, headers=organizer.headers)).json()

    assert frozen["state"] == "frozen"
    assert thawed["state"] == "running"
    assert datetime.fromisoformat(detail["freeze_time"]) == datetime.fromisoformat(iso(scheduled))
    assert detail["unfrozen_at"] is None
    async with db() as session:
        stored = await session.get(Contest, contest["id"])
        assert contests.target_state(stored, scheduled + timedelta(seconds=1)) == ContestState.FROZEN


# (actions done first, the action that must be refused)
INVALID_ACTIONS = [
    ([], "freeze"),
    ([], "finalize"),
    (["publish"], "publish"),
    (["publish"], "end"),
    (["publish", "start"], "unfreeze"),
    (["publish", "start"], "finalize"),
    (["publish", "start", "end"], "start"),
    (["publish", "start", "end"], "freeze"),
]


@pytest.mark.parametrize("done, refused", INVALID_ACTIONS)
async def test_invalid_action_conflicts(done, refused, client, organizer, make_problems):
    contest = await _create(client, organizer, make_problems)
    for action in done:
        await _action(client, contest, action, organizer)
    before = (await client.get(f"/api/v1/contests/{contest['id']}", headers=organizer.headers)).json()["state"]

    response = await client.post(f"/api/v1/contests/{contest['id']}/{refused}", headers=organizer.headers)

    assert response.status_code == 409
    assert response.json()["detail"]
    after = (await client.get(f"/api/v1/contests/{contest['id']}", headers=organizer.headers)).json()["state"]
    assert after == before


async def test_publish_needs_problems(client, organizer):
    body = contest_body([], utcnow() + timedelta(hours=1))
    contest = (await client.post("/api/v1/contests", json=body, headers=organizer.headers)).json()

    response = await client.post(f"/api/v1/contests/{contest['id']}/publish", headers=organizer.headers)

    assert response.status_code == 409
    assert response.json()["field"] == "problems"


async def test_extend_running_contest(client, app, organizer, make_problems):
    contest = await _create(client, organizer, make_problems)
    await _action(client, contest, "publish", organizer)
    started = await _action(client, contest, "start", organizer)
    later = iso(utcnow() + timedelta(hours=8))

    response = await client.patch(f"/api/v1/contests/{contest['id']}", json={"end_time": later}, headers=organizer.headers)

    assert response.status_code == 200
    assert response.json()["end_time"] > started["end_time"]
    assert (await _events(client, app, contest))[-1]["change"] == "extended"


@pytest.mark.parametrize(
    "changes, field, status",
    [
        ({"start_time": iso(utcnow() + timedelta(hours=2))}, "start_time", 409),
        ({"scoring": "ioi"}, "scoring", 409),
        ({"problems": []}, "problems", 409),
        ({"end_time": iso(utcnow() - timedelta(minutes=1))}, "end_time", 400),
        ({"freeze_time": iso(utcnow() - timedelta(minutes=5))}, "freeze_time", 400),
    ],
)
async def test_running_contest_refuses_changes(changes, field, status, client, organizer, make_problems):
    contest = await _create(client, organizer, make_problems)
    await _action(client, contest, "publish", organizer)
    await _action(client, contest, "start", organizer)

    response = await client.patch(f"/api/v1/contests/{contest['id']}", json=changes, headers=organizer.headers)

    assert response.status_code == status
    assert field in response.json()["detail"]


async def test_delete_only_when_not_running(client, organizer, make_problems):
    contest = await _create(client, organizer, make_problems)
    await _action(client, contest, "publish", organizer)
    await _action(client, contest, "start", organizer)

    assert (await client.delete(f"/api/v1/contests/{contest['id']}", headers=organizer.headers)).status_code == 409
    await _action(client, contest, "end", organizer)
    assert (await client.delete(f"/api/v1/contests/{contest['id']}", headers=organizer.headers)).status_code == 204
    assert (await client.get(f"/api/v1/contests/{contest['id']}", headers=organizer.headers)).status_code == 404


async def test_problems_hidden_before_start(client, organizer, contestant, make_problems):
    contest = await _create(client, organizer, make_problems)
    await _action(client, contest, "publish", organizer)
    await register(client, contest, contestant)
    problem_id = contest["problems"][0]["problem_id"]

    detail = (await client.get(f"/api/v1/contests/{contest['id']}", headers=contestant.headers)).json()
    assert detail["problems"] is None
    assert detail["registration_status"] == "registered"
    assert (await client.get(f"/api/v1/contests/{contest['id']}/problems", headers=contestant.headers)).status_code == 403
    assert (await client.get(f"/api/v1/problems/{problem_id}", headers=contestant.headers)).status_code == 404
    assert (await client.get("/api/v1/problems", headers=contestant.headers)).json()["total"] == 0
    board = (await client.get(f"/api/v1/contests/{contest['id']}/scoreboard")).json()
    assert board["problems"] == []
    assert board["rows"][0]["problems"] == []
    assert "Problem 1" not in (await client.get(f"/api/v1/contests/{contest['id']}")).text

    await _action(client, contest, "start", organizer)

    listing = await client.get(f"/api/v1/contests/{contest['id']}/problems", headers=contestant.headers)
    assert [problem["label"] for problem in listing.json()] == ["A", "B"]
    assert (await client.get(f"/api/v1/problems/{problem_id}", headers=contestant.headers)).status_code == 200


@pytest.mark.parametrize("practice_after_end", [True, False])
async def test_problems_after_end(practice_after_end, client, organizer, make_problems):
    contest = await _create(client, organizer, make_problems, practice_after_end=practice_after_end)
    problem_id = contest["problems"][0]["problem_id"]
    for action in ("publish", "start", "end"):
        await _action(client, contest, action, organizer)

    problem = await client.get(f"/api/v1/problems/{problem_id}")

    # An ended contest's problems stay readable; the archive lists them only as practice problems.
    assert problem.status_code == 200
    assert problem.json()["is_public"] is practice_after_end


async def test_problem_of_upcoming_contest_stays_hidden(client, organizer, make_problems):
    first = await _create(client, organizer, make_problems)
    shared = first["problems"][0]["problem_id"]
    second_body = contest_body([shared], utcnow() + timedelta(days=2))
    second = (await client.post("/api/v1/contests", json=second_body, headers=organizer.headers)).json()
    await _action(client, second, "publish", organizer)
    for action in ("publish", "start", "end"):
        await _action(client, first, action, organizer)

    assert (await client.get(f"/api/v1/problems/{shared}")).json()["is_public"] is False
    other = first["problems"][1]["problem_id"]
    assert (await client.get(f"/api/v1/problems/{other}")).json()["is_public"] is True


async def _insert_contest(db, start_delta: timedelta, end_delta: timedelta, freeze_delta: timedelta | None) -> tuple[int, int]:
    from db.models import ContestProblem

    now = utcnow()
    async with db() as session:
        problem = Problem(slug="offline", title="Offline", is_public=False)
        contest = Contest(
            title="Offline",
            start_time=now + start_delta,
            end_time=now + end_delta,
            freeze_time=now + freeze_delta if freeze_delta is not None else None,
            state=ContestState.SCHEDULED,
            problems=[ContestProblem(problem=problem, label="A")],
        )
        session.add(contest)
        await session.commit()
        return contest.id, problem.id


@pytest.mark.parametrize(
    "start, end, freeze, expected",
    [
        (timedelta(hours=-2), timedelta(hours=1), None, "running"),
        (timedelta(hours=-2), timedelta(hours=1), timedelta(minutes=-30), "frozen"),
        (timedelta(hours=-5), timedelta(hours=-1), timedelta(hours=-2), "ended"),
        (timedelta(hours=1), timedelta(hours=2), None, "scheduled"),
    ],
)
async def test_clock_catches_up_after_downtime(start, end, freeze, expected, settings, db):
    # The contest's transition times pass while no server runs; then one starts.
    contest_id, problem_id = await _insert_contest(db, start, end, freeze)

    async with AsyncTestClient(app=create_app(settings)) as late_client:
        detail = (await late_client.get(f"/api/v1/contests/{contest_id}")).json()
        problem = await late_client.get(f"/api/v1/problems/{problem_id}")

    assert detail["state"] == expected
    if expected == "scheduled":
        assert problem.status_code == 404
    else:
        assert problem.json()["is_public"] is (expected == "ended")


async def test_clock_moves_scheduled_contest_at_start(client, app, organizer, make_problems):
    import asyncio

    contest = await _create(client, organizer, make_problems, start_in=timedelta(seconds=1.5))
    await _action(client, contest, "publish", organizer)

    for _ in range(50):
        await asyncio.sleep(0.1)
        state = (await client.get(f"/api/v1/contests/{contest['id']}")).json()["state"]
        if state == "running":
            break

    assert state == "running"
    assert [event["change"] for event in await _events(client, app, contest)] == ["publish", "clock"]


@pytest.mark.parametrize("action, kept", [("start", "running"), ("freeze", "frozen")])
async def test_stale_clock_reading_does_not_undo_action(action, kept, client, app, organizer, make_problems):
    # A clock tick that read the time just before the organizer's action stores its result after it.
    from server.contests import advance_contest

    before = utcnow()
    contest = await _create(client, organizer, make_problems)
    await _action(client, contest, "publish", organizer)
    if action == "freeze":
        await _action(client, contest, "start", organizer)
    await _action(client, contest, action, organizer)

    change = await on_app_loop(client, advance_contest, app.state.live, contest["id"], before)

    assert change is None
    assert (await client.get(f"/api/v1/contests/{contest['id']}")).json()["state"] == kept


# Registration


async def _published(client, organizer, make_problems, started: bool = False, **changes) -> dict:
    contest = await _create(client, organizer, make_problems, **changes)
    await _action(client, contest, "publish", organizer)
    if started:
        await _action(client, contest, "start", organizer)
    return contest


async def test_open_registration(client, organizer, contestant, make_problems):
    contest = await _published(client, organizer, make_problems)
    url = f"/api/v1/contests/{contest['id']}/register"

    first = await client.post(url, headers=contestant.headers)
    again = await client.post(url, headers=contestant.headers)
    anonymous = await client.post(url)

    assert first.status_code == 201
    assert first.json()["status"] == "registered"
    assert again.status_code == 409
    assert anonymous.status_code == 401
    participants = (await client.get(f"/api/v1/contests/{contest['id']}/participants")).json()
    assert [participant["username"] for participant in participants] == ["contestant"]
    assert (await client.delete(url, headers=contestant.headers)).status_code == 204
    assert (await client.get(f"/api/v1/contests/{contest['id']}/participants")).json() == []


async def test_unregister_refused_after_start(client, organizer, contestant, make_problems):
    contest = await _published(client, organizer, make_problems)
    await register(client, contest, contestant)
    await _action(client, contest, "start", organizer)

    response = await client.delete(f"/api/v1/contests/{contest['id']}/register", headers=contestant.headers)

    assert response.status_code == 409


async def test_invitation_registration(client, organizer, contestant, make_account, make_problems):
    contest = await _published(client, organizer, make_problems, registration="invite")
    outsider = await make_account("outsider")
    url = f"/api/v1/contests/{contest['id']}/register"

    refused = await client.post(url, headers=outsider.headers)
    invited = await client.post(
        f"/api/v1/contests/{contest['id']}/invitations", json={"usernames": ["contestant"]}, headers=organizer.headers
    )
    before = (await client.get(f"/api/v1/contests/{contest['id']}", headers=contestant.headers)).json()
    accepted = await client.post(url, headers=contestant.headers)

    assert refused.status_code == 403
    assert invited.status_code == 201
    assert invited.json()[0]["status"] == "invited"
    assert before["registration_status"] == "invited"
    assert before["participant_count"] == 0
    assert accepted.status_code == 201
    assert accepted.json()["status"] == "registered"


async def test_invitation_names_unknown_user(client, organizer, make_problems):
    contest = await _published(client, organizer, make_problems, registration="invite")

    response = await client.post(
        f"/api/v1/contests/{contest['id']}/invitations", json={"usernames": ["organizer", "ghost"]}, headers=organizer.headers
    )

    assert response.status_code == 400
    assert "usernames[1]" in response.json()["detail"]
    participants = await client.get(f"/api/v1/contests/{contest['id']}/participants", headers=organizer.headers)
    assert participants.json() == []


async def test_closed_registration(client, organizer, contestant, make_problems):
    contest = await _published(client, organizer, make_problems, registration="closed")

    refused = await client.post(f"/api/v1/contests/{contest['id']}/register", headers=contestant.headers)
    added = await client.post(
        f"/api/v1/contests/{contest['id']}/participants", json={"usernames": ["contestant"]}, headers=organizer.headers
    )
    by_contestant = await client.post(
        f"/api/v1/contests/{contest['id']}/participants", json={"usernames": ["contestant"]}, headers=contestant.headers
    )

    assert refused.status_code == 403
    assert added.status_code == 201
    assert added.json()[0]["status"] == "registered"
    assert by_contestant.status_code == 403


@pytest.mark.parametrize("allow_late, expected", [(True, 201), (False, 403)])
async def test_late_registration(allow_late, expected, client, organizer, contestant, make_problems):
    contest = await _published(client, organizer, make_problems, started=True, allow_late_registration=allow_late)

    response = await client.post(f"/api/v1/contests/{contest['id']}/register", headers=contestant.headers)

    assert response.status_code == expected


async def test_no_registration_after_end_or_in_draft(client, organizer, contestant, make_problems):
    ended = await _published(client, organizer, make_problems, started=True)
    await _action(client, ended, "end", organizer)
    draft = await _create(client, organizer, make_problems)

    assert (await client.post(f"/api/v1/contests/{ended['id']}/register", headers=contestant.headers)).status_code == 403
    assert (await client.post(f"/api/v1/contests/{draft['id']}/register", headers=contestant.headers)).status_code == 404


async def test_removed_participant_leaves_board(client, organizer, contestant, make_problems):
    contest = await _published(client, organizer, make_problems, started=True)
    participant = await register(client, contest, contestant)

    response = await client.delete(
        f"/api/v1/contests/{contest['id']}/participants/{participant['id']}", headers=organizer.headers
    )

    assert response.status_code == 204
    assert (await client.get(f"/api/v1/contests/{contest['id']}/scoreboard")).json()["rows"] == []


async def test_jury_board_for_organizers_only(client, organizer, contestant, make_problems):
    contest = await _published(client, organizer, make_problems, started=True)
    url = f"/api/v1/contests/{contest['id']}/scoreboard"

    assert (await client.get(url, params={"view": "jury"})).status_code == 403
    assert (await client.get(url, params={"view": "jury"}, headers=contestant.headers)).status_code == 403
    assert (await client.get(url, params={"view": "jury"}, headers=organizer.headers)).status_code == 200
    assert (await client.get(url, params={"view": "everything"})).status_code == 400
    assert (await client.get("/api/v1/contests/999/scoreboard")).status_code == 404


async def test_openapi_schema_lists_contest_routes(client):
    response = await client.get("/docs/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/contests/{contest_id}/scoreboard" in paths
    assert "/api/v1/contests/{contest_id}/clarifications" in paths

"""Freeze: no public endpoint or channel reveals a post-freeze result; unfreeze reveals it step by step."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from websockets.asyncio.client import connect

from db.models import Role, utcnow
from tests.contests.conftest import (
    Spectator,
    cell_of,
    create_live_contest,
    iso,
    participant_id,
    register,
    row_of,
    scoreboard,
    set_verdict,
    store_submission,
)

STARTED_AGO = timedelta(hours=2)
FROZEN_AGO = timedelta(minutes=30)


def frozen_contest_changes() -> dict:
    start = utcnow() - STARTED_AGO
    return {"freeze_time": iso(utcnow() - FROZEN_AGO), "end_time": iso(start + timedelta(hours=5))}


async def _frozen_contest(client, make_account, make_contest) -> tuple[dict, dict]:
    contest = await make_contest(problems=2, started_ago=STARTED_AGO, **frozen_contest_changes())
    assert contest["state"] == "frozen"
    accounts = {name: await make_account(name) for name in ("ann", "bob", "cid")}
    for account in accounts.values():
        await register(client, contest, account)
    return contest, accounts


def _since_start(minutes_before_now: float = 0) -> timedelta:
    return STARTED_AGO - timedelta(minutes=minutes_before_now)


async def _play_freeze(db, contest, accounts, judged, queued) -> dict[str, int]:
    """ann solves A before the freeze; after it bob solves A, cid fails A and compiles badly on B."""
    a, b = (problem["problem_id"] for problem in contest["problems"])
    ids = {}
    ids["ann_a"] = await store_submission(db, contest, accounts["ann"].id, a, timedelta(minutes=10), "AC")
    await judged(ids["ann_a"])
    for key, name, problem, verdict in (("bob_a", "bob", a, "AC"), ("cid_a", "cid", a, "WA"), ("cid_b", "cid", b, "CE")):
        ids[key] = await store_submission(db, contest, accounts[name].id, problem, _since_start(10), None)
        await queued(ids[key])
        await set_verdict(db, ids[key], verdict)
        await judged(ids[key])
    return ids


async def test_public_board_hides_post_freeze_results(client, db, organizer, make_account, make_contest, judged, queued):
    contest, accounts = await _frozen_contest(client, make_account, make_contest)
    await _play_freeze(db, contest, accounts, judged, queued)

    public = await scoreboard(client, contest)
    jury = await scoreboard(client, contest, "jury", organizer.headers)

    assert public["frozen"] is True
    assert [row["username"] for row in public["rows"]][0] == "ann"
    for name, label in (("bob", "A"), ("cid", "A"), ("cid", "B")):
        cell = cell_of(row_of(public, name), label)
        assert (cell["num_judged"], cell["num_pending"], cell["solved"]) == (0, 1, False), (name, label)
    assert row_of(public, "bob")["score"] == {"num_solved": 0, "total_time": 0}
    assert cell_of(row_of(jury, "bob"), "A")["solved"] is True
    assert cell_of(row_of(jury, "cid"), "A")["num_judged"] == 1
    assert cell_of(row_of(jury, "cid"), "B")["num_judged"] == 0


async def test_contestant_listing_hides_others_during_freeze(client, db, make_account, make_contest, judged, queued):
    contest, accounts = await _frozen_contest(client, make_account, make_contest)
    ids = await _play_freeze(db, contest, accounts, judged, queued)
    ann = accounts["ann"]

    listing = await client.get("/api/v1/submissions", params={"contest": contest["id"]}, headers=ann.headers)
    single = await client.get(f"/api/v1/submissions/{ids['bob_a']}", headers=ann.headers)
    anonymous = await client.get("/api/v1/submissions", params={"contest": contest["id"]})

    assert listing.status_code == 200
    assert {item["id"] for item in listing.json()["items"]} == {ids["ann_a"]}
    assert single.status_code == 404
    assert anonymous.json()["items"] == []


async def test_problem_statistics_hide_frozen_results(client, db, make_account, make_contest, judged, queued):
    contest, accounts = await _frozen_contest(client, make_account, make_contest)
    problem = contest["problems"][0]["problem_id"]
    ann_ac = await store_submission(db, contest, accounts["ann"].id, problem, timedelta(minutes=10), "AC")
    await judged(ann_ac)
    before = (await client.get(f"/api/v1/problems/{problem}")).json()
    stats_before = (await client.get(f"/api/v1/problems/{problem}/stats")).json()

    frozen_ac = await store_submission(db, contest, accounts["bob"].id, problem, _since_start(5), "AC")
    await judged(frozen_ac)
    after = (await client.get(f"/api/v1/problems/{problem}")).json()
    stats_after = (await client.get(f"/api/v1/problems/{problem}/stats")).json()

    assert after["solver_count"] == before["solver_count"]
    assert after["acceptance_rate"] == before["acceptance_rate"]
    assert stats_after == stats_before
    assert stats_after["verdicts"] == {"AC": 1}


async def test_public_socket_never_shows_frozen_result(live_server, live_http, live_account, db):
    organizer = await live_account("organizer", Role.ORGANIZER)
    bob = await live_account("bob")
    contest = await create_live_contest(live_http, organizer, started_ago=STARTED_AGO, **frozen_contest_changes())
    await live_http.post(f"/api/v1/contests/{contest['id']}/register", headers=bob.headers)
    problem = contest["problems"][0]["problem_id"]
    board_url = f"{live_server.ws_url}/ws/contests/{contest['id']}/scoreboard"
    jury_url = f"{live_server.ws_url}/ws/contests/{contest['id']}/jury"

    async with connect(board_url) as public_socket, connect(jury_url, subprotocols=["bearer", organizer.access_token]) as jury_socket:
        public = Spectator(public_socket)
        jury = Spectator(jury_socket)
        await public.next()
        await jury.next()
        submission = await store_submission(db, contest, bob.id, problem, _since_start(1), None)
        await live_server.queued(submission)
        pending = await public.next_of("rows")
        await set_verdict(db, submission, "AC")
        await live_server.judged(submission)
        await jury.next_of("rows")
        solved = await jury.next_of("rows")
        later = await public.quiet(0.5)

    assert pending["data"]["rows"][0]["problems"][0]["num_pending"] == 1
    assert solved["data"]["rows"][0]["problems"][0]["solved"] is True
    for envelope in public.received:
        for row in envelope["data"].get("rows", []) if isinstance(envelope["data"], dict) else []:
            assert not any(cell["solved"] or cell["num_judged"] for cell in row["problems"]), envelope
    assert later == []
    assert '"solved":true' not in json.dumps(public.received, separators=(",", ":"))


async def test_unfreeze_public_equals_jury(client, app, db, organizer, make_account, make_contest, judged, queued):
    contest, accounts = await _frozen_contest(client, make_account, make_contest)
    await _play_freeze(db, contest, accounts, judged, queued)

    response = await client.post(f"/api/v1/contests/{contest['id']}/unfreeze", headers=organizer.headers)
    public = await scoreboard(client, contest)
    jury = await scoreboard(client, contest, "jury", organizer.headers)

    assert response.status_code == 200
    assert response.json()["frozen"] is False
    assert public["frozen"] is False
    assert public["rows"] == jury["rows"]
    assert public["first_to_solve"] == jury["first_to_solve"]
    for row in public["rows"]:
        rank = await _rank(client, app, contest, "public", row["team_id"])
        assert rank == row["rank"], row["username"]


async def _rank(client, app, contest, view, team_id):
    from tests.contests.conftest import on_app_loop

    return await on_app_loop(client, app.state.live.rankings.rank_of, contest["id"], view, team_id)


async def test_reveal_feed_in_ceremony_order(client, app, db, organizer, make_account, make_contest, judged, queued):
    from server.live import contest_channel
    from tests.contests.conftest import on_app_loop

    contest, accounts = await _frozen_contest(client, make_account, make_contest)
    await _play_freeze(db, contest, accounts, judged, queued)
    frozen_public = await scoreboard(client, contest)
    preview = await client.get(f"/api/v1/contests/{contest['id']}/reveal", headers=organizer.headers)

    await client.post(f"/api/v1/contests/{contest['id']}/unfreeze", headers=organizer.headers)
    envelopes = await on_app_loop(client, app.state.hub.since, contest_channel(contest["id"], "scoreboard"), 0)
    steps = [envelope.data for envelope in envelopes if envelope.type == "reveal"]
    final = await scoreboard(client, contest)

    cid = await participant_id(db, contest, accounts["cid"].id)
    bob = await participant_id(db, contest, accounts["bob"].id)
    # The lowest-ranked participant with hidden results goes first: cid (A then B), then bob.
    assert [(step["team_id"], step["label"]) for step in steps] == [(cid, "A"), (cid, "B"), (bob, "A")]
    assert steps[0]["rank_before"] == 2
    # cid's frozen CE was shown as pending; revealing it leaves an empty cell.
    assert steps[1]["cell"]["num_pending"] == 0
    assert steps[1]["cell"]["num_judged"] == 0
    assert (steps[-1]["rank_before"], steps[-1]["rank_after"]) == (2, 2)
    assert steps[-1]["row"]["problems"] == row_of(final, "bob")["problems"]
    assert steps[-1]["row"]["score"] == row_of(final, "bob")["score"]
    assert preview.status_code == 200
    assert [(step["team_id"], step["label"]) for step in preview.json()] == [(cid, "A"), (cid, "B"), (bob, "A")]
    assert row_of(frozen_public, "bob")["rank"] == steps[-1]["rank_before"]


async def test_reveal_preview_for_organizers_only(client, contestant, make_contest):
    contest = await make_contest(started_ago=STARTED_AGO, **frozen_contest_changes())

    assert (await client.get(f"/api/v1/contests/{contest['id']}/reveal", headers=contestant.headers)).status_code == 403
    assert (await client.get(f"/api/v1/contests/{contest['id']}/reveal")).status_code == 401


async def test_board_stays_frozen_after_end(client, db, organizer, make_account, make_contest, judged, queued):
    contest, accounts = await _frozen_contest(client, make_account, make_contest)
    await _play_freeze(db, contest, accounts, judged, queued)

    ended = await client.post(f"/api/v1/contests/{contest['id']}/end", headers=organizer.headers)
    public = await scoreboard(client, contest)

    assert ended.json()["state"] == "ended"
    assert public["frozen"] is True
    assert cell_of(row_of(public, "bob"), "A")["solved"] is False
    unfrozen = await client.post(f"/api/v1/contests/{contest['id']}/unfreeze", headers=organizer.headers)
    assert unfrozen.json()["state"] == "ended"
    assert cell_of(row_of(await scoreboard(client, contest), "bob"), "A")["solved"] is True


@pytest.mark.parametrize("path", ["/api/v1/submissions?contest={contest}", "/api/v1/submissions/{bob_a}", "/api/v1/leaderboard"])
async def test_ended_frozen_contest_hides_results(path, client, db, organizer, make_account, make_contest, judged, queued):
    contest, accounts = await _frozen_contest(client, make_account, make_contest)
    ids = await _play_freeze(db, contest, accounts, judged, queued)
    await client.post(f"/api/v1/contests/{contest['id']}/end", headers=organizer.headers)

    response = await client.get(path.format(contest=contest["id"], bob_a=ids["bob_a"]), headers=accounts["ann"].headers)

    assert response.status_code in (200, 404)
    text = response.text
    if "/leaderboard" in path:
        assert "bob" not in text
    else:
        assert f'"id":{ids["bob_a"]}' not in text.replace(" ", "")

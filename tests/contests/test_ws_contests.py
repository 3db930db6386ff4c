"""Contest WebSockets on a real server: snapshot and deltas, resume, bad input, refusal before the upgrade."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from db.models import Role
from server.api.ws_contests import bearer_token_from_subprotocols
from tests.contests.conftest import Spectator, create_live_contest, store_submission

POLICY_VIOLATION = 1008


@pytest.fixture
async def setup(live_server, live_http, live_account):
    organizer = await live_account("organizer", Role.ORGANIZER)
    ann = await live_account("ann")
    contest = await create_live_contest(live_http, organizer)
    response = await live_http.post(f"/api/v1/contests/{contest['id']}/register", headers=ann.headers)
    assert response.status_code == 201
    return organizer, ann, contest


def board_url(server, contest_id: int, kind: str = "scoreboard", query: str = "") -> str:
    return f"{server.ws_url}/ws/contests/{contest_id}/{kind}{query}"


async def test_snapshot_then_delta(live_server, db, setup):
    organizer, ann, contest = setup
    problem = contest["problems"][0]["problem_id"]

    async with connect(board_url(live_server, contest["id"])) as socket:
        spectator = Spectator(socket)
        snapshot = await spectator.next()
        submission = await store_submission(db, contest, ann.id, problem, timedelta(minutes=12), "AC")
        await live_server.judged(submission)
        delta = await spectator.next_of("rows")

    assert snapshot["type"] == "snapshot"
    assert [row["username"] for row in snapshot["data"]["rows"]] == ["ann"]
    assert delta["seq"] > snapshot["seq"]
    row = delta["data"]["rows"][0]
    assert row["username"] == "ann"
    assert row["score"] == {"num_solved": 1, "total_time": 12}
    assert row["problems"][0]["first_to_solve"] is True


async def test_resume_with_since_replays_missed(live_server, db, setup):
    organizer, ann, contest = setup
    problem = contest["problems"][0]["problem_id"]
    async with connect(board_url(live_server, contest["id"])) as socket:
        snapshot = await Spectator(socket).next()

    missed = await store_submission(db, contest, ann.id, problem, timedelta(minutes=3), "WA")
    await live_server.judged(missed)

    async with connect(board_url(live_server, contest["id"], query=f"?since={snapshot['seq']}")) as socket:
        first = await Spectator(socket).next()

    assert first["type"] == "rows"
    assert first["seq"] == snapshot["seq"] + 1
    assert first["data"]["rows"][0]["problems"][0]["num_judged"] == 1


@pytest.mark.parametrize("since", ["abc", "-1", "999999", "1.5", "1" * 30, ""])
async def test_bad_since_gets_snapshot(since, live_server, setup):
    _, _, contest = setup

    async with connect(board_url(live_server, contest["id"], query=f"?since={since}")) as socket:
        first = await Spectator(socket).next()

    assert first["type"] == "snapshot"
    assert first["data"]["contest_id"] == contest["id"]


BAD_MESSAGES = {
    "malformed": "{not json",
    "oversized": json.dumps({"type": "ping", "padding": "x" * 2000}),
    "unexpected type": json.dumps({"type": "subscribe", "channel": "contest:1:jury"}),
    "unknown field": json.dumps({"type": "ping", "extra": 1}),
    "binary": b"\x00\x01\x02",
}


@pytest.mark.parametrize("kind", sorted(BAD_MESSAGES))
async def test_bad_message_closes_only_that_socket(kind, live_server, db, setup):
    organizer, ann, contest = setup
    url = board_url(live_server, contest["id"])

    async with connect(url) as bystander_socket, connect(url) as offender_socket:
        bystander = Spectator(bystander_socket)
        offender = Spectator(offender_socket)
        await bystander.next()
        await offender.next()

        await offender_socket.send(BAD_MESSAGES[kind])
        with pytest.raises(ConnectionClosed) as closed:
            await offender.next()

        await bystander_socket.send(json.dumps({"type": "ping"}))
        pong = await bystander.next()
        submission = await store_submission(db, contest, ann.id, contest["problems"][0]["problem_id"], timedelta(minutes=1), "WA")
        await live_server.judged(submission)
        delta = await bystander.next_of("rows")

    assert closed.value.rcvd.code == POLICY_VIOLATION
    assert pong["type"] == "pong"
    assert delta["data"]["rows"][0]["username"] == "ann"


@pytest.mark.parametrize("kind", ["scoreboard", "jury", "events"])
async def test_unknown_contest_refused_before_upgrade(kind, live_server, setup):
    with pytest.raises(InvalidStatus) as refused:
        async with connect(board_url(live_server, 999, kind)):
            pass

    assert refused.value.response.status_code == 404


async def test_draft_contest_refused_before_upgrade(live_server, live_http, setup):
    organizer, _, _ = setup
    body = {"title": "Draft", "start_time": "2031-01-01T10:00:00Z", "end_time": "2031-01-01T15:00:00Z"}
    draft = (await live_http.post("/api/v1/contests", json=body, headers=organizer.headers)).json()

    with pytest.raises(InvalidStatus) as refused:
        async with connect(board_url(live_server, draft["id"])):
            pass

    assert refused.value.response.status_code == 404


async def test_jury_socket_with_bearer_subprotocol(live_server, db, setup):
    organizer, ann, contest = setup

    async with connect(
        board_url(live_server, contest["id"], "jury"), subprotocols=["bearer", organizer.access_token]
    ) as socket:
        snapshot = await Spectator(socket).next()
        accepted = socket.subprotocol

    assert accepted == "bearer"
    assert snapshot["type"] == "snapshot"
    assert snapshot["data"]["view"] == "jury"


@pytest.mark.parametrize(
    "who, status",
    [("nobody", 401), ("garbage", 401), ("contestant", 403)],
)
async def test_jury_socket_refused(who, status, live_server, setup):
    organizer, ann, contest = setup
    protocols = {
        "nobody": None,
        "garbage": ["bearer", "not.a.token"],
        "contestant": ["bearer", ann.access_token],
    }[who]

    with pytest.raises(InvalidStatus) as refused:
        async with connect(board_url(live_server, contest["id"], "jury"), subprotocols=protocols):
            pass

    assert refused.value.response.status_code == status


@pytest.mark.parametrize(
    "header, token",
    [
        ("bearer, abc.def", "abc.def"),
        ("Bearer,abc", "abc"),
        ("bearer", None),
        ("bearer, ", None),
        ("token, abc", None),
        ("bearer, abc, extra", None),
        (None, None),
    ],
)
def test_bearer_subprotocol_parsing(header, token):
    assert bearer_token_from_subprotocols(header) == token


async def test_events_socket_gets_public_clarifications_only(live_server, live_http, setup):
    organizer, ann, contest = setup

    async with connect(board_url(live_server, contest["id"], "events")) as socket:
        spectator = Spectator(socket)
        snapshot = await spectator.next()
        question = await live_http.post(
            f"/api/v1/contests/{contest['id']}/clarifications", json={"question": "Is n > 0?"}, headers=ann.headers
        )
        await live_http.post(
            f"/api/v1/contests/{contest['id']}/clarifications/{question.json()['id']}/answer",
            json={"answer": "Yes, privately.", "to": "asker"},
            headers=organizer.headers,
        )
        await live_http.post(
            f"/api/v1/contests/{contest['id']}/announcements", json={"text": "Problem B fixed."}, headers=organizer.headers
        )
        announcement = await spectator.next_of("clarification")
        rest = await spectator.quiet()

    assert snapshot["data"]["contest"]["state"] == "running"
    assert announcement["data"]["answer"] == "Problem B fixed."
    assert announcement["data"]["is_announcement"] is True
    texts = json.dumps(spectator.received)
    assert "Is n > 0?" not in texts
    assert "privately" not in texts
    assert rest == []


async def test_events_socket_sees_state_changes(live_server, live_http, setup):
    organizer, _, contest = setup

    async with connect(board_url(live_server, contest["id"], "events")) as events_socket, connect(
        board_url(live_server, contest["id"])
    ) as board_socket:
        events = Spectator(events_socket)
        board = Spectator(board_socket)
        await events.next()
        await board.next()
        response = await live_http.post(f"/api/v1/contests/{contest['id']}/freeze", headers=organizer.headers)
        assert response.status_code == 200
        change = await events.next_of("contest")
        banner = await board.next_of("state")

    assert change["data"]["change"] == "freeze"
    assert change["data"]["state"] == "frozen"
    assert banner["data"]["frozen"] is True


async def test_stalled_client_dropped_others_served(live_server, setup):
    # A client that stops reading fills its TCP buffers, then its bounded backlog, and is dropped.
    import socket as sockets

    from realtime.ws import MAX_CLIENT_BACKLOG
    from server.live import contest_channel

    _, _, contest = setup
    url = board_url(live_server, contest["id"])
    channel = contest_channel(contest["id"], "scoreboard")
    hub = live_server.app.state.hub
    batch = 50
    # 1,050 envelopes of 16 KiB: about 12 MiB beyond the backlog, more than the stalled client's TCP buffers take.
    count = (MAX_CLIENT_BACKLOG // batch + 16) * batch
    stalled_socket = sockets.create_connection(("127.0.0.1", live_server.port))
    stalled_socket.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)

    async def publish_filler(first: int) -> None:
        for index in range(first, first + batch):
            await hub.publish(channel, "filler", {"index": index, "pad": "x" * 16384})

    async def feeds() -> list:
        return list(hub._fanouts[channel].subscribers)

    async with connect(url, sock=stalled_socket, max_queue=1, close_timeout=1) as stalled, connect(url) as reader:
        await stalled.recv()
        snapshot = json.loads(await reader.recv())
        indexes = []
        for first in range(0, count, batch):
            # The reader takes each batch before the next, so only the stalled client falls behind.
            await live_server.call(publish_filler, first)
            while len(indexes) < first + batch:
                envelope = json.loads(await reader.recv())
                indexes.append(envelope["data"]["index"])
        states = [(feed.failed, feed.closing) for feed in await live_server.call(feeds)]

    assert snapshot["type"] == "snapshot"
    assert indexes == list(range(count))
    assert sorted(states) == [(False, False), (True, True)]

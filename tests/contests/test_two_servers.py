"""Two `codearena serve` processes joined by PostgreSQL and Redis show spectators the same deltas in the same order."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.contests.conftest import Spectator, create_live_contest, set_verdict, store_submission
from tests.contests.servers import (
    account,
    claimed_redis_db,
    fresh_postgres,
    judge_side,
    run_hooks,
    server_environment,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def _collect_until(spectator: Spectator, count: int, timeout: float = 10.0) -> list[dict]:
    deadline = asyncio.get_running_loop().time() + timeout
    while len(spectator.received) < count:
        await spectator.next(max(deadline - asyncio.get_running_loop().time(), 0.01))
    return spectator.received


async def test_spectators_on_two_servers_see_same_deltas(tmp_path):
    async with fresh_postgres() as database_url, claimed_redis_db() as redis_db:
        environment = server_environment(database_url, redis_db, tmp_path / "data")
        first = await start_server(environment, tmp_path / "first.log")
        second = None
        try:
            second = await start_server(environment, tmp_path / "second.log")
            await _scenario(database_url, redis_db, tmp_path, first, second)
        finally:
            stop_server(first)
            if second is not None:
                stop_server(second)


async def _scenario(database_url: str, redis_db: int, tmp_path, first, second) -> None:
    async with httpx.AsyncClient(base_url=first.base_url, timeout=15) as http_first, httpx.AsyncClient(
        base_url=second.base_url, timeout=15
    ) as http_second:
        organizer = await account(http_first, database_url, "organizer", "organizer")
        names = ("ann", "bob", "cid")
        accounts = {name: await account(http_first, database_url, name) for name in names}
        contest = await create_live_contest(http_first, organizer, problems=2)
        labels = {problem["label"]: problem["problem_id"] for problem in contest["problems"]}
        url = f"/ws/contests/{contest['id']}/scoreboard"

        async with connect(first.ws_url + url) as socket_first, connect(second.ws_url + url) as socket_second:
            spectators = [Spectator(socket_first), Spectator(socket_second)]
            snapshots = [await spectator.next() for spectator in spectators]
            expected = 0

            # Registrations go through both servers, verdicts through a judge worker of its own.
            for name, http in zip(names, (http_first, http_second, http_first)):
                response = await http.post(f"/api/v1/contests/{contest['id']}/register", headers=accounts[name].headers)
                assert response.status_code == 201, response.text
                expected += 1

            async with judge_side(database_url, redis_db, tmp_path / "judge-data") as live:
                plays = [("ann", "A", 5, "WA"), ("bob", "A", 6, "AC"), ("ann", "A", 7, "AC"), ("cid", "B", 8, None),
                         ("ann", "B", 9, "AC"), ("bob", "B", 10, "WA")]
                for name, label, minute, verdict in plays:
                    submission = await store_submission(
                        live.session_factory, contest, accounts[name].id, labels[label], timedelta(minutes=minute), None
                    )
                    await run_hooks(live, "on_queued", submission)
                    expected += 1
                    if verdict is not None:
                        await set_verdict(live.session_factory, submission, verdict)
                        await run_hooks(live, "on_judged", submission)
                        expected += 1

            response = await http_second.post(f"/api/v1/contests/{contest['id']}/freeze", headers=organizer.headers)
            assert response.status_code == 200
            expected += 1

            received = [await _collect_until(spectator, expected + 1) for spectator in spectators]
            extra = [await spectator.quiet(0.5) for spectator in spectators]

        board_first = (await http_first.get(f"/api/v1/contests/{contest['id']}/scoreboard")).json()
        board_second = (await http_second.get(f"/api/v1/contests/{contest['id']}/scoreboard")).json()

    assert snapshots[0]["seq"] == snapshots[1]["seq"]
    first_seen, second_seen = ([(e["seq"], e["type"], json.dumps(e["data"], sort_keys=True)) for e in r[1:]] for r in received)
    assert first_seen == second_seen
    assert [seq for seq, _, _ in first_seen] == list(range(snapshots[0]["seq"] + 1, snapshots[0]["seq"] + 1 + expected))
    assert [kind for _, kind, _ in first_seen][-1] == "state"
    assert extra == [[], []]
    assert board_first["rows"] == board_second["rows"]
    assert [(row["username"], row["rank"]) for row in board_first["rows"]] == [("ann", 1), ("bob", 2), ("cid", 3)]
    last_rows = {}
    for _, kind, data in first_seen:
        if kind == "rows":
            for row in json.loads(data)["rows"]:
                last_rows[row["username"]] = row
    for row in board_first["rows"]:
        assert last_rows[row["username"]]["score"] == row["score"]
        assert last_rows[row["username"]]["sort_key"] == row["sort_key"]

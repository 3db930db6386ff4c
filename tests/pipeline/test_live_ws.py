"""Live verdicts over WebSocket against a real `codearena serve` with the embedded judge."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.pipeline.conftest import (
    CODEARENA,
    SLOW_PROGRAM,
    Api,
    Process,
    base_environment,
    free_port,
    remove_pool_containers,
    run_cli,
    slow_problem,
    wait_http_ready,
)

pytestmark = pytest.mark.docker

TESTS = 8
TIMEOUT_S = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, docker_ready) -> Iterator[tuple[Api, str, dict]]:
    """A server with a slow problem and the users admin, ann and bob; the fixtures dict also contains its log path."""
    root = tmp_path_factory.mktemp("live")
    port = free_port()
    environment = base_environment(root / "data", judge_concurrency="2", limits_submissions_per_minute="100")
    run_cli(environment, "db", "upgrade")
    password_file = root / "admin-password"
    password_file.write_text("admin password\n")
    run_cli(environment, "users", "create-admin", "--username", "admin", "--password-file", str(password_file))
    process = Process("server", [CODEARENA, "serve", "--port", str(port)], environment, root / "server.log").start()
    api = Api(f"http://127.0.0.1:{port}")
    try:
        wait_http_ready(api.base_url, process)
        admin = api.login("admin", "admin password")
        problem = api.create_problem(admin, slow_problem(TESTS))
        users = {"admin": admin, "ann": api.register("ann"), "bob": api.register("bob")}
        yield api, f"ws://127.0.0.1:{port}", {"problem": problem, "log": process.log_path, **users}
    finally:
        api.close()
        process.stop()
        remove_pool_containers(process.pool_ids())


async def receive(socket) -> dict:
    return json.loads(await socket.recv())


def events_until_final(messages: list[dict]) -> bool:
    return any(message["type"] == "final" for message in messages)


async def test_me_socket_streams_every_event(server):
    api, ws_url, fixtures = server
    ann = fixtures["ann"]

    async with connect(f"{ws_url}/ws/me", subprotocols=["bearer", ann.token], open_timeout=10) as socket:
        assert socket.subprotocol == "bearer"
        snapshot = await receive(socket)
        submission_id = api.submit(ann, fixtures["problem"]["id"], SLOW_PROGRAM)
        messages: list[dict] = []
        deadline = time.monotonic() + TIMEOUT_S
        while not events_until_final(messages) and time.monotonic() < deadline:
            messages.append(await receive(socket))

    assert snapshot["type"] == "snapshot"
    seqs = [snapshot["seq"]] + [message["seq"] for message in messages]
    assert seqs == list(range(snapshot["seq"], snapshot["seq"] + len(seqs)))
    assert all(message["data"]["submission_id"] == submission_id for message in messages)
    types = [message["type"] for message in messages]
    assert types == ["queued", "judging", "compiling", "compiled"] + ["test"] * TESTS + ["final"]
    assert [message["data"]["index"] for message in messages if message["type"] == "test"] == list(range(1, TESTS + 1))
    test_event = next(message for message in messages if message["type"] == "test")
    assert {"verdict", "time_ms", "memory_kb"} <= set(test_event["data"])
    assert messages[-1]["data"]["verdict"] == "AC"
    assert messages[-1]["data"]["test_cases_passed"] == TESTS


async def test_reconnect_with_since_misses_nothing(server):
    api, ws_url, fixtures = server
    ann = fixtures["ann"]
    submission_id = api.submit(ann, fixtures["problem"]["id"], SLOW_PROGRAM)
    url = f"{ws_url}/ws/submissions/{submission_id}"

    async with connect(url, subprotocols=["bearer", ann.token], open_timeout=10) as socket:
        snapshot = await receive(socket)
        first: list[dict] = []
        while not any(message["type"] == "test" and message["data"]["index"] >= 3 for message in first):
            first.append(await receive(socket))
            assert not events_until_final(first), "judging ended before the client could disconnect"
    last_seq = first[-1]["seq"]
    # Disconnected while two or more tests finish.
    time.sleep(0.5)
    async with connect(f"{url}?since={last_seq}", subprotocols=["bearer", ann.token], open_timeout=10) as socket:
        second: list[dict] = []
        deadline = time.monotonic() + TIMEOUT_S
        while not events_until_final(second) and time.monotonic() < deadline:
            second.append(await receive(socket))

    assert snapshot["type"] == "snapshot"
    assert snapshot["data"]["id"] == submission_id
    assert second[0]["type"] != "snapshot"
    assert second[0]["seq"] == last_seq + 1
    seqs = [snapshot["seq"]] + [message["seq"] for message in first + second]
    assert seqs == list(range(snapshot["seq"], snapshot["seq"] + len(seqs)))
    seen = [test["index"] for test in snapshot["data"]["tests"]]
    seen += [message["data"]["index"] for message in first + second if message["type"] == "test"]
    assert seen == list(range(1, TESTS + 1))
    assert second[-1]["data"]["verdict"] == "AC"


async def test_late_client_gets_snapshot_with_tests(server):
    api, ws_url, fixtures = server
    ann = fixtures["ann"]
    submission_id = api.submit(ann, fixtures["problem"]["id"], SLOW_PROGRAM)
    api.wait_judged(ann, [submission_id], TIMEOUT_S)

    async with connect(f"{ws_url}/ws/submissions/{submission_id}", subprotocols=["bearer", ann.token]) as socket:
        snapshot = await receive(socket)

    assert snapshot["type"] == "snapshot"
    assert snapshot["data"]["status"] == "JUDGED"
    assert [test["index"] for test in snapshot["data"]["tests"]] == list(range(1, TESTS + 1))
    assert snapshot["data"]["code"] == SLOW_PROGRAM


async def test_foreign_submission_rejected(server):
    api, ws_url, fixtures = server
    ann, bob, admin = fixtures["ann"], fixtures["bob"], fixtures["admin"]
    submission_id = api.submit(ann, fixtures["problem"]["id"], SLOW_PROGRAM)
    url = f"{ws_url}/ws/submissions/{submission_id}"

    attempts = {
        "other user": dict(subprotocols=["bearer", bob.token]),
        "no token": {},
        "bad token": dict(subprotocols=["bearer", "not.a.token"]),
    }
    for name, options in attempts.items():
        with pytest.raises(InvalidStatus) as rejected:
            async with connect(url, open_timeout=10, **options):
                pass
        assert rejected.value.response.status_code == 403, name
    with pytest.raises(InvalidStatus) as query_token:
        async with connect(f"{url}?token={ann.token}", open_timeout=10):
            pass
    assert query_token.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as missing:
        async with connect(f"{ws_url}/ws/submissions/999999", subprotocols=["bearer", ann.token], open_timeout=10):
            pass
    assert missing.value.response.status_code == 403

    async with connect(url, subprotocols=["bearer", admin.token], open_timeout=10) as socket:
        staff_snapshot = await receive(socket)
    assert staff_snapshot["data"]["id"] == submission_id
    api.wait_judged(ann, [submission_id], TIMEOUT_S)


async def test_header_token_stays_out_of_log(server):
    api, ws_url, fixtures = server
    fresh = api.login("ann", "correct horse")

    async with connect(f"{ws_url}/ws/me", subprotocols=["bearer", fresh.token]) as socket:
        snapshot = await receive(socket)

    log = fixtures["log"].read_text(errors="replace")
    assert snapshot["type"] == "snapshot"
    assert "/ws/me" in log
    assert fresh.token.split(".")[2] not in log

"""Embedded mode: `codearena serve` with SQLite and the judge inside, killed and stopped mid-judging.

After each restart, start-up recovery must requeue what was left QUEUED or
JUDGING, and every submission must end JUDGED with the right verdict, one
judging and one set of test results.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.pipeline.conftest import (
    CODEARENA,
    EXPECTED,
    PROGRAMS,
    SLOW_PROGRAM,
    Api,
    Process,
    base_environment,
    free_port,
    run_cli,
    slow_problem,
    sum_problem,
    wait_http_ready,
)

pytestmark = pytest.mark.docker

SLOW_TESTS = 6


def read_rows(database: Path, query: str) -> list[tuple]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def statuses(database: Path) -> dict[str, int]:
    return dict(read_rows(database, "SELECT status, count(*) FROM judgings GROUP BY status"))


def wait_mid_judging(database: Path, server: Process, timeout: float = 60.0) -> None:
    """Wait until some judgings are done and at least one is running, with more waiting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.alive(), server.log()[-3000:]
        counts = statuses(database)
        if counts.get("JUDGED", 0) >= 1 and counts.get("JUDGING", 0) >= 1 and counts.get("QUEUED", 0) >= 1:
            return
        time.sleep(0.05)
    raise AssertionError(f"never caught the server mid-judging: {statuses(database)}")


def start_server(root: Path, environment: dict, port: int, processes: list[Process], number: int) -> Process:
    server = Process(f"server-{number}", [CODEARENA, "serve", "--port", str(port)], environment, root / f"server-{number}.log")
    processes.append(server.start())
    wait_http_ready(f"http://127.0.0.1:{port}", server)
    return server


def submit_batch(api: Api, users, problems) -> list[tuple[int, str]]:
    """Submit slow solutions and one of each verdict kind; return (id, expected kind)."""
    batch = []
    for index, user in enumerate(users):
        batch.append((api.submit(user, problems["slow"]["id"], SLOW_PROGRAM), "SLOW"))
        batch.append((api.submit(user, problems["sum"]["id"], PROGRAMS[list(PROGRAMS)[index % len(PROGRAMS)]]), list(PROGRAMS)[index % len(PROGRAMS)]))
        batch.append((api.submit(user, problems["slow"]["id"], SLOW_PROGRAM), "SLOW"))
    return batch


def check_results(database: Path, api: Api, admin, batch: list[tuple[int, str]]) -> None:
    results = api.wait_judged(admin, [submission_id for submission_id, _ in batch], timeout=120)
    for submission_id, kind in batch:
        verdict, tests_run, passed = ("AC", SLOW_TESTS, SLOW_TESTS) if kind == "SLOW" else EXPECTED[kind]
        detail = results[submission_id]
        assert detail["verdict"] == verdict, (submission_id, kind, detail)
        assert detail["test_cases_passed"] == passed, (submission_id, detail)
        assert detail["attempt"] == 1, detail
        assert [test["index"] for test in detail["tests"]] == list(range(1, tests_run + 1)), detail
        assert [judging["status"] for judging in detail["judgings"]] == ["JUDGED"], detail

    ids = ",".join(str(submission_id) for submission_id, _ in batch)
    duplicated = read_rows(
        database,
        "SELECT judging_id, position, count(*) FROM test_results JOIN judgings ON judgings.id = test_results.judging_id "
        f"WHERE judgings.submission_id IN ({ids}) GROUP BY judging_id, position HAVING count(*) > 1",
    )
    assert duplicated == []


def test_embedded_server_restarts_mid_judging(tmp_path, processes, docker_ready):
    port = free_port()
    data = tmp_path / "data"
    environment = base_environment(data, judge_concurrency="1", limits_submissions_per_minute="100")
    run_cli(environment, "db", "upgrade")
    (tmp_path / "password").write_text("admin password\n")
    run_cli(environment, "users", "create-admin", "--username", "admin", "--password-file", str(tmp_path / "password"))
    database = data / "codearena.sqlite3"

    server = start_server(tmp_path, environment, port, processes, 1)
    api = Api(f"http://127.0.0.1:{port}")
    admin = api.login("admin", "admin password")
    problems = {"slow": api.create_problem(admin, slow_problem(SLOW_TESTS)), "sum": api.create_problem(admin, sum_problem())}
    users = [api.register(f"user{number}") for number in range(3)]

    killed_batch = submit_batch(api, users, problems)
    wait_mid_judging(database, server)
    server.popen.send_signal(signal.SIGKILL)
    server.popen.wait(timeout=10)
    left = statuses(database)
    assert left.get("JUDGING", 0) >= 1
    assert left.get("QUEUED", 0) >= 1

    server = start_server(tmp_path, environment, port, processes, 2)
    check_results(database, api, admin, killed_batch)

    stopped_batch = submit_batch(api, users, problems)
    wait_mid_judging(database, server)
    # uvicorn re-raises SIGTERM after its graceful shutdown, so the exit status may be -SIGTERM.
    assert server.stop() in (0, -signal.SIGTERM), server.log()[-3000:]
    left = statuses(database)
    assert left.get("QUEUED", 0) + left.get("JUDGING", 0) >= 1

    start_server(tmp_path, environment, port, processes, 3)
    check_results(database, api, admin, stopped_batch)
    api.close()

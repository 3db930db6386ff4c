"""50 submissions through the Redis job stream, two `codearena judge` workers, one killed with SIGKILL.

Real PostgreSQL, Redis and Docker. The server runs without a judge; the
workers have their own data directories, so they fetch test data from the
server over the worker-token route. Every submission must end JUDGED with
the expected verdict, with one judging, one set of test results and one
final event, and the leaderboard must match one recomputed from the rows.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import timedelta

import msgspec
import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from db.engine import create_engine
from db.models import utcnow
from server.stats import DIFFICULTY_POINTS
from tests.pipeline.conftest import (
    CODEARENA,
    EXPECTED,
    PROGRAMS,
    Api,
    Process,
    base_environment,
    free_port,
    run_cli,
    sum_problem,
    wait_http_ready,
)

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.postgres]

USERS = 5
PER_USER = 10
KINDS = ["AC", "WA", "RTE", "TLE", "CE"]
CLAIM_TIMEOUT_S = 3
WORKER_TOKEN = "worker-token-for-the-integration-test"


def plan() -> list[tuple[int, str, str]]:
    """(user index, problem key, program kind) for every submission, with solved sets that differ per user."""
    submissions = []
    for user in range(USERS):
        for number in range(PER_USER):
            problem = "easy" if number % 2 == 0 else "hard"
            kind = KINDS[(user + number) % len(KINDS)]
            no_accept = user == 4 or (user == 2 and problem == "hard") or (user == 3 and problem == "easy")
            if kind == "AC" and no_accept:
                kind = "WA"
            submissions.append((user, problem, kind))
    return submissions


def expected_leaderboard(rows, difficulty: dict[int, str], usernames: dict[int, str]) -> list[tuple[int, str, int, int]]:
    solved: dict[int, set[int]] = {}
    for user_id, problem_id, verdict in rows:
        if verdict == "AC":
            solved.setdefault(user_id, set()).add(problem_id)
    scored = [
        (len(problems), sum(DIFFICULTY_POINTS[difficulty[problem]] for problem in problems), usernames[user_id])
        for user_id, problems in solved.items()
    ]
    scored.sort(key=lambda row: (-row[0], -row[1], row[2]))
    board = []
    for position, (count, score, username) in enumerate(scored, start=1):
        rank = board[-1][0] if board and (board[-1][2], board[-1][3]) == (count, score) else position
        board.append((rank, username, count, score))
    return board


def wait_workers_ready(api: Api, workers: list[Process], timeout: float = 60.0) -> None:
    """Wait until both workers run their pools and the server lists python3 as ok."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in workers:
            assert worker.alive(), worker.log()[-3000:]
        started = all(" started: " in worker.log() for worker in workers)
        languages = {item["id"]: item["status"] for item in api.client.get("/api/v1/languages").json()}
        if started and languages.get("python3") == "ok":
            return
        time.sleep(0.2)
    raise AssertionError("judge workers not ready:\n" + "\n".join(worker.log()[-2000:] for worker in workers))


async def slow_judging_held_by(engine, pid: int, slow_ids: set[int]) -> int | None:
    """Return a submission the worker `pid` started judging in the last 300 ms, among the slow ones."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT submission_id, started_at FROM judgings WHERE status = 'JUDGING' AND worker LIKE :pattern"),
                {"pattern": f"%:{pid}:%"},
            )
        ).all()
    recent = utcnow() - timedelta(milliseconds=300)
    return next((submission_id for submission_id, started_at in rows if submission_id in slow_ids and started_at > recent), None)


async def test_redis_stream_survives_killed_worker(tmp_path, postgres_url, redis_url, processes, docker_ready):
    started = time.monotonic()
    port = free_port()
    server_url = f"http://127.0.0.1:{port}"
    shared = {"database_url": postgres_url, "redis_url": redis_url, "judge_worker_token": WORKER_TOKEN}
    server_env = base_environment(
        tmp_path / "server-data", **shared, judge_embedded="false", limits_submissions_per_minute="100"
    )
    run_cli(server_env, "db", "upgrade")
    (tmp_path / "password").write_text("admin password\n")
    run_cli(server_env, "users", "create-admin", "--username", "admin", "--password-file", str(tmp_path / "password"))
    server = Process("server", [CODEARENA, "serve", "--port", str(port)], server_env, tmp_path / "server.log").start()
    processes.append(server)
    wait_http_ready(server_url, server)

    workers = []
    for number in range(2):
        environment = base_environment(tmp_path / f"worker-{number}", **shared, judge_concurrency="1")
        argv = [CODEARENA, "judge", "--claim-timeout", str(CLAIM_TIMEOUT_S), "--server-url", server_url]
        workers.append(Process(f"worker-{number}", argv, environment, tmp_path / f"worker-{number}.log").start())
    processes.extend(workers)

    api = Api(server_url)
    admin = api.login("admin", "admin password")
    wait_workers_ready(api, workers)
    problems = {
        "easy": api.create_problem(admin, sum_problem(difficulty="EASY")),
        "hard": api.create_problem(admin, sum_problem(difficulty="HARD")),
    }
    users = [api.register(f"user{number}") for number in range(USERS)]
    submissions = plan()
    ids = [api.submit(users[user], problems[problem]["id"], PROGRAMS[kind]) for user, problem, kind in submissions]
    submitted = time.monotonic()

    engine = create_engine(postgres_url)
    try:
        # A TLE judging runs about a second, so a kill right after it starts lands mid-judging.
        slow_ids = {submission_id for submission_id, (_, _, kind) in zip(ids, submissions) if kind == "TLE"}
        doomed = workers[0]
        held = None
        deadline = time.monotonic() + 60
        while held is None and time.monotonic() < deadline:
            assert doomed.alive(), doomed.log()[-3000:]
            held = await slow_judging_held_by(engine, doomed.pid, slow_ids)
            await asyncio.sleep(0.02)
        assert held is not None, "the first worker never started a TLE judging"
        doomed.popen.send_signal(signal.SIGKILL)
        doomed.popen.wait(timeout=10)

        results = api.wait_judged(admin, ids, timeout=180)
        finished = time.monotonic()

        async with engine.connect() as connection:
            judgings = (
                await connection.execute(
                    text("SELECT submission_id, attempt, status, verdict, worker, id FROM judgings ORDER BY submission_id")
                )
            ).all()
            test_rows = (
                await connection.execute(text("SELECT judging_id, position FROM test_results ORDER BY judging_id, position"))
            ).all()
            submission_rows = (await connection.execute(text("SELECT user_id, problem_id, verdict FROM submissions"))).all()
    finally:
        await engine.dispose()

    for submission_id, (user, problem, kind) in zip(ids, submissions):
        verdict, tests_run, passed = EXPECTED[kind]
        detail = results[submission_id]
        assert detail["verdict"] == verdict, (submission_id, kind, detail)
        assert detail["attempt"] == 1, detail
        assert detail["test_cases_passed"] == passed, detail
        assert [test["index"] for test in detail["tests"]] == list(range(1, tests_run + 1)), detail

    assert [row[0] for row in judgings] == ids
    assert {(row[1], row[2]) for row in judgings} == {(1, "JUDGED")}
    positions: dict[int, list[int]] = {}
    for judging_id, position in test_rows:
        positions.setdefault(judging_id, []).append(position)
    for submission_id, attempt, status, verdict, worker, judging_id in judgings:
        kind = submissions[ids.index(submission_id)][2]
        assert positions.get(judging_id, []) == list(range(1, EXPECTED[kind][1] + 1)), (submission_id, kind)
    takeover = next(row for row in judgings if row[0] == held)
    assert f":{doomed.pid}:" not in takeover[4]
    assert f":{workers[1].pid}:" in takeover[4]

    redis = Redis.from_url(redis_url)
    try:
        for submission_id in ids:
            history = await redis.lrange(f"codearena:history:submission:{submission_id}", 0, -1)
            types = [msgspec.json.decode(item)["type"] for item in history]
            assert types.count("final") == 1, (submission_id, types)
        assert await redis.xlen("codearena:judge:jobs") == 0
    finally:
        await redis.aclose()

    usernames = {user.id: user.username for user in users}
    difficulty = {problems["easy"]["id"]: "EASY", problems["hard"]["id"]: "HARD"}
    board = api.client.get("/api/v1/leaderboard").json()
    assert [(item["rank"], item["username"], item["solved"], item["score"]) for item in board["items"]] == expected_leaderboard(
        submission_rows, difficulty, usernames
    )
    assert len(board["items"]) == 4

    cached = list((tmp_path / "worker-1" / "judge-cache").rglob("*"))
    assert any(path.is_file() for path in cached), "the surviving worker fetched no test data from the server"
    assert not (tmp_path / "worker-1" / "blobs").exists()
    assert workers[1].stop() == 0, workers[1].log()[-3000:]
    api.close()
    print(
        f"\n50 submissions: submitted in {submitted - started:.1f} s after start, "
        f"all judged {finished - submitted:.1f} s after the last submit"
    )

"""Helpers for the submission pipeline tests: problems, programs, server and worker processes.

Tests marked docker need the Docker engine and the python judge image; they
fail with the command that fixes a missing piece rather than skip. The
process tests start `codearena serve` and `codearena judge` on loopback with
their own data directory, database and Redis database number.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from judge.images import image_exists, image_tag
from judge.languages import PYTHON_IMAGE

CODEARENA = str(Path(sys.executable).with_name("codearena"))
REPOSITORY = Path(__file__).resolve().parents[2]
# Every language but python3 is off in these tests: one judge image, one warm container.
OTHER_LANGUAGES = "c,cpp,cpp20,java,javascript"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"

# Programs for the "sum of two integers" problem built by `sum_problem`.
PROGRAMS = {
    "AC": "a, b = map(int, input().split())\nprint(a + b)\n",
    "WA": "a, b = map(int, input().split())\nprint(a - b if a > 2 else a + b)\n",
    "RTE": "a, b = map(int, input().split())\nif a > 2:\n    raise SystemExit(3)\nprint(a + b)\n",
    "TLE": "a, b = map(int, input().split())\nif a > 2:\n    while True:\n        pass\nprint(a + b)\n",
    "CE": "a, b = map(int, input().split()\nprint(a + b)\n",
}
# Results the sum problem stores for each program: (verdict, tests run, tests passed).
EXPECTED = {"AC": ("AC", 3, 3), "WA": ("WA", 2, 1), "RTE": ("RTE", 2, 1), "TLE": ("TLE", 2, 1), "CE": ("CE", 0, 0)}


def sum_problem(**changes) -> dict:
    """A pass-fail problem with three tests; only the first has a <= 2."""
    body = {
        "title": f"Sum {uuid.uuid4().hex[:6]}",
        "difficulty": "EASY",
        "time_limit_ms": 300,
        "memory_limit_mb": 64,
        "tests": [
            {"input": "1 2\n", "output": "3\n", "is_sample": True},
            {"input": "5 6\n", "output": "11\n"},
            {"input": "10 20\n", "output": "30\n"},
        ],
    }
    body.update(changes)
    return body


def slow_problem(tests: int, **changes) -> dict:
    """A problem whose solution takes a while per test, so a client can watch it being judged."""
    body = {
        "title": f"Slow {uuid.uuid4().hex[:6]}",
        "difficulty": "MEDIUM",
        "time_limit_ms": 1000,
        "memory_limit_mb": 64,
        "tests": [{"input": f"{index}\n", "output": f"{index * 2}\n"} for index in range(1, tests + 1)],
    }
    body.update(changes)
    return body


SLOW_PROGRAM = "import time\nn = int(input())\ntime.sleep(0.15)\nprint(2 * n)\n"


async def _docker_problem() -> str | None:
    import aiodocker

    tag = image_tag(PYTHON_IMAGE)
    try:
        async with aiodocker.Docker() as docker:
            await docker.version()
            if not await image_exists(docker, tag):
                return f"judge image {tag} is missing; build it with: codearena judge images build --language python3"
    except (aiodocker.DockerError, OSError, ValueError) as error:
        return f"the Docker engine is not reachable ({error}); start dockerd"
    return None


@pytest.fixture(scope="session")
def docker_ready() -> None:
    problem = asyncio.run(_docker_problem())
    if problem:
        pytest.fail(problem, pytrace=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def base_environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """Environment for a codearena process: only this test's settings, none from the caller."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CODEARENA_")}
    environment.update(
        {
            "CODEARENA_DATA_DIR": str(data_dir),
            "CODEARENA_AUTH_ARGON2_TIME_COST": "1",
            "CODEARENA_AUTH_ARGON2_MEMORY_COST_KIB": "1024",
            "CODEARENA_AUTH_ARGON2_PARALLELISM": "1",
            "CODEARENA_JUDGE_DISABLED_LANGUAGES": OTHER_LANGUAGES,
            "CODEARENA_JUDGE_WARM_CONTAINERS": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    environment.update({f"CODEARENA_{key.upper()}": value for key, value in settings.items()})
    return environment


@dataclass
class Process:
    """A codearena subprocess with its log file."""

    name: str
    argv: list[str]
    environment: dict[str, str]
    log_path: Path
    popen: subprocess.Popen | None = None

    def start(self) -> Process:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(self.argv, env=self.environment, stdout=log, stderr=subprocess.STDOUT, cwd=REPOSITORY)
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stop with SIGTERM, then SIGKILL after `timeout`; return the exit code."""
        if self.popen is None:
            return None
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def pool_ids(self) -> list[str]:
        """Judge pool ids this process logged, to remove its containers after a SIGKILL."""
        ids = []
        for line in self.log().splitlines():
            if "judge pool " in line and " started" in line:
                ids.append(line.split("judge pool ", 1)[1].split()[0])
        return ids


def run_cli(environment: dict[str, str], *arguments: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [CODEARENA, *arguments], env=environment, input=stdin, capture_output=True, text=True, timeout=120, cwd=REPOSITORY
    )
    assert result.returncode == 0, f"codearena {' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def wait_http_ready(base_url: str, process: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise AssertionError(f"{process.name} exited with {process.popen.returncode}:\n{process.log()[-4000:]}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{process.name} did not answer on {base_url} within {timeout} s:\n{process.log()[-4000:]}")


def remove_pool_containers(pool_ids: list[str]) -> None:
    """Delete the judge containers of pools whose process was killed; only those pools' labels are touched."""
    for pool_id in pool_ids:
        listed = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=codearena.judge.pool={pool_id}"], capture_output=True, text=True
        )
        containers = listed.stdout.split()
        if containers:
            subprocess.run(["docker", "rm", "-f", *containers], capture_output=True)


@dataclass
class ApiUser:
    id: int
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Api:
    """A small synchronous client of a running server."""

    base_url: str
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base_url, timeout=30)

    def login(self, username: str, password: str) -> ApiUser:
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        me = self.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"})
        assert me.status_code == 200, me.text
        return ApiUser(me.json()["id"], username, response.json()["access_token"])

    def register(self, username: str, password: str = "correct horse") -> ApiUser:
        response = self.client.post(
            "/api/v1/auth/register", json={"username": username, "email": f"{username}@example.com", "password": password}
        )
        assert response.status_code == 201, response.text
        return self.login(username, password)

    def create_problem(self, user: ApiUser, body: dict) -> dict:
        response = self.client.post("/api/v1/problems", json=body, headers=user.headers)
        assert response.status_code == 201, response.text
        return response.json()

    def submit(self, user: ApiUser, problem_id: int, code: str, language: str = "python3") -> int:
        response = self.client.post(
            "/api/v1/submissions", json={"problem_id": problem_id, "language": language, "code": code}, headers=user.headers
        )
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def submission(self, user: ApiUser, submission_id: int) -> dict:
        response = self.client.get(f"/api/v1/submissions/{submission_id}", headers=user.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_judged(self, user: ApiUser, ids: list[int], timeout: float) -> dict[int, dict]:
        deadline = time.monotonic() + timeout
        pending = set(ids)
        results: dict[int, dict] = {}
        while pending and time.monotonic() < deadline:
            for submission_id in sorted(pending):
                detail = self.submission(user, submission_id)
                if detail["status"] == "JUDGED":
                    results[submission_id] = detail
                    pending.discard(submission_id)
            if pending:
                time.sleep(0.3)
        assert not pending, f"submissions not judged within {timeout} s: {sorted(pending)}"
        return results

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Processes a test starts; stopped afterwards, and the containers of killed judges removed."""
    started: list[Process] = []
    yield started
    pools: list[str] = []
    for process in started:
        process.stop()
        pools.extend(process.pool_ids())
    remove_pool_containers(pools)


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A Redis database number that is empty and claimed by this test, emptied of its keys afterwards."""
    claim = f"codearena:test-claim:{uuid.uuid4().hex}"
    for number in range(15, 0, -1):
        client = Redis.from_url(f"redis://127.0.0.1:6379/{number}")
        if await client.dbsize() == 0 and await client.set(claim, "1", nx=True, ex=3600):
            if await client.dbsize() == 1:
                break
            await client.delete(claim)
        await client.aclose()
    else:
        pytest.fail("no empty Redis database number between 1 and 15 for this test", pytrace=False)
    try:
        yield f"redis://127.0.0.1:6379/{number}"
    finally:
        keys = [key async for key in client.scan_iter("codearena*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for server and worker processes, dropped afterwards."""
    import asyncpg

    base = make_url(os.environ.get("CODEARENA_TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL)
    admin_url = base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    name = f"codearena_pipeline_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

"""Demo packages of each problem type, imported and judged through the HTTP API.

Function style (twosum), an interactor (guess), a custom output validator in
C++ (shortestpath) and default-validator flags (trianglearea): each package
is uploaded as a zip, and its own accepted and wrong Python submissions must
get AC and WA. The last test runs the server and a `codearena judge` worker
with separate data folders, so the worker has to fetch the validator's and
the interactor's sources from the server like test data.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import pytest

from db.blobs import BlobStore
from judge.images import image_exists, image_tag
from judge.languages import GCC_IMAGE
from tests.conftest import make_settings
from tests.packages.conftest import DEMO_PROBLEMS, zip_folder
from tests.pipeline.conftest import (
    CODEARENA,
    Api,
    Process,
    base_environment,
    free_port,
    run_cli,
    wait_http_ready,
)

pytestmark = pytest.mark.docker

# (package, what the import must report as problem type and checker, submissions with their verdicts).
CASES = {
    "twosum": (
        ("function", "function"),
        {"accepted/hash_map.py": "AC", "accepted/reversed_order.py": "AC", "wrong_answer/same_index.py": "WA"},
    ),
    "guess": (
        ("interactive", "custom"),
        {"accepted/binary_search.py": "AC", "wrong_answer/swapped_replies.py": "WA"},
    ),
    "shortestpath": (
        ("pass-fail", "custom"),
        {"accepted/dijkstra.py": "AC", "wrong_answer/fewest_streets.py": "WA"},
    ),
    "trianglearea": (
        ("pass-fail", "default"),
        {"accepted/heron.py": "AC", "wrong_answer/two_decimals.py": "WA"},
    ),
}
# Python submissions only; the shortestpath validator is C++, so the gcc image stays on.
DISABLED_LANGUAGES = ["java", "javascript"]
WORKER_TOKEN = "worker-token-for-the-problem-type-test"
# Sources the worker must fetch from the server to judge guess and shortestpath.
VALIDATOR_SOURCES = ["guess/output_validators/interactor/interactor.py", "shortestpath/output_validator/validator.cpp"]


@pytest.fixture(scope="module")
def gcc_image_ready(docker_ready) -> None:
    async def exists() -> bool:
        import aiodocker

        async with aiodocker.Docker() as docker:
            return await image_exists(docker, image_tag(GCC_IMAGE))

    if not asyncio.run(exists()):
        pytest.fail(f"judge image {image_tag(GCC_IMAGE)} is missing; build it with: codearena judge images build", pytrace=False)


@pytest.fixture
def settings(tmp_path, database_url, gcc_image_ready):
    return make_settings(
        tmp_path / "data",
        database_url,
        judge={"embedded": True, "concurrency": 2, "warm_containers": 1, "disabled_languages": DISABLED_LANGUAGES},
        limits={"submissions_per_minute": 100},
    )


def package_zip(name: str, folder: Path) -> bytes:
    return zip_folder(DEMO_PROBLEMS / name, folder / f"{name}.zip").read_bytes()


def submission_code(name: str, path: str) -> str:
    return (DEMO_PROBLEMS / name / "submissions" / path).read_text()


async def wait_judged(client, account, submission_id: int, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        detail = (await client.get(f"/api/v1/submissions/{submission_id}", headers=account.headers)).json()
        if detail["status"] == "JUDGED":
            return detail
        await asyncio.sleep(0.1)
    raise AssertionError(f"submission {submission_id} not judged within {timeout} s: {detail}")


async def test_demo_packages_judged(client, organizer, contestant, tmp_path):
    imported = {}
    for name in CASES:
        response = await client.post(
            "/api/v1/problems/import",
            content=package_zip(name, tmp_path),
            headers={**organizer.headers, "Content-Type": "application/zip"},
        )
        assert response.status_code == 201, response.text
        imported[name] = response.json()

    ids = {}
    for name, (_, submissions) in CASES.items():
        for path in submissions:
            body = {"problem_id": imported[name]["problem_id"], "language": "python3", "code": submission_code(name, path)}
            response = await client.post("/api/v1/submissions", json=body, headers=contestant.headers)
            assert response.status_code == 202, response.text
            ids[name, path] = response.json()["id"]
    results = {key: await wait_judged(client, contestant, submission_id) for key, submission_id in ids.items()}

    for name, ((problem_type, checker), submissions) in CASES.items():
        assert (imported[name]["problem_type"], imported[name]["checker"]) == (problem_type, checker), name
        for path, verdict in submissions.items():
            detail = results[name, path]
            staff_view = (await client.get(f"/api/v1/submissions/{ids[name, path]}", headers=organizer.headers)).json()
            assert detail["verdict"] == verdict, (name, path, staff_view)
            assert detail["attempt"] == 1, (name, path, staff_view)
            assert detail["test_cases_total"] == imported[name]["test_count"], (name, path)
            if verdict == "AC":
                assert detail["test_cases_passed"] == detail["test_cases_total"], (name, path)
                assert [test["verdict"] for test in detail["tests"]] == ["AC"] * detail["test_cases_total"], (name, path)
            else:
                assert detail["tests"][-1]["verdict"] == "WA", (name, path, detail["tests"])
                assert "WA" in staff_view["error_message"], (name, path)


@pytest.mark.redis
@pytest.mark.postgres
async def test_worker_fetches_validator_sources(tmp_path, postgres_url, redis_url, processes, gcc_image_ready):
    port = free_port()
    server_url = f"http://127.0.0.1:{port}"
    shared = {
        "database_url": postgres_url,
        "redis_url": redis_url,
        "judge_worker_token": WORKER_TOKEN,
        "judge_disabled_languages": ",".join(DISABLED_LANGUAGES),
    }
    server_env = base_environment(tmp_path / "server-data", **shared, judge_embedded="false")
    run_cli(server_env, "db", "upgrade")
    (tmp_path / "password").write_text("admin password\n")
    run_cli(server_env, "users", "create-admin", "--username", "admin", "--password-file", str(tmp_path / "password"))
    server = Process("server", [CODEARENA, "serve", "--port", str(port)], server_env, tmp_path / "server.log").start()
    processes.append(server)
    wait_http_ready(server_url, server)
    worker_env = base_environment(tmp_path / "worker-data", **shared, judge_concurrency="2")
    worker = Process("worker", [CODEARENA, "judge", "--server-url", server_url], worker_env, tmp_path / "worker.log").start()
    processes.append(worker)

    api = Api(server_url)
    admin = api.login("admin", "admin password")
    ids = {}
    for name in ("guess", "shortestpath"):
        response = api.client.post(
            "/api/v1/problems/import",
            content=package_zip(name, tmp_path),
            headers={**admin.headers, "Content-Type": "application/zip"},
        )
        assert response.status_code == 201, response.text
        for path, verdict in CASES[name][1].items():
            ids[api.submit(admin, response.json()["problem_id"], submission_code(name, path))] = (name, path, verdict)
    results = api.wait_judged(admin, list(ids), timeout=180)
    api.close()

    for submission_id, (name, path, verdict) in ids.items():
        assert results[submission_id]["verdict"] == verdict, (name, path, results[submission_id], worker.log()[-3000:])
    cache = BlobStore(tmp_path / "worker-data" / "judge-cache")
    for source in VALIDATOR_SOURCES:
        sha256 = hashlib.sha256((DEMO_PROBLEMS / source).read_bytes()).hexdigest()
        assert cache.exists(sha256), f"{source} was not fetched into the worker's cache"
    assert not (tmp_path / "worker-data" / "blobs").exists()
    assert worker.stop() == 0, worker.log()[-3000:]


async def test_scoring_groups_stored_per_judging(client, db, organizer, contestant, tmp_path):
    from sqlalchemy import select

    from db.models import Judging

    response = await client.post(
        "/api/v1/problems/import",
        content=package_zip("maxsubarray", tmp_path),
        headers={**organizer.headers, "Content-Type": "application/zip"},
    )
    assert response.status_code == 201, response.text
    body = {
        "problem_id": response.json()["problem_id"],
        "language": "python3",
        "code": submission_code("maxsubarray", "wrong_answer/total_sum.py"),
    }
    submitted = await client.post("/api/v1/submissions", json=body, headers=contestant.headers)
    detail = await wait_judged(client, contestant, submitted.json()["id"])

    async with db() as session:
        judging = await session.scalar(select(Judging).where(Judging.submission_id == detail["id"]))
    # The package expects this submission to earn 30 of 100 points, all from its groups.
    assert detail["score"] == 30
    assert judging.group_scores
    assert sum(judging.group_scores.values()) == detail["score"]
    assert all(name.startswith("secret/") or name.startswith("sample") for name in judging.group_scores)

"""Importing packages into the database: the demo set, versions, the HTTP upload and its guards."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from db.models import Blob, Problem, TestCase
from server.packages import PackageConflict
from tests.packages.conftest import DEMO_NAMES, DEMO_PROBLEMS, LEGACY_PACKAGE, count_rows, write_package, zip_folder

IMPORT = "/api/v1/problems/import"


async def load_problem(db, slug: str) -> Problem:
    async with db() as session:
        return await session.scalar(
            select(Problem)
            .where(Problem.slug == slug)
            .options(selectinload(Problem.test_cases).selectinload(TestCase.group), selectinload(Problem.test_groups))
        )


@pytest.mark.parametrize("name", DEMO_NAMES)
async def test_demo_package_imports(import_folder, db, blobs, name):
    result = await import_folder(DEMO_PROBLEMS / name)
    problem = await load_problem(db, name)

    assert result.created
    assert result.slug == name
    assert problem.version == 1
    assert len(problem.test_cases) == result.test_count >= 5
    assert problem.description.strip()
    assert any(submission["expected"] == "accepted" for submission in problem.package_meta["submissions"])
    for test in problem.test_cases:
        assert blobs.read_bytes(test.input_sha256) == (DEMO_PROBLEMS / name / "data" / f"{test.name}.in").read_bytes()
        assert blobs.read_bytes(test.answer_sha256) == (DEMO_PROBLEMS / name / "data" / f"{test.name}.ans").read_bytes()
    for entry in problem.package_meta["files"]:
        assert blobs.read_bytes(entry["sha256"]) == (DEMO_PROBLEMS / name / entry["path"]).read_bytes()


async def test_demo_metadata_mapped(import_folder, db):
    for name in DEMO_NAMES:
        await import_folder(DEMO_PROBLEMS / name)

    twosum = await load_problem(db, "twosum")
    guess = await load_problem(db, "guess")
    triangle = await load_problem(db, "trianglearea")
    scoring = await load_problem(db, "maxsubarray")
    route = await load_problem(db, "shortestpath")
    aplusb = await load_problem(db, "aplusb")

    assert (twosum.problem_type, twosum.checker, twosum.checker_flags) == ("function", "function", {"unordered": True})
    assert twosum.time_limit_ms == 1000
    assert (guess.problem_type, guess.checker) == ("interactive", "custom")
    assert guess.package_meta["validation"]["interactive"] is True
    assert guess.package_meta["output_validators"][0]["entry"] == "output_validators/interactor/interactor.py"
    assert guess.package_meta["sample_interactions"][0]["name"] == "sample/1"
    assert guess.time_limit_ms == 2000
    assert guess.package_meta["time_limit"]["source"] == ".timelimit"
    assert triangle.checker_flags == {"float_tolerance": 1e-6}
    assert triangle.memory_limit_mb == 128
    assert scoring.problem_type == "scoring"
    assert {group.name: group.points for group in scoring.test_groups} == {
        "sample": 0,
        "secret/group1": 20,
        "secret/group2": 30,
        "secret/group3": 50,
    }
    assert scoring.package_meta["max_score"] == 100
    assert route.checker == "custom"
    assert route.package_meta["output_validators"][0]["language"] == "cpp"
    assert aplusb.package_meta["time_limit"]["derived"] == "pending"
    assert aplusb.time_limit_ms == 2000
    assert aplusb.difficulty.value == "EASY"
    assert aplusb.category == "Warm-up"
    assert aplusb.tags == ["implementation", "math"]


async def test_validator_and_submission_files_stored(import_folder, db, blobs):
    await import_folder(DEMO_PROBLEMS / "shortestpath")
    problem = await load_problem(db, "shortestpath")

    validator = problem.package_meta["output_validators"][0]
    source = blobs.read_bytes(validator["files"][0]["sha256"])
    submissions = {entry["path"]: entry for entry in problem.package_meta["submissions"]}

    assert b"judgemessage.txt" in source
    assert submissions["submissions/accepted/dijkstra.cpp"]["verdicts"] == ["AC"]
    assert submissions["submissions/time_limit_exceeded/bellman_ford.py"]["language"] == "python3"


async def test_reimport_without_replace_conflicts(import_folder, db, legacy_package):
    await import_folder(legacy_package)
    before = await count_rows(db)

    with pytest.raises(PackageConflict):
        await import_folder(legacy_package)

    assert await count_rows(db) == before


async def test_replace_bumps_version_keeps_id(import_folder, db, tmp_path):
    first = await import_folder(write_package(tmp_path / "hello", LEGACY_PACKAGE))
    changed = {**LEGACY_PACKAGE, "data/secret/3.in": "4\n", "data/secret/3.ans": "hello\nhello\nhello\nhello\n"}
    changed["problem.yaml"] = "name: Hello again\nlimits:\n  memory: 96\n"

    second = await import_folder(write_package(tmp_path / "v2" / "hello", changed), replace=True)
    problem = await load_problem(db, "hello")

    assert second.problem_id == first.problem_id
    assert not second.created
    assert (first.version, second.version) == (1, 2)
    assert problem.title == "Hello again"
    assert problem.memory_limit_mb == 96
    assert [test.name for test in problem.test_cases] == ["sample/1", "secret/1", "secret/2", "secret/3"]


async def test_failed_replace_keeps_old_version(import_folder, db, tmp_path):
    await import_folder(write_package(tmp_path / "hello", LEGACY_PACKAGE))
    before = await count_rows(db)
    broken = {**LEGACY_PACKAGE, "problem.yaml": "limits: {memory: 100000}\n"}

    from judge.packages import PackageError

    with pytest.raises(PackageError, match="limits.memory is 100000 MiB, the maximum here is"):
        await import_folder(write_package(tmp_path / "v2" / "hello", broken), replace=True)

    problem = await load_problem(db, "hello")
    assert await count_rows(db) == before
    assert problem.version == 1
    assert problem.memory_limit_mb == 64


async def test_same_content_stored_once(import_folder, db, tmp_path):
    await import_folder(write_package(tmp_path / "one", LEGACY_PACKAGE))
    await import_folder(write_package(tmp_path / "two", LEGACY_PACKAGE))

    async with db() as session:
        blob_count = len((await session.scalars(select(Blob.sha256))).all())
    one = await load_problem(db, "one")
    two = await load_problem(db, "two")

    assert [test.input_sha256 for test in one.test_cases] == [test.input_sha256 for test in two.test_cases]
    assert blob_count == len({entry["sha256"] for entry in one.package_meta["files"]} | {test.input_sha256 for test in one.test_cases} | {test.answer_sha256 for test in one.test_cases})


async def test_explicit_slug_used(import_folder, db, legacy_package):
    result = await import_folder(legacy_package, slug="greetings")

    assert result.slug == "greetings"
    assert (await load_problem(db, "greetings")) is not None


async def test_invalid_slug_rejected(import_folder, legacy_package):
    from judge.packages import PackageError

    with pytest.raises(PackageError, match="slug 'Bad Slug' is invalid"):
        await import_folder(legacy_package, slug="Bad Slug")


async def upload(client, account, archive, query: str = ""):
    return await client.post(
        IMPORT + query,
        content=archive.read_bytes(),
        headers={**account.headers, "content-type": "application/zip"},
    )


async def test_upload_raw_zip(client, organizer, tmp_path):
    archive = zip_folder(DEMO_PROBLEMS / "aplusb", tmp_path / "aplusb.zip")

    response = await upload(client, organizer, archive)

    assert response.status_code == 201
    body = response.json()
    assert body["slug"] == "aplusb"
    assert body["test_count"] == 12
    assert body["time_limit_source"] == "pending"
    detail = (await client.get("/api/v1/problems/aplusb", headers=organizer.headers)).json()
    assert detail["title"] == "A plus B"
    assert [sample["input"] for sample in detail["samples"]] == ["1 2\n", "-5 12\n"]


async def test_upload_multipart(client, organizer, tmp_path):
    archive = zip_folder(DEMO_PROBLEMS / "twosum", tmp_path / "twosum.zip")

    response = await client.post(
        IMPORT,
        files={"file": ("twosum.zip", archive.read_bytes(), "application/zip")},
        headers=organizer.headers,
    )

    assert response.status_code == 201
    assert response.json()["checker"] == "function"


async def test_upload_conflict_then_replace(client, organizer, tmp_path):
    archive = zip_folder(DEMO_PROBLEMS / "coins", tmp_path / "coins.zip")
    first = await upload(client, organizer, archive)

    again = await upload(client, organizer, archive)
    replaced = await upload(client, organizer, archive, "?replace=true")

    assert first.status_code == 201
    assert again.status_code == 409
    assert "replace=true" in again.json()["detail"]
    assert replaced.status_code == 201
    assert replaced.json()["version"] == 2
    assert replaced.json()["problem_id"] == first.json()["problem_id"]


async def test_upload_hidden_with_slug(client, organizer, contestant, tmp_path):
    archive = zip_folder(DEMO_PROBLEMS / "coins", tmp_path / "coins.zip")

    response = await upload(client, organizer, archive, "?slug=exact-change&public=false")

    assert response.status_code == 201
    assert (await client.get("/api/v1/problems/exact-change", headers=contestant.headers)).status_code == 404
    assert (await client.get("/api/v1/problems/exact-change", headers=organizer.headers)).status_code == 200


async def test_upload_bad_slug_named(client, organizer, tmp_path):
    archive = zip_folder(DEMO_PROBLEMS / "coins", tmp_path / "coins.zip")

    response = await upload(client, organizer, archive, "?slug=Not%20OK")

    assert response.status_code == 400
    assert "slug" in response.json()["detail"]


async def test_upload_needs_organizer(client, contestant, db, tmp_path):
    archive = zip_folder(DEMO_PROBLEMS / "coins", tmp_path / "coins.zip")
    before = await count_rows(db)

    response = await upload(client, contestant, archive)

    assert response.status_code == 403
    assert await count_rows(db) == before


async def test_upload_needs_login(client, tmp_path):
    archive = zip_folder(DEMO_PROBLEMS / "coins", tmp_path / "coins.zip")

    response = await client.post(IMPORT, content=archive.read_bytes(), headers={"content-type": "application/zip"})

    assert response.status_code == 401


async def test_upload_wrong_content_type(client, organizer):
    response = await client.post(IMPORT, json={"file": "nope"}, headers=organizer.headers)

    assert response.status_code == 415
    assert "application/zip" in response.json()["detail"]


async def test_upload_empty(client, organizer):
    response = await client.post(IMPORT, content=b"", headers={**organizer.headers, "content-type": "application/zip"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "file"


async def test_upload_multipart_without_file_field(client, organizer):
    response = await client.post(IMPORT, files={"other": ("x.zip", b"PK", "application/zip")}, headers=organizer.headers)

    assert response.status_code == 400
    assert "file" in response.json()["detail"]


async def test_upload_over_size_cap(tmp_path, database_url, make_account_factory):
    from litestar.testing import AsyncTestClient

    from server.app import create_app
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "data", database_url, limits={"max_upload_bytes": 5_000})
    archive = zip_folder(DEMO_PROBLEMS / "coins", tmp_path / "coins.zip")
    assert archive.stat().st_size > 5_000

    async with AsyncTestClient(app=create_app(settings)) as client:
        organizer = await make_account_factory(client, settings)
        raw = await client.post(IMPORT, content=archive.read_bytes(), headers={**organizer.headers, "content-type": "application/zip"})
        multipart = await client.post(
            IMPORT, files={"file": ("coins.zip", archive.read_bytes(), "application/zip")}, headers=organizer.headers
        )
        listing = await client.get("/api/v1/problems", headers=organizer.headers)

    assert raw.status_code == 413
    assert multipart.status_code == 413
    assert listing.json()["total"] == 0


@pytest.fixture
def make_account_factory():
    """Register and promote an organizer on a client made inside the test."""
    from db.engine import create_engine, create_session_factory
    from db.models import Role, User

    async def create(client, settings):
        from tests.conftest import Account

        await client.post("/api/v1/auth/register", json={"username": "boss", "email": "boss@example.com", "password": "correct horse"})
        engine = create_engine(settings.database_url)
        async with create_session_factory(engine)() as session:
            user = await session.scalar(select(User).where(User.username == "boss"))
            user.role = Role.ORGANIZER
            await session.commit()
        await engine.dispose()
        tokens = (await client.post("/api/v1/auth/login", json={"username": "boss", "password": "correct horse"})).json()
        return Account(user.id, "boss", "correct horse", tokens["access_token"], tokens["refresh_token"])

    return create

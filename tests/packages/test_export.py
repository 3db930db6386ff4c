"""Export then import gives the same problem; the CLI and the download route."""

from __future__ import annotations

import io
import zipfile

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from db.models import Problem, TestCase
from server.package_export import ExportError, export_problem
from tests.packages.conftest import DEMO_NAMES, DEMO_PROBLEMS, LEGACY_PACKAGE, write_package

COMPARED_COLUMNS = (
    "title", "description", "difficulty", "category", "tags", "time_limit_ms", "memory_limit_mb", "output_limit_kb",
    "problem_type", "checker", "checker_flags",
)
COMPARED_META = (
    "format_version", "names", "types", "scoring", "max_score", "validation", "function", "time_limit",
    "sample_interactions", "test_case_settings",
)


async def snapshot(db, slug: str) -> dict:
    async with db() as session:
        problem = await session.scalar(
            select(Problem)
            .where(Problem.slug == slug)
            .options(selectinload(Problem.test_cases).selectinload(TestCase.group), selectinload(Problem.test_groups))
        )
        meta = problem.package_meta or {}
        return {
            "columns": {column: getattr(problem, column) for column in COMPARED_COLUMNS},
            "meta": {key: meta.get(key) for key in COMPARED_META},
            "tests": [
                (test.name, test.group.name, test.is_sample, test.points, test.input_sha256, test.answer_sha256)
                for test in problem.test_cases
            ],
            "groups": [(group.name, group.is_sample, group.points, group.settings) for group in problem.test_groups],
            "validators": [
                (validator["path"], validator["language"], [(file["path"], file["sha256"]) for file in validator["files"]])
                for validator in meta.get("output_validators", [])
            ],
            "submissions": [
                (entry["path"], entry["expected"], entry["language"], [file["sha256"] for file in entry["files"]])
                for entry in meta.get("submissions", [])
            ],
            "files": sorted((entry["path"], entry["sha256"]) for entry in meta.get("files", [])),
        }


@pytest.mark.parametrize("name", DEMO_NAMES)
async def test_export_then_import_same_problem(import_folder, db, blobs, tmp_path, name):
    await import_folder(DEMO_PROBLEMS / name)
    original = await snapshot(db, name)

    async with db() as session:
        folder = await export_problem(session, blobs, name, tmp_path / "out")
    await import_folder(folder, slug="copy")
    copy = await snapshot(db, "copy")

    assert folder.name == name
    assert copy["tests"] == original["tests"]
    assert copy["groups"] == original["groups"]
    assert copy["columns"] == original["columns"]
    assert copy["meta"] == original["meta"]
    assert copy["validators"] == original["validators"]
    assert copy["submissions"] == original["submissions"]


async def test_export_zip_imports_back(import_folder, db, blobs, tmp_path):
    await import_folder(DEMO_PROBLEMS / "maxsubarray")
    original = await snapshot(db, "maxsubarray")

    async with db() as session:
        archive = await export_problem(session, blobs, "maxsubarray", tmp_path / "out", as_zip=True)
    await import_folder(archive, slug="copy")

    assert archive.name == "maxsubarray.zip"
    assert (await snapshot(db, "copy"))["groups"] == original["groups"]


async def test_export_reflects_edits(client, organizer, import_folder, db, blobs, tmp_path):
    await import_folder(write_package(tmp_path / "hello", LEGACY_PACKAGE))
    edit = {
        "title": "Hello, edited",
        "description": "New statement with $x^2$.\n",
        "time_limit_ms": 1500,
        "memory_limit_mb": 80,
        "checker_flags": {"case_sensitive": True, "float_tolerance": 0.25},
        "tags": ["strings"],
        "difficulty": "HARD",
    }
    response = await client.patch("/api/v1/problems/hello", json=edit, headers=organizer.headers)
    assert response.status_code == 200

    async with db() as session:
        folder = await export_problem(session, blobs, "hello", tmp_path / "out")
    await import_folder(folder, slug="copy")
    copy = (await snapshot(db, "copy"))["columns"]

    assert copy["title"] == "Hello, edited"
    assert copy["description"] == "New statement with $x^2$.\n"
    assert copy["time_limit_ms"] == 1500
    assert copy["memory_limit_mb"] == 80
    assert copy["checker_flags"] == {"case_sensitive": True, "float_tolerance": 0.25}
    assert copy["tags"] == ["strings"]
    assert copy["difficulty"].value == "HARD"
    assert (folder / ".timelimit").read_text() == "1.5\n"
    assert not (folder / "problem_statement" / "problem.en.tex").exists()
    assert (folder / "problem_statement" / "problem.en.md").is_file()


async def test_export_api_made_problem(client, organizer, import_folder, db, blobs, tmp_path):
    body = {
        "title": "Made by Hand",
        "description": "Add numbers.",
        "time_limit_ms": 2500,
        "checker": "exact",
        "tests": [
            {"input": "1 2\n", "output": "3\n", "is_sample": True},
            {"input": "5 5\n", "output": "10\n", "points": 40, "group": "easy"},
            {"input": "7 8\n", "output": "15\n", "points": 60, "group": "hard"},
        ],
    }
    assert (await client.post("/api/v1/problems", json=body, headers=organizer.headers)).status_code == 201

    async with db() as session:
        folder = await export_problem(session, blobs, "made-by-hand", tmp_path / "out")
    await import_folder(folder, slug="copy")
    copy = await snapshot(db, "copy")

    assert copy["columns"]["checker"] == "exact"
    assert copy["columns"]["time_limit_ms"] == 2500
    assert copy["columns"]["problem_type"] == "scoring"
    assert [(name, points) for name, _, _, points, _, _ in copy["tests"]] == [
        ("sample/001", 0.0),
        ("secret/easy/002", 40.0),
        ("secret/hard/003", 60.0),
    ]
    assert copy["columns"]["description"] == "Add numbers."


async def test_export_into_existing_folder_refused(import_folder, db, blobs, tmp_path, legacy_package):
    await import_folder(legacy_package)
    (tmp_path / "out" / "hello").mkdir(parents=True)

    async with db() as session:
        with pytest.raises(ExportError, match="already exists"):
            await export_problem(session, blobs, "hello", tmp_path / "out")


async def test_export_unknown_problem(db, blobs, tmp_path):
    async with db() as session:
        with pytest.raises(ExportError, match="not found"):
            await export_problem(session, blobs, "nothing-here", tmp_path)


async def test_download_package(client, organizer, contestant, import_folder):
    await import_folder(DEMO_PROBLEMS / "guess")

    response = await client.get("/api/v1/problems/guess/package", headers=organizer.headers)
    forbidden = await client.get("/api/v1/problems/guess/package", headers=contestant.headers)
    missing = await client.get("/api/v1/problems/nothing/package", headers=organizer.headers)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert "guess/output_validators/interactor/interactor.py" in names
    assert "guess/data/secret/05-highest.ans" in names
    assert forbidden.status_code == 403
    assert missing.status_code == 404


def test_cli_import_and_export(tmp_path, database_url):
    from server.cli import main

    # The suite's own variable is no setting: unset it, as a user's shell would not have it.
    environment = {"CODEARENA_DATA_DIR": str(tmp_path / "data"), "CODEARENA_DATABASE_URL": database_url, "CODEARENA_TEST_DATABASE_URL": None}
    runner = CliRunner()

    imported = runner.invoke(main, ["problems", "import", str(DEMO_PROBLEMS / "rangesum")], env=environment)
    again = runner.invoke(main, ["problems", "import", str(DEMO_PROBLEMS / "rangesum")], env=environment)
    replaced = runner.invoke(main, ["problems", "import", "--replace", str(DEMO_PROBLEMS / "rangesum")], env=environment)
    exported = runner.invoke(main, ["problems", "export", "rangesum", "--output", str(tmp_path / "out")], env=environment)

    assert imported.exit_code == 0, imported.output
    assert "created problem rangesum" in imported.output
    assert "default until derived" in imported.output
    assert again.exit_code == 1
    assert "add --replace" in again.output
    assert replaced.exit_code == 0
    assert "version 2" in replaced.output
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "out" / "rangesum" / "problem_statement" / "problem.en.tex").is_file()
    assert (tmp_path / "out" / "rangesum" / "data" / "secret" / "07-large-random.in").read_bytes() == (
        DEMO_PROBLEMS / "rangesum" / "data" / "secret" / "07-large-random.in"
    ).read_bytes()


def test_cli_import_invalid_package(tmp_path, database_url):
    from server.cli import main

    # The suite's own variable is no setting: unset it, as a user's shell would not have it.
    environment = {"CODEARENA_DATA_DIR": str(tmp_path / "data"), "CODEARENA_DATABASE_URL": database_url, "CODEARENA_TEST_DATABASE_URL": None}
    broken = write_package(tmp_path / "broken", {**LEGACY_PACKAGE, "problem.yaml": "type: puzzle\n"})

    result = CliRunner().invoke(main, ["problems", "import", str(broken)], env=environment)

    assert result.exit_code == 1
    assert "invalid package: problem.yaml: type 'puzzle'" in result.output

"""Fixtures for problem package tests: small packages written on the fly, row counts, imports."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.blobs import BlobStore
from db.models import Blob, Problem, TestCase, TestGroup

DEMO_PROBLEMS = Path(__file__).resolve().parents[2] / "demo" / "problems"
DEMO_NAMES = sorted(path.name for path in DEMO_PROBLEMS.iterdir() if (path / "problem.yaml").is_file())

LEGACY_PACKAGE = {
    "problem.yaml": "name: Hello\nlicense: cc0\nlimits:\n  memory: 64\n",
    "problem_statement/problem.en.tex": "\\problemname{Hello}\nPrint $n$ greetings.\n",
    "data/sample/1.in": "1\n",
    "data/sample/1.ans": "hello\n",
    "data/secret/1.in": "2\n",
    "data/secret/1.ans": "hello\nhello\n",
    "data/secret/2.in": "3\n",
    "data/secret/2.ans": "hello\nhello\nhello\n",
    "submissions/accepted/hello.py": "print('\\n'.join(['hello'] * int(input())))\n",
    "submissions/wrong_answer/once.py": "print('hello')\n",
}

DRAFT_PACKAGE = {
    "problem.yaml": (
        "problem_format_version: 2023-07-draft\n"
        "name: {en: Hello, de: Hallo}\n"
        "uuid: 11111111-2222-3333-4444-555555555555\n"
        "limits:\n  time_limit: 1.5\n  memory: 128\n  output: 4\n"
    ),
    "statement/problem.en.md": "Print *n* greetings.\n",
    "statement/problem.de.md": "Gib *n* Grüße aus.\n",
    "data/sample/1.in": "1\n",
    "data/sample/1.ans": "hello\n",
    "data/secret/1.in": "2\n",
    "data/secret/1.ans": "hello\nhello\n",
    "submissions/accepted/hello.py": "print('\\n'.join(['hello'] * int(input())))\n",
}


def write_package(root: Path, files: dict[str, str | bytes]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def zip_folder(folder: Path, archive: Path, prefix: str | None = None) -> Path:
    """Zip a package folder, inside a top-level folder named `prefix` (default: the folder's name)."""
    prefix = folder.name if prefix is None else prefix
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as output:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                output.write(path, f"{prefix}/{name}" if prefix else name)
    return archive


async def count_rows(db) -> dict[str, int]:
    async with db() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model))
            for model in (Problem, TestGroup, TestCase, Blob)
        }


@pytest.fixture
def blobs(settings) -> BlobStore:
    return BlobStore(settings.data_dir / "blobs")


@pytest.fixture
def legacy_package(tmp_path: Path) -> Path:
    return write_package(tmp_path / "hello", LEGACY_PACKAGE)


@pytest.fixture
def draft_package(tmp_path: Path) -> Path:
    return write_package(tmp_path / "hellodraft", DRAFT_PACKAGE)


@pytest.fixture
def import_folder(db, blobs, settings):
    """Load a package folder or zip and import it through the service, as the CLI does."""
    from judge.packages import LoadOptions, load_package, open_package
    from server.packages import import_package

    async def run(path: Path, **options):
        load_options = LoadOptions(max_test_bytes=settings.limits.max_test_bytes)
        with open_package(path, load_options) as (root, short_name):
            package = load_package(root, short_name, load_options)
            async with db() as session:
                return await import_package(session, blobs, package, limits=settings.limits, **options)

    return run

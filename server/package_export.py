"""Export a problem as a Kattis problem package folder or zip.

The package is written in the format it was imported in (legacy or
2023-07-draft; problems made through the API export as 2023-07-draft).
problem.yaml is rebuilt from the problem's current columns, so edits made
after the import (limits, checker flags, title, statement) are exported too;
every other stored package file is written back unchanged. Importing the
result gives the same tests, limits, flags, statement, validators and
submissions.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.blobs import BlobStore
from db.models import Problem, TestCase
from judge.package_tests import validator_args
from judge.packages import DEFAULT_TIME_LIMIT_MS, LEGACY, STATEMENT_NAME, PackageError, parse_default_validator_flags

EXPORT_NAMESPACE = uuid.UUID("6f1c2f0e-8a7b-4c39-9d5e-2b8f0c7e4a11")
# A file's content: ("blob", sha256) from the blob store or ("text", str).
FileSource = tuple[str, str]


class ExportError(Exception):
    """The problem cannot be exported to the requested place."""


def _seconds(milliseconds: int) -> int | float:
    seconds = milliseconds / 1000
    return int(seconds) if seconds.is_integer() else seconds


def _validator_flags(flags: dict[str, Any]) -> str:
    words = []
    for key in ("case_sensitive", "space_change_sensitive"):
        if flags.get(key):
            words.append(key)
    for key in ("float_tolerance", "float_absolute_tolerance", "float_relative_tolerance"):
        if flags.get(key) is not None:
            words.extend([key, repr(float(flags[key]))])
    return " ".join(words)


def _same_flags(original: Any, flags: dict[str, Any]) -> bool:
    """Tell whether the package's own validator_flags still match checker_flags, so it can stay as written."""
    if not isinstance(original, str):
        return False
    try:
        return parse_default_validator_flags(validator_args(original, "validator_flags"), "validator_flags") == flags
    except PackageError:
        return False


def _test_path(test: TestCase, used: set[str]) -> str:
    name = test.name
    if not name.startswith(("sample/", "secret/")):
        name = ("sample/" if test.is_sample else "secret/") + name
    if name in used:
        name = f"{name}-{test.position}"
    used.add(name)
    return name


def _statement_files(problem: Problem, meta: dict[str, Any], files: dict[str, FileSource], legacy: bool) -> None:
    description_sha = hashlib.sha256(problem.description.encode()).hexdigest()
    if meta and description_sha == meta.get("description_sha256"):
        return
    statement = meta.get("statement") or {}
    language = statement.get("language", "en")
    if statement.get("path"):
        folder = str(PurePosixPath(statement["path"]).parent)
    else:
        folder = "problem_statement" if legacy else "statement"
    for path in list(files):
        match = STATEMENT_NAME.match(PurePosixPath(path).name)
        if match and (match.group(1) or "en") == language and str(PurePosixPath(path).parent) in ("statement", "problem_statement", "."):
            del files[path]
    if problem.description.strip():
        target = f"{folder}/problem.{language}.md" if folder not in ("", ".") else f"problem.{language}.md"
        files[target] = ("text", problem.description)


def _scoring_files(tests: list[tuple[str, TestCase]], files: dict[str, FileSource]) -> None:
    """Write test group scores for a problem made through the API, whose tests carry points."""
    points: dict[str, float] = {}
    for path, test in tests:
        if path.startswith("secret/"):
            folder = str(PurePosixPath(path).parent)
            points[folder] = points.get(folder, 0.0) + test.points
    total = sum(points.values())
    files["data/secret/testdata.yaml"] = ("text", yaml.safe_dump({"scoring": {"score": total, "aggregation": "sum"}}))
    for folder, score in points.items():
        if folder != "secret":
            files[f"data/{folder}/testdata.yaml"] = ("text", yaml.safe_dump({"scoring": {"score": score, "aggregation": "pass-fail"}}))


def _problem_yaml(problem: Problem, meta: dict[str, Any], files: dict[str, FileSource], scoring: bool) -> dict[str, Any]:
    document = dict(meta.get("problem_yaml") or {})
    legacy = meta.get("format_version") == LEGACY
    if not meta:
        document = {"problem_format_version": "2023-07-draft", "uuid": str(uuid.uuid5(EXPORT_NAMESPACE, problem.slug))}
        document["type"] = "scoring" if scoring else "pass-fail"

    name = document.get("name")
    if isinstance(name, dict) and name:
        language = "en" if "en" in name else next(iter(name))
        document["name"] = {**name, language: problem.title}
    else:
        document["name"] = problem.title

    limits = dict(document.get("limits") or {})
    limits["memory"] = problem.memory_limit_mb
    limits["output"] = max(1, math.ceil(problem.output_limit_kb / 1024))
    time_meta = meta.get("time_limit") or {}
    pending = time_meta.get("derived") == "pending" and problem.time_limit_ms == time_meta.get("default_ms", DEFAULT_TIME_LIMIT_MS)
    original_limits = (meta.get("problem_yaml") or {}).get("limits") or {}
    if pending:
        limits.pop("time_limit", None)
    elif legacy and "time_limit" not in original_limits:
        # Legacy problem.yaml has no time limit key; DOMjudge's .timelimit file carries it.
        files[".timelimit"] = ("text", f"{_seconds(problem.time_limit_ms)}\n")
    else:
        limits["time_limit"] = _seconds(problem.time_limit_ms)
    document["limits"] = limits

    if problem.checker in ("default", "exact") and not _same_flags(document.get("validator_flags"), problem.checker_flags or {}):
        flags = _validator_flags(problem.checker_flags or {})
        if flags:
            document["validator_flags"] = flags
        else:
            document.pop("validator_flags", None)

    codearena = {key: value for key, value in (document.get("codearena") or {}).items() if key not in ("tags", "checker")}
    codearena["difficulty"] = problem.difficulty.value
    if problem.category:
        codearena["category"] = problem.category
    if problem.checker == "exact":
        codearena["checker"] = "exact"
    if problem.checker == "function":
        codearena["style"] = "function"
        codearena["unordered"] = bool((problem.checker_flags or {}).get("unordered", False))
        if (problem.checker_flags or {}).get("float_tolerance") is not None:
            codearena["float_tolerance"] = problem.checker_flags["float_tolerance"]
    document["codearena"] = codearena

    tags = list(problem.tags or [])
    if tags:
        document["keywords"] = " ".join(tags) if legacy else tags
    else:
        document.pop("keywords", None)
    return document


def plan_export(problem: Problem) -> dict[str, FileSource]:
    """Return every file of the exported package: relative path -> content source."""
    meta = dict(problem.package_meta or {})
    legacy = meta.get("format_version") == LEGACY
    files: dict[str, FileSource] = {entry["path"]: ("blob", entry["sha256"]) for entry in meta.get("files", [])}
    _statement_files(problem, meta, files, legacy)

    used: set[str] = set()
    tests = [(_test_path(test, used), test) for test in problem.test_cases]
    for path, test in tests:
        files[f"data/{path}.in"] = ("blob", test.input_sha256)
        files[f"data/{path}.ans"] = ("blob", test.answer_sha256)
    scoring = not meta and any(test.points > 0 for _, test in tests)
    if scoring:
        _scoring_files(tests, files)

    document = _problem_yaml(problem, meta, files, scoring)
    files["problem.yaml"] = ("text", yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return files


def _safe_relative(path: str) -> PurePosixPath:
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise ExportError(f"refusing to write the unsafe package path {path!r}")
    return relative


def write_package(blobs: BlobStore, files: dict[str, FileSource], folder: Path) -> None:
    for path, (kind, value) in sorted(files.items()):
        target = folder / _safe_relative(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "blob":
            try:
                shutil.copyfile(blobs.path_of(value), target)
            except FileNotFoundError:
                raise ExportError(f"{path}: its stored content {value} is missing from the blob store") from None
        else:
            target.write_text(value, encoding="utf-8")


def _write(blobs: BlobStore, files: dict[str, FileSource], destination: Path, name: str, as_zip: bool) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    if not as_zip:
        folder = destination / name
        if folder.exists():
            raise ExportError(f"{folder} already exists; remove it or export to another folder")
        write_package(blobs, files, folder)
        return folder

    archive = destination / f"{name}.zip"
    if archive.exists():
        raise ExportError(f"{archive} already exists; remove it or export to another folder")
    with tempfile.TemporaryDirectory(prefix="codearena-export-") as scratch:
        folder = Path(scratch) / name
        write_package(blobs, files, folder)
        partial = archive.with_suffix(".zip.partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as output:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    output.write(path, path.relative_to(folder.parent).as_posix())
        partial.replace(archive)
    return archive


async def load_problem_for_export(session: AsyncSession, problem_key: str) -> Problem | None:
    key = Problem.id == int(problem_key) if problem_key.isdigit() else Problem.slug == problem_key.lower()
    return await session.scalar(
        select(Problem).where(key).options(selectinload(Problem.test_cases).selectinload(TestCase.group))
    )


async def export_problem(
    session: AsyncSession, blobs: BlobStore, problem_key: str, destination: Path, *, as_zip: bool = False
) -> Path:
    """Write the problem as destination/<slug>/ or destination/<slug>.zip and return that path."""
    problem = await load_problem_for_export(session, problem_key)
    if problem is None:
        raise ExportError(f"problem {problem_key!r} not found")
    files = plan_export(problem)
    return await asyncio.to_thread(_write, blobs, files, destination, problem.slug, as_zip)

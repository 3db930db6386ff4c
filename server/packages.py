"""Problem packages in the database: import a Kattis package, export a problem back to one.

Import is all-or-nothing. Files go to the content-addressed blob store first
(harmless if the import then fails, because an unreferenced blob is only
unused space), then one transaction writes the problem, its test groups and test
cases. Re-importing an existing slug is rejected with PackageConflict unless
`replace` is set; a replace keeps the problem's id, replaces its test data and
bumps its version, so the judge's test data cache (keyed by version) refreshes.

Everything of the package that is not a test case (statements, output
validators, example submissions, generators, testdata.yaml files...) is stored
as blobs and listed in Problem.package_meta["files"], so an export writes the
package back.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.blobs import BlobStore
from db.models import Blob, Difficulty, Problem, TestCase, TestGroup
from judge.packages import DEFAULT_TIME_LIMIT_MS, Package, PackageError, slug_from_short_name
from server.settings import LimitsSettings

logger = logging.getLogger(__name__)

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
DEFAULT_MEMORY_LIMIT_MB = 256
DEFAULT_OUTPUT_LIMIT_KB = 8192
MIN_MEMORY_LIMIT_MB = 16


class PackageConflict(Exception):
    """The slug is taken and the import did not ask to replace it."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        super().__init__(f"problem {slug!r} already exists; import with replace to update it as a new version")


class ImportResult(msgspec.Struct, kw_only=True):
    problem_id: int
    slug: str
    title: str
    version: int
    created: bool
    problem_type: str
    checker: str
    time_limit_ms: int
    # problem.yaml, .timelimit or pending (derived later from the accepted submissions' times).
    time_limit_source: str
    memory_limit_mb: int
    test_count: int
    group_count: int
    submission_count: int
    output_validator_count: int
    max_score: float
    warnings: list[str]


def check_package_limits(package: Package, limits: LimitsSettings) -> None:
    """Check the package's limits against the operator's maximums."""
    seconds = package.time_limit.seconds
    if seconds is not None and seconds * 1000 > limits.max_time_limit_ms:
        raise PackageError(f"problem.yaml: limits.time_limit is {seconds:g} s, the maximum here is {limits.max_time_limit_ms / 1000:g} s")
    if seconds is not None and round(seconds * 1000) < 1:
        raise PackageError(f"problem.yaml: limits.time_limit is {seconds:g} s, the minimum is 0.001 s")
    memory = package.memory_limit_mb
    if memory is not None and memory > limits.max_memory_limit_mb:
        raise PackageError(f"problem.yaml: limits.memory is {memory} MiB, the maximum here is {limits.max_memory_limit_mb} MiB")
    if memory is not None and memory < MIN_MEMORY_LIMIT_MB:
        raise PackageError(f"problem.yaml: limits.memory is {memory} MiB, the minimum is {MIN_MEMORY_LIMIT_MB} MiB")
    output = package.output_limit_kb
    if output is not None and output > limits.max_output_limit_kb:
        raise PackageError(
            f"problem.yaml: limits.output is {output // 1024} MiB, the maximum here is {limits.max_output_limit_kb // 1024} MiB"
        )


def _store_files(blobs: BlobStore, package: Package) -> dict[str, tuple[str, int]]:
    """Copy every test file and package file into the blob store; return path -> (sha256, size)."""
    root = Path(package.root)
    stored: dict[str, tuple[str, int]] = {}
    paths = [test.input_path for test in package.tests] + [test.answer_path for test in package.tests]
    paths += [file.path for file in package.files]
    for path in paths:
        if path not in stored:
            stored[path] = blobs.put_file(root / path)
    return stored


async def _insert_blobs(session: AsyncSession, stored: dict[str, tuple[str, int]]) -> None:
    rows = {sha: size for sha, size in stored.values()}
    if not rows:
        return
    connection = await session.connection()
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    values = [{"sha256": sha, "size": size} for sha, size in sorted(rows.items())]
    # Another import may store the same content at the same time: content-addressed rows never conflict in meaning.
    for start in range(0, len(values), 500):
        await session.execute(insert(Blob).values(values[start : start + 500]).on_conflict_do_nothing(index_elements=["sha256"]))


def _file_entry(path: str, stored: dict[str, tuple[str, int]]) -> dict[str, Any]:
    sha, size = stored[path]
    return {"path": path, "sha256": sha, "size": size}


def _program_meta(program, stored: dict[str, tuple[str, int]]) -> dict[str, Any]:
    meta = {
        "name": program.name,
        "path": program.path,
        "language": program.language,
        "entry": program.entry,
        "files": [_file_entry(path, stored) for path in program.files],
    }
    if hasattr(program, "expected"):
        meta["expected"] = program.expected
        meta["verdicts"] = list(program.verdicts)
    return meta


def package_meta(package: Package, stored: dict[str, tuple[str, int]]) -> dict[str, Any]:
    """Build Problem.package_meta: what the judge and an export need beyond the columns."""
    policy = package.time_limit
    time_limit: dict[str, Any] = {
        "source": policy.source,
        "seconds": policy.seconds,
        "legacy_rounding": policy.legacy,
        "time_multiplier": policy.time_multiplier,
        "time_safety_margin": policy.time_safety_margin,
        "ac_to_time_limit": policy.ac_to_time_limit,
        "time_limit_to_tle": policy.time_limit_to_tle,
        "time_resolution": policy.time_resolution,
    }
    if policy.seconds is None:
        time_limit["derived"] = "pending"
        time_limit["default_ms"] = DEFAULT_TIME_LIMIT_MS
    return {
        "format_version": package.format_version,
        "short_name": package.short_name,
        "uuid": package.uuid,
        "names": package.names,
        "problem_yaml": package.problem_yaml,
        "types": package.types,
        "scoring": package.scoring,
        "max_score": package.max_score,
        "time_limit": time_limit,
        "limits": package.limits,
        "validation": msgspec.to_builtins(package.validation),
        "function": msgspec.to_builtins(package.function) if package.function else None,
        "statement": msgspec.to_builtins(package.statement) if package.statement else None,
        "statements": msgspec.to_builtins(package.statements),
        "description_sha256": hashlib.sha256(package.description.encode()).hexdigest(),
        "output_validators": [_program_meta(program, stored) for program in package.output_validators],
        "submissions": [_program_meta(submission, stored) for submission in package.submissions],
        "sample_interactions": package.sample_interactions,
        "test_case_settings": {test.name: test.settings for test in package.tests if test.settings},
        "files": [_file_entry(file.path, stored) for file in package.files],
        "warnings": package.warnings,
    }


def _apply_package(problem: Problem, package: Package, meta: dict[str, Any], is_public: bool | None) -> None:
    problem.title = package.title
    problem.description = package.description
    if package.difficulty is not None:
        problem.difficulty = Difficulty(package.difficulty)
    if package.category is not None:
        problem.category = package.category
    problem.tags = package.tags
    seconds = package.time_limit.seconds
    problem.time_limit_ms = round(seconds * 1000) if seconds is not None else DEFAULT_TIME_LIMIT_MS
    problem.memory_limit_mb = package.memory_limit_mb or DEFAULT_MEMORY_LIMIT_MB
    problem.output_limit_kb = package.output_limit_kb or DEFAULT_OUTPUT_LIMIT_KB
    problem.problem_type = package.problem_type
    problem.checker = package.checker
    problem.checker_flags = package.checker_flags
    problem.package_meta = meta
    if is_public is not None:
        problem.is_public = is_public


async def _store_tests(session: AsyncSession, problem: Problem, package: Package, stored: dict[str, tuple[str, int]]) -> None:
    await session.execute(delete(TestCase).where(TestCase.problem_id == problem.id))
    await session.execute(delete(TestGroup).where(TestGroup.problem_id == problem.id))
    await session.flush()

    groups: dict[str, TestGroup] = {}
    for position, spec in enumerate(package.groups):
        if spec.test_count == 0:
            continue
        group = TestGroup(
            problem_id=problem.id,
            name=spec.name,
            position=position,
            is_sample=spec.is_sample,
            points=spec.points,
            settings=spec.settings,
        )
        session.add(group)
        groups[spec.name] = group
    await session.flush()

    for position, test in enumerate(package.tests, start=1):
        input_sha, input_size = stored[test.input_path]
        answer_sha, answer_size = stored[test.answer_path]
        session.add(
            TestCase(
                problem_id=problem.id,
                group_id=groups[test.group].id,
                name=test.name,
                position=position,
                is_sample=test.is_sample,
                points=test.points,
                input_sha256=input_sha,
                answer_sha256=answer_sha,
                input_size=input_size,
                answer_size=answer_size,
            )
        )
    await session.flush()


async def import_package(
    session: AsyncSession,
    blobs: BlobStore,
    package: Package,
    *,
    limits: LimitsSettings,
    author_id: int | None = None,
    slug: str | None = None,
    replace: bool = False,
    is_public: bool | None = None,
) -> ImportResult:
    """Store a loaded package as a problem, in one transaction; commits on success, rolls back on error."""
    slug = slug or slug_from_short_name(package.short_name)
    if not SLUG_PATTERN.match(slug) or len(slug) > 64:
        raise PackageError(f"slug {slug!r} is invalid: use 1-64 lowercase letters, digits and single hyphens")
    check_package_limits(package, limits)
    stored = await asyncio.to_thread(_store_files, blobs, package)
    meta = package_meta(package, stored)

    try:
        problem = await session.scalar(select(Problem).where(Problem.slug == slug).with_for_update())
        created = problem is None
        if problem is not None and not replace:
            raise PackageConflict(slug)
        if problem is None:
            problem = Problem(slug=slug, title=package.title, author_id=author_id, version=1)
            session.add(problem)
        else:
            problem.version += 1
        _apply_package(problem, package, meta, True if created and is_public is None else is_public)
        await session.flush()
        await _insert_blobs(session, stored)
        await _store_tests(session, problem, package, stored)
        await session.commit()
    except IntegrityError:
        await session.rollback()
        # Two imports of the same new slug at once: the second one loses.
        raise PackageConflict(slug) from None
    except BaseException:
        await session.rollback()
        raise

    logger.info(
        "imported package %s as problem %d (%s, version %d, %d tests)",
        package.short_name, problem.id, slug, problem.version, len(package.tests),
    )
    return ImportResult(
        problem_id=problem.id,
        slug=slug,
        title=problem.title,
        version=problem.version,
        created=created,
        problem_type=problem.problem_type,
        checker=problem.checker,
        time_limit_ms=problem.time_limit_ms,
        time_limit_source=package.time_limit.source,
        memory_limit_mb=problem.memory_limit_mb,
        test_count=len(package.tests),
        group_count=sum(1 for group in package.groups if group.test_count),
        submission_count=len(package.submissions),
        output_validator_count=len(package.output_validators),
        max_score=package.max_score,
        warnings=package.warnings,
    )

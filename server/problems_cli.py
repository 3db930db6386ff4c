"""`codearena problems`: import, export and verify Kattis problem packages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from server.settings import Settings, SettingsError, load_settings

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


async def _with_session(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    from db.engine import create_engine, create_session_factory
    from db.migrate import SchemaOutdatedError, ensure_schema_current

    engine = create_engine(settings.database_url)
    try:
        try:
            await ensure_schema_current(engine)
        except SchemaOutdatedError as exc:
            raise click.ClickException(str(exc)) from None
        async with create_session_factory(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()


@click.group()
def problems() -> None:
    """Problem package commands (Kattis problem package format)."""


@problems.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--slug", default=None, help="Problem slug (default: made from the package folder or zip name).")
@click.option("--replace", is_flag=True, help="Update an existing problem with this slug as a new version.")
@click.option("--hidden", is_flag=True, help="Keep the problem out of the public practice archive.")
def import_command(path: Path, slug: str | None, replace: bool, hidden: bool) -> None:
    """Import the package folder or zip at PATH."""
    from db.blobs import BlobStore
    from judge.packages import LoadOptions, PackageError, load_package, open_package
    from server.packages import PackageConflict, import_package

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    blobs = BlobStore(settings.data_dir / "blobs")
    options = LoadOptions(max_test_bytes=settings.limits.max_test_bytes)

    async def work(session):
        with open_package(path, options) as (root, short_name):
            package = await asyncio.to_thread(load_package, root, short_name, options)
            return await import_package(
                session,
                blobs,
                package,
                limits=settings.limits,
                slug=slug,
                replace=replace,
                is_public=False if hidden else None,
            )

    try:
        result = asyncio.run(_with_session(settings, work))
    except PackageError as exc:
        raise click.ClickException("invalid package: " + "\n  ".join(exc.messages)) from None
    except PackageConflict as exc:
        raise click.ClickException(f"{exc}: add --replace") from None

    action = "created" if result.created else "updated"
    click.echo(f"{action} problem {result.slug} (id {result.problem_id}, version {result.version}): {result.title}")
    click.echo(
        f"  {result.problem_type}, checker {result.checker}, {result.test_count} tests in {result.group_count} groups, "
        f"{result.submission_count} submissions, {result.output_validator_count} output validators"
    )
    limit = f"{result.time_limit_ms} ms" + (" (default until derived: run `codearena problems verify`)" if result.time_limit_source == "pending" else "")
    click.echo(f"  time limit {limit}, memory {result.memory_limit_mb} MiB" + (f", max score {result.max_score:g}" if result.max_score else ""))
    for warning in result.warnings:
        click.echo(f"  warning: {warning}")


@problems.command("export")
@click.argument("slug")
@click.option(
    "--output", "output", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
    help="Folder to write the package into, as <output>/<slug>/ or <output>/<slug>.zip.",
)
@click.option("--zip", "as_zip", is_flag=True, help="Write a zip archive instead of a folder.")
def export_command(slug: str, output: Path, as_zip: bool) -> None:
    """Export problem SLUG (or id) as a Kattis problem package."""
    from db.blobs import BlobStore
    from server.package_export import ExportError, export_problem

    settings = _settings()
    blobs = BlobStore(settings.data_dir / "blobs")

    async def work(session):
        return await export_problem(session, blobs, slug, output, as_zip=as_zip)

    try:
        written = asyncio.run(_with_session(settings, work))
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"exported {slug} to {written}")


@problems.command("verify")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--concurrency", type=click.IntRange(min=1), default=None, help="Submissions judged at once (default: the number of CPUs).")
def verify_command(path: Path, concurrency: int | None) -> None:
    """Judge every submission of the package at PATH and compare with its expected verdict.

    Exits with status 1 when any submission's verdict differs from its folder's.
    """
    from judge.packages import PackageError
    from judge.pool import JudgePool
    from server.package_verify import verify_package

    settings = _settings()

    def show(result) -> None:
        label = {"ok": "OK  ", "mismatch": "FAIL", "skipped": "SKIP"}[result.status]
        expected = "/".join(result.allowed) or "?"
        line = f"{label} {result.path:<55} expected {expected:<14}"
        if result.verdict is not None:
            line += f" got {result.verdict:<4} {result.time_ms / 1000:6.2f} s"
            if result.score is not None:
                line += f"  score {result.score:g}"
        if result.note:
            line += f"  ({result.note})"
        click.echo(line)

    try:
        report = asyncio.run(
            verify_package(path, settings, lambda: JudgePool(concurrency=concurrency, warm_containers=1))
        )
    except PackageError as exc:
        raise click.ClickException("invalid package: " + "\n  ".join(exc.messages)) from None
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None

    click.echo(f"{report.slug}: time limit {report.time_limit_ms} ms ({report.time_limit_source})")
    for result in report.results:
        show(result)
    for warning in report.warnings:
        click.echo(f"warning: {warning}")
    counts = {status: sum(1 for result in report.results if result.status == status) for status in ("ok", "mismatch", "skipped")}
    click.echo(f"{counts['ok']} as expected, {counts['mismatch']} mismatched, {counts['skipped']} skipped")
    if report.mismatches:
        raise SystemExit(1)

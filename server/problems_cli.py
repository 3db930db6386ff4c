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

"""Command-line tools of the judge: `codearena judge images ...`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiodocker
import click

from judge.images import DEFAULT_MIRROR, ImageBuilder, ImageBuildError, default_cache_dir, image_tag, recipes_for
from judge.languages import LANGUAGES, LANGUAGES_BY_ID


@click.group()
def images() -> None:
    """Build and list the judge images."""


@images.command("build")
@click.option(
    "--language",
    "languages",
    multiple=True,
    type=click.Choice(list(LANGUAGES_BY_ID)),
    help="Build only the image of this language (repeatable). Default: all images.",
)
@click.option("--force", is_flag=True, help="Rebuild even when an image with the current recipe hash exists.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the debootstrap tarball, .deb files and logs are kept "
    "(default: $CODEARENA_JUDGE_CACHE_DIR or ~/.cache/codearena/judge).",
)
@click.option("--mirror", default=DEFAULT_MIRROR, show_default=True, help="Debian mirror for debootstrap and apt.")
def build(languages: tuple[str, ...], force: bool, cache_dir: Path | None, mirror: str) -> None:
    """Build the missing judge images (idempotent)."""
    started = time.monotonic()

    def progress(message: str) -> None:
        click.echo(f"{time.monotonic() - started:6.1f}s {message}")

    async def run() -> None:
        async with aiodocker.Docker() as docker:
            builder = ImageBuilder(docker, cache_dir=cache_dir or default_cache_dir(), mirror=mirror, progress=progress)
            results = await builder.build(recipes_for(languages or None), force=force)
        for result in results:
            state = f"built in {result.seconds:.0f} s" if result.built else "up to date"
            click.echo(f"{result.tag}: {state}")

    try:
        asyncio.run(run())
    except ImageBuildError as error:
        raise click.ClickException(str(error)) from error
    except aiodocker.DockerError as error:
        raise click.ClickException(f"Docker failed: {error}. Is the Docker engine running?") from error
    click.echo(f"total {time.monotonic() - started:.0f} s")


@images.command("list")
@click.option("--mirror", default=DEFAULT_MIRROR, show_default=True, help="Debian mirror the tags were built from.")
def list_images(mirror: str) -> None:
    """Print each language with the image tag it runs in."""
    for language in LANGUAGES:
        click.echo(f"{language.id:12} {image_tag(language.image, mirror)}")

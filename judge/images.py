"""Build the judge images locally, without a container registry.

Each image is a Debian minbase root file system made with `debootstrap`, plus
the Debian packages of its recipe and the in-container runner, loaded with the
Engine API's import (what `docker import` does). The tag is a hash of the
recipe, the runner source and these build steps, so an image is rebuilt only
when one of them changes. The debootstrap result is kept as a tarball in the
cache directory and every image starts from a copy of it; downloaded .deb
files are kept there too.

Needs root (debootstrap, chroot, mount) on the Docker host.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path

import aiodocker
import msgspec

from judge.languages import GCC_IMAGE, IMAGE_RECIPES, LANGUAGES_BY_ID, ImageRecipe

log = logging.getLogger(__name__)

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
RUNNER_SOURCE = Path(__file__).with_name("runner") / "runner.c"
RUNNER_PATH = "/opt/codearena/runner"
IMAGE_REPOSITORY_PREFIX = "codearena-judge-"
# Bump when the steps below change in a way that changes the image.
BUILD_STEPS_VERSION = "1"

# Removed from every image: documentation and apt state are dead weight there.
_CLEANUP_PATHS = (
    "var/lib/apt/lists",
    "var/cache/apt",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
)

Progress = Callable[[str], None]


class ImageBuildError(RuntimeError):
    pass


class BuildResult(msgspec.Struct, frozen=True):
    recipe: str
    tag: str
    built: bool
    seconds: float


def default_cache_dir() -> Path:
    configured = os.environ.get("CODEARENA_JUDGE_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "codearena" / "judge"


_CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


def recipe_hash(recipe: ImageRecipe, mirror: str = DEFAULT_MIRROR, runner_source: bytes | None = None) -> str:
    digest = hashlib.sha256()
    digest.update(msgspec.json.encode([BUILD_STEPS_VERSION, SUITE, mirror, recipe]))
    digest.update(runner_source if runner_source is not None else RUNNER_SOURCE.read_bytes())
    return digest.hexdigest()[:12]


def image_tag(recipe: ImageRecipe, mirror: str = DEFAULT_MIRROR, runner_source: bytes | None = None) -> str:
    return f"{IMAGE_REPOSITORY_PREFIX}{recipe.name}:{recipe_hash(recipe, mirror, runner_source)}"


def recipes_for(language_ids: Iterable[str] | None) -> list[ImageRecipe]:
    if language_ids is None:
        return list(IMAGE_RECIPES)
    recipes: list[ImageRecipe] = []
    for language_id in language_ids:
        if language_id not in LANGUAGES_BY_ID:
            known = ", ".join(LANGUAGES_BY_ID)
            raise ValueError(f"unknown language {language_id!r}; known languages: {known}")
        recipe = LANGUAGES_BY_ID[language_id].image
        if recipe not in recipes:
            recipes.append(recipe)
    return recipes


async def image_exists(docker: aiodocker.Docker, tag: str) -> bool:
    try:
        await docker.images.inspect(tag)
    except aiodocker.DockerError as error:
        if error.status == 404:
            return False
        raise
    return True


class ImageBuilder:
    """Builds the judge images that are missing; `force` rebuilds them all."""

    def __init__(
        self,
        docker: aiodocker.Docker,
        *,
        cache_dir: Path | None = None,
        mirror: str = DEFAULT_MIRROR,
        progress: Progress | None = None,
    ) -> None:
        self.docker = docker
        self.cache_dir = cache_dir or default_cache_dir()
        self.mirror = mirror
        self.progress = progress or (lambda message: log.info("%s", message))
        # Read once, so the tags and the compiled runner agree even if the file changes meanwhile.
        self.runner_source = RUNNER_SOURCE.read_bytes()
        self._runner: asyncio.Future[Path] | None = None
        self._base: Path | None = None

    @property
    def runner_binary(self) -> Path:
        digest = hashlib.sha256(self.runner_source).hexdigest()[:12]
        return self.cache_dir / f"runner-{digest}"

    def tag(self, recipe: ImageRecipe) -> str:
        return image_tag(recipe, self.mirror, self.runner_source)

    async def build(self, recipes: Iterable[ImageRecipe], *, force: bool = False) -> list[BuildResult]:
        recipes = list(recipes)
        results: dict[str, BuildResult] = {}
        todo: list[ImageRecipe] = []
        for recipe in recipes:
            tag = self.tag(recipe)
            if not force and await image_exists(self.docker, tag):
                self.progress(f"[{recipe.name}] {tag} is up to date")
                results[recipe.name] = BuildResult(recipe=recipe.name, tag=tag, built=False, seconds=0.0)
            else:
                todo.append(recipe)
        if not todo:
            return [results[recipe.name] for recipe in recipes]

        self._check_tools()
        (self.cache_dir / "logs").mkdir(parents=True, exist_ok=True)
        self._base = await self._ensure_base()
        self._runner = asyncio.get_running_loop().create_future()
        if self.runner_binary.exists():
            self._runner.set_result(self.runner_binary)
        elif GCC_IMAGE not in todo:
            await self._extract_runner_from_gcc_image(todo)

        # Images build side by side: most of the time goes to downloads and dpkg.
        built = await asyncio.gather(*(self._build_one(recipe) for recipe in todo), return_exceptions=True)
        errors = [result for result in built if isinstance(result, BaseException)]
        if errors:
            raise errors[0]
        for result in built:
            results[result.recipe] = result
        return [results[recipe.name] for recipe in recipes]

    def _check_tools(self) -> None:
        if os.geteuid() != 0:
            raise ImageBuildError("building judge images needs root (debootstrap, chroot and mount)")
        for tool in ("debootstrap", "chroot", "tar", "mount", "umount"):
            if shutil.which(tool) is None:
                raise ImageBuildError(f"{tool} not found; install it with: apt-get install debootstrap")

    async def _extract_runner_from_gcc_image(self, todo: list[ImageRecipe]) -> None:
        """Take the runner out of the current gcc image, or build that image too."""
        assert self._runner is not None
        gcc_tag = self.tag(GCC_IMAGE)
        if not await image_exists(self.docker, gcc_tag):
            todo.insert(0, GCC_IMAGE)
            return
        container = await self.docker.containers.create({"Image": gcc_tag, "Cmd": ["true"]})
        try:
            archive = await container.get_archive(RUNNER_PATH)
            member = archive.extractfile("runner")
            assert member is not None
            self.runner_binary.write_bytes(member.read())
            self.runner_binary.chmod(0o755)
        finally:
            await container.delete(force=True)
        self._runner.set_result(self.runner_binary)

    async def _ensure_base(self) -> Path:
        key = hashlib.sha256(f"{SUITE} minbase {self.mirror}".encode()).hexdigest()[:12]
        tarball = self.cache_dir / f"base-{SUITE}-minbase-{key}.tar"
        if tarball.exists():
            self.progress(f"[base] using cached {tarball}")
            return tarball

        started = time.monotonic()
        root = self.cache_dir / "work" / "base"
        _remove_tree(root)
        root.mkdir(parents=True)
        self.progress(f"[base] debootstrap {SUITE} --variant=minbase from {self.mirror}")
        await _run(
            ["debootstrap", "--variant=minbase", SUITE, str(root), self.mirror],
            log_path=self.cache_dir / "logs" / "base.log",
        )
        partial = tarball.with_suffix(".partial")
        await _run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial), "."])
        partial.rename(tarball)
        _remove_tree(root)
        self.progress(f"[base] done in {time.monotonic() - started:.0f} s")
        return tarball

    async def _build_one(self, recipe: ImageRecipe) -> BuildResult:
        started = time.monotonic()
        tag = self.tag(recipe)
        root = self.cache_dir / "work" / recipe.name
        log_path = self.cache_dir / "logs" / f"{recipe.name}.log"
        log_path.write_text("")
        say = lambda message: self.progress(f"[{recipe.name}] {message}")  # noqa: E731

        _remove_tree(root)
        root.mkdir(parents=True)
        try:
            say("unpacking the base file system")
            await _run(["tar", "-C", str(root), "--numeric-owner", "-xpf", str(self._base)])
            say(f"installing {' '.join(recipe.packages)}")
            await self._install_packages(root, recipe, log_path)
            if recipe.setup:
                # The JDK's tools find their libraries through /proc/self/exe.
                await _run(["mount", "-t", "proc", "proc", str(root / "proc")])
                for number, command in enumerate(recipe.setup, 1):
                    say(f"running set-up step {number} of {len(recipe.setup)}")
                    await _run(["chroot", str(root), "sh", "-ec", command], env=_CHROOT_ENV, log_path=log_path)
                await _run(["umount", str(root / "proc")])
            if recipe == GCC_IMAGE:
                say("compiling the runner")
                await self._compile_runner(root, log_path)
            assert self._runner is not None
            runner = await self._runner
            target = root / RUNNER_PATH.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(runner, target)
            target.chmod(0o755)
            _prepare_mount_points(root)
            say(f"importing as {tag}")
            await self._import(root, tag)
        except BaseException as error:
            if self._runner is not None and not self._runner.done() and recipe == GCC_IMAGE:
                self._runner.set_exception(ImageBuildError(f"the gcc image failed to build: {error}"))
            raise
        finally:
            _unmount_all(root)
            _remove_tree(root)
        await self._remove_old_tags(recipe, tag)
        seconds = time.monotonic() - started
        say(f"done in {seconds:.0f} s")
        return BuildResult(recipe=recipe.name, tag=tag, built=True, seconds=seconds)

    async def _install_packages(self, root: Path, recipe: ImageRecipe, log_path: Path) -> None:
        # Each chroot has its own archives dir (apt locks it); .deb files are
        # hard-linked in from the shared cache and new ones linked back.
        shared = self.cache_dir / "debs"
        shared.mkdir(parents=True, exist_ok=True)
        archives = root / "var" / "cache" / "apt" / "archives"
        archives.mkdir(parents=True, exist_ok=True)
        _link_debs(shared, archives)

        shutil.copyfile("/etc/resolv.conf", root / "etc" / "resolv.conf")
        policy = root / "usr" / "sbin" / "policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        (root / "etc" / "apt" / "sources.list").write_text(f"deb {self.mirror} {SUITE} main\n")

        await _run(["mount", "-t", "proc", "proc", str(root / "proc")])
        env = {"DEBIAN_FRONTEND": "noninteractive", **_CHROOT_ENV}
        await _run(["chroot", str(root), "apt-get", "-q", "update"], env=env, log_path=log_path)
        await _run(
            ["chroot", str(root), "apt-get", "-q", "-y", "--no-install-recommends", "install", *recipe.packages],
            env=env,
            log_path=log_path,
        )
        await _run(["umount", str(root / "proc")])

        _link_debs(archives, shared)
        policy.unlink()
        (root / "etc" / "resolv.conf").write_text("")
        for relative in _CLEANUP_PATHS:
            shutil.rmtree(root / relative, ignore_errors=True)

    async def _compile_runner(self, root: Path, log_path: Path) -> None:
        assert self._runner is not None
        (root / "tmp" / "runner.c").write_bytes(self.runner_source)
        await _run(
            ["chroot", str(root), "gcc", "-static", "-O2", "-Wall", "-o", "/tmp/runner", "/tmp/runner.c"],
            log_path=log_path,
        )
        if not self._runner.done():
            partial = self.runner_binary.with_suffix(".partial")
            shutil.copyfile(root / "tmp" / "runner", partial)
            partial.chmod(0o755)
            partial.rename(self.runner_binary)
            self._runner.set_result(self.runner_binary)
        (root / "tmp" / "runner.c").unlink()
        (root / "tmp" / "runner").unlink()

    async def _import(self, root: Path, tag: str) -> None:
        repository, _, version = tag.partition(":")
        process = await asyncio.create_subprocess_exec(
            "tar", "-C", str(root), "--numeric-owner", "-c", ".",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None

        async def body() -> AsyncIterator[bytes]:
            assert process.stdout is not None
            while chunk := await process.stdout.read(1 << 20):
                yield chunk

        params = {
            "fromSrc": "-",
            "repo": repository,
            "tag": version,
            "changes": f'CMD ["{RUNNER_PATH}"]',
        }
        async with self.docker._query(
            "images/create",
            method="POST",
            params=params,
            data=body(),
            headers={"Content-Type": "application/x-tar"},
            timeout=None,
        ) as response:
            reply = await response.text()
        if await process.wait() != 0:
            raise ImageBuildError(f"tar of {root} failed with exit code {process.returncode}")
        if '"error"' in reply:
            raise ImageBuildError(f"docker import of {tag} failed: {reply[-500:]}")

    async def _remove_old_tags(self, recipe: ImageRecipe, current: str) -> None:
        repository = current.partition(":")[0]
        for image in await self.docker.images.list(filters={"reference": [repository]}):
            for tag in image.get("RepoTags") or []:
                if tag != current and tag.startswith(repository + ":"):
                    try:
                        await self.docker.images.delete(tag)
                        self.progress(f"[{recipe.name}] removed old image {tag}")
                    except aiodocker.DockerError as error:
                        log.warning("could not remove old judge image %s: %s", tag, error)


async def _run(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> None:
    """Run argv to completion; on failure raise with the end of its output."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    output, _ = await process.communicate()
    if log_path is not None:
        with log_path.open("ab") as log_file:
            log_file.write(b"$ " + " ".join(argv).encode() + b"\n" + output)
    if process.returncode != 0:
        tail = output.decode(errors="replace")[-2000:]
        where = f" (full log: {log_path})" if log_path else ""
        raise ImageBuildError(f"{' '.join(argv[:4])} ... failed with exit code {process.returncode}{where}:\n{tail}")


def _link_debs(source: Path, target: Path) -> None:
    for deb in source.glob("*.deb"):
        destination = target / deb.name
        if not destination.exists():
            try:
                os.link(deb, destination)
            except OSError:
                shutil.copyfile(deb, destination)


def _prepare_mount_points(root: Path) -> None:
    # /box, /judge and /tmp are tmpfs mounts in the sandbox; the root is read-only.
    for name, mode in (("box", 0o755), ("judge", 0o700), ("tmp", 0o1777)):
        path = root / name
        path.mkdir(exist_ok=True)
        path.chmod(mode)


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    mounts = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            mount_point = line.split()[4].replace("\\040", " ")
            if mount_point == prefix or mount_point.startswith(prefix + "/"):
                mounts.append(mount_point)
    return mounts


def _unmount_all(root: Path) -> None:
    import subprocess

    if not root.exists():
        return
    for mount_point in sorted(_mounts_under(root), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount_point], check=False)


def _remove_tree(root: Path) -> None:
    """Delete a build root, but never through a mount (such as /proc) still in it."""
    if not root.exists():
        return
    _unmount_all(root)
    leftover = _mounts_under(root)
    if leftover:
        raise ImageBuildError(f"refusing to delete {root}: still mounted: {', '.join(leftover)}")
    shutil.rmtree(root)

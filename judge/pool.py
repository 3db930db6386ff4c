"""JudgePool: judges submissions in fresh containers taken from a warm pool.

Usage, with no database or server involved:

    async with JudgePool() as pool:
        async for event in pool.judge(job):
            ...

Each submission gets one container, used once and then force-deleted. A few
started containers per judge image are kept ready and refilled in the
background, so a submission does not wait for a container start. A job with
an output validator or interactor gets a second container for it, of the
validator's image, and the validator is compiled once per distinct source
(judge/validators.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import aiodocker

from judge.events import Compiled, Compiling, Final, JudgeEvent, TestFinished
from judge.images import default_cache_dir, image_exists, image_tag
from judge.job import JudgeJob
from judge.languages import LANGUAGES, ImageRecipe, Language
from judge.sandbox import (
    BACKGROUND_CPU_SHARES,
    JOB_CPU_SHARES,
    POOL_LABEL,
    Sandbox,
    SandboxError,
    SandboxSettings,
    remove_stale_containers,
)
from judge.session import JudgeSession, JudgeState, TestDataError
from judge.validators import (
    CompileOutcome,
    PreparedValidator,
    ValidatorCache,
    ValidatorError,
    ValidatorRun,
    ValidatorSpec,
    compile_validator,
    image_of as validator_image,
)

log = logging.getLogger(__name__)

# Each concurrent submission runs under its own set of uids, because
# RLIMIT_NPROC counts the processes of a uid across all containers: the
# program, its compiler, the output validator and the validator's compiler.
BASE_UID = 40_000
UIDS_PER_SLOT = 4
# Compile servers of warm containers start before their slot is known, so each gets a uid of
# its own from this range: their threads count against a per-uid process limit.
ARMED_BASE_UID = 50_000
ARMED_UIDS = 5_000
# Seconds a taken warm container waits for its replacement unless its job ends sooner. Starting a
# container, and in java and node images warming a compile server, slows the job that runs meanwhile.
# A one-test Java submission took about 20 ms longer on a 2-core machine.
REFILL_DELAY_S = 0.5


class JudgePool:
    def __init__(
        self,
        docker: aiodocker.Docker | None = None,
        *,
        concurrency: int | None = None,
        warm_containers: int = 2,
        settings: SandboxSettings | None = None,
        languages: Iterable[Language] = LANGUAGES,
        image_tags: dict[str, str] | None = None,
        validator_cache_dir: Path | None = None,
        refill_delay_s: float = REFILL_DELAY_S,
    ) -> None:
        self._own_docker = docker is None
        self.docker = docker
        self.concurrency = concurrency or os.cpu_count() or 1
        self.warm_containers = warm_containers
        self.refill_delay_s = refill_delay_s
        self.settings = settings or SandboxSettings()
        self.languages = {language.id: language for language in languages}
        # Image per recipe name; the default is the tag the current recipe builds.
        self.image_tags = image_tags or {language.image.name: image_tag(language.image) for language in self.languages.values()}
        self.validators = ValidatorCache(validator_cache_dir or default_cache_dir() / "validators")
        self.pool_id = uuid.uuid4().hex[:12]
        self._semaphore = asyncio.Semaphore(self.concurrency)
        # The CPUs this process may use, one per slot in turn, for pinning submissions' containers.
        self._cpus = sorted(os.sched_getaffinity(0))
        self._slots: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(self.concurrency):
            self._slots.put_nowait(slot)
        self._warm: dict[str, asyncio.Queue[Sandbox]] = {}
        self._present_images: set[str] = set()
        # Warm containers of an image that serves a single enabled language with a compile server
        # start that server at once.
        self._armed_language: dict[str, Language] = {}
        for image in set(self.image_tags.values()):
            served = [language for language in self.languages.values() if self.image_tags.get(language.image.name) == image]
            if len(served) == 1 and served[0].compile_server:
                self._armed_language[image] = served[0]
        self._armed_count = 0
        self._refill_wanted: dict[str, asyncio.Event] = {}
        self._refill_tasks: list[asyncio.Task] = []
        self._in_use: set[Sandbox] = set()
        self._cleanup_tasks: set[asyncio.Task] = set()
        self._started = False
        self._closed = False

    async def __aenter__(self) -> JudgePool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Check the images and start filling the warm pool; raises if an image is missing."""
        if self._started:
            return
        await self._connect()
        missing = [tag for tag in set(self.image_tags.values()) if not await image_exists(self.docker, tag)]
        if missing:
            raise RuntimeError(f"judge images missing: {', '.join(sorted(missing))}; run: codearena judge images build")
        await self._start_refill()

    async def start_without_image_check(self) -> None:
        """Start even if some images are missing; judging those languages then ends in IE."""
        if self._started:
            return
        await self._connect()
        await self._start_refill()

    async def _connect(self) -> None:
        if self.docker is None:
            self.docker = aiodocker.Docker()
        try:
            await self.docker.version()
        except (aiodocker.DockerError, OSError) as error:
            raise RuntimeError(f"Docker engine not reachable ({error}); start dockerd and retry") from error

    async def _start_refill(self) -> None:
        assert self.docker is not None
        await remove_stale_containers(self.docker)
        self._started = True
        if self.warm_containers > 0:
            for image in sorted(set(self.image_tags.values())):
                self._warm[image] = asyncio.Queue()
                self._refill_wanted[image] = asyncio.Event()
                self._refill_wanted[image].set()
                self._refill_tasks.append(asyncio.create_task(self._refill(image), name=f"judge-refill-{image}"))
        log.info("judge pool %s started: concurrency %d, %d warm containers per image", self.pool_id, self.concurrency, self.warm_containers)

    async def wait_warm(self, timeout: float = 60.0) -> None:
        """Wait until every warm queue is full (for benchmarks and tests)."""
        async with asyncio.timeout(timeout):
            while any(queue.qsize() < self.warm_containers for queue in self._warm.values()):
                await asyncio.sleep(0.02)

    async def close(self) -> None:
        """Stop refilling and delete every container of this pool, warm or in use."""
        if self._closed:
            return
        self._closed = True
        for task in self._refill_tasks:
            task.cancel()
        await asyncio.gather(*self._refill_tasks, return_exceptions=True)
        sandboxes = list(self._in_use)
        for queue in self._warm.values():
            while not queue.empty():
                sandboxes.append(queue.get_nowait())
        await asyncio.gather(*(sandbox.destroy() for sandbox in sandboxes), return_exceptions=True)
        await asyncio.gather(*self._cleanup_tasks, return_exceptions=True)
        if self.docker is not None and self._started:
            await self._delete_labelled()
        if self._own_docker and self.docker is not None:
            await self.docker.close()
        log.info("judge pool %s closed", self.pool_id)

    async def judge(self, job: JudgeJob) -> AsyncIterator[JudgeEvent]:
        """Judge one submission, yielding events up to and including Final."""
        if not self._started or self._closed:
            raise RuntimeError("JudgePool.judge() needs start() first and no close()")
        language = self.languages.get(job.language)
        if language is None:
            raise ValueError(f"language: {job.language!r} is not enabled in this judge")
        async with self._semaphore:
            slot = await self._slots.get()
            try:
                async for event in self._judge_with_retry(job, language, slot):
                    yield event
            finally:
                self._slots.put_nowait(slot)

    async def run_command(self, language: Language, argv: list[str]) -> tuple[int, str]:
        """Run argv (as the compiler would run) in a fresh sandbox of language; return exit code and output."""
        async with self._semaphore:
            slot = await self._slots.get()
            sandbox: Sandbox | None = None
            try:
                sandbox = await self._take(self.image_tags[language.image.name])
                reply, output = await sandbox.compile(uid=BASE_UID + UIDS_PER_SLOT * slot + 1, argv=argv)
                return reply.exit_code, output.decode(errors="replace")
            finally:
                if sandbox is not None:
                    self._release(sandbox)
                self._slots.put_nowait(slot)

    async def _judge_with_retry(self, job: JudgeJob, language: Language, slot: int) -> AsyncIterator[JudgeEvent]:
        # A broken sandbox is retried once in a fresh container; tests already
        # reported are not run again.
        state = JudgeState(job)
        yield Compiling(submission_id=job.submission_id, attempt=job.attempt, language=job.language)
        uid = BASE_UID + UIDS_PER_SLOT * slot
        reason = ""
        prepared: PreparedValidator | None = None
        for attempt in (1, 2):
            sandboxes: list[Sandbox] = []
            try:
                if job.validator is not None and prepared is None:
                    prepared = await self._prepare_validator(job.validator, uid + 3)
                sandboxes.append(await self._take(self.image_tags[language.image.name]))
                validator = None
                if job.validator is not None and prepared is not None:
                    sandboxes.append(await self._take(await self._validator_image(prepared.image)))
                    validator = ValidatorRun(sandboxes[1], prepared, job.validator, uid=uid + 2)
                session = JudgeSession(
                    sandboxes[0], job, language, state, uid=uid, validator=validator, cpu=self._cpu_of(slot)
                )
                async for event in session.run():
                    yield event
                return
            except TestDataError as error:
                log.error("submission %s: %s", job.submission_id, error)
                yield state.internal_error(str(error))
                return
            except ValidatorError as error:
                log.error("submission %s: %s", job.submission_id, error)
                yield state.internal_error(str(error))
                return
            except (SandboxError, aiodocker.DockerError, OSError) as error:
                reason = f"sandbox failed ({type(error).__name__}): {error}"
                log.warning(
                    "submission %s: %s (try %d of 2, containers %s)",
                    job.submission_id, reason, attempt, ", ".join(sandbox.id for sandbox in sandboxes) or "-",
                )  # fmt: skip
            finally:
                for sandbox in sandboxes:
                    self._release(sandbox)
        yield state.internal_error(reason)

    async def _prepare_validator(self, spec: ValidatorSpec, uid: int) -> PreparedValidator:
        """Return the compiled validator from the cache, compiling it in a sandbox of its own on a miss."""

        image = await self._validator_image(validator_image(spec))

        async def compile() -> CompileOutcome:
            sandbox = await self._take(image)
            try:
                return await compile_validator(sandbox, spec, uid)
            finally:
                self._release(sandbox)

        return await self.validators.prepare(spec, image, compile)

    async def _arm(self, sandbox: Sandbox, language: Language) -> None:
        uid = ARMED_BASE_UID + self._armed_count % ARMED_UIDS
        self._armed_count += 1
        await sandbox.arm(uid=uid, argv=list(language.compile_server), language=language.id)

    def _cpu_of(self, slot: int) -> int | None:
        if not self.settings.pin_cpus:
            return None
        return self._cpus[slot % len(self._cpus)]

    def _image_of(self, recipe: ImageRecipe) -> str:
        # Validators run in the gcc or python image even when no enabled language uses it.
        return self.image_tags.get(recipe.name) or image_tag(recipe)

    async def _validator_image(self, recipe: ImageRecipe) -> str:
        image = self._image_of(recipe)
        if image not in self._present_images:
            assert self.docker is not None
            if not await image_exists(self.docker, image):
                raise ValidatorError(
                    f"image {image} for {recipe.name} output validators is missing; run: codearena judge images build"
                )
            self._present_images.add(image)
        return image

    async def _take(self, image: str) -> Sandbox:
        if self._closed:
            raise SandboxError("the judge pool is closed")
        queue = self._warm.get(image)
        sandbox: Sandbox | None = None
        if queue is not None and not queue.empty():
            sandbox = queue.get_nowait()
            self._refill_later(image)
        if sandbox is None:
            sandbox = await self._new_sandbox(image)
        self._in_use.add(sandbox)
        return sandbox

    def _refill_later(self, image: str) -> None:
        # Setting the event after close() is harmless, because the refill tasks are gone by then.
        asyncio.get_running_loop().call_later(self.refill_delay_s, self._refill_wanted[image].set)

    def _release(self, sandbox: Sandbox) -> None:
        self._in_use.discard(sandbox)
        # The job is over, so its warm container's replacement may start now.
        if sandbox.image in self._refill_wanted:
            self._refill_wanted[sandbox.image].set()
        task = asyncio.create_task(sandbox.destroy())
        self._cleanup_tasks.add(task)
        task.add_done_callback(self._cleanup_tasks.discard)

    async def _new_sandbox(self, image: str, cpu_shares: int = JOB_CPU_SHARES) -> Sandbox:
        return await Sandbox.start(self.docker, image, self.settings, labels={POOL_LABEL: self.pool_id}, cpu_shares=cpu_shares)

    async def _refill(self, image: str) -> None:
        queue = self._warm[image]
        wanted = self._refill_wanted[image]
        failures = 0
        while True:
            await wanted.wait()
            wanted.clear()
            # A compile server's warm-up must not slow the jobs running meanwhile.
            shares = BACKGROUND_CPU_SHARES if image in self._armed_language else JOB_CPU_SHARES
            while queue.qsize() < self.warm_containers:
                try:
                    sandbox = await self._new_sandbox(image, shares)
                except (aiodocker.DockerError, OSError) as error:
                    failures += 1
                    log.error("cannot start a warm container of %s (failure %d): %s", image, failures, error)
                    await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                    continue
                failures = 0
                if self._closed:
                    await sandbox.destroy()
                    return
                language = self._armed_language.get(image)
                if language is not None:
                    try:
                        await self._arm(sandbox, language)
                    except (SandboxError, aiodocker.DockerError, OSError) as error:
                        log.error("cannot start the %s compile server in container %s: %s", language.id, sandbox.id, error)
                        await sandbox.destroy()
                        continue
                queue.put_nowait(sandbox)

    async def _delete_labelled(self) -> None:
        assert self.docker is not None
        containers = await self.docker.containers.list(all=True, filters={"label": [f"{POOL_LABEL}={self.pool_id}"]})
        for container in containers:
            with contextlib.suppress(aiodocker.DockerError):
                await container.delete(force=True)

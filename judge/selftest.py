"""Language status: run every language's self-test program when the judge starts."""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import aiodocker
import msgspec

from judge.events import Compiled, Final, TestFinished, Verdict
from judge.images import image_exists
from judge.job import JudgeJob, TestCase
from judge.languages import LANGUAGES, SELF_TEST_ANSWER, SELF_TEST_INPUT, Language
from judge.pool import JudgePool
from judge.sandbox import SandboxError

log = logging.getLogger(__name__)


class LanguageStatus(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    # Discovered from the image at self-test time; None unless the check ran.
    version: str | None
    status: Literal["ok", "disabled", "broken"]
    # Why the language is disabled or broken, for organizers.
    reason: str | None
    image: str
    source_name: str
    time_multiplier: float


async def check_languages(
    docker: aiodocker.Docker,
    *,
    enabled: Iterable[str] | None = None,
    pool: JudgePool | None = None,
    languages: Iterable[Language] = LANGUAGES,
) -> list[LanguageStatus]:
    """Return the status of each language: ok, disabled (not in `enabled`) or broken with the reason.

    A language is ok when its image exists, its version command runs and its
    self-test program is judged AC. Pass the serving pool to reuse its warm
    containers; otherwise a temporary pool without warm containers is used.
    """
    languages = list(languages)
    enabled_ids = None if enabled is None else set(enabled)
    own_pool = pool is None
    if pool is None:
        pool = JudgePool(docker, warm_containers=0, languages=languages)
        await pool.start_without_image_check()
    try:
        with tempfile.TemporaryDirectory(prefix="codearena-selftest-") as directory:
            input_path = Path(directory) / "self-test.in"
            answer_path = Path(directory) / "self-test.ans"
            input_path.write_bytes(SELF_TEST_INPUT)
            answer_path.write_bytes(SELF_TEST_ANSWER)
            test = TestCase(name="self-test", input_path=str(input_path), answer_path=str(answer_path))
            return list(
                await asyncio.gather(
                    *(_check_one(docker, pool, language, enabled_ids, test) for language in languages)
                )
            )
    finally:
        if own_pool:
            await pool.close()


async def _check_one(
    docker: aiodocker.Docker,
    pool: JudgePool,
    language: Language,
    enabled_ids: set[str] | None,
    test: TestCase,
) -> LanguageStatus:
    image = pool.image_tags[language.image.name]

    def status(state: Literal["ok", "disabled", "broken"], reason: str | None, version: str | None = None) -> LanguageStatus:
        if state == "broken":
            log.warning("language %s is broken: %s", language.id, reason)
        return LanguageStatus(
            id=language.id,
            name=language.name,
            version=version,
            status=state,
            reason=reason,
            image=image,
            source_name=language.source_name,
            time_multiplier=language.time_multiplier,
        )

    if enabled_ids is not None and language.id not in enabled_ids:
        return status("disabled", "not enabled in the judge settings")
    if not await image_exists(docker, image):
        return status("broken", f"image {image} is missing; run: codearena judge images build")

    try:
        exit_code, output = await pool.run_command(language, list(language.version_command))
    except (SandboxError, aiodocker.DockerError, OSError) as error:
        return status("broken", f"cannot start a sandbox: {error}")
    match = re.search(language.version_pattern, output)
    if exit_code != 0 or match is None:
        return status("broken", f"{' '.join(language.version_command)} failed (exit code {exit_code}): {output[:500]}")
    version = match.group(1)

    job = JudgeJob(
        submission_id=f"self-test-{language.id}",
        language=language.id,
        source=language.self_test_source,
        tests=(test,),
        time_limit_ms=5000,
        memory_limit_mb=256,
    )
    details: list[str] = []
    final: Final | None = None
    async for event in pool.judge(job):
        if isinstance(event, Compiled) and not event.success:
            details.append(f"compiler output: {event.output[:1000]}")
        elif isinstance(event, TestFinished) and event.verdict != Verdict.AC:
            details.append(f"test: {event.verdict} {event.message}")
        elif isinstance(event, Final):
            final = event
    if final is None or final.verdict != Verdict.AC:
        verdict = final.verdict if final else "no final event"
        reason = final.internal_error if final and final.internal_error else "; ".join(details)
        return status("broken", f"self-test program got {verdict}: {reason}", version)
    return status("ok", None, version)

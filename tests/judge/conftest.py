"""Fixtures for the judge tests that run against the real Docker engine.

Nothing is skipped: without Docker or the judge images these tests fail and
say which command fixes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiodocker
import pytest
import pytest_asyncio

from judge.events import Compiled, Final, JudgeEvent, TestFinished
from judge.images import image_exists, image_tag
from judge.job import JudgeJob, TestCase
from judge.languages import IMAGE_RECIPES
from judge.pool import JudgePool
from judge.sandbox import SandboxSettings

# Shorter compile limits than the defaults keep hostile compiles quick.
TEST_SETTINGS = SandboxSettings(compile_time_ms=5_000, compile_wall_ms=10_000, compile_memory_mb=768)


async def _docker_problem() -> str | None:
    try:
        async with aiodocker.Docker() as docker:
            await docker.version()
            missing = [image_tag(recipe) for recipe in IMAGE_RECIPES if not await image_exists(docker, image_tag(recipe))]
    except (aiodocker.DockerError, OSError, ValueError) as error:
        return (
            f"the Docker engine is not reachable ({error}). Start it with scripts/setup, or with "
            "`dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false &`"
        )
    if missing:
        return f"judge images missing: {', '.join(missing)}. Build them with: codearena judge images build"
    return None


@pytest.fixture(scope="session")
def judge_ready() -> None:
    problem = asyncio.run(_docker_problem())
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def judge_pool(judge_ready: None) -> AsyncIterator[JudgePool]:
    pool = JudgePool(concurrency=2, warm_containers=1, settings=TEST_SETTINGS)
    await pool.start()
    yield pool
    await pool.close()


class CaseFiles:
    """Writes input and answer files for test cases under a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0

    def case(self, input_text: str | bytes, answer_text: str | bytes, *, name: str | None = None, group: str | None = None, points: float = 0.0) -> TestCase:
        self.count += 1
        name = name or f"test{self.count}"
        input_path = self.root / f"{name}.in"
        answer_path = self.root / f"{name}.ans"
        input_path.write_bytes(input_text.encode() if isinstance(input_text, str) else input_text)
        answer_path.write_bytes(answer_text.encode() if isinstance(answer_text, str) else answer_text)
        return TestCase(name=name, input_path=str(input_path), answer_path=str(answer_path), group=group, points=points)


@pytest.fixture
def case_files(tmp_path: Path) -> CaseFiles:
    return CaseFiles(tmp_path)


class Judged:
    """All events of one judged submission."""

    def __init__(self, events: list[JudgeEvent]) -> None:
        self.events = events
        self.final: Final = events[-1]  # type: ignore[assignment]
        self.tests = [event for event in events if isinstance(event, TestFinished)]
        compiled = [event for event in events if isinstance(event, Compiled)]
        self.compiled: Compiled | None = compiled[0] if compiled else None

    def __repr__(self) -> str:
        return f"Judged(final={self.final!r}, tests={self.tests!r}, compiled={self.compiled!r})"


async def judge(pool: JudgePool, **job_fields) -> Judged:
    job_fields.setdefault("submission_id", "test")
    job_fields.setdefault("time_limit_ms", 1000)
    job_fields.setdefault("memory_limit_mb", 128)
    events = [event async for event in pool.judge(JudgeJob(**job_fields))]
    assert isinstance(events[-1], Final), events
    return Judged(events)

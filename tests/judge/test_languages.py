"""Language status from the self-tests, and the image build being idempotent."""

from __future__ import annotations

import re

import aiodocker
import pytest
from click.testing import CliRunner

from judge.cli import images
from judge.images import ImageBuilder
from judge.languages import IMAGE_RECIPES, LANGUAGES
from judge.pool import JudgePool
from judge.selftest import check_languages

pytestmark = [pytest.mark.docker]


@pytest.mark.asyncio(loop_scope="session")
async def test_every_language_passes_its_self_test(judge_pool: JudgePool) -> None:
    async with aiodocker.Docker() as docker:
        statuses = await check_languages(docker, pool=judge_pool)
    assert [status.id for status in statuses] == [language.id for language in LANGUAGES]
    for status in statuses:
        assert status.status == "ok", status
        assert status.reason is None
        assert status.version and re.match(r"\d+\.\d+", status.version), status
    versions = {status.id: status.version for status in statuses}
    assert versions["c"] == versions["cpp"] == versions["cpp20"]
    assert versions["java"].startswith("17.")
    assert versions["python3"].startswith("3.")


@pytest.mark.parametrize("header", ["iostream", "bits/stdc++.h"])
@pytest.mark.parametrize("language_id", ["cpp", "cpp20"])
@pytest.mark.asyncio(loop_scope="session")
async def test_cpp_uses_precompiled_header(language_id: str, header: str, judge_pool: JudgePool) -> None:
    language = next(language for language in LANGUAGES if language.id == language_id)
    flags = [argument for argument in language.compile if argument.startswith(("-std=", "-O"))]
    # -H lists each header the compile reads, marking a valid precompiled one with "!" and a rejected one with "x".
    script = f'printf "#include <{header}>\\nint main(){{}}\\n" > x.cpp && g++ {" ".join(flags)} -H -c x.cpp -o x.o'

    exit_code, output = await judge_pool.run_command(language, ["sh", "-c", script])

    assert exit_code == 0, output
    standard = language.compile[1].removeprefix("-std=")
    used = [line for line in output.splitlines() if line.startswith("! ")]
    assert len(used) == 1, output[:500]
    assert used[0].endswith(f"/{header}.gch/{standard}")


@pytest.mark.asyncio(loop_scope="session")
async def test_disabled_and_broken_languages_are_reported(judge_ready: None) -> None:
    async with aiodocker.Docker() as docker:
        pool = JudgePool(docker, warm_containers=0, image_tags={"gcc": "codearena-judge-gcc:doesnotexist", "python": "codearena-judge-python:doesnotexist"})
        pool.image_tags.update({recipe.name: tag for recipe, tag in _real_tags().items() if recipe.name not in ("gcc", "python")})
        await pool.start_without_image_check()
        try:
            statuses = {status.id: status for status in await check_languages(docker, pool=pool, enabled=["c", "python3", "javascript"])}
        finally:
            await pool.close()
    assert statuses["c"].status == "broken"
    assert "missing" in (statuses["c"].reason or "")
    assert "codearena judge images build" in (statuses["c"].reason or "")
    assert statuses["java"].status == "disabled"
    assert statuses["javascript"].status == "ok"


def _real_tags():
    from judge.images import image_tag

    return {recipe: image_tag(recipe) for recipe in IMAGE_RECIPES}


@pytest.mark.asyncio(loop_scope="session")
async def test_image_build_is_idempotent(judge_ready: None) -> None:
    messages: list[str] = []
    async with aiodocker.Docker() as docker:
        results = await ImageBuilder(docker, progress=messages.append).build(IMAGE_RECIPES)
    assert [result.built for result in results] == [False] * len(IMAGE_RECIPES)
    assert all("up to date" in message for message in messages)


def test_images_build_command_reports_up_to_date(judge_ready: None) -> None:
    result = CliRunner().invoke(images, ["build", "--language", "cpp20"])
    assert result.exit_code == 0, result.output
    assert re.search(r"codearena-judge-gcc:[0-9a-f]{12}: up to date", result.output)


def test_images_build_command_rejects_unknown_language() -> None:
    result = CliRunner().invoke(images, ["build", "--language", "cobol"])
    assert result.exit_code == 2
    assert "cobol" in result.output

"""Compile servers of warm Java and JavaScript containers, and the plain compile when one is gone."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from judge.events import Verdict
from judge.languages import LANGUAGES
from judge.pool import JudgePool
from judge.sandbox import Sandbox

from .conftest import TEST_SETTINGS, CaseFiles, judge

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="session")]

DOUBLER_JS = "const x = Number(require('fs').readFileSync(0, 'utf8'));\nconsole.log(2 * x);\n"
DOUBLER_JAVA = (
    "import java.util.Scanner;\n"
    "public class Solution {\n"
    "    public static void main(String[] args) {\n"
    "        System.out.println(2 * new Scanner(System.in).nextLong());\n"
    "    }\n"
    "}\n"
)


@pytest.fixture
def armed_compiles(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, for each compile sent to a compile server, whether the server did it."""
    calls: list[bool] = []
    real = Sandbox.compile_armed

    async def recording(self: Sandbox, source_name: str):
        result = await real(self, source_name)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(Sandbox, "compile_armed", recording)
    return calls


@pytest.mark.parametrize(
    ("language", "source", "verdict", "message"),
    [
        ("javascript", DOUBLER_JS, Verdict.AC, ""),
        ("javascript", "console.log(2 *\n", Verdict.CE, "SyntaxError"),
        ("java", DOUBLER_JAVA, Verdict.AC, ""),
        ("java", "public class Main { void broken( }\n", Verdict.CE, "error:"),
    ],
)
async def test_compile_server_judges(
    language: str, source: str, verdict: Verdict, message: str, judge_pool: JudgePool, case_files: CaseFiles, armed_compiles: list[bool]
) -> None:
    await judge_pool.wait_warm()

    result = await judge(judge_pool, language=language, source=source, tests=(case_files.case("21\n", "42\n"),))

    assert armed_compiles == [True]
    assert result.final.verdict == verdict, result
    assert result.compiled is not None
    assert message in result.compiled.output


async def test_ended_compile_server_falls_back(judge_ready: None, case_files: CaseFiles, armed_compiles: list[bool]) -> None:
    # A compile server that ends during its warm-up: the job compiles the usual way.
    node = next(language for language in LANGUAGES if language.id == "javascript")
    quitting = msgspec.structs.replace(node, compile_server=("sh", "-c", "exit 0"))
    pool = JudgePool(concurrency=1, warm_containers=1, settings=TEST_SETTINGS, languages=[quitting])
    await pool.start()
    try:
        await pool.wait_warm()
        await asyncio.sleep(0.5)
        result = await judge(pool, language="javascript", source=DOUBLER_JS, tests=(case_files.case("21\n", "42\n"),))
    finally:
        await pool.close()

    assert armed_compiles == [False]
    assert result.final.verdict == Verdict.AC, result

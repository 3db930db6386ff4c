"""Function-style problems judged end to end: the judge wraps `solution` and compares JSON values."""

from __future__ import annotations

import pytest

from judge.events import Verdict
from judge.function_style import FunctionOptions
from judge.pool import JudgePool

from .conftest import CaseFiles, Judged, judge
from .test_validators import DEMO, package_job

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="session")]

TWO_SUM = DEMO / "twosum"
ADD = {
    "python3": "def solution(a, b):\n    return a + b\n",
    "javascript": "function solution(a, b) {\n  return a + b;\n}\n",
}


async def function_judge(pool: JudgePool, files: CaseFiles, language: str, source: str, **fields) -> Judged:
    fields.setdefault("tests", (files.case("2\n3\n", "5\n"), files.case("-4\n10\n", "6\n")))
    return await judge(pool, language=language, source=source, checker="function", **fields)


TWO_SUM_SUBMISSIONS = [
    ("submissions/accepted/hash_map.py", Verdict.AC),
    ("submissions/accepted/hash_map.js", Verdict.AC),
    ("submissions/accepted/reversed_order.py", Verdict.AC),
    ("submissions/wrong_answer/one_based.js", Verdict.WA),
    ("submissions/wrong_answer/same_index.py", Verdict.WA),
    ("submissions/run_time_error/recursive.py", Verdict.RTE),
    ("submissions/time_limit_exceeded/quadratic.py", Verdict.TLE),
]


@pytest.mark.parametrize(("path", "verdict"), TWO_SUM_SUBMISSIONS, ids=[path.split("/")[-1] for path, _ in TWO_SUM_SUBMISSIONS])
async def test_demo_two_sum(judge_pool: JudgePool, path: str, verdict: Verdict) -> None:
    job = package_job(TWO_SUM, path)
    assert job.checker == "function"
    assert job.function_options.unordered
    result = Judged([event async for event in judge_pool.judge(job)])

    assert result.final.verdict == verdict, result
    assert result.final.internal_error is None
    if verdict == Verdict.AC:
        assert result.final.passed == len(job.tests)


@pytest.mark.parametrize("language", ["python3", "javascript"])
async def test_correct_function_is_accepted(judge_pool: JudgePool, case_files: CaseFiles, language: str) -> None:
    result = await function_judge(judge_pool, case_files, language, ADD[language])
    assert result.final.verdict == Verdict.AC, result
    assert [test.verdict for test in result.tests] == [Verdict.AC, Verdict.AC]


@pytest.mark.parametrize(
    ("language", "source"),
    [
        ("python3", "def solution(a, b):\n    return a - b\n"),
        ("javascript", "function solution(a, b) { return a - b; }\n"),
        ("python3", "def solution(a, b):\n    return str(a + b)\n"),
        ("javascript", "function solution(a, b) { return [a + b]; }\n"),
    ],
    ids=["python-value", "javascript-value", "python-type", "javascript-type"],
)
async def test_wrong_value_is_wrong_answer(judge_pool: JudgePool, case_files: CaseFiles, language: str, source: str) -> None:
    result = await function_judge(judge_pool, case_files, language, source)
    assert result.final.verdict == Verdict.WA, result
    assert result.tests[0].message.startswith("at $")


@pytest.mark.parametrize(
    ("language", "source"),
    [
        (
            "python3",
            "import sys\ndef solution(a, b):\n    print('5')\n    print('debug', a, b)\n    sys.stdout.write('7\\n')\n    return a + b\n",
        ),
        (
            "javascript",
            "function solution(a, b) {\n  console.log('5');\n  console.log('debug', {a, b});\n  process.stdout.write('7\\n');\n  return a + b;\n}\n",
        ),
    ],
    ids=["python3", "javascript"],
)
async def test_printing_inside_solution_is_still_accepted(judge_pool: JudgePool, case_files: CaseFiles, language: str, source: str) -> None:
    result = await function_judge(judge_pool, case_files, language, source)
    assert result.final.verdict == Verdict.AC, result


@pytest.mark.parametrize(
    ("language", "source"),
    [
        ("python3", "def solution(a, b):\n    raise ValueError('no')\n"),
        ("javascript", "function solution(a, b) { throw new Error('no'); }\n"),
        ("python3", "def solution(a, b):\n    return object()\n"),
        ("python3", "def answer(a, b):\n    return a + b\n"),
        ("python3", "import sys\ndef solution(a, b):\n    sys.exit(86)\n"),
    ],
    ids=["python-exception", "javascript-exception", "python-not-json", "python-no-solution", "python-exit-86"],
)
async def test_failing_solution_is_runtime_error(judge_pool: JudgePool, case_files: CaseFiles, language: str, source: str) -> None:
    result = await function_judge(judge_pool, case_files, language, source)
    assert result.final.verdict == Verdict.RTE, result
    assert result.final.internal_error is None


async def test_async_javascript_solution(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    source = "async function solution(a, b) {\n  await new Promise((done) => setTimeout(done, 5));\n  return a + b;\n}\n"
    result = await function_judge(judge_pool, case_files, "javascript", source)
    assert result.final.verdict == Verdict.AC, result


async def test_python_solution_class(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    source = "class Solution:\n    def solution(self, a, b):\n        return a + b\n"
    result = await function_judge(judge_pool, case_files, "python3", source)
    assert result.final.verdict == Verdict.AC, result


@pytest.mark.parametrize("language", ["c", "cpp", "java"])
async def test_other_languages_get_compile_error(judge_pool: JudgePool, case_files: CaseFiles, language: str) -> None:
    result = await function_judge(judge_pool, case_files, language, "int solution(int a, int b) { return a + b; }\n")
    assert result.final.verdict == Verdict.CE, result
    assert result.compiled is not None and not result.compiled.success
    assert result.compiled.output == "function-style problems accept python3 and javascript"
    assert result.tests == []


async def test_options_order_and_tolerance(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    tests = (case_files.case("[3,1,2]\n", "[[1,2],[3,0.5]]\n"),)
    source = "def solution(values):\n    return [[3, 0.5000001], sorted(values)[:2]]\n"
    strict = await function_judge(judge_pool, case_files, "python3", source, tests=tests)
    loose = await function_judge(
        judge_pool, case_files, "python3", source, tests=tests, function_options=FunctionOptions(unordered=True, float_tolerance=1e-6)
    )
    assert strict.final.verdict == Verdict.WA, strict
    assert loose.final.verdict == Verdict.AC, loose


@pytest.mark.parametrize(
    ("input_text", "answer_text", "reason"),
    [
        ("2\nnot json\n", "5\n", "line 2"),
        ("2\nNaN\n", "5\n", "NaN is not JSON"),
        ("2\n3\n", "five\n", "answer file is not one JSON value"),
    ],
    ids=["input-text", "input-nan", "answer-text"],
)
async def test_broken_test_data_is_internal_error(
    judge_pool: JudgePool, case_files: CaseFiles, input_text: str, answer_text: str, reason: str
) -> None:
    tests = (case_files.case(input_text, answer_text),)
    result = await function_judge(judge_pool, case_files, "python3", ADD["python3"], tests=tests)
    assert result.final.verdict == Verdict.IE, result
    assert reason in (result.final.internal_error or "")


async def test_bad_input_after_failure_not_reported(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    # The judge reads and checks the next test's input while the current test runs.
    # A job that stops at the current test's WA must not turn into IE because of it.
    tests = (case_files.case("2\n3\n", "5\n"), case_files.case("2\n3\n", "6\n"), case_files.case("not json\n", "0\n"))
    result = await function_judge(judge_pool, case_files, "python3", ADD["python3"], tests=tests)
    assert result.final.verdict == Verdict.WA, result
    assert [test.verdict for test in result.tests] == [Verdict.AC, Verdict.WA]

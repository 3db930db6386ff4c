"""JudgePool behaviour: scoring, stop-on-failure, retries, data errors, concurrency, clean-up."""

from __future__ import annotations

import asyncio

import aiodocker
import pytest

from judge.checkers import CheckerFlags
from judge.events import Compiled, Compiling, Final, TestFinished, Verdict
from judge.job import JudgeJob
from judge.languages import get_language
from judge.pool import JudgePool
from judge.sandbox import POOL_LABEL, Sandbox

from .conftest import TEST_SETTINGS, CaseFiles, judge

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="session")]

# Prints 2n, except for n=3, where it prints a wrong answer.
DOUBLER = '#include <stdio.h>\nint main(void){long n;scanf("%ld",&n);if(n==3)printf("0\\n");else printf("%ld\\n",2*n);return 0;}\n'


def _doubling_cases(files: CaseFiles, values: list[int], groups: list[str | None] | None = None, points: list[float] | None = None):
    groups = groups or [None] * len(values)
    points = points or [0.0] * len(values)
    return tuple(
        files.case(f"{value}\n", f"{2 * value}\n", name=f"t{index}", group=group, points=point)
        for index, (value, group, point) in enumerate(zip(values, groups, points))
    )


async def test_icpc_stops_at_first_failure(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    result = await judge(judge_pool, language="c", source=DOUBLER, tests=_doubling_cases(case_files, [1, 3, 5]))
    assert [test.verdict for test in result.tests] == [Verdict.AC, Verdict.WA]
    assert result.final.verdict == Verdict.WA
    assert (result.final.passed, result.final.total) == (1, 3)


async def test_ioi_runs_all_tests_and_scores_groups(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    tests = _doubling_cases(
        case_files,
        [1, 2, 3, 4, 5, 6],
        groups=["g1", "g1", "g2", "g2", None, "g3"],
        points=[10, 10, 15, 15, 7, 40],
    )
    result = await judge(judge_pool, language="c", source=DOUBLER, tests=tests, stop_on_first_failure=False)
    assert [test.verdict for test in result.tests] == [Verdict.AC, Verdict.AC, Verdict.WA, Verdict.AC, Verdict.AC, Verdict.AC]
    group_scores = [(test.group, test.group_score) for test in result.tests]
    assert group_scores == [("g1", None), ("g1", 20.0), ("g2", 0.0), ("g2", None), (None, None), ("g3", 40.0)]
    assert result.final.score == 20 + 7 + 40
    assert result.final.max_score == 97
    assert result.final.verdict == Verdict.WA
    assert result.final.passed == 5


async def test_events_come_in_order(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    result = await judge(judge_pool, language="c", source=DOUBLER, tests=_doubling_cases(case_files, [1, 2]), submission_id=77)
    kinds = [type(event) for event in result.events]
    assert kinds == [Compiling, Compiled, TestFinished, TestFinished, Final]
    assert all(event.submission_id == 77 for event in result.events)
    assert [test.index for test in result.tests] == [0, 1]
    assert result.final.time_ms == max(test.time_ms for test in result.tests)
    assert result.final.memory_kb == max(test.memory_kb for test in result.tests)


async def test_java_public_class_name(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    source = (
        "import java.util.*;\npublic class Doubler { public static void main(String[] a) {"
        " System.out.println(2 * new Scanner(System.in).nextLong()); } }\n"
    )
    result = await judge(judge_pool, language="java", source=source, tests=_doubling_cases(case_files, [4]))
    assert result.final.verdict == Verdict.AC, result


async def test_float_tolerance_and_exact_checker(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    source = 'print("%.9f" % (2 ** 0.5))\n'
    tests = (case_files.case("\n", "1.41421\n"),)
    loose = await judge(judge_pool, language="python3", source=source, tests=tests, checker_flags=CheckerFlags(float_absolute_tolerance=1e-4))
    strict = await judge(judge_pool, language="python3", source=source, tests=tests)
    exact = await judge(judge_pool, language="python3", source='print("1.41421")\n', tests=tests, checker="exact")
    assert loose.final.verdict == Verdict.AC
    assert strict.final.verdict == Verdict.WA
    assert exact.final.verdict == Verdict.AC


async def test_compile_error_text_is_cut(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    # Thousands of errors: far more than 64 KiB of compiler output.
    source = "int main(void){\n" + "".join(f"undefined_name_{index};\n" for index in range(3000)) + "}\n"
    result = await judge(judge_pool, language="c", source=source, tests=_doubling_cases(case_files, [1]))
    assert result.final.verdict == Verdict.CE
    assert result.compiled is not None
    assert len(result.compiled.output.encode()) <= 64 * 1024 + 200
    assert "cut at 64 KiB" in result.compiled.output


async def test_large_tests_queued_ahead(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    # Each input and output is far larger than a pipe's buffer, so a queued
    # input frame waits on the runner while the host reads the last output.
    echo = '#include <stdio.h>\nint main(void){char b[65536];size_t n;while((n=fread(b,1,sizeof b,stdin))>0)fwrite(b,1,n,stdout);return 0;}\n'
    lines = [f"{index} ".encode() * 400_000 + b"\n" for index in range(4)]
    tests = tuple(case_files.case(line, line, name=f"big{index}") for index, line in enumerate(lines))
    result = await judge(judge_pool, language="c", source=echo, tests=tests, stop_on_first_failure=False)
    assert [test.verdict for test in result.tests] == [Verdict.AC] * 4, result
    assert [test.index for test in result.tests] == [0, 1, 2, 3]


async def test_missing_test_file_is_internal_error(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    tests = _doubling_cases(case_files, [1])
    broken = tests[0].__class__(name="gone", input_path=str(case_files.root / "missing.in"), answer_path=tests[0].answer_path)
    result = await judge(judge_pool, language="c", source=DOUBLER, tests=(broken,))
    assert result.final.verdict == Verdict.IE
    assert "missing.in" in (result.final.internal_error or "")


async def test_concurrent_submissions(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    tests = _doubling_cases(case_files, [1, 2, 4])
    results = await asyncio.gather(
        *(judge(judge_pool, language=language, source=source, tests=tests, submission_id=index) for index, (language, source) in enumerate(
            [("c", DOUBLER), ("python3", "print(2 * int(input()))\n"), ("c", DOUBLER), ("python3", "print(2 * int(input()))\n")]
        ))
    )
    assert [result.final.verdict for result in results] == [Verdict.AC] * 4


class FaultyPool(JudgePool):
    """Kills the container of a sandbox before its `kill_at_test`-th test, `faults` times."""

    def __init__(self, *args, faults: int, kill_at_test: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.faults = faults
        self.kill_at_test = kill_at_test

    async def _take(self, image: str) -> Sandbox:
        sandbox = await super()._take(image)
        if self.faults <= 0:
            return sandbox
        self.faults -= 1
        original = sandbox.send_test
        calls = 0

        async def send_test(input_data: bytes):
            nonlocal calls
            calls += 1
            if calls == self.kill_at_test:
                await sandbox.container.kill()
            return await original(input_data)

        sandbox.send_test = send_test  # type: ignore[method-assign]
        return sandbox


@pytest.fixture
def faulty_pool_factory(judge_ready: None):
    pools: list[JudgePool] = []

    async def make(faults: int, kill_at_test: int) -> JudgePool:
        pool = FaultyPool(concurrency=1, warm_containers=0, settings=TEST_SETTINGS, faults=faults, kill_at_test=kill_at_test)
        await pool.start()
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        assert pool._closed, "each test closes its pool"


async def test_broken_sandbox_is_retried_once(faulty_pool_factory, case_files: CaseFiles) -> None:
    pool = await faulty_pool_factory(faults=1, kill_at_test=2)
    try:
        result = await judge(pool, language="c", source=DOUBLER, tests=_doubling_cases(case_files, [1, 2, 4]))
    finally:
        await pool.close()
    assert result.final.verdict == Verdict.AC, result
    assert [test.index for test in result.tests] == [0, 1, 2]
    assert [type(event) for event in result.events].count(Compiled) == 1


async def test_sandbox_broken_twice_is_ie_with_reason(faulty_pool_factory, case_files: CaseFiles) -> None:
    pool = await faulty_pool_factory(faults=2, kill_at_test=1)
    try:
        result = await judge(pool, language="c", source=DOUBLER, tests=_doubling_cases(case_files, [1, 2]))
    finally:
        await pool.close()
    assert result.final.verdict == Verdict.IE
    assert "container" in (result.final.internal_error or "")
    assert result.tests == []


async def test_close_deletes_warm_containers(judge_ready: None) -> None:
    pool = JudgePool(concurrency=1, warm_containers=2, settings=TEST_SETTINGS)
    await pool.start()
    await pool.wait_warm()
    async with aiodocker.Docker() as docker:
        label = {"label": [f"{POOL_LABEL}={pool.pool_id}"]}
        assert len(await docker.containers.list(all=True, filters=label)) == 8
        await pool.close()
        assert await docker.containers.list(all=True, filters=label) == []


async def _pool_containers(pool: JudgePool) -> int:
    async with aiodocker.Docker() as docker:
        return len(await docker.containers.list(all=True, filters={"label": [f"{POOL_LABEL}={pool.pool_id}"]}))


async def test_refill_waits_for_job_end(judge_ready: None, case_files: CaseFiles) -> None:
    pool = JudgePool(concurrency=1, warm_containers=1, settings=TEST_SETTINGS, languages=[get_language("c")], refill_delay_s=60)
    await pool.start()
    try:
        await pool.wait_warm()
        counts = []
        async for event in pool.judge(JudgeJob(submission_id="refill", language="c", source=DOUBLER, tests=_doubling_cases(case_files, [1, 2]), time_limit_ms=1000, memory_limit_mb=64)):
            if isinstance(event, TestFinished):
                counts.append(await _pool_containers(pool))
        # Only the job's own container exists while it runs, and its replacement starts when it ends.
        assert counts == [1, 1]
        await pool.wait_warm(timeout=30)
    finally:
        await pool.close()


async def test_refill_starts_during_long_job(judge_ready: None, case_files: CaseFiles) -> None:
    pool = JudgePool(concurrency=1, warm_containers=1, settings=TEST_SETTINGS, languages=[get_language("c")], refill_delay_s=0.2)
    await pool.start()
    sleeper = '#include <stdio.h>\n#include <unistd.h>\nint main(void){sleep(2);puts("2");return 0;}\n'
    try:
        await pool.wait_warm()
        warm_at_end = []
        async for event in pool.judge(JudgeJob(submission_id="refill", language="c", source=sleeper, tests=_doubling_cases(case_files, [1]), time_limit_ms=1000, memory_limit_mb=64)):
            if isinstance(event, TestFinished):
                warm_at_end.append(pool._warm[pool.image_tags["gcc"]].qsize())
        assert warm_at_end == [1]
    finally:
        await pool.close()


async def test_container_is_used_once(judge_pool: JudgePool, case_files: CaseFiles) -> None:
    seen: list[str] = []
    original = judge_pool._take

    async def spy(image: str) -> Sandbox:
        sandbox = await original(image)
        seen.append(sandbox.container.id)
        return sandbox

    judge_pool._take = spy  # type: ignore[method-assign]
    try:
        for _ in range(3):
            await judge(judge_pool, language="c", source=DOUBLER, tests=_doubling_cases(case_files, [1]))
    finally:
        del judge_pool._take
    assert len(set(seen)) == 3
    await asyncio.sleep(0.5)  # deletion runs in the background
    async with aiodocker.Docker() as docker:
        for container_id in seen:
            with pytest.raises(aiodocker.DockerError) as error:
                await docker.containers.get(container_id)
            assert error.value.status == 404


async def test_judge_rejects_unknown_language_job() -> None:
    with pytest.raises(ValueError, match="language"):
        JudgeJob(submission_id=1, language="brainfuck", source="", tests=(), time_limit_ms=1000, memory_limit_mb=64)

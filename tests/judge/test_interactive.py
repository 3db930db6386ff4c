"""Interactive problems: the submission talks to an interactor in a container of its own."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio

from judge.events import Verdict
from judge.pool import BASE_UID, UIDS_PER_SLOT, JudgePool
from judge.validators import ValidatorSpec

from .conftest import TEST_SETTINGS, CaseFiles, Judged, judge
from .test_validators import DEMO, package_job

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="session")]

SETTINGS = msgspec.structs.replace(
    TEST_SETTINGS,
    validator_time_ms=2000,
    validator_wall_ms=4000,
    submission_grace_ms=300,
    interactor_grace_ms=1000,
    interactive_extra_wall_ms=500,
)
TIME_LIMIT_MS = 500
GUESS = DEMO / "guess"
GUESS_INTERACTOR = ValidatorSpec(
    language="python3",
    sources={"interactor.py": (GUESS / "output_validators" / "interactor" / "interactor.py").read_text()},
)
BINARY_SEARCH = (GUESS / "submissions" / "accepted" / "binary_search.py").read_text()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool(judge_ready: None, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[JudgePool]:
    judge_pool = JudgePool(
        concurrency=2, warm_containers=1, settings=SETTINGS, validator_cache_dir=tmp_path_factory.mktemp("interactor-cache")
    )
    await judge_pool.start()
    yield judge_pool
    await judge_pool.close()


def guess_tests(files: CaseFiles) -> tuple:
    return (files.case("100 37\n", "37\n"), files.case("1000 1000\n", "1000\n"), files.case("1 1\n", "1\n"))


async def interactive(pool: JudgePool, files: CaseFiles, source: str, interactor: ValidatorSpec = GUESS_INTERACTOR, **fields) -> Judged:
    fields.setdefault("tests", guess_tests(files))
    fields.setdefault("language", "python3")
    fields.setdefault("time_limit_ms", TIME_LIMIT_MS)
    return await judge(pool, source=source, checker="custom", validator=interactor, interactive=True, **fields)


def python_interactor(source: str) -> ValidatorSpec:
    return ValidatorSpec(language="python3", sources={"interactor.py": source})


GUESS_SUBMISSIONS = [
    ("submissions/accepted/binary_search.py", Verdict.AC),
    ("submissions/accepted/binary_search.cpp", Verdict.AC),
    ("submissions/wrong_answer/swapped_replies.py", Verdict.WA),
    ("submissions/time_limit_exceeded/no_flush.py", Verdict.TLE),
]


@pytest.mark.parametrize(("path", "verdict"), GUESS_SUBMISSIONS, ids=[path.split("/")[-1] for path, _ in GUESS_SUBMISSIONS])
async def test_demo_guessing_game(pool: JudgePool, path: str, verdict: Verdict) -> None:
    job = package_job(GUESS, path, time_limit_ms=TIME_LIMIT_MS)
    assert job.interactive and job.validator is not None
    result = Judged([event async for event in pool.judge(job)])

    assert result.final.verdict == verdict, result
    assert result.final.internal_error is None
    if verdict == Verdict.AC:
        assert result.final.passed == len(job.tests)
    if verdict == Verdict.WA:
        assert "guess" in result.tests[-1].message
    if verdict == Verdict.TLE:
        # It waits for a reply that never comes: caught by the wall time limit, not the CPU limit.
        assert "wall time" in result.tests[-1].message
        assert result.tests[-1].time_ms < 3 * TIME_LIMIT_MS


async def test_interactor_waiting_forever_is_program_timeout(pool: JudgePool, case_files: CaseFiles) -> None:
    # Both sides wait for each other: the submission's wall time limit ends it.
    interactor = python_interactor("import time\nprint(1, flush=True)\ntime.sleep(60)\n")
    result = await interactive(pool, case_files, BINARY_SEARCH, interactor)
    assert result.final.verdict == Verdict.TLE, result


async def test_crash_is_runtime_error(pool: JudgePool, case_files: CaseFiles) -> None:
    source = "import sys\nsys.stdin.readline()\nprint(50, flush=True)\nsys.stdin.readline()\nraise SystemExit(3)\n"
    result = await interactive(pool, case_files, source)
    assert result.final.verdict == Verdict.RTE, result
    assert result.tests[0].exit_code == 3


async def test_segfault_in_c_is_runtime_error(pool: JudgePool, case_files: CaseFiles) -> None:
    source = "#include <stdio.h>\nint main(void){long n;scanf(\"%ld\",&n);printf(\"1\\n\");fflush(stdout);volatile int*p=0;return *p;}\n"
    result = await interactive(pool, case_files, source, language="c")
    assert result.final.verdict == Verdict.RTE, result
    assert result.tests[0].signal == 11


async def test_crash_after_acceptance_is_runtime_error(pool: JudgePool, case_files: CaseFiles) -> None:
    # The interactor accepts at once; the program then fails within its grace period.
    interactor = python_interactor("import sys\nprint('go', flush=True)\nsys.stdin.readline()\nsys.exit(42)\n")
    source = "import time\ninput()\nprint('done', flush=True)\ntime.sleep(0.05)\nraise SystemExit(5)\n"
    result = await interactive(pool, case_files, source, interactor)
    assert result.final.verdict == Verdict.RTE, result


async def test_program_still_running_after_acceptance_is_stopped(pool: JudgePool, case_files: CaseFiles) -> None:
    interactor = python_interactor("import sys\nprint('go', flush=True)\nsys.stdin.readline()\nsys.exit(42)\n")
    source = "input()\nprint('done', flush=True)\nwhile True:\n    pass\n"
    started = time.monotonic()
    result = await interactive(pool, case_files, source, interactor, tests=(case_files.case("x\n", "x\n"),))
    elapsed = time.monotonic() - started

    # Killed by the judge once the interactor ended: neither a crash nor a timeout.
    assert result.final.verdict == Verdict.AC, result
    assert result.tests[0].time_ms < 3 * TIME_LIMIT_MS
    assert elapsed < 10


async def test_program_that_exits_at_once_gets_wrong_answer(pool: JudgePool, case_files: CaseFiles) -> None:
    result = await interactive(pool, case_files, "pass\n")
    assert result.final.verdict == Verdict.WA, result
    assert "without finding the number" in result.tests[0].message


async def test_endless_output_is_output_limit(pool: JudgePool, case_files: CaseFiles) -> None:
    source = "import sys\nwhile True:\n    sys.stdout.write('7\\n' * 4096)\n"
    result = await interactive(pool, case_files, source, output_limit_kb=256)
    assert result.final.verdict == Verdict.OLE, result


async def test_interactor_flooding_an_idle_program_ends(pool: JudgePool, case_files: CaseFiles) -> None:
    # 40 MB the program never reads: the relay must neither block nor buffer it all.
    interactor = python_interactor("import sys\nline = 'z' * 9999 + '\\n'\nfor _ in range(4000):\n    sys.stdout.write(line)\nsys.exit(42)\n")
    started = time.monotonic()
    result = await interactive(pool, case_files, "import time\ntime.sleep(0.3)\n", interactor, tests=(case_files.case("x\n", "x\n"),))
    assert result.final.verdict == Verdict.AC, result
    assert time.monotonic() - started < 15


@pytest.mark.parametrize(
    ("source", "submission", "reason"),
    [
        # The submission then crashes on the missing input: still the interactor's fault.
        ("raise RuntimeError('interactor bug')\n", BINARY_SEARCH, "exited with code 1"),
        ("import sys\nprint(1, flush=True)\nsys.exit(0)\n", BINARY_SEARCH, "exited with code 0"),
        ("import time\nprint(1, flush=True)\ntime.sleep(60)\n", "input()\n", "did not exit within 1000 ms after the submission ended"),
    ],
    ids=["exception", "exit-0", "hangs"],
)
async def test_failing_interactor_is_internal_error(
    pool: JudgePool, case_files: CaseFiles, source: str, submission: str, reason: str
) -> None:
    result = await interactive(pool, case_files, submission, python_interactor(source))
    assert result.final.verdict == Verdict.IE, result
    assert result.tests[0].verdict == Verdict.IE
    assert reason in (result.final.internal_error or "")


async def test_interactor_gets_kattis_arguments(pool: JudgePool, case_files: CaseFiles) -> None:
    source = """\
import json, sys
from pathlib import Path

report = {"argv": sys.argv[1:], "input": Path(sys.argv[1]).read_text(), "answer": Path(sys.argv[2]).read_text()}
Path(sys.argv[3], "judgemessage.txt").write_text(json.dumps(report))
sys.exit(43)
"""
    test = msgspec.structs.replace(case_files.case("in-data\n", "answer-data\n"), validator_args=("per_test",))
    interactor = msgspec.structs.replace(python_interactor(source), flags=("problem_flag",))
    result = await interactive(pool, case_files, "pass\n", interactor, tests=(test,))

    report = msgspec.json.decode(result.tests[0].message)
    assert report == {
        "argv": ["/judge/input", "/judge/answer", "/judge/feedback/", "problem_flag", "per_test"],
        "input": "in-data\n",
        "answer": "answer-data\n",
    }


async def test_cpp_interactor_with_java_submission(pool: JudgePool, case_files: CaseFiles) -> None:
    interactor = ValidatorSpec(
        language="cpp",
        sources={
            "echo.cpp": (
                "#include <cstdio>\n#include <cstdlib>\nint main(int argc,char**argv){FILE*f=fopen(argv[1],\"r\");int n;fscanf(f,\"%d\",&n);"
                "for(int i=0;i<n;i++){printf(\"%d\\n\",i);fflush(stdout);int x;if(scanf(\"%d\",&x)!=1||x!=2*i)return 43;}return 42;}\n"
            )
        },
    )
    source = (
        "import java.util.*;\npublic class Main { public static void main(String[] a) { Scanner s = new Scanner(System.in);"
        " while (s.hasNextInt()) { System.out.println(2 * s.nextInt()); System.out.flush(); } } }\n"
    )
    result = await interactive(pool, case_files, source, interactor, language="java", tests=(case_files.case("200\n", "-\n"),), time_limit_ms=2000)
    assert result.final.verdict == Verdict.AC, result


# Looks for the answer marker in every file it can read and sends what it found.
SEARCHER = """\
import os, sys

marker = MARK + "-ANSWER"
found = "nothing"
for root, folders, files in os.walk("/"):
    if root.startswith(("/proc", "/sys", "/dev")):
        folders[:] = []
        continue
    for name in files:
        try:
            with open(os.path.join(root, name), "rb") as file:
                if marker.encode() in file.read(1 << 24):
                    found = marker
        except OSError:
            pass
for path in ("/judge/answer", "/judge/input", "/proc/1/root/judge/answer"):
    try:
        if marker.encode() in open(path, "rb").read():
            found = marker
    except OSError:
        pass
sys.stdin.readline()
print(found, flush=True)
"""

MARKER_INTERACTOR = """\
import sys
from pathlib import Path

secret = Path(sys.argv[2]).read_text().strip()
print("go", flush=True)
reply = sys.stdin.readline().strip()
if reply == secret:
    sys.exit(42)
Path(sys.argv[3], "judgemessage.txt").write_text(f"got {reply}")
sys.exit(43)
"""


async def test_submission_cannot_read_answer_or_input(pool: JudgePool, case_files: CaseFiles) -> None:
    marker = "SECRET-5b8e"
    answer = f"{marker}-ANSWER"
    prefix = f"MARK = {marker[:7]!r} + {marker[7:]!r}\n"
    tests = (case_files.case(f"{answer}\n", f"{answer}\n"),)

    blind = await interactive(pool, case_files, prefix + SEARCHER, python_interactor(MARKER_INTERACTOR), tests=tests, time_limit_ms=5000)
    assert blind.final.verdict == Verdict.WA, blind
    assert blind.tests[0].message == "got nothing"

    # Control: the same search finds the marker once it is in a readable file (its own source).
    control = await interactive(
        pool, case_files, prefix + SEARCHER + f"# {answer}\n", python_interactor(MARKER_INTERACTOR), tests=tests, time_limit_ms=5000
    )
    assert control.final.verdict == Verdict.AC, control


async def test_submission_cannot_see_interactor_processes(pool: JudgePool, case_files: CaseFiles) -> None:
    # The program sends the uids of every process it can see; the interactor reports them.
    source = """\
import os
uids = set()
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            status = open(f"/proc/{entry}/status").read()
        except OSError:
            continue
        uids.add(int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1]))
input()
print(" ".join(map(str, sorted(uids))), flush=True)
"""
    interactor = python_interactor(
        "import sys\nfrom pathlib import Path\nprint('go', flush=True)\n"
        "Path(sys.argv[3], 'judgemessage.txt').write_text(sys.stdin.readline().strip())\nsys.exit(43)\n"
    )
    result = await interactive(pool, case_files, source, interactor, tests=(case_files.case("x\n", "x\n"),))

    seen = {int(uid) for uid in result.tests[0].message.split()}
    run_uids = {BASE_UID + UIDS_PER_SLOT * slot for slot in range(pool.concurrency)}
    interactor_uids = {uid + 2 for uid in run_uids}
    # Only the runner (root) and the program itself.
    assert 0 in seen
    assert len(seen - {0}) == 1, seen
    assert (seen - {0}) <= run_uids, seen
    assert not seen & interactor_uids

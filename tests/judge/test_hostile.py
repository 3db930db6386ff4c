"""Hostile programs: each gets its exact verdict and the next normal submission is still judged right.

The module ends by checking that nothing of the judge is left behind.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiodocker
import pytest
import pytest_asyncio

from judge.events import Verdict
from judge.pool import BASE_UID, JudgePool
from judge.sandbox import POOL_LABEL

from .conftest import TEST_SETTINGS, CaseFiles, judge

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="session")]

TIME_LIMIT_MS = 500
MEMORY_LIMIT_MB = 64
OUTPUT_LIMIT_KB = 1024
SECRET = "SECRET-ANSWER-7d1f0c"

NORMAL_C = '#include <stdio.h>\nint main(void){long n;scanf("%ld",&n);printf("%ld\\n",2*n);return 0;}\n'


def _temp_entries() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("codearena")}


class HostileSuite:
    def __init__(self, pool: JudgePool, temp_before: set[str]) -> None:
        self.pool = pool
        self.temp_before = temp_before


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def suite(judge_ready: None) -> AsyncIterator[HostileSuite]:
    temp_before = _temp_entries()
    pool = JudgePool(concurrency=1, warm_containers=1, settings=TEST_SETTINGS)
    await pool.start()
    yield HostileSuite(pool, temp_before)
    await pool.close()


async def _hostile(suite: HostileSuite, files: CaseFiles, language: str, source: str, *, answer: str = "42\n"):
    tests = (files.case("21\n", answer),)
    started = time.monotonic()
    result = await judge(
        suite.pool,
        language=language,
        source=source,
        tests=tests,
        time_limit_ms=TIME_LIMIT_MS,
        memory_limit_mb=MEMORY_LIMIT_MB,
        output_limit_kb=OUTPUT_LIMIT_KB,
    )
    elapsed = time.monotonic() - started

    # The queue keeps moving: a normal submission right after is judged correctly.
    normal = await judge(suite.pool, language="c", source=NORMAL_C, tests=(files.case("4\n", "8\n"),))
    assert normal.final.verdict == Verdict.AC, normal
    return result, elapsed


async def test_fork_bomb_gets_tle(suite: HostileSuite, case_files: CaseFiles) -> None:
    source = "#include <unistd.h>\nint main(void){for(;;)fork();}\n"
    result, _ = await _hostile(suite, case_files, "c", source)
    assert result.final.verdict == Verdict.TLE, result


async def test_fork_bomb_in_python_gets_tle(suite: HostileSuite, case_files: CaseFiles) -> None:
    source = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result, _ = await _hostile(suite, case_files, "python3", source)
    assert result.final.verdict == Verdict.TLE, result


async def test_allocating_far_past_limit_gets_mle_near_limit(suite: HostileSuite, case_files: CaseFiles) -> None:
    # 8 GiB, touched page by page; the program also reads the memory back so
    # the compiler cannot drop the allocation.
    source = (
        "#include <stdio.h>\n#include <stdlib.h>\n"
        "int main(void){size_t n=(size_t)8<<30;volatile char*p=malloc(n);if(!p){puts(\"null\");return 0;}"
        "for(size_t i=0;i<n;i+=4096)p[i]=1;long s=0;for(size_t i=0;i<n;i+=4096)s+=p[i];printf(\"%ld\\n\",s);return 0;}\n"
    )
    result, _ = await _hostile(suite, case_files, "c", source)
    assert result.final.verdict == Verdict.MLE, result
    peak_kb = result.tests[0].memory_kb
    assert peak_kb >= MEMORY_LIMIT_MB * 1024
    # Slack: runner and kernel overhead, the output allowance in tmpfs, and libc pages.
    slack_mb = TEST_SETTINGS.memory_overhead_mb + OUTPUT_LIMIT_KB // 1024 + 4
    assert peak_kb <= (MEMORY_LIMIT_MB + slack_mb) * 1024, peak_kb


async def test_infinite_loop_gets_tle(suite: HostileSuite, case_files: CaseFiles) -> None:
    result, elapsed = await _hostile(suite, case_files, "c", "int main(void){volatile long x=0;for(;;)x++;}\n")
    assert result.final.verdict == Verdict.TLE, result
    assert TIME_LIMIT_MS < result.tests[0].time_ms < TIME_LIMIT_MS + 300
    assert elapsed < 5


async def test_sleeping_forever_gets_tle_by_wall_time(suite: HostileSuite, case_files: CaseFiles) -> None:
    result, _ = await _hostile(suite, case_files, "c", "#include <unistd.h>\nint main(void){for(;;)sleep(100);}\n")
    assert result.final.verdict == Verdict.TLE, result
    test = result.tests[0]
    assert test.time_ms < 100
    assert 2 * TIME_LIMIT_MS + 1000 <= test.wall_ms < 2 * TIME_LIMIT_MS + 1500
    assert "wall time" in test.message


async def test_endless_output_gets_ole_without_touching_disk(suite: HostileSuite, case_files: CaseFiles) -> None:
    used_before = shutil.disk_usage("/var/lib/docker").used
    source = '#include <stdio.h>\nint main(void){for(;;)fputs("yes yes yes yes yes yes yes\\n",stdout);}\n'
    result, _ = await _hostile(suite, case_files, "c", source)
    assert result.final.verdict == Verdict.OLE, result
    grown = shutil.disk_usage("/var/lib/docker").used - used_before
    assert grown < 16 * 1024 * 1024, f"docker disk usage grew by {grown} bytes"


async def test_correct_output_then_exit_1_gets_rte(suite: HostileSuite, case_files: CaseFiles) -> None:
    source = '#include <stdio.h>\nint main(void){puts("42");return 1;}\n'
    result, _ = await _hostile(suite, case_files, "c", source)
    assert result.final.verdict == Verdict.RTE, result
    assert result.tests[0].exit_code == 1


async def test_no_output_gets_wa(suite: HostileSuite, case_files: CaseFiles) -> None:
    result, _ = await _hostile(suite, case_files, "c", "int main(void){return 0;}\n")
    assert result.final.verdict == Verdict.WA, result
    assert result.final.internal_error is None


async def test_tcp_connect_to_loopback_fails(suite: HostileSuite, case_files: CaseFiles) -> None:
    connections = 0

    def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    server = await asyncio.start_server(count, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    source = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=0.3)\n"
        "    print('connected')\n"
        "except OSError:\n"
        "    print('blocked')\n"
    )
    try:
        result, _ = await _hostile(suite, case_files, "python3", source, answer="blocked\n")
    finally:
        server.close()
        await server.wait_closed()
    assert result.final.verdict == Verdict.AC, result
    assert connections == 0


async def test_dns_lookup_fails(suite: HostileSuite, case_files: CaseFiles) -> None:
    source = (
        "import socket\n"
        "try:\n"
        "    socket.getaddrinfo('deb.debian.org', 80)\n"
        "    print('resolved')\n"
        "except OSError:\n"
        "    print('blocked')\n"
    )
    result, _ = await _hostile(suite, case_files, "python3", source, answer="blocked\n")
    assert result.final.verdict == Verdict.AC, result


async def test_answer_file_is_unreachable(suite: HostileSuite, case_files: CaseFiles) -> None:
    answer_path = case_files.root / "hunt.ans"
    # Try the host path, the runner's files, paths through /proc and every
    # readable directory, and print the first content that contains the secret.
    source = r"""
#include <dirent.h>
#include <stdio.h>
#include <string.h>
static int try_path(const char *path) {
    char buf[4096];
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* Split so that the program's own source does not match. */
    if (strstr(buf, "SECRET-ANS" "WER")) { fputs(buf, stdout); return 1; }
    return 0;
}
int main(void) {
    const char *paths[] = {"ANSWER_PATH", "/judge/input", "/judge/output", "/judge/answer",
        "/proc/1/root/judge/input", "/proc/1/cwd/judge/input", "/proc/1/environ",
        "/proc/1/fd/0", "/proc/1/fd/3", "/proc/1/fd/4", "/proc/1/fd/5", "/box/answer", "/tmp/answer", 0};
    for (int i = 0; paths[i]; i++) if (try_path(paths[i])) return 0;
    const char *dirs[] = {"/judge", "/proc/1/root/judge", "/proc/1/fd", "/box", "/tmp", 0};
    for (int d = 0; dirs[d]; d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir) continue;
        struct dirent *e;
        char path[512];
        while ((e = readdir(dir))) {
            snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
            if (try_path(path)) return 0;
        }
        closedir(dir);
    }
    puts("none");
    return 0;
}
""".replace("ANSWER_PATH", str(answer_path))
    tests = (case_files.case("1\n", f"{SECRET}\n", name="hunt"),)
    assert Path(tests[0].answer_path) == answer_path
    result = await judge(suite.pool, language="c", source=source, tests=tests, time_limit_ms=TIME_LIMIT_MS)
    assert result.final.verdict == Verdict.WA, result
    assert "none" in result.tests[0].message
    normal = await judge(suite.pool, language="c", source=NORMAL_C, tests=(case_files.case("4\n", "8\n"),))
    assert normal.final.verdict == Verdict.AC, normal


async def test_include_dev_random_is_ce_within_limit(suite: HostileSuite, case_files: CaseFiles) -> None:
    result, elapsed = await _hostile(suite, case_files, "c", "#include </dev/random>\nint main(void){return 0;}\n")
    assert result.final.verdict == Verdict.CE, result
    assert elapsed < TEST_SETTINGS.compile_wall_ms / 1000 + 5


async def test_self_including_file_is_ce(suite: HostileSuite, case_files: CaseFiles) -> None:
    result, elapsed = await _hostile(suite, case_files, "c", "#include __FILE__\nint main(void){return 0;}\n")
    assert result.final.verdict == Verdict.CE, result
    assert elapsed < TEST_SETTINGS.compile_wall_ms / 1000 + 5


async def test_unbounded_recursion_gets_rte(suite: HostileSuite, case_files: CaseFiles) -> None:
    source = "int f(int n){volatile char pad[256];pad[0]=(char)n;return f(n+1)+pad[0];}\nint main(void){return f(0);}\n"
    result, _ = await _hostile(suite, case_files, "c", source)
    assert result.final.verdict == Verdict.RTE, result
    assert result.tests[0].signal == 11


def _container_of(pid: str) -> str | None:
    """Return the Docker container id in the process's cgroup path, if any."""
    try:
        cgroups = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return None
    match = re.search(r"[0-9a-f]{64}", cgroups)
    return match.group(0) if match else None


def _judge_uid_processes(other_containers: set[str] = frozenset()) -> list[str]:
    """List processes running as a judge uid, except those inside `other_containers`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
                if BASE_UID <= uid < BASE_UID + 1000 and _container_of(entry) not in other_containers:
                    found.append(f"pid {entry} uid {uid}")
    return found


async def test_nothing_left_behind(suite: HostileSuite) -> None:
    pool = suite.pool
    await pool.close()

    async with aiodocker.Docker() as docker:
        left = await docker.containers.list(all=True, filters={"label": [f"{POOL_LABEL}={pool.pool_id}"]})
        # Judge processes of other pools sharing this engine (a server, a worker) are not this suite's.
        others = {container.id for container in await docker.containers.list(all=True)}
    assert left == []
    assert _judge_uid_processes(others) == []
    assert _temp_entries() == suite.temp_before

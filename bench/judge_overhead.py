"""Judge overhead: each language's per-test time judged vs. the same program run bare.

For every language this prints, in one run:

- bare: median wall time of the program run on the host, outside any
  container, from the same judge image's files. A small static C harness
  chroots into an exported copy of the image and times one fork/exec per
  run, pinned to one CPU like a judge container;
- judged: median wall time the in-container runner measured for the same
  program and input, and the median time between two test events as the
  host sees them (protocol, checker and event included);
- overhead: the median over rounds of each round's judged median minus the
  same round's bare median, and the lowest and highest round;
- latency: median submit-to-final time of a one-test submission taken from a
  warm pool, after the warm container waited `--settle` seconds (a Java or
  JavaScript one warms up its compile server meanwhile), and the compile time
  inside it.

Run as root on the Docker host, with the judge images built:

    .venv/bin/python bench/judge_overhead.py [--tests 20] [--rounds 8] [--latency-runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiodocker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from judge.events import Compiled, Final, TestFinished, Verdict  # noqa: E402
from judge.images import _remove_tree, _unmount_all, image_tag  # noqa: E402
from judge.job import JudgeJob, TestCase  # noqa: E402
from judge.languages import GCC_IMAGE, LANGUAGES, SELF_TEST_ANSWER, SELF_TEST_INPUT, Language, expand_command  # noqa: E402
from judge.pool import JudgePool  # noqa: E402

# Runs argv N times inside ROOT (chroot, cwd /box), stdin from INPUT, stdout
# to a file, and prints the wall time in ms of each fork-exec-wait. It pins
# itself to one CPU because a judge container gets one CPU too.
HARNESS_SOURCE = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
int main(int argc, char **argv) {
    if (argc < 5 || chroot(argv[1]) < 0 || chdir("/box") < 0) { perror("bare_run"); return 2; }
    int runs = atoi(argv[3]);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof one, &one);
    for (int i = 0; i < runs; i++) {
        int in = open(argv[2], O_RDONLY), out = open("/tmp/bench-output", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int devnull = open("/dev/null", O_WRONLY);
        double start = now();
        pid_t pid = fork();
        if (pid == 0) { dup2(in, 0); dup2(out, 1); dup2(devnull, 2); execvp(argv[4], argv + 4); _exit(127); }
        int status; struct rusage ru;
        wait4(pid, &status, 0, &ru);
        double wall = now() - start;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "program failed: %d\n", status); return 3; }
        printf("%.3f\n", wall);
        close(in); close(out); close(devnull);
    }
    return 0;
}
"""


def build_harness(workdir: Path) -> Path:
    """Compile the harness statically with the judge's own gcc image (no host compiler needed)."""
    (workdir / "harness.c").write_text(HARNESS_SOURCE)
    subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-v", f"{workdir}:/work", image_tag(GCC_IMAGE),
         "gcc", "-static", "-O2", "-o", "/work/bare_run", "/work/harness.c"],
        check=True,
    )  # fmt: skip
    return workdir / "bare_run"


def export_rootfs(image: str, target: Path) -> None:
    target.mkdir(parents=True)
    container = subprocess.run(["docker", "create", image], check=True, capture_output=True, text=True).stdout.strip()
    try:
        export = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-C", str(target), "-xf", "-"], stdin=export.stdout, check=True)
        export.wait()
    finally:
        subprocess.run(["docker", "rm", "-f", container], check=True, capture_output=True)
    for name in ("proc", "dev"):
        (target / name).mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "proc", "proc", str(target / "proc")], check=True)
    subprocess.run(["mount", "--bind", "/dev", str(target / "dev")], check=True)


def bare_times(harness: Path, root: Path, language: Language, runs: int) -> list[float]:
    source_name = language.source_name
    main = "Main"
    (root / "box" / source_name).write_text(language.self_test_source)
    (root / "tmp" / "bench-input").write_bytes(SELF_TEST_INPUT)
    compile_argv = expand_command(language.compile, source_name=source_name, main=main, memory_mb=256)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
    subprocess.run([shutil.which("chroot") or "/usr/sbin/chroot", str(root), "sh", "-c", 'cd /box && exec "$@"', "compile", *compile_argv], check=True, env=env)
    run_argv = expand_command(language.run, source_name=source_name, main=main, memory_mb=256)
    output = subprocess.run(
        [str(harness), str(root), "/tmp/bench-input", str(runs), *run_argv],
        check=True, capture_output=True, text=True, env=env,
    ).stdout  # fmt: skip
    return [float(line) for line in output.split()]


async def judged_times(pool: JudgePool, language: Language, tests: tuple[TestCase, ...]) -> tuple[list[float], list[float]]:
    job = JudgeJob(
        submission_id=f"bench-{language.id}",
        language=language.id,
        source=language.self_test_source,
        tests=tests,
        time_limit_ms=5000,
        memory_limit_mb=256,
    )
    runner_walls: list[float] = []
    arrivals: list[float] = []
    async for event in pool.judge(job):
        if isinstance(event, TestFinished):
            arrivals.append(time.perf_counter() * 1000)
            runner_walls.append(float(event.wall_ms))
            assert event.verdict == Verdict.AC, event
    intervals = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    return runner_walls, intervals


async def warm_latency(pool: JudgePool, language: Language, test: TestCase, runs: int, settle_s: float) -> tuple[list[float], list[float]]:
    latencies: list[float] = []
    compiles: list[float] = []
    for run in range(runs):
        await pool.wait_warm()
        # A warm Java or JavaScript container starts its compile server, which then warms up.
        await asyncio.sleep(settle_s)
        job = JudgeJob(
            submission_id=f"latency-{language.id}-{run}",
            language=language.id,
            source=language.self_test_source,
            tests=(test,),
            time_limit_ms=5000,
            memory_limit_mb=256,
        )
        started = time.perf_counter()
        async for event in pool.judge(job):
            if isinstance(event, Compiled):
                compiles.append(float(event.time_ms))
            if isinstance(event, Final):
                latencies.append((time.perf_counter() - started) * 1000)
                assert event.verdict == Verdict.AC, event
    return latencies, compiles


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=20, help="tests per submission for the per-test times")
    # Many short rounds keep a shared machine's drift out of the difference.
    parser.add_argument("--rounds", type=int, default=8, help="bare and judged runs alternate this many times")
    parser.add_argument("--latency-runs", type=int, default=7, help="one-test submissions per language for the latency")
    parser.add_argument(
        "--settle", type=float, default=1.5, help="seconds a warm container waits before each latency run (default 1.5)"
    )
    parser.add_argument("--languages", default=",".join(language.id for language in LANGUAGES), help="comma-separated language ids")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the bare runs chroot into exported judge images")
    languages = [language for language in LANGUAGES if language.id in args.languages.split(",")]

    workdir = Path(tempfile.mkdtemp(prefix="codearena-bench-"))
    rows = []
    try:
        harness = build_harness(workdir)
        input_path = workdir / "self-test.in"
        answer_path = workdir / "self-test.ans"
        input_path.write_bytes(SELF_TEST_INPUT)
        answer_path.write_bytes(SELF_TEST_ANSWER)
        tests = tuple(TestCase(name=f"t{index}", input_path=str(input_path), answer_path=str(answer_path)) for index in range(args.tests))

        async with aiodocker.Docker() as docker:
            # Per-test times come from a pool without warm containers, so no
            # container start or delete runs in the background meanwhile.
            quiet_pool = JudgePool(docker, concurrency=1, warm_containers=0, languages=languages)
            pool = JudgePool(docker, concurrency=1, warm_containers=1, languages=languages)
            await quiet_pool.start()
            await pool.start()
            try:
                roots: dict[str, Path] = {}
                for language in languages:
                    image = pool.image_tags[language.image.name]
                    if image not in roots:
                        roots[image] = workdir / language.image.name
                        export_rootfs(image, roots[image])
                    # Alternating bare and judged rounds keeps drift on a shared machine out of the difference.
                    bare, runner_walls, intervals, round_overheads = [], [], [], []
                    await pool.wait_warm()
                    for _ in range(args.rounds):
                        round_bare = bare_times(harness, roots[image], language, args.tests)
                        await asyncio.sleep(0.5)
                        round_walls, round_intervals = await judged_times(quiet_pool, language, tests)
                        bare += round_bare
                        runner_walls += round_walls
                        intervals += round_intervals
                        round_overheads.append(statistics.median(round_intervals) - statistics.median(round_bare))
                        await asyncio.sleep(0.5)
                    latencies, compiles = await warm_latency(pool, language, tests[0], args.latency_runs, args.settle)
                    rows.append((language.id, bare, runner_walls, intervals, round_overheads, latencies, compiles))
                    print(f"{language.id}: done", file=sys.stderr)
            finally:
                await quiet_pool.close()
                await pool.close()
    finally:
        _unmount_all(workdir)
        _remove_tree(workdir)

    median = statistics.median
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Linux {platform.release()}")
    print(f"tests per submission: {args.tests}, rounds: {args.rounds}, latency runs: {args.latency_runs}, settle: {args.settle} s")
    print()
    print("| language | bare run | judged (runner wall) | judged (host, per test) | overhead per test | rounds' overheads | ratio | warm 1-test latency | of which compile |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for language_id, bare, runner_walls, intervals, round_overheads, latencies, compiles in rows:
        bare_ms, host_ms = median(bare), median(intervals)
        # Each round's judged median minus the same round's bare median, so drift between rounds cancels.
        overhead_ms = median(round_overheads)
        print(
            f"| {language_id} | {bare_ms:.2f} ms | {median(runner_walls):.0f} ms | {host_ms:.2f} ms "
            f"| {overhead_ms:+.2f} ms | {min(round_overheads):+.2f} to {max(round_overheads):+.2f} ms "
            f"| {host_ms / bare_ms:.2f}x | {median(latencies):.0f} ms | {median(compiles):.0f} ms |"
        )


if __name__ == "__main__":
    asyncio.run(main())

"""Judging one submission inside one sandbox: compile, run each test, check, score."""

from __future__ import annotations

import asyncio
import logging
import math
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from judge.checkers import get_checker
from judge.events import Compiled, Final, TestFinished, Verdict
from judge.job import JudgeJob, TestCase
from judge.languages import Language, expand_command, main_class, source_file_name
from judge.sandbox import MIB, RunnerReply, Sandbox

log = logging.getLogger(__name__)

# Outputs larger than this are checked in a thread, off the event loop.
_CHECK_IN_THREAD_BYTES = 256 * 1024


class TestDataError(Exception):
    """A test file on the judge host cannot be read: a problem setup fault (IE), not retried."""


def effective_time_limit_ms(job: JudgeJob, language: Language) -> int:
    return max(1, round(job.time_limit_ms * language.time_multiplier))


def wall_time_limit_ms(cpu_limit_ms: int) -> int:
    # Twice the CPU limit plus a second: enough for I/O and start-up, short
    # enough that a sleeping program is caught quickly.
    return 2 * cpu_limit_ms + 1000


def classify(reply: RunnerReply, cpu_limit_ms: int, memory_limit_kb: int, output_limit_bytes: int) -> tuple[Verdict | None, str]:
    """Verdict from the wait status and the limits alone; None means "run the checker".

    What the program printed on stderr is never looked at.
    """
    if reply.output_exceeded:
        return Verdict.OLE, f"output passed the limit of {output_limit_bytes} bytes"
    if reply.cpu_ms > cpu_limit_ms or reply.signal == signal.SIGXCPU:
        return Verdict.TLE, f"CPU time {reply.cpu_ms} ms, limit {cpu_limit_ms} ms"
    if reply.wall_timeout:
        return Verdict.TLE, f"wall time limit of {wall_time_limit_ms(cpu_limit_ms)} ms reached (CPU time {reply.cpu_ms} ms)"
    if reply.oom_killed or reply.memory_kb >= memory_limit_kb:
        return Verdict.MLE, f"peak memory {reply.memory_kb} KiB, limit {memory_limit_kb} KiB"
    if reply.signal:
        return Verdict.RTE, f"killed by signal {reply.signal} ({_signal_name(reply.signal)})"
    if reply.exit_code != 0:
        return Verdict.RTE, f"exit code {reply.exit_code}"
    return None, ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"


class JudgeState:
    """The results of a submission so far, kept across a retry in a new sandbox."""

    def __init__(self, job: JudgeJob) -> None:
        self.job = job
        self.compiled_reported = False
        self.results: dict[int, TestFinished] = {}
        self.group_tests: dict[str, list[int]] = {}
        for index, test in enumerate(job.tests):
            if test.group is not None:
                self.group_tests.setdefault(test.group, []).append(index)
        self._decided_groups: set[str] = set()

    def record(self, index: int, test: TestCase, reply: RunnerReply, verdict: Verdict, message: str) -> TestFinished:
        group_score = None
        if test.group is not None and test.group not in self._decided_groups:
            if verdict != Verdict.AC:
                group_score = 0.0
                self._decided_groups.add(test.group)
            elif all(
                other == index or (other in self.results and self.results[other].verdict == Verdict.AC)
                for other in self.group_tests[test.group]
            ):
                group_score = self._group_points(test.group)
                self._decided_groups.add(test.group)
        event = TestFinished(
            submission_id=self.job.submission_id,
            attempt=self.job.attempt,
            index=index,
            name=test.name,
            verdict=verdict,
            time_ms=reply.cpu_ms,
            wall_ms=round(reply.wall_ms),
            memory_kb=reply.memory_kb,
            exit_code=reply.exit_code if reply.exit_code >= 0 else None,
            signal=reply.signal or None,
            message=message,
            group=test.group,
            group_score=group_score,
            points=test.points,
        )
        self.results[index] = event
        return event

    def _group_points(self, group: str) -> float:
        return sum(self.job.tests[index].points for index in self.group_tests[group])

    def score(self) -> float:
        total = 0.0
        for index, test in enumerate(self.job.tests):
            result = self.results.get(index)
            if test.group is None and result is not None and result.verdict == Verdict.AC:
                total += test.points
        for group, indices in self.group_tests.items():
            if all(index in self.results and self.results[index].verdict == Verdict.AC for index in indices):
                total += self._group_points(group)
        return total

    def final(self, verdict: Verdict | None = None, internal_error: str | None = None) -> Final:
        results = [self.results[index] for index in sorted(self.results)]
        if verdict is None:
            verdict = next((result.verdict for result in results if result.verdict != Verdict.AC), Verdict.AC)
        return Final(
            submission_id=self.job.submission_id,
            attempt=self.job.attempt,
            verdict=verdict,
            time_ms=max((result.time_ms for result in results), default=0),
            memory_kb=max((result.memory_kb for result in results), default=0),
            passed=sum(result.verdict == Verdict.AC for result in results),
            total=len(self.job.tests),
            score=self.score() if verdict not in (Verdict.CE, Verdict.IE) else 0.0,
            max_score=sum(test.points for test in self.job.tests),
            internal_error=internal_error,
        )

    def internal_error(self, reason: str) -> Final:
        return self.final(Verdict.IE, internal_error=reason)


class JudgeSession:
    """Runs one job in one sandbox; yields Compiled (once per state), TestFinished and Final."""

    def __init__(self, sandbox: Sandbox, job: JudgeJob, language: Language, state: JudgeState, *, uid: int) -> None:
        self.sandbox = sandbox
        self.job = job
        self.language = language
        self.state = state
        self.run_uid = uid
        self.compile_uid = uid + 1

    async def run(self) -> AsyncIterator[Compiled | TestFinished | Final]:
        job, language = self.job, self.language
        source_name = source_file_name(language, job.source)
        main = main_class(language, job.source)

        await self.sandbox.write_source(source_name, job.source)
        reply, compiler_output = await self.sandbox.compile(
            uid=self.compile_uid,
            argv=expand_command(language.compile, source_name=source_name, main=main, memory_mb=job.memory_limit_mb),
        )
        success, output = self._compile_result(reply, compiler_output)
        if not self.state.compiled_reported:
            self.state.compiled_reported = True
            yield Compiled(
                submission_id=job.submission_id,
                attempt=job.attempt,
                success=success,
                time_ms=round(reply.wall_ms),
                output=output,
            )
        if not success:
            yield self.state.final(Verdict.CE)
            return

        cpu_limit_ms = effective_time_limit_ms(job, language)
        output_limit_bytes = job.output_limit_kb * 1024
        largest_input = max((self._size(test) for test in job.tests), default=0)
        # The current input and output sit in tmpfs, which the memory cgroup charges too.
        data_mb = math.ceil((largest_input + output_limit_bytes) / MIB)
        await self.sandbox.set_memory(job.memory_limit_mb + data_mb + self.sandbox.settings.memory_overhead_mb)
        await self.sandbox.configure_run(
            uid=self.run_uid,
            argv=expand_command(language.run, source_name=source_name, main=main, memory_mb=job.memory_limit_mb),
            cpu_ms=cpu_limit_ms,
            wall_ms=wall_time_limit_ms(cpu_limit_ms),
            output_limit_bytes=output_limit_bytes,
            # Half the memory limit, so unbounded recursion ends in a stack
            # overflow (RTE) before the memory limit (MLE).
            stack_bytes=job.memory_limit_mb * MIB // 2,
        )

        checker = get_checker(job.checker)
        memory_limit_kb = job.memory_limit_mb * 1024
        for index, test in enumerate(job.tests):
            if index in self.state.results:
                continue
            reply, program_output = await self.sandbox.run_test(await self._read(test, test.input_path, "input"))
            verdict, message = classify(reply, cpu_limit_ms, memory_limit_kb, output_limit_bytes)
            if verdict is None:
                answer = await self._read(test, test.answer_path, "answer")
                if len(program_output) + len(answer) > _CHECK_IN_THREAD_BYTES:
                    result = await asyncio.to_thread(checker, program_output, answer, job.checker_flags)
                else:
                    result = checker(program_output, answer, job.checker_flags)
                verdict = Verdict.AC if result.accepted else Verdict.WA
                message = result.message
            yield self.state.record(index, test, reply, verdict, message)
            if verdict != Verdict.AC and job.stop_on_first_failure:
                break
        yield self.state.final()

    def _compile_result(self, reply: RunnerReply, output: bytes) -> tuple[bool, str]:
        text = output.decode(errors="replace")
        if reply.output_exceeded:
            text += "\n[compiler output cut at 64 KiB]"
        settings = self.sandbox.settings
        problems = []
        if reply.wall_timeout or reply.cpu_ms > settings.compile_time_ms:
            problems.append(f"compilation exceeded its time limit ({settings.compile_time_ms} ms CPU, {settings.compile_wall_ms} ms wall)")
        elif reply.oom_killed:
            problems.append(f"compilation exceeded its memory limit ({settings.compile_memory_mb} MiB)")
        elif reply.signal:
            problems.append(f"compiler killed by signal {reply.signal} ({_signal_name(reply.signal)})")
        success = reply.exit_code == 0 and not problems
        if problems:
            text = (text + "\n" if text else "") + "; ".join(problems)
        return success, text

    def _size(self, test: TestCase) -> int:
        try:
            return Path(test.input_path).stat().st_size
        except OSError as error:
            raise TestDataError(f"cannot read the input of test {test.name!r}: {error}") from error

    async def _read(self, test: TestCase, path: str, what: str) -> bytes:
        try:
            if Path(path).stat().st_size <= _CHECK_IN_THREAD_BYTES:
                return Path(path).read_bytes()
            return await asyncio.to_thread(Path(path).read_bytes)
        except OSError as error:
            raise TestDataError(f"cannot read the {what} of test {test.name!r}: {error}") from error

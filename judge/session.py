"""Judging one submission inside one sandbox: compile, run each test, check, score."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import msgspec

from judge import function_style
from judge.checkers import CheckerFlags, CheckResult, get_checker
from judge.events import Compiled, Final, TestFinished, Verdict
from judge.interactive import interact, program_status
from judge.job import CUSTOM_CHECKER, FUNCTION_CHECKER, JudgeJob, TestCase
from judge.languages import Language, expand_command, main_class, source_file_name
from judge.sandbox import MIB, RunnerReply, Sandbox
from judge.validators import ValidatorError, ValidatorRun, interpret

log = logging.getLogger(__name__)

# Outputs larger than this are checked in a thread, off the event loop.
_CHECK_IN_THREAD_BYTES = 256 * 1024
# The message a contestant gets for a test the judge could not check; organizers get the reason.
INTERNAL_ERROR_MESSAGE = "the judge could not check this test; the organizers have been told"
FUNCTION_LANGUAGES_MESSAGE = f"function-style problems accept {' and '.join(function_style.SUPPORTED_LANGUAGES)}"


class TestDataError(Exception):
    """A test file on the judge host cannot be read: a problem setup fault (IE), not retried."""


def effective_time_limit_ms(job: JudgeJob, language: Language) -> int:
    return language.time_limit_ms(job.time_limit_ms)


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
        return Verdict.TLE, f"wall time limit reached after {reply.wall_ms:.0f} ms (CPU time {reply.cpu_ms} ms)"
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

    def record(
        self, index: int, test: TestCase, reply: RunnerReply, verdict: Verdict, message: str, score: float | None = None
    ) -> TestFinished:
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
            points=test.points,
            score=score,
        )
        self.results[index] = event
        if test.group is not None and test.group not in self._decided_groups:
            group_score = None
            if verdict != Verdict.AC:
                group_score = 0.0
            elif all(other in self.results and self.results[other].verdict == Verdict.AC for other in self.group_tests[test.group]):
                group_score = self._group_points(test.group)
            if group_score is not None:
                self._decided_groups.add(test.group)
                event = msgspec.structs.replace(event, group_score=group_score)
                self.results[index] = event
        return event

    def _earned(self, index: int) -> float:
        """Points of an accepted test: the validator's score.txt when it wrote one, else the test's points."""
        result = self.results[index]
        return result.score if result.score is not None else self.job.tests[index].points

    def _group_points(self, group: str) -> float:
        return sum(self._earned(index) for index in self.group_tests[group])

    def score(self) -> float:
        total = 0.0
        for index, test in enumerate(self.job.tests):
            result = self.results.get(index)
            if test.group is None and result is not None and result.verdict == Verdict.AC:
                total += self._earned(index)
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


class TestOutcome(NamedTuple):
    """The result of running and checking one test."""

    reply: RunnerReply
    verdict: Verdict
    message: str = ""
    score: float | None = None
    # For organizers: why the verdict is IE.
    internal_error: str | None = None


class JudgeSession:
    """Runs one job in one sandbox; yields Compiled (once per state), TestFinished and Final.

    Jobs with an output validator or interactor also get a ValidatorRun,
    whose container is not the contestant's.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        job: JudgeJob,
        language: Language,
        state: JudgeState,
        *,
        uid: int,
        validator: ValidatorRun | None = None,
        cpu: int | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.job = job
        self.language = language
        self.state = state
        self.run_uid = uid
        self.compile_uid = uid + 1
        self.validator = validator
        # The CPU the container is pinned to for the compile and the tests, or None for no pinning.
        self.cpu = cpu
        self.cpu_limit_ms = effective_time_limit_ms(job, language)
        self.output_limit_bytes = job.output_limit_kb * 1024
        self._flags: dict[tuple[str, ...], CheckerFlags] = {}

    async def run(self) -> AsyncIterator[Compiled | TestFinished | Final]:
        job, language = self.job, self.language
        source = job.source
        if job.checker == FUNCTION_CHECKER:
            if job.language not in function_style.SUPPORTED_LANGUAGES:
                yield self._compiled(False, 0, FUNCTION_LANGUAGES_MESSAGE)
                yield self.state.final(Verdict.CE)
                return
            source = function_style.build_program(job.language, job.source)
        source_name = source_file_name(language, source)
        main = main_class(language, source)

        # Claiming the CPU is a Docker API call: it overlaps the compile, which moves to the CPU once it lands.
        claiming = asyncio.ensure_future(self.sandbox.claim(self.cpu))
        try:
            await self.sandbox.write_source(source_name, source)
            compiled = None
            if self.sandbox.armed_language == language.id:
                compiled = await self.sandbox.compile_armed(source_name)
            if compiled is None:
                compiled = await self.sandbox.compile(
                    uid=self.compile_uid,
                    argv=expand_command(language.compile, source_name=source_name, main=main, memory_mb=job.memory_limit_mb),
                )
            reply, compiler_output = compiled
            success, output = self._compile_result(reply, compiler_output)
            if success:
                largest_input = max((self._size(test.input_path, test, "input") for test in job.tests), default=0)
                # The current input and output sit in tmpfs, which the memory cgroup charges too.
                data_mb = math.ceil((largest_input + self.output_limit_bytes) / MIB)
                memory_mb = job.memory_limit_mb + data_mb + self.sandbox.settings.memory_overhead_mb
                # Two Docker API calls, side by side.
                await asyncio.gather(claiming, self.sandbox.set_memory(memory_mb))
        finally:
            if not claiming.done():
                claiming.cancel()
            await asyncio.gather(claiming, return_exceptions=True)
        if not self.state.compiled_reported:
            yield self._compiled(success, round(reply.wall_ms), output)
        if not success:
            yield self.state.final(Verdict.CE)
            return

        await self.sandbox.configure_run(
            uid=self.run_uid,
            argv=expand_command(language.run, source_name=source_name, main=main, memory_mb=job.memory_limit_mb),
            cpu_ms=self.cpu_limit_ms,
            wall_ms=self._wall_limit_ms(),
            output_limit_bytes=self.output_limit_bytes,
            # Half the memory limit, so unbounded recursion ends in a stack
            # overflow (RTE) before the memory limit (MLE).
            stack_bytes=job.memory_limit_mb * MIB // 2,
        )
        if self.validator is not None:
            largest_answer = max((self._size(test.answer_path, test, "answer") for test in job.tests), default=0)
            await self.validator.load(largest_input + largest_answer + self.output_limit_bytes)

        remaining = [index for index in range(len(job.tests)) if index not in self.state.results]
        outcomes = self._interactive_outcomes(remaining) if job.interactive else self._batch_outcomes(remaining)
        async with contextlib.aclosing(outcomes):
            async for index, outcome in outcomes:
                test = job.tests[index]
                yield self.state.record(index, test, outcome.reply, outcome.verdict, outcome.message, outcome.score)
                if outcome.internal_error is not None:
                    log.error("submission %s test %s: %s", job.submission_id, test.name, outcome.internal_error)
                    yield self.state.internal_error(outcome.internal_error)
                    return
                if outcome.verdict != Verdict.AC and job.stop_on_first_failure:
                    break
        yield self.state.final()

    async def _interactive_outcomes(self, indexes: list[int]) -> AsyncIterator[tuple[int, TestOutcome]]:
        for index in indexes:
            yield index, await self._interact(self.job.tests[index])

    async def _batch_outcomes(self, indexes: list[int]) -> AsyncIterator[tuple[int, TestOutcome]]:
        """Yield each test's outcome while the runner already has the next test's input.

        The runner reads the next input frame as soon as it has replied, so the
        next test runs while the host checks this one and reports it. A test run
        ahead of a failure that stops the job is lost with its container.
        """
        if not indexes:
            return
        sending = asyncio.ensure_future(self._send_test(self.job.tests[indexes[0]]))
        try:
            for position, index in enumerate(indexes):
                input_data = await sending
                if position + 1 < len(indexes):
                    # Sent in a task of its own, because a large input fills the pipe until the runner has replied to this test.
                    sending = asyncio.ensure_future(self._send_test(self.job.tests[indexes[position + 1]]))
                reply, program_output = await self.sandbox.receive_test()
                yield index, await self._check_test(self.job.tests[index], input_data, reply, program_output)
        finally:
            if not sending.done():
                sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)

    def _wall_limit_ms(self) -> int:
        wall_ms = wall_time_limit_ms(self.cpu_limit_ms)
        if self.job.interactive:
            wall_ms += self.sandbox.settings.interactive_extra_wall_ms
        return wall_ms

    def _compiled(self, success: bool, time_ms: int, output: str) -> Compiled:
        self.state.compiled_reported = True
        return Compiled(submission_id=self.job.submission_id, attempt=self.job.attempt, success=success, time_ms=time_ms, output=output)

    async def _send_test(self, test: TestCase) -> bytes:
        input_data = await self._read(test, test.input_path, "input")
        if self.job.checker == FUNCTION_CHECKER:
            await self._check_function_input(test, input_data)
        await self.sandbox.send_test(input_data)
        return input_data

    async def _check_test(self, test: TestCase, input_data: bytes, reply: RunnerReply, program_output: bytes) -> TestOutcome:
        verdict, message = classify(reply, self.cpu_limit_ms, self.job.memory_limit_mb * 1024, self.output_limit_bytes)
        if verdict is not None:
            return TestOutcome(reply, verdict, message)
        answer = await self._read(test, test.answer_path, "answer")
        if self.job.checker == CUSTOM_CHECKER:
            assert self.validator is not None
            try:
                judgement = await self.validator.check(input_data, answer, program_output, test.validator_args)
            except ValidatorError as error:
                return TestOutcome(reply, Verdict.IE, INTERNAL_ERROR_MESSAGE, internal_error=f"test {test.name}: {error}")
            return TestOutcome(reply, Verdict.AC if judgement.accepted else Verdict.WA, judgement.message, judgement.score)
        result = await self._check(test, program_output, answer)
        return TestOutcome(reply, Verdict.AC if result.accepted else Verdict.WA, result.message)

    async def _interact(self, test: TestCase) -> TestOutcome:
        assert self.validator is not None
        settings = self.sandbox.settings
        interaction = await interact(
            self.sandbox,
            self.validator,
            input_data=await self._read(test, test.input_path, "input"),
            answer_data=await self._read(test, test.answer_path, "answer"),
            test_args=test.validator_args,
            program_wall_ms=self._wall_limit_ms(),
        )
        reply = interaction.program
        verdict, message = classify(program_status(reply), self.cpu_limit_ms, self.job.memory_limit_mb * 1024, self.output_limit_bytes)
        try:
            judgement = interpret(
                interaction.interactor,
                cpu_ms=self.validator.cpu_ms,
                what="interactor",
                stopped_reason=f"did not exit within {settings.interactor_grace_ms} ms after the submission ended",
            )
        except ValidatorError as error:
            # A submission that failed on its own before the interactor did keeps its verdict.
            if verdict is not None and not interaction.interactor_ended_first:
                return TestOutcome(reply, verdict, message)
            return TestOutcome(reply, Verdict.IE, INTERNAL_ERROR_MESSAGE, internal_error=f"test {test.name}: {error}")
        if verdict is not None:
            return TestOutcome(reply, verdict, message)
        return TestOutcome(reply, Verdict.AC if judgement.accepted else Verdict.WA, judgement.message, judgement.score)

    async def _check(self, test: TestCase, output: bytes, answer: bytes) -> CheckResult:
        if self.job.checker == FUNCTION_CHECKER:
            check = lambda: function_style.function_checker(output, answer, self.job.function_options)  # noqa: E731
        else:
            checker, flags = get_checker(self.job.checker), self._flags_for(test)
            check = lambda: checker(output, answer, flags)  # noqa: E731
        try:
            if len(output) + len(answer) > _CHECK_IN_THREAD_BYTES:
                return await asyncio.to_thread(check)
            return check()
        except ValueError as error:
            # function_checker: the answer file is not JSON, a fault of the problem.
            raise TestDataError(f"test {test.name!r}: {error}") from None

    def _flags_for(self, test: TestCase) -> CheckerFlags:
        """Return the problem's checker flags with the test's own output_validator_args on top."""
        if not test.validator_args:
            return self.job.checker_flags
        if test.validator_args not in self._flags:
            try:
                extra = CheckerFlags.parse(" ".join(test.validator_args))
            except ValueError as error:
                raise TestDataError(f"test {test.name!r}: invalid output validator arguments: {error}") from None
            changed = {name: getattr(extra, name) for name in extra.__struct_fields__ if getattr(extra, name) != getattr(CheckerFlags(), name)}
            self._flags[test.validator_args] = msgspec.structs.replace(self.job.checker_flags, **changed)
        return self._flags[test.validator_args]

    async def _check_function_input(self, test: TestCase, input_data: bytes) -> None:
        # Checked here, not by the program's exit code, so a submission cannot
        # turn its own failure into an internal error.
        def check() -> None:
            for number, line in enumerate(input_data.decode("utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    json.loads(line, parse_constant=_reject_constant)
                except ValueError as error:
                    raise ValueError(f"line {number}: {error}") from None

        try:
            if len(input_data) > _CHECK_IN_THREAD_BYTES:
                await asyncio.to_thread(check)
            else:
                check()
        except (UnicodeDecodeError, ValueError) as error:
            raise TestDataError(f"test {test.name!r}: every input line of a function-style test must be one JSON value: {error}") from None

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

    def _size(self, path: str, test: TestCase, what: str) -> int:
        try:
            return Path(path).stat().st_size
        except OSError as error:
            raise TestDataError(f"cannot read the {what} of test {test.name!r}: {error}") from error

    async def _read(self, test: TestCase, path: str, what: str) -> bytes:
        try:
            if Path(path).stat().st_size <= _CHECK_IN_THREAD_BYTES:
                return Path(path).read_bytes()
            return await asyncio.to_thread(Path(path).read_bytes)
        except OSError as error:
            raise TestDataError(f"cannot read the {what} of test {test.name!r}: {error}") from error


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")

"""Interactive problems: the submission and the interactor talk through pipes relayed by the host.

The submission's stdout feeds the interactor's stdin and the interactor's
stdout feeds the submission's stdin. Each runs in its own container and the
runners stream the bytes (frames 'N', 'W' and 'P' of judge/runner/runner.c);
the host copies them from one container's stream to the other's.

Why two containers and a relay rather than both processes in the
contestant's container under different uids? Each judge image carries one
toolchain, and the interactor is a program of its own language (a Python
interactor judges C++ submissions). Sharing a container would need every
toolchain in every image. A container of its own also keeps the input and
answer files out of the contestant's container altogether, with no file
permissions or ptrace rules to get right. The price is latency: every
message crosses the host, and a round trip took 0.4 to 0.6 ms on a 2-vCPU
VM, which suits problems with up to some thousands of exchanges per test.

Each side is limited by its own runner. When the interactor exits, the
submission's stdin is closed and it gets `submission_grace_ms` to exit
before it is killed (that kill is not a run-time error). When the
submission exits, the interactor reads end of file and gets
`interactor_grace_ms` to give its verdict before it is killed (IE).

The verdict: an interactor that ends first without accepting or rejecting
is an internal error, whatever the submission then does, because the
submission lost its partner. Otherwise the submission's own failure comes
first (a crash is RTE, a timeout TLE), then the interactor's 42 (AC) or 43
(WA).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import msgspec

from judge.sandbox import RunnerReply, Sandbox, ValidatorReply, split_validator_reply
from judge.validators import ValidatorRun

log = logging.getLogger(__name__)


class Interaction(msgspec.Struct, frozen=True):
    """Exit status of the submission and of the interactor for one test."""

    program: RunnerReply
    interactor: ValidatorReply
    # The interactor ended before the submission, so a failure of the
    # submission may have been caused by it.
    interactor_ended_first: bool


async def interact(
    program: Sandbox,
    interactor: ValidatorRun,
    *,
    input_data: bytes,
    answer_data: bytes,
    test_args: tuple[str, ...],
    program_wall_ms: int,
) -> Interaction:
    """Run one test of an interactive problem.

    The program must be configured with configure_run() and the interactor
    loaded; raises SandboxError when a container breaks.
    """
    settings = program.settings
    # Longer than the submission's wall limit plus the grace, so the host's
    # stop normally comes first and the interactor's own timer is a backstop.
    interactor_wall_ms = max(interactor.wall_ms, program_wall_ms + settings.interactor_grace_ms + 1000)
    await interactor.send_test_data(input_data, answer_data)
    await interactor.sandbox.start_validator_stream(
        uid=interactor.uid, argv=interactor.argv(test_args), cpu_ms=interactor.cpu_ms, wall_ms=interactor_wall_ms
    )
    await program.start_program_stream()

    program_ended = asyncio.Event()
    interactor_ended = asyncio.Event()
    program_task = asyncio.create_task(_relay(program, interactor.sandbox, program_wall_ms, interactor_ended))
    interactor_task = asyncio.create_task(_relay(interactor.sandbox, program, interactor_wall_ms, program_ended))
    try:
        done, _ = await asyncio.wait({program_task, interactor_task}, return_when=asyncio.FIRST_COMPLETED)
        if interactor_task in done:
            interactor_ended.set()
            interactor_task.result()
            await _finish(program, program_task, settings.submission_grace_ms)
        else:
            program_ended.set()
            program_task.result()
            await _finish(interactor.sandbox, interactor_task, settings.interactor_grace_ms)
        program_reply, _ = await program_task
        interactor_reply, payload = await interactor_task
    finally:
        for task in (program_task, interactor_task):
            task.cancel()
        for task in (program_task, interactor_task):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    # The exit times decide, not the order the replies came in: a submission
    # that dies of the interactor's end of file can report first.
    if program_reply.ended_at and interactor_reply.ended_at:
        interactor_ended_first = interactor_reply.ended_at < program_reply.ended_at
    else:
        interactor_ended_first = interactor_ended.is_set()
    return Interaction(
        program=program_reply,
        interactor=split_validator_reply(interactor_reply, payload),
        interactor_ended_first=interactor_ended_first,
    )


def program_status(reply: RunnerReply) -> RunnerReply:
    """Return the submission's reply as classify() should see it: a kill by the judge after the interactor ended is no crash."""
    if reply.stopped and reply.signal == signal.SIGKILL and not reply.wall_timeout:
        return msgspec.structs.replace(reply, signal=0, exit_code=0)
    return reply


async def _relay(source: Sandbox, target: Sandbox, wall_ms: int, target_ended: asyncio.Event) -> tuple[RunnerReply, bytes]:
    """Copy source's output to target's input until source's final reply, which is returned."""
    while True:
        message = await source.read_stream(wall_ms)
        if isinstance(message, tuple):
            return message
        # The target's runner drops input once the target has ended, so skip the copy.
        if not target_ended.is_set():
            await target.send_input(message)


async def _finish(sandbox: Sandbox, task: asyncio.Task, grace_ms: int) -> None:
    """Close this side's stdin, wait up to grace_ms for it to end, then kill it (the other side has ended)."""
    if task.done():
        return
    await sandbox.send_input(b"")
    done, _ = await asyncio.wait({task}, timeout=grace_ms / 1000)
    if not done:
        log.debug("container %s: still running %d ms after the other side ended; stopping it", sandbox.id, grace_ms)
        await sandbox.stop()

"""One judge container and the protocol of the in-container runner.

How the source and the test data get in: the runner is the container's
command and reads framed requests from its attached stdin (see
judge/runner/runner.c). That works with a read-only root file system and
needs no bind mount of host paths, so warm containers can start before the
job is known. The answer files never enter the contestant's container: the
runner sends each test's output back and the host runs the checker, or
hands the output to a second container that runs only the output validator.
Only one test's input is in a container at a time.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time

import aiodocker
import aiohttp
import msgspec
from aiodocker.stream import Stream

from judge.images import RUNNER_PATH

log = logging.getLogger(__name__)

MIB = 1 << 20
LABEL = "codearena.judge"
# Age after which a container that never started counts as left behind.
STALE_CREATED_S = 300
POOL_LABEL = "codearena.judge.pool"
# Host-side grace on top of the runner's own wall-time limit before the
# sandbox counts as broken.
REPLY_GRACE_SECONDS = 10.0


class SandboxError(Exception):
    """The sandbox broke (container died, Docker failed, protocol error); the verdict is IE."""


class SandboxSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Limits of the judge containers, the same for every submission."""

    compile_memory_mb: int = 1024
    compile_time_ms: int = 10_000  # CPU time of the compiler
    compile_wall_ms: int = 20_000
    # Memory the container gets above the problem's limit: runner, kernel,
    # page cache. The current input and output live in tmpfs and are added.
    memory_overhead_mb: int = 16
    cpus: float = 1.0
    # Pin each submission's container to the CPU of its pool slot. With the concurrency at most
    # the CPU count (the default), concurrent submissions then run on different CPUs.
    pin_cpus: bool = True
    pids_limit: int = 256
    # Per-uid process limit of the compiler and of the program. Below
    # pids_limit so a fork bomb leaves room for the runner's own fork.
    nproc: int = 64
    nofile: int = 256
    box_size_mb: int = 256  # source and compiled program
    data_size_mb: int = 1024  # one test's input and output
    compile_log_bytes: int = 64 * 1024
    # Output validators and interactors, per test. Exceeding these is the
    # problem's fault, so the verdict is IE.
    validator_time_ms: int = 10_000  # CPU time
    validator_wall_ms: int = 20_000
    validator_memory_mb: int = 1024
    # Largest file a validator may write (judgemessage.txt and the like).
    validator_file_bytes: int = 8 * MIB
    # Bytes kept of a validator's stdout and stderr, and of judgemessage.txt.
    validator_log_bytes: int = 4096
    # Interactive problems. Once the interactor exits, the submission gets
    # its stdin closed and this long to exit before it is killed.
    submission_grace_ms: int = 500
    # Once the submission exits, the interactor gets this long to give its verdict.
    interactor_grace_ms: int = 2000
    # Added to an interactive submission's wall time limit, because each
    # exchange with the interactor crosses the host. A round trip took 0.4 to
    # 0.6 ms on a 2-vCPU Xeon VM (C++ on both sides), so 5 s covers roughly
    # 10 000 exchanges.
    interactive_extra_wall_ms: int = 5000


class RunnerReply(msgspec.Struct, frozen=True):
    type: str
    exit_code: int = -1
    signal: int = 0
    cpu_ms: int = 0
    wall_ms: float = 0.0
    memory_kb: int = 0
    wall_timeout: bool = False
    oom_killed: bool = False
    # Compile: the log was cut. Test: the output passed the output limit.
    output_exceeded: bool = False
    # Why the runner could not start the command; empty when it did.
    setup_error: str = ""
    # Streamed runs: the host asked for the kill (the other side had ended).
    stopped: bool = False
    # Sizes of the pieces of the payload: validators send log, judgemessage.txt, score.txt.
    parts: tuple[int, ...] = ()
    # Streamed runs: CLOCK_MONOTONIC milliseconds when the child exited, the
    # same clock in every container of the host.
    ended_at: float = 0.0
    length: int = 0
    message: str = ""


class ValidatorReply(msgspec.Struct, frozen=True):
    """Exit status of an output validator or interactor, with its feedback files."""

    reply: RunnerReply
    # stdout and stderr (batch) or stderr (interactor), cut at validator_log_bytes.
    log: bytes
    judge_message: bytes
    # The feedback file was longer than validator_log_bytes.
    judge_message_cut: bool
    score: bytes


_reply_decoder = msgspec.json.Decoder(RunnerReply)


# CPU weight of a warm container until its job claims it: a compile server warming up then
# yields the CPU to the containers that judge (the default weight is 1024).
BACKGROUND_CPU_SHARES = 2
JOB_CPU_SHARES = 1024


def container_config(image: str, settings: SandboxSettings, labels: dict[str, str], cpu_shares: int = JOB_CPU_SHARES) -> dict:
    memory = (settings.compile_memory_mb + settings.memory_overhead_mb) * MIB
    tmpfs_options = "rw,nosuid,nodev"
    return {
        "Image": image,
        "Cmd": [RUNNER_PATH],
        "User": "0:0",
        "WorkingDir": "/",
        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
        "OpenStdin": True,
        "StdinOnce": True,
        "AttachStdin": True,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": False,
        "NetworkDisabled": True,
        "Labels": {LABEL: "1", **labels},
        "HostConfig": {
            "NetworkMode": "none",
            "ReadonlyRootfs": True,
            "Tmpfs": {
                "/box": f"{tmpfs_options},exec,size={settings.box_size_mb}m,mode=1777",
                "/judge": f"{tmpfs_options},noexec,size={settings.data_size_mb}m,mode=0700",
                "/tmp": f"{tmpfs_options},noexec,size=64m,mode=1777",
            },
            # The runner only switches to the unprivileged uids.
            "CapDrop": ["ALL"],
            "CapAdd": ["SETUID", "SETGID"],
            "SecurityOpt": ["no-new-privileges"],
            # No /dev/shm: a test could otherwise leave files there for the next one.
            "IpcMode": "none",
            "PidsLimit": settings.pids_limit,
            "Memory": memory,
            "MemorySwap": memory,
            "CpuPeriod": 100_000,
            "CpuQuota": int(100_000 * settings.cpus),
            "CpuShares": cpu_shares,
            "Ulimits": [
                {"Name": "nofile", "Soft": settings.nofile, "Hard": settings.nofile},
                {"Name": "fsize", "Soft": settings.data_size_mb * MIB, "Hard": settings.data_size_mb * MIB},
                {"Name": "core", "Soft": 0, "Hard": 0},
            ],
            # Program output must never reach the host disk through a log driver.
            "LogConfig": {"Type": "none", "Config": {}},
        },
    }


def _frame(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">cI", kind, len(payload)) + payload


def _limits_payload(
    *,
    uid: int,
    cpu_ms: int,
    wall_ms: int,
    fsize: int,
    nproc: int,
    nofile: int,
    stack: int,
    log_cap: int,
    argv: list[str],
) -> bytes:
    fields = [str(value) for value in (uid, cpu_ms, wall_ms, fsize, nproc, nofile, stack, log_cap)]
    fields.extend(argv)
    for field in fields:
        if "\0" in field:
            raise ValueError(f"NUL byte in runner argument {field!r}")
    return b"".join(field.encode() + b"\0" for field in fields)


class Sandbox:
    """A started judge container with the runner waiting on its stdin. Use once."""

    def __init__(self, docker: aiodocker.Docker, container, stream: Stream, image: str, settings: SandboxSettings):
        self.docker = docker
        self.container = container
        self.stream = stream
        self.image = image
        self.settings = settings
        self._buffer = bytearray()
        self._destroyed = False
        # The language whose compile server runs in the container, if one was started.
        self.armed_language: str | None = None

    @property
    def id(self) -> str:
        return self.container.id[:12]

    @classmethod
    async def start(
        cls,
        docker: aiodocker.Docker,
        image: str,
        settings: SandboxSettings,
        labels: dict[str, str] | None = None,
        cpu_shares: int = JOB_CPU_SHARES,
    ) -> Sandbox:
        container = await docker.containers.create(container_config(image, settings, labels or {}, cpu_shares))
        try:
            # Attach before start, so nothing the runner writes can be missed.
            stream = container.attach(stdin=True, stdout=True, stderr=True)
            await stream.__aenter__()
            await container.start()
        except BaseException:
            await _delete_quietly(container)
            raise
        return cls(docker, container, stream, image, settings)

    async def set_memory(self, megabytes: int) -> None:
        limit = megabytes * MIB
        await self._update({"Memory": limit, "MemorySwap": limit})

    async def claim(self, cpu: int | None) -> None:
        """Give the container a job's CPU weight and, when `cpu` is given, restrict it to that CPU."""
        resources: dict[str, object] = {"CpuShares": JOB_CPU_SHARES}
        if cpu is not None:
            resources["CpusetCpus"] = str(cpu)
        await self._update(resources)

    async def _update(self, resources: dict[str, object]) -> None:
        try:
            await self.docker._query_json(f"containers/{self.container.id}/update", method="POST", data=resources)
        except aiodocker.DockerError as error:
            raise SandboxError(f"cannot update container {self.id} with {resources}: {error}") from error

    async def write_source(self, name: str, text: str) -> None:
        await self._send(b"S", name.encode() + b"\0" + text.encode())

    async def write_file(self, name: str, data: bytes, *, executable: bool = False) -> None:
        """Write a file into /box, such as a validator compiled earlier."""
        await self._send(b"X" if executable else b"S", name.encode() + b"\0" + data)

    async def read_file(self, name: str) -> bytes:
        """Return a file of /box, such as a validator just compiled there."""
        await self._send(b"G", name.encode())
        reply, data = await self._receive("file", 0)
        if reply.exit_code != 0:
            raise SandboxError(f"cannot read /box/{name} in container {self.id}: {reply.message}")
        return data

    async def write_data(self, name: str, data: bytes) -> None:
        """Write a file into /judge for a validator. Send this to validator containers only."""
        await self._send(b"D", name.encode() + b"\0" + data)

    async def validate(self, *, uid: int, argv: list[str], cpu_ms: int, wall_ms: int) -> ValidatorReply:
        """Run an output validator on the data files input, answer and team_output."""
        await self._send(b"V", self._validator_payload(uid=uid, argv=argv, cpu_ms=cpu_ms, wall_ms=wall_ms))
        reply, payload = await self._receive("validated", wall_ms)
        return split_validator_reply(reply, payload)

    async def start_program_stream(self) -> None:
        """Start the program set by configure_run() with stdin and stdout streamed (interactive)."""
        await self._send(b"N", b"")

    async def start_validator_stream(self, *, uid: int, argv: list[str], cpu_ms: int, wall_ms: int) -> None:
        """Start an interactor with stdin and stdout streamed; split_validator_reply() splits its final reply."""
        await self._send(b"W", self._validator_payload(uid=uid, argv=argv, cpu_ms=cpu_ms, wall_ms=wall_ms))

    async def send_input(self, data: bytes) -> None:
        """Feed the streamed child's stdin; empty data closes it."""
        await self._send(b"P", data)

    async def stop(self) -> None:
        """Kill the streamed child; its final reply then has `stopped` set."""
        await self._send(b"K", b"")

    async def read_stream(self, wall_ms: int) -> bytes | tuple[RunnerReply, bytes]:
        """Next message of a streamed run: output bytes (b"" at end of output), or the final reply and payload."""
        reply, payload = await self._receive(("data", "streamed"), wall_ms)
        if reply.type == "data":
            return payload
        return reply, payload

    def _validator_payload(self, *, uid: int, argv: list[str], cpu_ms: int, wall_ms: int) -> bytes:
        return _limits_payload(
            uid=uid,
            cpu_ms=cpu_ms,
            wall_ms=wall_ms,
            fsize=self.settings.validator_file_bytes,
            nproc=self.settings.nproc,
            nofile=self.settings.nofile,
            stack=0,
            log_cap=self.settings.validator_log_bytes,
            argv=argv,
        )

    async def compile(self, *, uid: int, argv: list[str]) -> tuple[RunnerReply, bytes]:
        await self._send(b"C", self._compile_limits(uid, argv))
        return await self._receive("compiled", self.settings.compile_wall_ms)

    async def arm(self, *, uid: int, argv: list[str], language: str) -> None:
        """Start the language's compile server, which warms up while the container waits for a job."""
        await self._send(b"A", self._compile_limits(uid, argv))
        self.armed_language = language

    async def compile_armed(self, source_name: str) -> tuple[RunnerReply, bytes] | None:
        """Have the compile server compile `source_name`; None when it is gone and a plain compile must run."""
        self.armed_language = None
        await self._send(b"F", source_name.encode())
        reply, output = await self._receive(("compiled", "unarmed"), self.settings.compile_wall_ms)
        if reply.type == "unarmed":
            log.warning("compile server in container %s ended before its job; compiling without it", self.id)
            return None
        return reply, output

    def _compile_limits(self, uid: int, argv: list[str]) -> bytes:
        settings = self.settings
        return _limits_payload(
            uid=uid,
            cpu_ms=settings.compile_time_ms,
            wall_ms=settings.compile_wall_ms,
            fsize=settings.box_size_mb * MIB,
            nproc=settings.nproc,
            nofile=settings.nofile,
            stack=0,
            log_cap=settings.compile_log_bytes,
            argv=argv,
        )

    async def configure_run(
        self,
        *,
        uid: int,
        argv: list[str],
        cpu_ms: int,
        wall_ms: int,
        output_limit_bytes: int,
        stack_bytes: int,
    ) -> None:
        self._run_wall_ms = wall_ms
        payload = _limits_payload(
            uid=uid,
            cpu_ms=cpu_ms,
            wall_ms=wall_ms,
            fsize=output_limit_bytes + 1,
            nproc=self.settings.nproc,
            nofile=self.settings.nofile,
            stack=stack_bytes,
            log_cap=0,
            argv=argv,
        )
        await self._send(b"R", payload)

    async def send_test(self, input_data: bytes) -> None:
        """Queue a test: the runner runs it once it has replied to the tests queued before it."""
        await self._send(b"I", input_data)

    async def receive_test(self) -> tuple[RunnerReply, bytes]:
        """Return the reply and output of the oldest test not received yet."""
        return await self._receive("test", self._run_wall_ms)

    async def destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        try:
            await self.stream.close()
        except Exception as error:  # the connection may already be gone
            log.debug("closing the stream of container %s failed: %s", self.id, error)
        await _delete_quietly(self.container)

    async def _send(self, kind: bytes, payload: bytes) -> None:
        try:
            await self.stream.write_in(_frame(kind, payload))
        # aiodocker 0.27 asserts that the connection still has a transport.
        except (OSError, RuntimeError, AssertionError, aiohttp.ClientError, aiodocker.DockerError) as error:
            raise SandboxError(f"cannot write to container {self.id}: {error}") from error

    async def _receive(self, expected: str | tuple[str, ...], wall_ms: int) -> tuple[RunnerReply, bytes]:
        timeout = wall_ms / 1000 + REPLY_GRACE_SECONDS
        expected_types = (expected,) if isinstance(expected, str) else expected
        try:
            async with asyncio.timeout(timeout):
                line = await self._read_line()
                reply = _reply_decoder.decode(line)
                if reply.type == "error":
                    raise SandboxError(f"runner in container {self.id} failed: {reply.message}")
                if reply.type not in expected_types:
                    raise SandboxError(f"runner in container {self.id} sent {reply.type!r}, expected {expected!r}")
                payload = await self._read_exactly(reply.length)
        except TimeoutError:
            raise SandboxError(f"runner in container {self.id} did not reply within {timeout:.0f} s") from None
        except msgspec.DecodeError as error:
            raise SandboxError(f"runner in container {self.id} sent a bad reply: {error}") from error
        if reply.setup_error:
            raise SandboxError(f"runner in container {self.id} could not start the command: {reply.setup_error}")
        return reply, payload

    async def _fill(self) -> None:
        try:
            message = await self.stream.read_out()
        except (OSError, aiohttp.ClientError, aiodocker.DockerError) as error:
            raise SandboxError(f"reading from container {self.id} failed: {error}") from error
        if message is None:
            raise SandboxError(f"container {self.id} exited: {await self._describe_exit()}")
        if message.stream == 2:
            log.warning("runner stderr in container %s: %r", self.id, message.data[:500])
            return
        self._buffer.extend(message.data)

    async def _read_line(self) -> bytes:
        while (end := self._buffer.find(b"\n")) < 0:
            await self._fill()
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    async def _read_exactly(self, length: int) -> bytes:
        while len(self._buffer) < length:
            await self._fill()
        data = bytes(self._buffer[:length])
        del self._buffer[:length]
        return data

    async def _describe_exit(self) -> str:
        try:
            info = await self.container.show()
        except aiodocker.DockerError as error:
            return f"cannot inspect it: {error}"
        state = info.get("State", {})
        return f"status {state.get('Status')}, exit code {state.get('ExitCode')}, OOM killed {state.get('OOMKilled')}"


def split_validator_reply(reply: RunnerReply, payload: bytes) -> ValidatorReply:
    """Split a validator's payload into its log, judgemessage.txt and score.txt."""
    if len(reply.parts) != 3 or sum(reply.parts) != len(payload):
        raise SandboxError(f"runner sent validator parts {reply.parts} for a payload of {len(payload)} bytes")
    log_end = reply.parts[0]
    message_end = log_end + reply.parts[1]
    return ValidatorReply(
        reply=reply,
        log=payload[:log_end],
        judge_message=payload[log_end:message_end],
        judge_message_cut=reply.output_exceeded,
        score=payload[message_end:],
    )


async def _delete_quietly(container) -> None:
    try:
        await container.delete(force=True)
    except aiodocker.DockerError as error:
        if error.status != 404:
            log.warning("cannot delete judge container %s: %s", container.id[:12], error)


async def remove_stale_containers(docker: aiodocker.Docker) -> int:
    """Delete judge containers that are no longer running (left by a judge process that died).

    Other judge processes may share this Docker engine, and their containers pass
    through "created" for a moment while starting, so a created container counts
    as stale only once it is older than STALE_CREATED_S.
    """
    removed = 0
    containers = await docker.containers.list(all=True, filters={"label": [f"{LABEL}=1"], "status": ["exited", "created", "dead"]})
    now = time.time()
    for container in containers:
        is_created = container["State"] == "created"
        if is_created and now - float(container["Created"]) < STALE_CREATED_S:
            continue
        await _delete_quietly(container)
        removed += 1
    if removed:
        log.info("removed %d stale judge containers", removed)
    return removed

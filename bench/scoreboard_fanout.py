"""Scoreboard fan-out: how fast a verdict reaches N spectator WebSockets on one server process.

Starts one `codearena serve` (Redis channels, SQLite by default or a fresh
PostgreSQL database with --postgres) on a loopback port, opens N public
scoreboard WebSockets from a few client processes, then plays the judge
worker: it stores a verdict, runs the scoreboard hooks (which publish through
Redis) and records when each client received the delta. Prints per-delivery
latency, the time until every client had each delta, and the server's resident
memory per idle connection (RSS growth over N).

    .venv/bin/python bench/scoreboard_fanout.py --clients 5000 --write-docs

Loopback only. The open-files limit is raised to fit N sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

DOCS = REPOSITORY / "docs" / "benchmarks.md"
SECTION = "## Scoreboard fan-out"
REDIS_URL_BASE = "redis://127.0.0.1:6379"
POSTGRES_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
CLAIM_KEY = "codearena-db-claim"
CONNECT_CONCURRENCY = 100


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--clients", default="500", help="spectator WebSockets, 1 to 5000; a comma-separated list runs each (default 500)"
    )
    parser.add_argument("--rounds", type=int, default=20, help="verdicts to time (default 20)")
    parser.add_argument("--participants", type=int, default=100, help="participants on the board (default 100)")
    parser.add_argument("--workers", type=int, default=2, help="client processes holding the sockets (default 2)")
    parser.add_argument("--gap", type=float, default=None, help="seconds between verdicts (default: 0.3 + clients/2000)")
    parser.add_argument("--postgres", action="store_true", help="use a fresh PostgreSQL database instead of SQLite")
    parser.add_argument("--write-docs", action="store_true", help=f"replace the '{SECTION}' section of docs/benchmarks.md")
    args = parser.parse_args()
    try:
        args.client_counts = [int(value) for value in args.clients.split(",")]
    except ValueError:
        parser.error(f"--clients must be integers separated by commas, got {args.clients!r}")
    if not all(1 <= count <= 5000 for count in args.client_counts):
        parser.error("--clients must be between 1 and 5000")
    if not 1 <= args.rounds <= 1000:
        parser.error("--rounds must be between 1 and 1000")
    if not 1 <= args.participants <= 5000:
        parser.error("--participants must be between 1 and 5000")
    if not 1 <= args.workers <= 16:
        parser.error("--workers must be between 1 and 16")
    return args


def raise_open_files(clients: int) -> int:
    """Raise the soft open-files limit for the server and client processes started from here."""
    needed = clients + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise SystemExit(f"the open-files hard limit is {hard}; {clients} clients need {needed}: raise it with ulimit -Hn")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


# Client processes
#
# Each client is a raw asyncio protocol rather than a full WebSocket library
# client: it performs the upgrade handshake, then only timestamps incoming
# bytes and picks the seq of each `rows` envelope out of the server's
# unmasked text frames. On a small machine the clients share the CPU with the
# server, and a library client's per-message work would dominate the timing.

ROWS_PREFIX = b'{"type":"rows","seq":'
OPCODE_TEXT = 0x1
OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9


class RawSpectator(asyncio.Protocol):
    """Parses server frames, records the arrival of each `rows` envelope and replies to pings."""

    def __init__(self, receipts: dict[int, list[float]], handshake: asyncio.Future) -> None:
        self.receipts = receipts
        self.handshake = handshake
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        received = time.monotonic()
        data = self.buffer + data
        if not self.handshake.done():
            head, separator, rest = data.partition(b"\r\n\r\n")
            if not separator:
                self.buffer = data
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.handshake.set_exception(RuntimeError(head.split(b"\r\n", 1)[0].decode()))
                return
            self.handshake.set_result(None)
            data = rest
        self.buffer = self._frames(data, received)

    def _frames(self, data: bytes, received: float) -> bytes:
        """Handle every complete frame in `data` and return the incomplete rest."""
        offset = 0
        while len(data) - offset >= 2:
            opcode = data[offset] & 0x0F
            length = data[offset + 1] & 0x7F
            header = 2
            if length == 126:
                if len(data) - offset < 4:
                    break
                length = int.from_bytes(data[offset + 2 : offset + 4], "big")
                header = 4
            elif length == 127:
                if len(data) - offset < 10:
                    break
                length = int.from_bytes(data[offset + 2 : offset + 10], "big")
                header = 10
            if len(data) - offset < header + length:
                break
            payload = data[offset + header : offset + header + length]
            offset += header + length
            if opcode == OPCODE_TEXT and payload.startswith(ROWS_PREFIX):
                seq = int(payload[len(ROWS_PREFIX) : payload.index(b",", len(ROWS_PREFIX))])
                self.receipts.setdefault(seq, []).append(received)
            elif opcode == OPCODE_PING:
                self._send_masked(0x8A, payload)
            elif opcode == OPCODE_CLOSE:
                self.receipts.setdefault(-1, []).append(received)
        return data[offset:]

    def _send_masked(self, first_byte: int, payload: bytes) -> None:
        # Client frames must be masked (RFC 6455 section 5.3); payloads here are under 126 bytes.
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.transport.write(bytes([first_byte, 0x80 | len(payload)]) + mask + masked)

    def connection_lost(self, exc) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError("closed during the handshake"))


def client_worker(url: str, count: int, pipe) -> None:
    import gc

    # The clients create few long-lived objects; collections would only add pauses to their timestamps.
    gc.disable()
    asyncio.run(_client_main(url, count, pipe))


async def _client_main(url: str, count: int, pipe) -> None:
    host_port, _, path = url.removeprefix("ws://").partition("/")
    host, _, port = host_port.partition(":")
    request = (
        f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
    receipts: dict[int, list[float]] = {}

    async def open_one():
        async with limit:
            handshake = loop.create_future()
            transport, _ = await loop.create_connection(lambda: RawSpectator(receipts, handshake), host, int(port))
            transport.write(request)
            await asyncio.wait_for(handshake, 60)
            return transport

    transports = await asyncio.gather(*(open_one() for _ in range(count)))
    pipe.send(("ready", len(transports)))
    await loop.run_in_executor(None, pipe.recv)
    for transport in transports:
        transport.close()
    pipe.send(("done", receipts))


# Server side


@asynccontextmanager
async def database(use_postgres: bool, workdir: Path):
    from sqlalchemy.engine import make_url

    from db.migrate import upgrade

    if not use_postgres:
        url = f"sqlite+aiosqlite:///{workdir / 'codearena.sqlite3'}"
        await asyncio.to_thread(upgrade, url)
        yield url
        return

    import asyncpg

    admin = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"codearena_bench_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        connection = await asyncpg.connect(admin)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


@asynccontextmanager
async def claimed_redis_db():
    """Claim a Redis database number (1 to 14) for the run and delete its CodeArena keys afterwards."""
    from redis.asyncio import Redis

    token = uuid.uuid4().hex
    for number in range(1, 15):
        client = Redis.from_url(f"{REDIS_URL_BASE}/{number}")
        if await client.set(CLAIM_KEY, token, nx=True, ex=3600):
            break
        await client.aclose()
    else:
        raise SystemExit("no free Redis database between 1 and 14")

    async def clean() -> None:
        keys = [key async for key in client.scan_iter(match="codearena:*")]
        if keys:
            await client.delete(*keys)

    try:
        await clean()
        yield number
    finally:
        await clean()
        await client.delete(CLAIM_KEY)
        await client.aclose()


def environment(database_url: str, redis_db: int, data_dir: Path) -> dict[str, str]:
    values = {key: value for key, value in os.environ.items() if not key.startswith("CODEARENA_")}
    values.update(
        {
            "CODEARENA_DATABASE_URL": database_url,
            "CODEARENA_REDIS_URL": f"{REDIS_URL_BASE}/{redis_db}",
            "CODEARENA_DATA_DIR": str(data_dir),
            "CODEARENA_JUDGE_EMBEDDED": "false",
            "CODEARENA_AUTH_ARGON2_TIME_COST": "1",
            "CODEARENA_AUTH_ARGON2_MEMORY_COST_KIB": "1024",
            "CODEARENA_AUTH_ARGON2_PARALLELISM": "1",
        }
    )
    return values


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "--log-level", "WARNING", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPOSITORY, env=env, stdout=handle, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(300):
            if process.poll() is not None:
                raise SystemExit(f"codearena serve exited: {log.read_text()[-2000:]}")
            try:
                await http.get(f"{base}/health")
                return process, base
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    process.terminate()
    raise SystemExit(f"codearena serve did not start: {log.read_text()[-2000:]}")


async def setup_contest(base: str, database_url: str, participants: int) -> tuple[dict, list[int], str]:
    """Create an organizer, a running contest with 5 problems and registered participants; return the user ids."""
    import asyncpg
    import httpx
    from sqlalchemy.engine import make_url

    from db.models import utcnow

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        async def account(name: str) -> tuple[int, dict]:
            body = {"username": name, "email": f"{name}@example.com", "password": "correct horse"}
            user_id = (await http.post("/api/v1/auth/register", json=body)).json()["id"]
            if name == "organizer":
                if database_url.startswith("sqlite"):
                    import sqlite3

                    with sqlite3.connect(database_url.split("///", 1)[1]) as connection:
                        connection.execute("UPDATE users SET role = 'organizer' WHERE id = ?", (user_id,))
                else:
                    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
                    connection = await asyncpg.connect(url)
                    await connection.execute("UPDATE users SET role = 'organizer' WHERE id = $1", user_id)
                    await connection.close()
            tokens = (await http.post("/api/v1/auth/login", json={"username": name, "password": "correct horse"})).json()
            return user_id, {"Authorization": f"Bearer {tokens['access_token']}"}

        _, organizer = await account("organizer")
        problem_ids = []
        for index in range(5):
            body = {"title": f"Problem {index}", "is_public": False, "tests": [{"input": "1\n", "output": "1\n"}]}
            problem_ids.append((await http.post("/api/v1/problems", json=body, headers=organizer)).json()["id"])
        start = utcnow() - timedelta(hours=1)
        body = {
            "title": "Fan-out",
            "start_time": start.isoformat(),
            "end_time": (start + timedelta(hours=5)).isoformat(),
            "problems": [{"problem_id": pid, "label": chr(65 + i)} for i, pid in enumerate(problem_ids)],
        }
        contest = (await http.post("/api/v1/contests", json=body, headers=organizer)).json()
        contest = (await http.post(f"/api/v1/contests/{contest['id']}/publish", headers=organizer)).json()

        user_ids = []
        for index in range(participants):
            user_id, headers = await account(f"team{index:04d}")
            response = await http.post(f"/api/v1/contests/{contest['id']}/register", headers=headers)
            assert response.status_code == 201, response.text
            user_ids.append(user_id)
    return contest, user_ids, body["start_time"]


@asynccontextmanager
async def judge_worker(database_url: str, redis_db: int, data_dir: Path):
    """Yield a LiveContext like a standalone judge worker's, with the scoreboard hooks installed."""
    from redis.asyncio import Redis

    from db.blobs import BlobStore
    from db.engine import create_engine, create_session_factory
    from realtime.hub import Hub, create_channels_plugin
    from realtime.rankings import RedisRankings
    from server.live import LiveContext
    from server.scoreboard import register_contest_hooks
    from server.settings import load_settings

    settings = load_settings(environ=environment(database_url, redis_db, data_dir))
    engine = create_engine(database_url)
    redis = Redis.from_url(settings.redis.url)
    live = LiveContext(
        settings=settings,
        session_factory=create_session_factory(engine),
        hub=Hub(create_channels_plugin(redis), redis),
        rankings=RedisRankings(redis),
        blobs=BlobStore(data_dir / "blobs"),
    )
    register_contest_hooks(live)
    try:
        yield live
    finally:
        await redis.aclose()
        await engine.dispose()


async def store_verdict(live, contest: dict, user_id: int, problem_id: int, minute: int, verdict: str) -> int:
    from datetime import datetime

    from db.models import Submission, SubmissionStatus, Verdict, utcnow

    start = datetime.fromisoformat(contest["start_time"].replace("Z", "+00:00"))
    async with live.session_factory() as session:
        submission = Submission(
            user_id=user_id, problem_id=problem_id, contest_id=contest["id"], language="python3", code="print(1)",
            status=SubmissionStatus.JUDGED, verdict=Verdict(verdict), created_at=start + timedelta(minutes=minute),
            judged_at=utcnow(),
        )
        session.add(submission)
        await session.commit()
        return submission.id


async def run(args: argparse.Namespace, clients: int) -> dict:
    from server.live import contest_channel

    open_files = raise_open_files(clients)
    workdir = Path(tempfile.mkdtemp(prefix="codearena-fanout-"))
    async with database(args.postgres, workdir) as database_url, claimed_redis_db() as redis_db:
        env = environment(database_url, redis_db, workdir / "data")
        server, base = await start_server(env, workdir / "server.log")
        try:
            contest, user_ids, _ = await setup_contest(base, database_url, args.participants)
            url = base.replace("http://", "ws://") + f"/ws/contests/{contest['id']}/scoreboard"
            await asyncio.sleep(1.0)
            rss_before = rss_kib(server.pid)

            context = multiprocessing.get_context("spawn")
            pipes, processes = [], []
            shares = [clients // args.workers + (1 if i < clients % args.workers else 0) for i in range(args.workers)]
            connect_started = time.monotonic()
            for share in shares:
                ours, theirs = context.Pipe()
                process = context.Process(target=client_worker, args=(url, share, theirs), daemon=True)
                process.start()
                pipes.append(ours)
                processes.append(process)
            connected = 0
            for pipe in pipes:
                connected += (await asyncio.to_thread(pipe.recv))[1]
            connect_s = time.monotonic() - connect_started
            await asyncio.sleep(2.0)
            rss_idle = rss_kib(server.pid)

            gap = args.gap if args.gap is not None else 0.3 + clients / 2000
            rounds: list[tuple[int, float, float]] = []
            async with judge_worker(database_url, redis_db, workdir / "judge") as live:
                channel = contest_channel(contest["id"], "scoreboard")
                for index in range(args.rounds):
                    user_id = user_ids[index % len(user_ids)]
                    problem_id = contest["problems"][index % 5]["problem_id"]
                    verdict = "AC" if index % 3 else "WA"
                    submission = await store_verdict(live, contest, user_id, problem_id, 10 + index, verdict)
                    started = time.monotonic()
                    for hook in live.on_judged:
                        await hook(live, submission)
                    hook_s = time.monotonic() - started
                    rounds.append((await live.hub.last_seq(channel), started, hook_s))
                    await asyncio.sleep(gap)
            rss_after = rss_kib(server.pid)

            receipts: dict[int, list[float]] = {}
            for pipe in pipes:
                pipe.send("stop")
            for pipe in pipes:
                _, part = await asyncio.to_thread(pipe.recv)
                for seq, times in part.items():
                    receipts.setdefault(seq, []).extend(times)
            for process in processes:
                process.join(30)
        finally:
            server.terminate()
            server.wait(30)
    # A failed run keeps its folder, with the server's log.
    shutil.rmtree(workdir, ignore_errors=True)

    deliveries, completions, missing = [], [], 0
    for seq, started, _ in rounds:
        times = receipts.get(seq, [])
        missing += connected - len(times)
        deliveries.extend((moment - started) * 1000 for moment in times)
        if times:
            completions.append((max(times) - started) * 1000)
    return {
        "clients": connected,
        "rounds": args.rounds,
        "participants": args.participants,
        "workers": args.workers,
        "database": "PostgreSQL" if args.postgres else "SQLite",
        "open_files_limit": open_files,
        "connect_s": connect_s,
        "hook_ms_p50": statistics.median(hook_s * 1000 for _, _, hook_s in rounds),
        "delivery_ms_p50": percentile(deliveries, 0.50) if deliveries else None,
        "delivery_ms_p99": percentile(deliveries, 0.99) if deliveries else None,
        "all_clients_ms_p50": percentile(completions, 0.50) if completions else None,
        "all_clients_ms_p99": percentile(completions, 0.99) if completions else None,
        "missing_deliveries": missing,
        "gap_s": gap,
        "all_clients_ms": [round(value, 1) for value in completions],
        "rss_before_mib": rss_before / 1024,
        "rss_idle_mib": rss_idle / 1024,
        "rss_after_mib": rss_after / 1024,
        "kib_per_idle_connection": (rss_idle - rss_before) / max(connected, 1),
    }


def report(result: dict) -> str:
    return "\n".join(
        [
            f"clients {result['clients']} ({result['workers']} client processes), participants {result['participants']}, "
            f"rounds {result['rounds']}, database {result['database']}",
            f"connect all: {result['connect_s']:.1f} s; hook (store to publish) p50 {result['hook_ms_p50']:.1f} ms",
            f"delivery latency: p50 {result['delivery_ms_p50']:.1f} ms, p99 {result['delivery_ms_p99']:.1f} ms "
            f"(target p99 < 250 ms: ratio {result['delivery_ms_p99'] / 250:.2f})",
            f"all clients reached: p50 {result['all_clients_ms_p50']:.1f} ms, p99 {result['all_clients_ms_p99']:.1f} ms",
            f"missing deliveries: {result['missing_deliveries']}",
            f"server RSS: {result['rss_before_mib']:.1f} MiB before, {result['rss_idle_mib']:.1f} MiB with idle clients, "
            f"{result['rss_after_mib']:.1f} MiB after the rounds",
            f"per idle connection: {result['kib_per_idle_connection']:.1f} KiB "
            f"(target < 30 KB = 29.3 KiB: ratio {result['kib_per_idle_connection'] / 29.3:.2f})",
        ]
    )


def write_docs(results: list[dict], command: str) -> None:
    rows = [
        f"| {r['clients']} | {r['database']} | {r['delivery_ms_p50']:.1f} ms | {r['delivery_ms_p99']:.1f} ms "
        f"| {r['all_clients_ms_p50']:.1f} ms | {r['all_clients_ms_p99']:.1f} ms | {r['missing_deliveries']} "
        f"| {r['kib_per_idle_connection']:.1f} KiB | {r['hook_ms_p50']:.1f} ms |"
        for r in results
    ]
    body = "\n".join(
        [
            SECTION,
            "",
            "Measured with:",
            "",
            "```",
            command,
            "```",
            "",
            f"On {platform.system()} {platform.release()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
            "the server, Redis and the client processes share the machine.",
            "",
            f"One `codearena serve` process with Redis channels serves a board of {results[0]['participants']} "
            f"participants and 5 problems. The script acts as a judge worker: it stores {results[0]['rounds']} verdicts "
            f"per table row, {min(r['gap_s'] for r in results):.2f} s or more apart, and runs the scoreboard hook for each. "
            f"The spectators are raw sockets in {results[0]['workers']} client processes that only timestamp frames and "
            "answer pings.",
            "",
            "- delivery: per client and verdict, from the start of the scoreboard hook (the verdict is stored) to the "
            "client reading the `rows` delta.",
            "- all clients: per verdict, until the last client had the delta.",
            "- RSS per idle connection: growth of the server's resident memory once every socket is open and idle, "
            "divided by the sockets.",
            "- hook: the worker-side time from the stored verdict to the published delta.",
            "",
            "| clients | database | delivery p50 | delivery p99 | all clients p50 | all clients p99 | missing | RSS per idle connection | hook p50 |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        # The hand-written findings (a "### " subsection) and later sections stay as they are.
        ends = [index for index in (text.find("\n### ", start), text.find("\n## ", start + len(SECTION))) if index != -1]
        if ends:
            text = text[:start] + body + "\n" + text[min(ends) + 1:]
        else:
            text = text[:start] + body
    DOCS.write_text(text, encoding="utf-8")


def main() -> None:
    args = parse_args()
    results = []
    for clients in args.client_counts:
        result = asyncio.run(run(args, clients))
        print(report(result))
        print(json.dumps(result), flush=True)
        results.append(result)
    if args.write_docs:
        write_docs(results, " ".join([".venv/bin/python bench/scoreboard_fanout.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()

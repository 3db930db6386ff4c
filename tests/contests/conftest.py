"""Helpers for contest tests: problems, contests in a chosen state, judged rows, hook calls.

Submissions are stored straight in the database the way the judge leaves them,
then the scoreboard hooks run on the application's own event loop, through the
test client's portal, exactly as the judge worker would call them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from db.models import Judging, Participant, Submission, SubmissionStatus, Verdict, utcnow

PROBLEM_TEST_POINTS = 100.0


def problem_body(index: int, **changes: Any) -> dict:
    body = {
        "title": f"Problem {index}",
        "slug": f"problem-{index}",
        "description": "Print the sum.",
        "is_public": False,
        "tests": [
            {"input": "1 2\n", "output": "3\n", "is_sample": True},
            {"input": "2 2\n", "output": "4\n", "points": PROBLEM_TEST_POINTS / 2, "group": "g1"},
            {"input": "3 3\n", "output": "6\n", "points": PROBLEM_TEST_POINTS / 2, "group": "g2"},
        ],
    }
    body.update(changes)
    return body


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def contest_body(problem_ids: list[int], start: datetime, **changes: Any) -> dict:
    body = {
        "title": "Spring Cup",
        "description": "A contest.",
        "start_time": iso(start),
        "end_time": iso(start + timedelta(hours=5)),
        "freeze_time": None,
        "scoring": "icpc",
        "problems": [{"problem_id": pid, "label": chr(ord("A") + i)} for i, pid in enumerate(problem_ids)],
    }
    body.update(changes)
    return body


@pytest.fixture
def make_problems(client, organizer) -> Callable[..., Awaitable[list[int]]]:
    counter = iter(range(1, 10_000))

    async def create(count: int = 2, **changes: Any) -> list[int]:
        ids = []
        for _ in range(count):
            response = await client.post("/api/v1/problems", json=problem_body(next(counter), **changes), headers=organizer.headers)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        return ids

    return create


@pytest.fixture
def make_contest(client, organizer, make_problems) -> Callable[..., Awaitable[dict]]:
    """Create a contest through the API; `started_ago` publishes it with its start that long ago."""

    async def create(
        problems: int = 2, started_ago: timedelta | None = timedelta(hours=1), publish: bool = True, **changes: Any
    ) -> dict:
        problem_ids = await make_problems(problems)
        start = utcnow() - started_ago if started_ago is not None else utcnow() + timedelta(hours=1)
        response = await client.post("/api/v1/contests", json=contest_body(problem_ids, start, **changes), headers=organizer.headers)
        assert response.status_code == 201, response.text
        contest = response.json()
        if publish:
            response = await client.post(f"/api/v1/contests/{contest['id']}/publish", headers=organizer.headers)
            assert response.status_code == 200, response.text
            contest = response.json()
        return contest

    return create


async def register(client, contest: dict, account) -> dict:
    response = await client.post(f"/api/v1/contests/{contest['id']}/register", headers=account.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def store_submission(
    db,
    contest: dict,
    user_id: int,
    problem_id: int,
    at: timedelta,
    verdict: str | None,
    *,
    score: float | None = None,
    group_scores: dict[str, float] | None = None,
) -> int:
    """Store a contest submission made `at` after the contest start: judged with `verdict`, or queued when None."""
    start = datetime.fromisoformat(contest["start_time"].replace("Z", "+00:00"))
    judged = verdict is not None
    async with db() as session:
        submission = Submission(
            user_id=user_id,
            problem_id=problem_id,
            contest_id=contest["id"],
            language="python3",
            code="print(sum(map(int, input().split())))",
            status=SubmissionStatus.JUDGED if judged else SubmissionStatus.QUEUED,
            verdict=Verdict(verdict) if judged else None,
            score=score,
            created_at=start + at,
            judged_at=utcnow() if judged else None,
        )
        session.add(submission)
        await session.flush()
        session.add(
            Judging(
                submission_id=submission.id,
                attempt=1,
                status=submission.status,
                verdict=submission.verdict,
                score=score,
                group_scores=group_scores or {},
            )
        )
        await session.commit()
        return submission.id


async def set_verdict(db, submission_id: int, verdict: str, score: float | None = None) -> None:
    """Finish a queued submission the way the judge does."""
    async with db() as session:
        submission = await session.get(Submission, submission_id)
        submission.status = SubmissionStatus.JUDGED
        submission.verdict = Verdict(verdict)
        submission.score = score
        submission.judged_at = utcnow()
        await session.commit()


async def participant_id(db, contest: dict, user_id: int) -> int:
    from sqlalchemy import select

    async with db() as session:
        return await session.scalar(
            select(Participant.id).where(Participant.contest_id == contest["id"], Participant.user_id == user_id)
        )


async def on_app_loop(client, function: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """Run a coroutine function on the application's event loop and return its result."""
    return await asyncio.to_thread(client.blocking_portal.call, function, *args)


@pytest.fixture
def judged(client, app) -> Callable[[int], Awaitable[None]]:
    """Run the on_judged hooks for a submission, as the judge worker does after storing a verdict."""

    async def run(submission_id: int) -> None:
        async def hooks() -> None:
            live = app.state.live
            for hook in live.on_judged:
                await hook(live, submission_id)

        await on_app_loop(client, hooks)

    return run


@pytest.fixture
def queued(client, app) -> Callable[[int], Awaitable[None]]:
    async def run(submission_id: int) -> None:
        async def hooks() -> None:
            live = app.state.live
            for hook in live.on_queued:
                await hook(live, submission_id)

        await on_app_loop(client, hooks)

    return run


async def scoreboard(client, contest: dict, view: str = "public", headers: dict | None = None) -> dict:
    response = await client.get(f"/api/v1/contests/{contest['id']}/scoreboard", params={"view": view}, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


def row_of(board: dict, username: str) -> dict:
    return next(row for row in board["rows"] if row["username"] == username)


def cell_of(row: dict, label: str) -> dict:
    return next(cell for cell in row["problems"] if cell["label"] == label)


# A real server on a loopback port, for WebSocket tests that need the network path.


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """The application served by uvicorn in a thread, with its own event loop."""

    def __init__(self, app, port: int) -> None:
        import uvicorn

        from server.app import server_config

        self.app = app
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server = uvicorn.Server(server_config(app, "127.0.0.1", port))

    def run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.serve())
        finally:
            self.loop.close()

    async def call(self, function: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run a coroutine function on the server's event loop and return its result."""
        future = asyncio.run_coroutine_threadsafe(function(*args), self.loop)
        return await asyncio.wrap_future(future)

    async def run_hooks(self, kind: str, submission_id: int) -> None:
        live = self.app.state.live

        async def hooks() -> None:
            for hook in getattr(live, kind):
                await hook(live, submission_id)

        await self.call(hooks)

    async def judged(self, submission_id: int) -> None:
        await self.run_hooks("on_judged", submission_id)

    async def queued(self, submission_id: int) -> None:
        await self.run_hooks("on_queued", submission_id)


@pytest.fixture
async def live_server(settings):
    import threading

    from server.app import create_app

    server = LiveServer(create_app(settings), free_port())
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    for _ in range(200):
        if server.server.started:
            break
        await asyncio.sleep(0.05)
    assert server.server.started, "the live server did not start"
    try:
        yield server
    finally:
        server.server.should_exit = True
        await asyncio.to_thread(thread.join, 15)


@pytest.fixture
async def live_http(live_server):
    import httpx

    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=15) as http:
        yield http


@pytest.fixture
def live_account(live_http, db) -> Callable[..., Awaitable[Any]]:
    """Register and log in a user on the live server, promoted to `role` in the database."""
    from db.models import Role, User
    from tests.conftest import Account

    async def create(username: str, role: Role = Role.CONTESTANT) -> Account:
        password = "correct horse"
        response = await live_http.post(
            "/api/v1/auth/register", json={"username": username, "email": f"{username}@example.com", "password": password}
        )
        assert response.status_code == 201, response.text
        user_id = response.json()["id"]
        if role != Role.CONTESTANT:
            async with db() as session:
                (await session.get(User, user_id)).role = role
                await session.commit()
        tokens = (await live_http.post("/api/v1/auth/login", json={"username": username, "password": password})).json()
        return Account(user_id, username, password, tokens["access_token"], tokens["refresh_token"])

    return create


async def create_live_contest(http, organizer, problems: int = 2, started_ago: timedelta = timedelta(hours=1), **changes: Any) -> dict:
    """Create problems and a published contest through the HTTP API of any server."""
    problem_ids = []
    for index in range(problems):
        body = problem_body(index + 1, slug=f"live-{index + 1}-{organizer.username}")
        response = await http.post("/api/v1/problems", json=body, headers=organizer.headers)
        assert response.status_code == 201, response.text
        problem_ids.append(response.json()["id"])
    body = contest_body(problem_ids, utcnow() - started_ago, **changes)
    response = await http.post("/api/v1/contests", json=body, headers=organizer.headers)
    assert response.status_code == 201, response.text
    contest = response.json()
    response = await http.post(f"/api/v1/contests/{contest['id']}/publish", headers=organizer.headers)
    assert response.status_code == 200, response.text
    return response.json()


class Spectator:
    """A WebSocket client that decodes envelopes and keeps what it received."""

    def __init__(self, socket) -> None:
        self.socket = socket
        self.received: list[dict] = []

    async def next(self, timeout: float = 5.0) -> dict:
        import json

        envelope = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
        self.received.append(envelope)
        return envelope

    async def next_of(self, kind: str, timeout: float = 5.0) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            envelope = await self.next(max(deadline - asyncio.get_running_loop().time(), 0.01))
            if envelope["type"] == kind:
                return envelope

    async def quiet(self, seconds: float = 0.3) -> list[dict]:
        """Collect what arrives within `seconds`."""
        got = []
        while True:
            try:
                got.append(await self.next(seconds))
            except TimeoutError:
                return got

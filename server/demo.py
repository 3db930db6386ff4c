"""`codearena demo`: a running contest with bot contestants, judged for real.

The demo imports the packages under demo/problems, creates an organizer and a
few bot accounts, and opens a contest that starts now. It then serves the app
while the bots submit the packages' own accepted and wrong solutions over the
HTTP API, spread over a few minutes. Everything goes through the same code paths
as real users: the API, the queue, the judge in Docker and the live channels.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import select

from db.blobs import BlobStore
from db.engine import create_engine, create_session_factory
from db.migrate import upgrade_async
from db.models import Role, User
from server.settings import Settings

logger = logging.getLogger(__name__)

DEMO_PROBLEMS_DIR = Path(__file__).resolve().parent.parent / "demo" / "problems"
# Problems of the demo contest, in label order; all have example submissions.
CONTEST_PROBLEMS = ["aplusb", "twosum", "trianglearea", "rangesum", "coins", "guess", "shortestpath"]
BOT_NAMES = ["ada", "grace", "alan", "edsger", "barbara", "donald", "margaret", "ken"]
EXTENSION_LANGUAGES = {".py": "python3", ".c": "c", ".cpp": "cpp", ".java": "java", ".js": "javascript"}
ORGANIZER = "demo-organizer"


@dataclass(frozen=True)
class ExampleSubmission:
    slug: str
    expected: str
    language: str
    code: str


def example_submissions(slug: str) -> list[ExampleSubmission]:
    """List a demo package's submissions with the verdict folder they sit in."""
    examples = []
    for path in sorted((DEMO_PROBLEMS_DIR / slug / "submissions").glob("*/*")):
        language = EXTENSION_LANGUAGES.get(path.suffix)
        if language is not None:
            examples.append(ExampleSubmission(slug, path.parent.name, language, path.read_text()))
    return examples


async def import_demo_problems(settings: Settings, session_factory) -> list[str]:
    from judge.packages import LoadOptions, load_package, open_package
    from server.packages import import_package
    from db.models import Problem

    blobs = BlobStore(settings.data_dir / "blobs")
    options = LoadOptions(max_test_bytes=settings.limits.max_test_bytes)
    imported = []
    for folder in sorted(path for path in DEMO_PROBLEMS_DIR.iterdir() if (path / "problem.yaml").exists()):
        async with session_factory() as session:
            if await session.scalar(select(Problem.id).where(Problem.slug == folder.name)) is not None:
                continue
            with open_package(folder, options) as (root, short_name):
                package = await asyncio.to_thread(load_package, root, short_name, options)
                await import_package(session, blobs, package, limits=settings.limits, slug=folder.name)
            imported.append(folder.name)
    return imported


async def ensure_account(session_factory, accounts, username: str, password: str, role: Role) -> None:
    """Create the account, or reset its password so this run can log in."""
    async with session_factory() as session:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            await accounts.register(session, username, f"{username}@demo.invalid", password, role=role)
            return
        user.password_hash = await accounts.passwords.hash(password)
        user.role = role
        await session.commit()


class DemoClient:
    """One logged-in demo user talking to the server over HTTP."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.username = username
        self._password = password
        self._http = httpx.AsyncClient(base_url=base_url, timeout=30)

    async def login(self) -> None:
        response = await self._http.post("/api/v1/auth/login", json={"username": self.username, "password": self._password})
        response.raise_for_status()
        self._http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    async def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = await self._http.request(method, path, **kwargs)
        if response.status_code == 401:
            await self.login()
            response = await self._http.request(method, path, **kwargs)
        return response

    async def close(self) -> None:
        await self._http.aclose()


async def create_contest(organizer: DemoClient, minutes: float) -> int:
    problems = []
    for slug in CONTEST_PROBLEMS:
        response = await organizer.request("GET", f"/api/v1/problems/{slug}")
        response.raise_for_status()
        problems.append({"problem_id": response.json()["id"], "label": chr(ord("A") + len(problems)), "points": 1})

    now = datetime.now(UTC)
    end = now + timedelta(minutes=max(30.0, minutes * 3))
    body = {
        "title": "CodeArena demo contest",
        "description": "Bots solve classic problems; watch the scoreboard move.",
        "start_time": now.isoformat(),
        "end_time": end.isoformat(),
        # Freeze late enough that the bots' whole run is visible.
        "freeze_time": (end - timedelta(minutes=10)).isoformat(),
        "scoring": "icpc",
        "problems": problems,
    }
    response = await organizer.request("POST", "/api/v1/contests", json=body)
    response.raise_for_status()
    contest_id = response.json()["id"]
    response = await organizer.request("POST", f"/api/v1/contests/{contest_id}/publish")
    response.raise_for_status()
    # Publishing a contest whose start time has come lets the contest clock start it; start it only if not.
    if response.json()["state"] in ("draft", "scheduled"):
        response = await organizer.request("POST", f"/api/v1/contests/{contest_id}/start")
        response.raise_for_status()
    return contest_id


def bot_plan(randomizer: random.Random, skill: float) -> list[ExampleSubmission]:
    """Pick what one bot submits: per problem maybe a wrong try or two, then maybe a correct one."""
    plan = []
    for slug in CONTEST_PROBLEMS:
        examples = example_submissions(slug)
        accepted = [example for example in examples if example.expected == "accepted"]
        rejected = [example for example in examples if example.expected != "accepted"]
        if rejected and randomizer.random() > skill:
            plan.extend(randomizer.sample(rejected, k=min(len(rejected), randomizer.randint(1, 2))))
        if accepted and randomizer.random() < skill:
            plan.append(randomizer.choice(accepted))
    return plan


EXPECTED_VERDICTS = {
    "accepted": "AC",
    "wrong_answer": "WA",
    "time_limit_exceeded": "TLE",
    "run_time_error": "RTE",
    "memory_limit_exceeded": "MLE",
    "output_limit_exceeded": "OLE",
    "compile_error": "CE",
}


async def run_bot(base_url: str, name: str, password: str, contest_id: int, minutes: float, seed: int) -> None:
    randomizer = random.Random(seed)
    client = DemoClient(base_url, f"bot-{name}", password)
    submitted: list[tuple[int, ExampleSubmission]] = []
    try:
        await client.login()
        await client.request("POST", f"/api/v1/contests/{contest_id}/register")
        plan = bot_plan(randomizer, skill=randomizer.uniform(0.35, 0.95))
        problem_ids = {}
        for example in plan:
            await asyncio.sleep(randomizer.uniform(0.3, 1.0) * minutes * 60 / max(len(plan), 1))
            if example.slug not in problem_ids:
                problem_ids[example.slug] = (await client.request("GET", f"/api/v1/problems/{example.slug}")).json()["id"]
            body = {
                "problem_id": problem_ids[example.slug],
                "language": example.language,
                "code": example.code,
                "contest_id": contest_id,
            }
            response = await client.request("POST", "/api/v1/submissions", json=body)
            if response.status_code == 429:
                await asyncio.sleep(float(response.headers.get("retry-after", "5")))
                response = await client.request("POST", "/api/v1/submissions", json=body)
            logger.info("bot-%s submitted %s (%s, expected %s): HTTP %d",
                        name, example.slug, example.language, example.expected, response.status_code)
            if response.status_code == 202:
                submitted.append((response.json()["id"], example))
        await check_verdicts(client, submitted)
    except httpx.HTTPError as exc:
        logger.warning("bot-%s stopped: %s", name, exc)
    finally:
        await client.close()


async def check_verdicts(client: DemoClient, submitted: list[tuple[int, ExampleSubmission]]) -> None:
    """Wait for the bot's verdicts and warn about any that differ from the package's expectation."""
    matched = 0
    for submission_id, example in submitted:
        for _ in range(600):
            body = (await client.request("GET", f"/api/v1/submissions/{submission_id}")).json()
            if body.get("status") == "JUDGED":
                break
            await asyncio.sleep(0.5)
        expected = EXPECTED_VERDICTS.get(example.expected)
        if body.get("verdict") == expected:
            matched += 1
        else:
            logger.warning("%s: submission %d on %s (%s) got %s, its package expects %s",
                           client.username, submission_id, example.slug, example.language, body.get("verdict"), expected)
    logger.info("%s: %d of %d verdicts as the packages expect", client.username, matched, len(submitted))


async def wait_until_up(base_url: str, timeout_s: float = 120) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        for _ in range(int(timeout_s * 5)):
            try:
                if (await http.get("/health")).status_code in (200, 503):
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the server at {base_url} did not respond within {timeout_s:.0f} s")


async def run_demo(settings: Settings, bots: int, minutes: float) -> None:
    from server.app import create_app, server_config
    from server.security import AccessTokens, Passwords
    from server.accounts import Accounts

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    session_factory = create_session_factory(engine)
    passwords = Passwords(settings.auth)
    accounts = Accounts(passwords, AccessTokens(settings.auth), settings.auth.refresh_token_ttl_s)

    imported = await import_demo_problems(settings, session_factory)
    logger.info("imported demo problems: %s", ", ".join(imported) or "none new")

    # A fresh organizer password per run, in a file only its owner can read.
    organizer_password = secrets.token_urlsafe(12)
    bot_password = secrets.token_urlsafe(12)
    await ensure_account(session_factory, accounts, ORGANIZER, organizer_password, Role.ORGANIZER)
    for name in BOT_NAMES[:bots]:
        await ensure_account(session_factory, accounts, f"bot-{name}", bot_password, Role.CONTESTANT)
    await engine.dispose()
    # The password alone on the first line, the format `--password-file` options read.
    credentials = settings.data_dir / "demo-organizer-password.txt"
    credentials.write_text(f"{organizer_password}\n")
    credentials.chmod(0o600)

    server = uvicorn.Server(server_config(create_app(settings), settings.server.host, settings.server.port))
    serving = asyncio.create_task(server.serve())
    bots_done: asyncio.Future | None = None
    base_url = f"http://{settings.server.host}:{settings.server.port}"
    try:
        await wait_until_up(base_url)
        organizer = DemoClient(base_url, ORGANIZER, organizer_password)
        await organizer.login()
        contest_id = await create_contest(organizer, minutes)
        await organizer.close()

        public_url = settings.server.public_url or base_url
        print(
            f"\nCodeArena demo is running.\n"
            f"  scoreboard:  {public_url}/contests/{contest_id}/scoreboard\n"
            f"  API docs:    {public_url}/docs\n"
            f"  organizer:   {ORGANIZER}, password in {credentials}\n"
            f"{bots} bots submit over the next {minutes:g} minutes; press Ctrl+C to stop.\n",
            flush=True,
        )
        bots_done = asyncio.gather(
            *(run_bot(base_url, name, bot_password, contest_id, minutes, seed) for seed, name in enumerate(BOT_NAMES[:bots]))
        )
        # Ctrl+C stops the server first; the bots must stop with it instead of retrying a dead server.
        await asyncio.wait({serving, bots_done}, return_when=asyncio.FIRST_COMPLETED)
        if bots_done.done() and not serving.done():
            logger.info("the bots are done; the server keeps running until Ctrl+C")
            await serving
    finally:
        if bots_done is not None and not bots_done.done():
            bots_done.cancel()
            await asyncio.gather(bots_done, return_exceptions=True)
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)

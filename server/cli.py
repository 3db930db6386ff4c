"""The `codearena` command."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from server.settings import Settings, SettingsError, load_settings

logger = logging.getLogger(__name__)


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per HTTP request or migration plugin is noise at INFO; their warnings still show.
    for noisy in ("httpx", "httpcore", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def settings_or_exit(overrides: dict | None = None) -> Settings:
    try:
        return load_settings(overrides=overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.option("--log-level", default="INFO", show_default=True, help="Logging level: DEBUG, INFO, WARNING or ERROR.")
def main(log_level: str) -> None:
    """CodeArena: a real-time contest server for competitive programming."""
    configure_logging(log_level.upper())


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: server.host from the settings).")
@click.option("--port", type=int, default=None, help="TCP port to listen on (default: server.port from the settings).")
def serve(host: str | None, port: int | None) -> None:
    """Run the HTTP and WebSocket server."""
    overrides = {"server": {key: value for key, value in (("host", host), ("port", port)) if value is not None}}
    settings = settings_or_exit(overrides)
    run_server(settings)


async def check_schema(settings: Settings) -> None:
    from db.engine import create_engine
    from db.migrate import ensure_schema_current

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url)
    try:
        await ensure_schema_current(engine)
    finally:
        await engine.dispose()


def run_server(settings: Settings) -> None:
    import gc

    import uvicorn

    # Each WebSocket delivery allocates short-lived objects, so with the default first-generation
    # threshold (700) the collector ran often enough to slow a 5,000-socket delta several times over
    # (bench/scoreboard_fanout.py, docs/benchmarks.md).
    gc.set_threshold(50_000, 20, 100)

    from db.migrate import SchemaOutdatedError
    from server.app import create_app, server_config

    # Checked here too, so an outdated schema stops start-up with one line instead of a lifespan traceback.
    try:
        asyncio.run(check_schema(settings))
    except SchemaOutdatedError as exc:
        raise click.ClickException(str(exc)) from None

    config = server_config(
        create_app(settings),
        settings.server.host,
        settings.server.port,
        timeout_graceful_shutdown=settings.server.graceful_shutdown_s,
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except SchemaOutdatedError as exc:
        raise click.ClickException(str(exc)) from None
    if not server.started:
        raise click.ClickException("the server failed to start; the log above names the cause")


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: server.host from the settings).")
@click.option("--port", type=int, default=None, help="TCP port to listen on (default: server.port from the settings).")
@click.option("--bots", type=click.IntRange(1, 8), default=6, show_default=True, help="Number of bot contestants.")
@click.option("--minutes", type=click.FloatRange(0.1, 120), default=4.0, show_default=True,
              help="Minutes over which the bots spread their submissions.")
def demo(host: str | None, port: int | None, bots: int, minutes: float) -> None:
    """Serve a running demo contest whose bot contestants submit through the real judge."""
    from server.demo import run_demo

    overrides = {"server": {key: value for key, value in (("host", host), ("port", port)) if value is not None}}
    settings = settings_or_exit(overrides)
    try:
        asyncio.run(run_demo(settings, bots, minutes))
    except KeyboardInterrupt:
        pass


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from db.migrate import upgrade

    settings = settings_or_exit()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url, revision)
    click.echo(f"database schema upgraded to {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (`base` empties the database)."""
    from db.migrate import downgrade

    downgrade(settings_or_exit().database_url, revision)
    click.echo(f"database schema downgraded to {revision}")


@db.command("current")
def db_current() -> None:
    """Print the schema revision of the database and the one this version needs."""
    from db.engine import create_engine
    from db.migrate import current_revision, head_revision

    async def read() -> str | None:
        engine = create_engine(settings_or_exit().database_url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    click.echo(f"current: {asyncio.run(read()) or 'empty'}\nneeded:  {head_revision()}")


@main.group()
def users() -> None:
    """User account commands."""


def _read_password(password_file: str | None) -> str:
    if password_file is None:
        if sys.stdin.isatty():
            return click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return sys.stdin.readline().rstrip("\n")
    path = Path(password_file)
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except OSError as exc:
        raise click.ClickException(f"cannot read password file {path}: {exc.strerror}") from None


@users.command("create-admin")
@click.option("--username", required=True, help="Login name of the new admin.")
@click.option("--email", default=None, help="Email address (default: <username>@localhost).")
@click.option(
    "--password-file",
    default=None,
    help="File whose first line is the password; without it the password is read from stdin.",
)
def create_admin(username: str, email: str | None, password_file: str | None) -> None:
    """Create an admin account, or promote an existing user to admin."""
    from db.models import Role

    password = _read_password(password_file)
    if len(password) < 8:
        raise click.ClickException("the password must have at least 8 characters")
    settings = settings_or_exit()
    user_id, created = asyncio.run(_create_admin(settings, username, email or f"{username}@localhost", password, Role.ADMIN))
    click.echo(f"{'created' if created else 'promoted'} admin {username} (id {user_id})")


async def _create_admin(settings: Settings, username: str, email: str, password: str, role) -> tuple[int, bool]:
    from sqlalchemy import select

    from db.engine import create_engine, create_session_factory
    from db.migrate import ensure_schema_current
    from db.models import User
    from server.accounts import Accounts
    from server.security import AccessTokens, Passwords

    engine = create_engine(settings.database_url)
    try:
        await ensure_schema_current(engine)
        async with create_session_factory(engine)() as session:
            user = await session.scalar(select(User).where(User.username == username))
            passwords = Passwords(settings.auth)
            if user is not None:
                user.role = role
                user.password_hash = await passwords.hash(password)
                await session.commit()
                return user.id, False
            accounts = Accounts(passwords, AccessTokens(settings.auth), settings.auth.refresh_token_ttl_s)
            user = await accounts.register(session, username, email, password, role=role)
            return user.id, True
    except Exception as exc:
        from db.migrate import SchemaOutdatedError

        if isinstance(exc, SchemaOutdatedError):
            raise click.ClickException(str(exc)) from None
        raise
    finally:
        await engine.dispose()


@main.group(invoke_without_command=True)
@click.option(
    "--claim-timeout",
    type=click.FloatRange(min=1.0),
    default=60.0,
    show_default=True,
    help="Seconds a job may go without renewal before another worker takes it over (the judging lease).",
)
@click.option(
    "--server-url",
    default=None,
    help="Server to fetch missing test data from (default: server.public_url); needs judge.worker_token.",
)
@click.pass_context
def judge(context: click.Context, claim_timeout: float, server_url: str | None) -> None:
    """Judge commands; without a subcommand, run a judge worker on the Redis job stream."""
    if context.invoked_subcommand is not None:
        return
    settings = settings_or_exit()
    if not settings.uses_redis:
        raise click.ClickException(
            "the standalone judge worker needs Redis; set redis.url (CODEARENA_REDIS_URL), "
            "or run `codearena serve` with judge.embedded true"
        )
    try:
        asyncio.run(run_judge_worker(settings, claim_timeout, server_url))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


async def run_judge_worker(settings: Settings, claim_timeout_s: float, server_url: str | None) -> None:
    """Judge jobs from the Redis stream until SIGTERM or SIGINT, then finish running jobs within the grace time."""
    import signal

    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from db.blobs import BlobStore
    from db.engine import create_engine, create_session_factory
    from db.migrate import SchemaOutdatedError, ensure_schema_current
    from judge.worker import JudgeService, worker_name
    from realtime.hub import Hub, create_channels_plugin
    from realtime.rankings import RedisRankings
    from server.live import LiveContext
    from server.queue import RedisQueue, StreamConsumer

    engine = create_engine(settings.database_url, pool_size=settings.database.pool_size)
    redis = Redis.from_url(settings.redis.url)
    service = None
    consumer = None
    try:
        try:
            await ensure_schema_current(engine)
        except SchemaOutdatedError as exc:
            raise RuntimeError(str(exc)) from None
        try:
            await redis.ping()
        except (RedisError, OSError) as exc:
            raise RuntimeError(f"cannot reach Redis at redis.url: {exc}") from None

        live = LiveContext(
            settings=settings,
            session_factory=create_session_factory(engine),
            hub=Hub(create_channels_plugin(redis), redis),
            rankings=RedisRankings(redis),
            blobs=BlobStore(settings.data_dir / "blobs"),
        )
        from server.scoreboard import register_contest_hooks

        register_contest_hooks(live)
        queue = RedisQueue(redis)
        service = JudgeService(live, queue, name=worker_name(), lease_s=claim_timeout_s, server_url=server_url or "", redis=redis)
        worker = await service.start()
        consumer = StreamConsumer(queue, service.name, worker.handle, concurrency=service.concurrency, claim_idle_s=claim_timeout_s)
        await consumer.start()

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop.set)
        await stop.wait()
        logger.info("judge worker %s stopping", service.name)
    finally:
        if consumer is not None:
            await consumer.stop(grace_s=settings.server.graceful_shutdown_s)
        if service is not None:
            await service.close()
        await redis.aclose()
        await engine.dispose()


def _attach_optional_groups() -> None:
    try:
        from judge.cli import images
    except ImportError:
        return
    judge.add_command(images)


_attach_optional_groups()


def _attach_problems_group() -> None:
    from server.problems_cli import problems

    main.add_command(problems)


_attach_problems_group()


@main.group()
def scoreboard() -> None:
    """Contest scoreboard commands."""


@scoreboard.command("rebuild")
@click.argument("contest_id", type=int)
def scoreboard_rebuild(contest_id: int) -> None:
    """Recompute the rankings of CONTEST_ID from the database and tell live clients to reload."""
    settings = settings_or_exit()
    if not settings.uses_redis:
        raise click.ClickException(
            "embedded mode keeps rankings inside the server process, which rebuilds them itself; "
            "this command needs redis.url (CODEARENA_REDIS_URL) to reach shared rankings"
        )
    try:
        count = asyncio.run(_rebuild_scoreboard(settings, contest_id))
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"rebuilt the rankings of contest {contest_id}: {count} participants")


async def _rebuild_scoreboard(settings: Settings, contest_id: int) -> int:
    from redis.asyncio import Redis

    from db.blobs import BlobStore
    from db.engine import create_engine, create_session_factory
    from db.migrate import SchemaOutdatedError, ensure_schema_current
    from realtime.hub import Hub, create_channels_plugin
    from realtime.rankings import RedisRankings
    from server.live import LiveContext
    from server.scoreboard import scoreboards_for

    engine = create_engine(settings.database_url)
    redis = Redis.from_url(settings.redis.url)
    try:
        try:
            await ensure_schema_current(engine)
        except SchemaOutdatedError as exc:
            raise click.ClickException(str(exc)) from None
        live = LiveContext(
            settings=settings,
            session_factory=create_session_factory(engine),
            hub=Hub(create_channels_plugin(redis), redis),
            rankings=RedisRankings(redis),
            blobs=BlobStore(settings.data_dir / "blobs"),
        )
        return await scoreboards_for(live).rebuild(contest_id)
    finally:
        await redis.aclose()
        await engine.dispose()


if __name__ == "__main__":
    main()

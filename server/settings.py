"""Settings: `litestar.yml` overlaid with CODEARENA_<SECTION>_<KEY> variables.

The result is one immutable msgspec Struct built at start-up and passed to
whatever needs it; nothing reads settings from globals.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml

from judge.languages import LANGUAGES

ENV_PREFIX = "CODEARENA_"
DEFAULT_JWT_SECRET = "insecure-development-secret-change-me"
DEFAULT_SETTINGS_FILE = Path(__file__).resolve().parent.parent / "litestar.yml"

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Positive = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]


class SettingsError(Exception):
    """A settings file or variable that cannot be used; the message names it."""


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: Port = 8000
    public_url: str = ""
    graceful_shutdown_s: NonNegative = 5


class DataSettings(_Section):
    dir: str = "./data"


class DatabaseSettings(_Section):
    url: str = ""
    echo: bool = False
    pool_size: Positive = 10


class RedisSettings(_Section):
    url: str = ""


class AuthSettings(_Section):
    jwt_secret: Annotated[str, msgspec.Meta(min_length=32)] = DEFAULT_JWT_SECRET
    access_token_ttl_s: Annotated[int, msgspec.Meta(ge=10, le=86400)] = 900
    refresh_token_ttl_s: Annotated[int, msgspec.Meta(ge=60)] = 30 * 86400
    argon2_time_cost: Positive = 3
    argon2_memory_cost_kib: Annotated[int, msgspec.Meta(ge=8)] = 65536
    argon2_parallelism: Positive = 4


class JudgeSettings(_Section):
    embedded: bool = True
    concurrency: NonNegative = 0
    warm_containers: NonNegative = 1
    disabled_languages: list[str] = []
    worker_token: str = ""
    server_url: str = ""


class LimitsSettings(_Section):
    max_source_bytes: Positive = 65536
    submissions_per_minute: Positive = 12
    max_time_limit_ms: Positive = 30000
    max_memory_limit_mb: Positive = 4096
    max_output_limit_kb: Positive = 65536
    max_test_bytes: Positive = 64 * 1024 * 1024
    max_upload_bytes: Positive = 100 * 1024 * 1024


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    env: Literal["development", "production"] = "development"
    server: ServerSettings = ServerSettings()
    data: DataSettings = DataSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    auth: AuthSettings = AuthSettings()
    judge: JudgeSettings = JudgeSettings()
    limits: LimitsSettings = LimitsSettings()

    @property
    def data_dir(self) -> Path:
        return Path(self.data.dir).expanduser().resolve()

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{self.data_dir / 'codearena.sqlite3'}"

    @property
    def embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis.url)


_SECTIONS: dict[str, type[_Section]] = {
    "server": ServerSettings,
    "data": DataSettings,
    "database": DatabaseSettings,
    "redis": RedisSettings,
    "auth": AuthSettings,
    "judge": JudgeSettings,
    "limits": LimitsSettings,
}


def _read_file(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} not found; create it or set CODEARENA_SETTINGS_FILE") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"settings file {path} is not valid YAML: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SettingsError(f"settings file {path} must contain a mapping of sections, not {type(raw).__name__}")
    return raw


def _env_value(raw: str, field_type: Any) -> Any:
    """Decode list-valued variables as comma-separated; scalars stay strings for msgspec to convert."""
    if getattr(field_type, "__origin__", None) is list:
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def _apply_environment(values: dict[str, Any], environ: Mapping[str, str]) -> None:
    for variable, raw in sorted(environ.items()):
        if not variable.startswith(ENV_PREFIX) or variable == "CODEARENA_SETTINGS_FILE":
            continue
        name = variable[len(ENV_PREFIX):].lower()
        if name == "env":
            values["env"] = raw
            continue
        section, _, key = name.partition("_")
        if section not in _SECTIONS or not key:
            raise SettingsError(
                f"unknown setting variable {variable}: sections are {', '.join(sorted(_SECTIONS))}"
            )
        fields = {field.name: field.type for field in msgspec.structs.fields(_SECTIONS[section])}
        if key not in fields:
            raise SettingsError(
                f"unknown setting variable {variable}: section {section} has keys {', '.join(sorted(fields))}"
            )
        section_values = values.setdefault(section, {})
        if not isinstance(section_values, dict):
            raise SettingsError(f"setting {section} must be a mapping")
        section_values[key] = _env_value(raw, fields[key])


def _describe_validation_error(exc: msgspec.ValidationError) -> str:
    # msgspec reports "... - at `$.server.port`"; turn the path into a dotted key.
    message = str(exc)
    text, _, where = message.partition(" - at `$.")
    if where:
        key = where.rstrip("`").replace("`", "")
        return f"invalid setting {key}: {text}"
    if "unknown field" in message:
        return f"invalid settings: {message}"
    return f"invalid settings: {message}"


def load_settings(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build the settings from the file, then the environment, then explicit overrides."""
    environ = os.environ if environ is None else environ
    if path is None:
        path = Path(environ.get("CODEARENA_SETTINGS_FILE", DEFAULT_SETTINGS_FILE))
    values = _read_file(path) if path.exists() or "CODEARENA_SETTINGS_FILE" in environ else {}
    _apply_environment(values, environ)
    for section, section_overrides in (overrides or {}).items():
        values.setdefault(section, {}).update(section_overrides)

    try:
        settings = msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_describe_validation_error(exc)) from None

    if settings.env == "production" and settings.auth.jwt_secret == DEFAULT_JWT_SECRET:
        raise SettingsError(
            "auth.jwt_secret is the development default; set CODEARENA_AUTH_JWT_SECRET to a long random value "
            "before running with env=production"
        )
    known = [language.id for language in LANGUAGES]
    unknown = [language for language in settings.judge.disabled_languages if language not in known]
    if unknown:
        raise SettingsError(
            f"invalid setting judge.disabled_languages: unknown language {unknown[0]!r}, use one of: {', '.join(known)}"
        )
    if settings.database.url and not settings.database.url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        raise SettingsError(
            "invalid setting database.url: use postgresql+asyncpg://... for PostgreSQL or leave it empty for SQLite"
        )
    return settings

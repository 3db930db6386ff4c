"""Settings: file defaults, environment overrides and start-up errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import DEFAULT_JWT_SECRET, DEFAULT_SETTINGS_FILE, SettingsError, load_settings


def test_file_defaults_load():
    settings = load_settings(path=DEFAULT_SETTINGS_FILE, environ={})

    assert settings.env == "development"
    assert settings.server.port == 8000
    assert settings.embedded_database
    assert not settings.uses_redis
    assert settings.database_url.startswith("sqlite+aiosqlite:///")


def test_environment_overrides_file(tmp_path):
    environ = {
        "CODEARENA_SERVER_PORT": "9123",
        "CODEARENA_DATA_DIR": str(tmp_path),
        "CODEARENA_DATABASE_URL": "postgresql+asyncpg://u@127.0.0.1/db",
        "CODEARENA_JUDGE_DISABLED_LANGUAGES": "java, c",
        "CODEARENA_JUDGE_EMBEDDED": "false",
    }

    settings = load_settings(path=DEFAULT_SETTINGS_FILE, environ=environ)

    assert settings.server.port == 9123
    assert settings.data_dir == tmp_path
    assert settings.database_url == "postgresql+asyncpg://u@127.0.0.1/db"
    assert not settings.embedded_database
    assert settings.judge.disabled_languages == ["java", "c"]
    assert settings.judge.embedded is False
    assert str(tmp_path) in load_settings(path=DEFAULT_SETTINGS_FILE, environ={"CODEARENA_DATA_DIR": str(tmp_path)}).database_url


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"CODEARENA_SERVER_PORT": "eighty"}, "server.port"),
        ({"CODEARENA_SERVER_PORT": "70000"}, "server.port"),
        ({"CODEARENA_SERVER_PROT": "80"}, "CODEARENA_SERVER_PROT"),
        ({"CODEARENA_NOSUCH_KEY": "1"}, "CODEARENA_NOSUCH_KEY"),
        ({"CODEARENA_AUTH_JWT_SECRET": "short"}, "auth.jwt_secret"),
        ({"CODEARENA_ENV": "staging"}, "env"),
        ({"CODEARENA_DATABASE_URL": "mysql://x"}, "database.url"),
        ({"CODEARENA_LIMITS_MAX_SOURCE_BYTES": "0"}, "limits.max_source_bytes"),
    ],
)
def test_bad_environment_names_setting(environ, named):
    with pytest.raises(SettingsError) as error:
        load_settings(path=DEFAULT_SETTINGS_FILE, environ=environ)

    assert named in str(error.value)


def test_unknown_file_key_named(tmp_path: Path):
    path = tmp_path / "litestar.yml"
    path.write_text("server:\n  prot: 80\n")

    with pytest.raises(SettingsError) as error:
        load_settings(path=path, environ={})

    assert "prot" in str(error.value)


def test_invalid_yaml_named(tmp_path: Path):
    path = tmp_path / "litestar.yml"
    path.write_text("server: [unclosed\n")

    with pytest.raises(SettingsError) as error:
        load_settings(path=path, environ={})

    assert str(path) in str(error.value)


def test_unknown_disabled_language_rejected():
    with pytest.raises(SettingsError) as error:
        load_settings(path=DEFAULT_SETTINGS_FILE, environ={"CODEARENA_JUDGE_DISABLED_LANGUAGES": "cobol,jav"})

    assert "'cobol'" in str(error.value)
    assert "javascript" in str(error.value)


def test_production_rejects_default_secret():
    with pytest.raises(SettingsError) as error:
        load_settings(path=DEFAULT_SETTINGS_FILE, environ={"CODEARENA_ENV": "production"})

    assert "jwt_secret" in str(error.value)


def test_production_accepts_own_secret():
    environ = {"CODEARENA_ENV": "production", "CODEARENA_AUTH_JWT_SECRET": "x" * 48}

    settings = load_settings(path=DEFAULT_SETTINGS_FILE, environ=environ)

    assert settings.auth.jwt_secret != DEFAULT_JWT_SECRET

"""The codearena command: schema, admin accounts, start-up errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CODEARENA = [sys.executable, "-m", "server.cli"]
ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(CODEARENA + args, env=env, input=stdin, capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CODEARENA_")}
    env.update(
        {
            "CODEARENA_DATA_DIR": str(tmp_path / "data"),
            "CODEARENA_DATABASE_URL": database_url,
            "CODEARENA_AUTH_ARGON2_TIME_COST": "1",
            "CODEARENA_AUTH_ARGON2_MEMORY_COST_KIB": "1024",
            "CODEARENA_JUDGE_EMBEDDED": "false",
        }
    )
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_create_admin_from_password_file(cli_env, tmp_path):
    password_file = tmp_path / "password"
    password_file.write_text("admin-password-1\n")

    result = run(["users", "create-admin", "--username", "root", "--password-file", str(password_file)], cli_env)

    assert result.returncode == 0, result.stderr
    assert "created admin root" in result.stdout
    assert "admin-password-1" not in result.stdout + result.stderr


def test_create_admin_from_stdin_then_login(cli_env):
    result = run(["users", "create-admin", "--username", "boss"], cli_env, stdin="stdin-password-2\n")
    assert result.returncode == 0, result.stderr

    port = free_port()
    server = subprocess.Popen(CODEARENA + ["serve", "--port", str(port)], env=cli_env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        login = httpx.post(f"{base}/api/v1/auth/login", json={"username": "boss", "password": "stdin-password-2"})
        assert login.status_code == 200
        me = httpx.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        assert me.json()["role"] == "admin"
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_create_admin_rejects_short_password(cli_env):
    result = run(["users", "create-admin", "--username", "root"], cli_env, stdin="short\n")

    assert result.returncode != 0
    assert "at least 8 characters" in result.stderr


def test_serve_refuses_outdated_schema(cli_env, tmp_path):
    env = dict(cli_env, CODEARENA_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}")

    result = run(["serve", "--port", str(free_port())], env)

    assert result.returncode != 0
    assert "codearena db upgrade" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_bad_setting_stops_startup(cli_env):
    env = dict(cli_env, CODEARENA_SERVER_PORT="not-a-port")

    result = run(["serve"], env)

    assert result.returncode != 0
    assert "server.port" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_and_current(cli_env, tmp_path):
    env = dict(cli_env, CODEARENA_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}")

    upgraded = run(["db", "upgrade"], env)
    current = run(["db", "current"], env)

    assert upgraded.returncode == 0, upgraded.stderr
    lines = current.stdout.splitlines()
    assert lines[0].split()[-1] == lines[1].split()[-1]

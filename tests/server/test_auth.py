"""Registration, login, access and refresh tokens."""

from __future__ import annotations

import time

import jwt
import pytest
from sqlalchemy import select

from db.models import User
from server.security import Passwords
from server.settings import AuthSettings


async def test_register_login_me_refresh(client):
    response = await client.post(
        "/api/v1/auth/register", json={"username": "alex", "email": "Alex@Dev.com", "password": "secret123"}
    )
    assert response.status_code == 201
    profile = response.json()
    assert profile["username"] == "alex"
    assert profile["email"] == "alex@dev.com"
    assert profile["role"] == "contestant"
    assert not {"password", "password_hash"} & set(profile)
    assert "secret123" not in response.text

    response = await client.post("/api/v1/auth/login", json={"username": "alex", "password": "secret123"})
    assert response.status_code == 200
    tokens = response.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    assert tokens["refresh_token"]

    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 200
    assert response.json()["username"] == "alex"

    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert response.status_code == 200


async def test_wrong_password_same_as_unknown_user(client, contestant):
    wrong = await client.post("/api/v1/auth/login", json={"username": contestant.username, "password": "not it at all"})
    unknown = await client.post("/api/v1/auth/login", json={"username": "nobody-here", "password": "not it at all"})

    assert wrong.status_code == 401
    assert unknown.status_code == 401
    assert wrong.json() == unknown.json()


@pytest.mark.parametrize("field", ["username", "email"])
async def test_duplicate_registration_conflicts(client, contestant, field):
    body = {"username": "fresh", "email": "fresh@example.com", "password": "secret123"}
    body[field] = contestant.username if field == "username" else f"{contestant.username}@EXAMPLE.com"

    response = await client.post("/api/v1/auth/register", json=body)

    assert response.status_code == 409
    assert response.json()["field"] == field
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_username_conflict_ignores_case(client, contestant):
    body = {"username": contestant.username.upper(), "email": "other@example.com", "password": "secret123"}

    response = await client.post("/api/v1/auth/register", json=body)

    assert response.status_code == 409


def _token(settings, **changes) -> str:
    now = int(time.time())
    claims = {"sub": "1", "role": "contestant", "typ": "access", "iat": now, "exp": now + 600}
    claims.update(changes.pop("claims", {}))
    key = changes.pop("key", settings.auth.jwt_secret)
    algorithm = changes.pop("algorithm", "HS256")
    return jwt.encode(claims, key, algorithm=algorithm)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize(
    "case",
    ["expired", "forged", "hs512", "none", "refresh-typ", "garbage", "no-scheme"],
)
async def test_bad_access_tokens_rejected(client, contestant, settings, case):
    tokens = {
        "expired": lambda: _token(settings, claims={"sub": str(contestant.id), "exp": int(time.time()) - 5}),
        "forged": lambda: _token(settings, claims={"sub": str(contestant.id)}, key="another-secret-that-is-long-enough-for-hs256"),
        "hs512": lambda: _token(settings, claims={"sub": str(contestant.id)}, algorithm="HS512"),
        "none": lambda: _token(settings, claims={"sub": str(contestant.id)}, key=None, algorithm="none"),
        "refresh-typ": lambda: _token(settings, claims={"sub": str(contestant.id), "typ": "refresh"}),
        "garbage": lambda: "not.a.jwt",
    }
    if case == "no-scheme":
        headers = {"Authorization": contestant.access_token}
    else:
        headers = {"Authorization": f"Bearer {tokens[case]()}"}

    response = await client.get("/api/v1/auth/me", headers=headers)

    assert response.status_code == 401
    assert response.json()["status"] == 401


async def test_valid_handmade_token_accepted(client, contestant, settings):
    # The counterpart of the rejections above: the same construction with the right key works.
    token = _token(settings, claims={"sub": str(contestant.id)})

    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200


async def test_me_without_token_is_401(client):
    response = await client.get("/api/v1/auth/me")

    assert response.status_code == 401
    assert "Bearer" in response.headers.get("www-authenticate", "")


async def test_refresh_token_reuse_revokes_family(client, contestant):
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": contestant.refresh_token})
    assert first.status_code == 200
    second_token = first.json()["refresh_token"]

    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": contestant.refresh_token})
    assert reuse.status_code == 401
    assert "already used" in reuse.json()["detail"]

    # The reuse revoked the newer token of the same login too.
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": second_token})
    assert after.status_code == 401


async def test_refresh_unknown_token_401(client):
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up-token"})

    assert response.status_code == 401


async def test_logout_revokes_refresh_token(client, contestant):
    response = await client.post("/api/v1/auth/logout", json={"refresh_token": contestant.refresh_token})
    assert response.status_code == 204

    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": contestant.refresh_token})
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert "already used" not in response.json()["detail"]


async def test_login_rehashes_on_parameter_change(client, app, db, contestant):
    async with db() as session:
        old_hash = (await session.scalar(select(User).where(User.id == contestant.id))).password_hash
    stronger = Passwords(AuthSettings(argon2_time_cost=2, argon2_memory_cost_kib=2048, argon2_parallelism=1))
    app.state.accounts.passwords = stronger
    assert stronger.needs_rehash(old_hash)

    response = await client.post("/api/v1/auth/login", json={"username": contestant.username, "password": contestant.password})
    assert response.status_code == 200

    async with db() as session:
        new_hash = (await session.scalar(select(User).where(User.id == contestant.id))).password_hash
    assert new_hash != old_hash
    assert "t=2" in new_hash
    assert new_hash.startswith("$argon2id$")
    assert not stronger.needs_rehash(new_hash)


async def test_password_stored_as_argon2id(db, contestant):
    async with db() as session:
        user = await session.get(User, contestant.id)

    assert user.password_hash.startswith("$argon2id$")
    assert contestant.password not in user.password_hash

"""User listing, profiles and role changes."""

from __future__ import annotations

from db.models import Role


async def test_profile_by_id_and_username(client, contestant):
    by_id = await client.get(f"/api/v1/users/{contestant.id}")
    by_name = await client.get(f"/api/v1/users/{contestant.username.upper()}")

    assert by_id.status_code == 200
    assert by_id.json() == by_name.json()
    assert by_id.json()["solved_count"] == 0
    assert "email" not in by_id.json()
    assert "password_hash" not in by_id.text


async def test_unknown_user_404(client):
    assert (await client.get("/api/v1/users/999")).status_code == 404
    assert (await client.get("/api/v1/users/ghost")).status_code == 404


async def test_list_users_paginated(client, make_account):
    for index in range(3):
        await make_account(f"listed{index}")

    page = (await client.get("/api/v1/users?per_page=2&page=2")).json()
    search = (await client.get("/api/v1/users?q=listed1")).json()

    assert page["total"] == 3
    assert [user["username"] for user in page["items"]] == ["listed2"]
    assert [user["username"] for user in search["items"]] == ["listed1"]


async def test_update_own_profile(client, contestant):
    response = await client.patch(
        "/api/v1/users/me",
        json={"bio": "Love Python", "avatar_url": "https://example.com/a.png"},
        headers=contestant.headers,
    )

    assert response.status_code == 200
    assert response.json()["bio"] == "Love Python"
    assert (await client.get(f"/api/v1/users/{contestant.id}")).json()["avatar_url"] == "https://example.com/a.png"


async def test_profile_rejects_bad_avatar_url(client, contestant):
    response = await client.patch("/api/v1/users/me", json={"avatar_url": "javascript:alert(1)"}, headers=contestant.headers)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "avatar_url"


async def test_only_admin_changes_roles(client, make_account, contestant):
    admin = await make_account("root", role=Role.ADMIN)
    organizer = await make_account("org", role=Role.ORGANIZER)

    denied = await client.patch(f"/api/v1/users/{contestant.id}/role", json={"role": "admin"}, headers=organizer.headers)
    granted = await client.patch(f"/api/v1/users/{contestant.id}/role", json={"role": "organizer"}, headers=admin.headers)

    assert denied.status_code == 403
    assert granted.status_code == 200
    assert granted.json()["role"] == "organizer"


async def test_deactivated_user_loses_access(client, make_account, contestant):
    admin = await make_account("root", role=Role.ADMIN)

    await client.patch(
        f"/api/v1/users/{contestant.id}/role", json={"role": "contestant", "is_active": False}, headers=admin.headers
    )

    assert (await client.get("/api/v1/auth/me", headers=contestant.headers)).status_code == 401
    login = await client.post("/api/v1/auth/login", json={"username": contestant.username, "password": contestant.password})
    assert login.status_code == 401

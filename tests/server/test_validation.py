"""Bad HTTP input: always a 4xx problem details body naming the field, never a 500."""

from __future__ import annotations

import pytest

REGISTER = "/api/v1/auth/register"


@pytest.mark.parametrize(
    "raw",
    [b'{"username":', b"not json", b"[1, 2", b'{"username": "a"} trailing', b"\xff\xfe"],
)
async def test_malformed_json_is_400(client, raw):
    response = await client.post(REGISTER, content=raw, headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@b.co", "password": "secret123"}, "username"),
        ({"username": "alice", "password": "secret123"}, "email"),
        ({"username": "alice", "email": "a@b.co"}, "password"),
        ({"username": "a" * 33, "email": "a@b.co", "password": "secret123"}, "username"),
        ({"username": "alice", "email": "a@b.co", "password": "p" * 257}, "password"),
        ({"username": "alice", "email": "x" * 300 + "@b.co", "password": "secret123"}, "email"),
        ({"username": "alice", "email": "not-an-email", "password": "secret123"}, "email"),
        ({"username": "al ice", "email": "a@b.co", "password": "secret123"}, "username"),
        ({"username": "alice", "email": "a@b.co", "password": "short"}, "password"),
        ({"username": 5, "email": "a@b.co", "password": "secret123"}, "username"),
        ({"username": "alice", "email": "a@b.co", "password": "secret123", "is_admin": True}, "is_admin"),
    ],
)
async def test_register_field_errors_named(client, body, field):
    response = await client.post(REGISTER, json=body)

    assert response.status_code == 400
    problem = response.json()
    assert problem["errors"][0]["field"] == field
    assert field in problem["detail"]


async def test_json_array_body_is_400(client):
    response = await client.post(REGISTER, json=[1, 2, 3])

    assert response.status_code == 400


@pytest.mark.parametrize("query", ["page=0", "page=abc", "per_page=101", "difficulty=NOPE"])
async def test_bad_query_parameters_named(client, query):
    response = await client.get(f"/api/v1/problems?{query}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == query.split("=")[0]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/submissions?problem_id=1", "problem_id"),
        ("/api/v1/problems?pagesize=5", "pagesize"),
        ("/api/v1/contests?status=running", "status"),
        ("/api/v1/languages?all=1", "all"),
    ],
)
async def test_unknown_query_parameter_rejected(client, url, name):
    response = await client.get(url)

    assert response.status_code == 400
    problem = response.json()
    assert problem["errors"][0]["field"] == name
    assert name in problem["detail"]


async def test_known_query_parameters_pass_unknown_check(client):
    response = await client.get("/api/v1/submissions?problem=1&user=nobody&page=1&per_page=5&include_code=false")

    assert response.status_code == 200


async def test_unknown_route_is_problem_json(client):
    response = await client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_oversized_body_rejected(client, app, organizer):
    limit = app.state.settings.limits.max_upload_bytes
    body = b'{"title": "' + b"x" * (limit + 10) + b'"}'

    response = await client.post(
        "/api/v1/problems", content=body, headers={**organizer.headers, "content-type": "application/json"}
    )

    assert response.status_code == 413


async def test_empty_body_message_says_missing(client):
    response = await client.post(REGISTER, content=b"", headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert "request body is missing" in response.json()["detail"]


async def test_pattern_error_shows_plain_pattern(client):
    response = await client.post(REGISTER, json={"username": "alice", "email": "nope", "password": "secret123"})

    detail = response.json()["detail"]
    assert "expected format" in detail
    assert "\\\\" not in detail

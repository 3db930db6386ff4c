"""Problem archive: authoring rights, hidden test data, filters and pagination."""

from __future__ import annotations

import pytest

HIDDEN_INPUT = "hidden-input-7f3a9c"
HIDDEN_ANSWER = "hidden-answer-5e1b2d"


def two_sum(**changes) -> dict:
    body = {
        "title": "Two Sum",
        "description": "Given an array of integers, return indices of the two numbers adding up to target.",
        "difficulty": "EASY",
        "category": "Arrays",
        "tags": ["array", "hash-table"],
        "constraints": "2 <= nums.length <= 10^4",
        "examples": [{"input": "[2,7,11,15]\n9", "output": "[0,1]"}],
        "time_limit_ms": 2000,
        "memory_limit_mb": 128,
        "tests": [
            {"input": "[2,7,11,15]\n9\n", "output": "[0,1]\n", "is_sample": True},
            {"input": HIDDEN_INPUT, "output": HIDDEN_ANSWER, "points": 10},
        ],
    }
    body.update(changes)
    return body


async def test_contestant_cannot_create_problem(client, contestant):
    response = await client.post("/api/v1/problems", json=two_sum(), headers=contestant.headers)

    assert response.status_code == 403
    listing = await client.get("/api/v1/problems")
    assert listing.json()["total"] == 0


async def test_anonymous_cannot_create_problem(client):
    response = await client.post("/api/v1/problems", json=two_sum())

    assert response.status_code == 401


async def test_organizer_creates_problem_with_slug(client, organizer):
    response = await client.post("/api/v1/problems", json=two_sum(), headers=organizer.headers)

    assert response.status_code == 201
    problem = response.json()
    assert problem["slug"] == "two-sum"
    assert problem["tags"] == ["array", "hash-table"]
    assert problem["test_count"] == 2
    assert [test["is_sample"] for test in problem["tests"]] == [True, False]


async def test_hidden_tests_absent_for_contestants(client, organizer, contestant):
    created = await client.post("/api/v1/problems", json=two_sum(), headers=organizer.headers)
    problem_id = created.json()["id"]

    responses = [
        await client.get(f"/api/v1/problems/{problem_id}", headers=contestant.headers),
        await client.get("/api/v1/problems/two-sum", headers=contestant.headers),
        await client.get("/api/v1/problems/two-sum"),
        await client.get("/api/v1/problems", headers=contestant.headers),
        await client.get("/api/v1/problems?q=Two"),
    ]

    for response in responses:
        assert response.status_code == 200
        assert HIDDEN_INPUT not in response.text
        assert HIDDEN_ANSWER not in response.text
    detail = responses[0].json()
    assert detail["samples"] == [{"name": "sample/001", "input": "[2,7,11,15]\n9\n", "output": "[0,1]\n"}]
    assert detail["tests"] is None


async def test_hidden_problem_invisible_to_contestants(client, organizer, contestant):
    await client.post("/api/v1/problems", json=two_sum(is_public=False), headers=organizer.headers)

    assert (await client.get("/api/v1/problems/two-sum", headers=contestant.headers)).status_code == 404
    assert (await client.get("/api/v1/problems", headers=contestant.headers)).json()["total"] == 0
    assert (await client.get("/api/v1/problems/two-sum", headers=organizer.headers)).status_code == 200


async def test_filters_and_pagination(client, organizer):
    bodies = [
        two_sum(),
        two_sum(title="Longest Path", difficulty="HARD", category="Graphs", tags=["graph", "dp"]),
        two_sum(title="Coin Change", difficulty="MEDIUM", category="DP", tags=["dp"]),
    ]
    for body in bodies:
        assert (await client.post("/api/v1/problems", json=body, headers=organizer.headers)).status_code == 201

    async def titles(query: str) -> list[str]:
        response = await client.get(f"/api/v1/problems?{query}")
        assert response.status_code == 200
        return [item["title"] for item in response.json()["items"]]

    assert await titles("difficulty=HARD") == ["Longest Path"]
    assert await titles("category=graphs") == ["Longest Path"]
    assert await titles("tag=dp") == ["Longest Path", "Coin Change"]
    assert await titles("tag=d") == []
    assert await titles("q=coin") == ["Coin Change"]
    assert await titles("per_page=2&page=2") == ["Coin Change"]
    page = (await client.get("/api/v1/problems?per_page=2")).json()
    assert page["total"] == 3
    assert len(page["items"]) == 2


async def test_update_and_delete_problem(client, organizer, contestant):
    created = (await client.post("/api/v1/problems", json=two_sum(), headers=organizer.headers)).json()

    forbidden = await client.patch(f"/api/v1/problems/{created['id']}", json={"title": "X"}, headers=contestant.headers)
    assert forbidden.status_code == 403

    updated = await client.patch(
        f"/api/v1/problems/{created['id']}", json={"title": "Two Sum II", "time_limit_ms": 1000}, headers=organizer.headers
    )
    assert updated.status_code == 200
    assert updated.json()["title"] == "Two Sum II"
    assert updated.json()["time_limit_ms"] == 1000

    replaced = await client.put(
        f"/api/v1/problems/{created['id']}/tests",
        json={"tests": [{"input": "1\n", "output": "1\n", "is_sample": True}]},
        headers=organizer.headers,
    )
    assert replaced.status_code == 200
    assert replaced.json()["test_count"] == 1
    assert replaced.json()["version"] == created["version"] + 1

    assert (await client.delete(f"/api/v1/problems/{created['id']}", headers=contestant.headers)).status_code == 403
    assert (await client.delete(f"/api/v1/problems/{created['id']}", headers=organizer.headers)).status_code == 204
    assert (await client.get(f"/api/v1/problems/{created['id']}")).status_code == 404


async def test_duplicate_slug_conflicts(client, organizer):
    await client.post("/api/v1/problems", json=two_sum(), headers=organizer.headers)

    response = await client.post("/api/v1/problems", json=two_sum(), headers=organizer.headers)

    assert response.status_code == 409
    assert response.json()["field"] == "slug"


async def test_test_data_stored_by_content_hash(client, app, organizer):
    import hashlib

    await client.post("/api/v1/problems", json=two_sum(), headers=organizer.headers)

    digest = hashlib.sha256(HIDDEN_ANSWER.encode()).hexdigest()
    path = app.state.blobs.path_of(digest)
    assert path.read_text() == HIDDEN_ANSWER
    assert path.parent.name == digest[:2]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_limit_ms": -1}, "time_limit_ms"),
        ({"memory_limit_mb": 0}, "memory_limit_mb"),
        ({"output_limit_kb": -5}, "output_limit_kb"),
        ({"time_limit_ms": 10**9}, "time_limit_ms"),
        ({"memory_limit_mb": 10**6}, "memory_limit_mb"),
        ({"title": "x" * 201}, "title"),
        ({"title": ""}, "title"),
        ({"slug": "Not A Slug"}, "slug"),
        ({"difficulty": "IMPOSSIBLE"}, "difficulty"),
        ({"tags": ["ok", "x" * 40]}, "tags[1]"),
        ({"tests": [{"input": "1"}]}, "tests[0].output"),
        ({"tests": [{"input": "1", "output": "1", "points": -1}]}, "tests[0].points"),
        ({"checker_flags": {"float_tolerance": -0.1}}, "checker_flags.float_tolerance"),
    ],
)
async def test_invalid_problem_fields_named(client, organizer, changes, field):
    response = await client.post("/api/v1/problems", json=two_sum(**changes), headers=organizer.headers)

    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["field"] == field
    assert field in body["detail"]

"""Clarifications: who may ask, who sees answers, and where they are published."""

from __future__ import annotations

import pytest

from server.live import contest_channel, user_channel
from tests.contests.conftest import on_app_loop, register


@pytest.fixture
async def running(client, organizer, make_account, make_contest):
    contest = await make_contest()
    ann = await make_account("ann")
    bob = await make_account("bob")
    for account in (ann, bob):
        await register(client, contest, account)
    return contest, ann, bob


def _url(contest: dict, suffix: str = "clarifications") -> str:
    return f"/api/v1/contests/{contest['id']}/{suffix}"


async def _ask(client, contest: dict, account, question: str, **extra) -> dict:
    response = await client.post(_url(contest), json={"question": question, **extra}, headers=account.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _published(client, app, channel: str) -> list:
    envelopes = await on_app_loop(client, app.state.hub.since, channel, 0)
    return [envelope.data for envelope in envelopes if envelope.type == "clarification"]


async def test_private_answer_reaches_asker_only(client, app, organizer, running):
    contest, ann, bob = running
    question = await _ask(client, contest, ann, "Can n be zero?", problem_id=contest["problems"][0]["problem_id"])

    answered = await client.post(
        _url(contest, f"clarifications/{question['id']}/answer"), json={"answer": "No.", "to": "asker"}, headers=organizer.headers
    )

    assert answered.status_code == 200
    assert question["label"] == "A"
    assert [item["answer"] for item in (await client.get(_url(contest), headers=ann.headers)).json()] == ["No."]
    assert (await client.get(_url(contest), headers=bob.headers)).json() == []
    assert [item["author"] for item in (await client.get(_url(contest), headers=organizer.headers)).json()] == ["ann"]
    assert [item["answer"] for item in await _published(client, app, user_channel(ann.id))] == ["No."]
    assert await _published(client, app, contest_channel(contest["id"], "events")) == []
    jury = await _published(client, app, contest_channel(contest["id"], "jury"))
    assert [(item["question"], item["answer"]) for item in jury] == [("Can n be zero?", None), ("Can n be zero?", "No.")]


async def test_public_answer_reaches_everyone_without_author(client, app, organizer, running):
    contest, ann, bob = running
    question = await _ask(client, contest, ann, "Is the input sorted?")

    await client.post(
        _url(contest, f"clarifications/{question['id']}/answer"), json={"answer": "Yes.", "to": "all"}, headers=organizer.headers
    )

    seen_by_bob = (await client.get(_url(contest), headers=bob.headers)).json()
    assert [(item["question"], item["answer"], item["author"]) for item in seen_by_bob] == [("Is the input sorted?", "Yes.", None)]
    events = await _published(client, app, contest_channel(contest["id"], "events"))
    assert [(item["answer"], item["author"]) for item in events] == [("Yes.", None)]


async def test_announcement_to_all(client, app, organizer, running):
    contest, ann, _ = running

    response = await client.post(_url(contest, "announcements"), json={"text": "Time extended by 10 minutes."}, headers=organizer.headers)

    assert response.status_code == 201
    assert response.json()["is_announcement"] is True
    assert [item["answer"] for item in (await client.get(_url(contest), headers=ann.headers)).json()] == ["Time extended by 10 minutes."]
    assert len(await _published(client, app, contest_channel(contest["id"], "events"))) == 1


async def test_contestant_cannot_announce_or_answer(client, running):
    contest, ann, bob = running
    question = await _ask(client, contest, ann, "Why?")

    announce = await client.post(_url(contest, "announcements"), json={"text": "Free points"}, headers=bob.headers)
    answer = await client.post(
        _url(contest, f"clarifications/{question['id']}/answer"), json={"answer": "Because"}, headers=bob.headers
    )

    assert announce.status_code == 403
    assert answer.status_code == 403


@pytest.mark.parametrize(
    "body, field",
    [
        ({"question": ""}, "question"),
        ({"question": "x" * 10_001}, "question"),
        ({"question": "Which?", "problem_id": 999}, "problem_id"),
        ({"question": "Which?", "label": "A"}, "label"),
        ({}, "question"),
    ],
)
async def test_invalid_question_names_field(body, field, client, running):
    contest, ann, _ = running

    response = await client.post(_url(contest), json=body, headers=ann.headers)

    assert response.status_code == 400
    assert field in response.json()["detail"]
    assert (await client.get(_url(contest), headers=ann.headers)).json() == []


async def test_only_participants_ask_while_running(client, organizer, make_account, running):
    contest, ann, _ = running
    outsider = await make_account("outsider")

    assert (await client.post(_url(contest), json={"question": "Hi?"}, headers=outsider.headers)).status_code == 403
    assert (await client.post(_url(contest), json={"question": "Hi?"}, headers=organizer.headers)).status_code == 403
    assert (await client.post(_url(contest), json={"question": "Hi?"})).status_code == 401
    await client.post(f"/api/v1/contests/{contest['id']}/end", headers=organizer.headers)
    assert (await client.post(_url(contest), json={"question": "Late?"}, headers=ann.headers)).status_code == 409


async def test_answer_unknown_clarification(client, organizer, running):
    contest, _, _ = running

    response = await client.post(_url(contest, "clarifications/999/answer"), json={"answer": "?"}, headers=organizer.headers)

    assert response.status_code == 404

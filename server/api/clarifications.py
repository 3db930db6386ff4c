"""Routes for clarifications and announcements under /api/v1/contests/{contest_id}."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import PermissionDeniedException
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User, utcnow
from server import clarifications, contests
from server.clarifications import ClarificationOut
from server.deps import provide_current_user

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]


class QuestionIn(msgspec.Struct, forbid_unknown_fields=True):
    question: Text
    # None for a general question about the contest.
    problem_id: int | None = None


class AnnouncementIn(msgspec.Struct, forbid_unknown_fields=True):
    text: Text
    problem_id: int | None = None


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    answer: Text
    # asker: only the participant who asked can read the answer. all: every participant can.
    to: Literal["asker", "all"] = "asker"


class ClarificationsController(Controller):
    path = "/api/v1/contests/{contest_id:int}"
    tags = ["clarifications"]
    dependencies = {"current_user": Provide(provide_current_user)}

    @get("/clarifications")
    async def list_clarifications(
        self, contest_id: int, db_session: AsyncSession, current_user: User
    ) -> list[ClarificationOut]:
        _, organizer = await contests.get_visible_contest(db_session, contest_id, current_user)
        found = await clarifications.visible(db_session, contest_id, current_user, organizer)
        return [
            await clarifications.to_out(db_session, item, with_author=organizer or item.author_id == current_user.id)
            for item in found
        ]

    @post("/clarifications", status_code=201)
    async def ask(
        self, contest_id: int, data: QuestionIn, state: State, db_session: AsyncSession, current_user: User
    ) -> ClarificationOut:
        contest, organizer = await contests.get_visible_contest(db_session, contest_id, current_user)
        if organizer:
            raise PermissionDeniedException("organizers post announcements (POST .../announcements) instead of questions")
        item = await clarifications.ask(db_session, contest, current_user, data.question, data.problem_id, utcnow())
        await db_session.commit()
        await clarifications.publish(state.live, db_session, item)
        return await clarifications.to_out(db_session, item, with_author=True)

    @post("/announcements", status_code=201)
    async def announce(
        self, contest_id: int, data: AnnouncementIn, state: State, db_session: AsyncSession, current_user: User
    ) -> ClarificationOut:
        contest = await contests.get_managed_contest(db_session, contest_id, current_user)
        item = await clarifications.announce(db_session, contest, current_user, data.text, data.problem_id, utcnow())
        await db_session.commit()
        await clarifications.publish(state.live, db_session, item)
        return await clarifications.to_out(db_session, item, with_author=False)

    @post("/clarifications/{clarification_id:int}/answer", status_code=200)
    async def answer(
        self,
        contest_id: int,
        clarification_id: int,
        data: AnswerIn,
        state: State,
        db_session: AsyncSession,
        current_user: User,
    ) -> ClarificationOut:
        await contests.get_managed_contest(db_session, contest_id, current_user)
        item = await clarifications.find(db_session, contest_id, clarification_id)
        clarifications.answer(item, current_user, data.answer, data.to == "all", utcnow())
        await db_session.commit()
        await clarifications.publish(state.live, db_session, item)
        return await clarifications.to_out(db_session, item, with_author=True)

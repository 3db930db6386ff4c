"""Clarifications: participants ask, organizers answer the asker or everyone, and post announcements.

A question is private to its asker and the organizers until an answer is made
public. Where each change is published:

- a new question: `contest:{id}:jury` (organizers only);
- an answer to the asker: `user:{asker id}` and the jury channel;
- a public answer or an announcement: `contest:{id}:events` and the jury channel.

Public copies leave out who asked.
"""

from __future__ import annotations

import logging
from datetime import datetime

import msgspec
from litestar.exceptions import NotFoundException, PermissionDeniedException
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Clarification, Contest, ContestProblem, User
from server import contests
from server.errors import ConflictError
from server.live import LiveContext, contest_channel, user_channel

logger = logging.getLogger(__name__)


class ClarificationOut(msgspec.Struct):
    id: int
    contest_id: int
    problem_id: int | None
    label: str | None
    # Username of the asker; None in public copies and for announcements.
    author: str | None
    question: str
    answer: str | None
    is_public: bool
    is_announcement: bool
    created_at: datetime
    answered_at: datetime | None


async def _labels(session: AsyncSession, contest_id: int) -> dict[int, str]:
    rows = await session.execute(
        select(ContestProblem.problem_id, ContestProblem.label).where(ContestProblem.contest_id == contest_id)
    )
    return dict(rows.all())


async def to_out(session: AsyncSession, clarification: Clarification, with_author: bool) -> ClarificationOut:
    labels = await _labels(session, clarification.contest_id)
    author = None
    if with_author and clarification.author_id is not None and not clarification.is_announcement:
        author = await session.scalar(select(User.username).where(User.id == clarification.author_id))
    return ClarificationOut(
        id=clarification.id,
        contest_id=clarification.contest_id,
        problem_id=clarification.problem_id,
        label=labels.get(clarification.problem_id) if clarification.problem_id is not None else None,
        author=author,
        question=clarification.question,
        answer=clarification.answer,
        is_public=clarification.is_public,
        is_announcement=clarification.is_announcement,
        created_at=clarification.created_at,
        answered_at=clarification.answered_at,
    )


async def _check_problem(session: AsyncSession, contest: Contest, problem_id: int | None) -> None:
    if problem_id is not None and problem_id not in await _labels(session, contest.id):
        raise contests.field_error("problem_id", f"problem {problem_id} is not part of contest {contest.id}")


async def ask(
    session: AsyncSession, contest: Contest, user: User, question: str, problem_id: int | None, now: datetime
) -> Clarification:
    participant = await contests.find_participant(session, contest.id, user.id)
    if participant is None or participant.status != contests.REGISTERED:
        raise PermissionDeniedException(f"only registered participants of contest {contest.id} may ask questions")
    if not contests.accepts_submissions(contest, now):
        raise ConflictError(f"contest {contest.id} is not running; questions are taken during the contest")
    await _check_problem(session, contest, problem_id)
    clarification = Clarification(
        contest_id=contest.id, problem_id=problem_id, author_id=user.id, question=question, created_at=now
    )
    session.add(clarification)
    await session.flush()
    return clarification


async def announce(
    session: AsyncSession, contest: Contest, organizer: User, text: str, problem_id: int | None, now: datetime
) -> Clarification:
    await _check_problem(session, contest, problem_id)
    clarification = Clarification(
        contest_id=contest.id,
        problem_id=problem_id,
        author_id=organizer.id,
        question="",
        answer=text,
        answered_by_id=organizer.id,
        is_public=True,
        is_announcement=True,
        created_at=now,
        answered_at=now,
    )
    session.add(clarification)
    await session.flush()
    return clarification


async def find(session: AsyncSession, contest_id: int, clarification_id: int) -> Clarification:
    clarification = await session.get(Clarification, clarification_id)
    if clarification is None or clarification.contest_id != contest_id:
        raise NotFoundException(f"clarification {clarification_id} not found in contest {contest_id}")
    return clarification


def answer(clarification: Clarification, organizer: User, text: str, to_all: bool, now: datetime) -> None:
    if clarification.is_announcement:
        raise ConflictError(f"clarification {clarification.id} is an announcement; post a new one instead")
    clarification.answer = text
    clarification.answered_by_id = organizer.id
    clarification.answered_at = now
    # An answer once made public stays public, so a correction cannot hide what everyone saw.
    clarification.is_public = clarification.is_public or to_all


async def visible(session: AsyncSession, contest_id: int, user: User, organizer: bool) -> list[Clarification]:
    query = select(Clarification).where(Clarification.contest_id == contest_id)
    if not organizer:
        query = query.where(or_(Clarification.is_public.is_(True), Clarification.author_id == user.id))
    return list((await session.scalars(query.order_by(Clarification.created_at, Clarification.id))).all())


async def publish(live: LiveContext, session: AsyncSession, clarification: Clarification) -> None:
    """Publish a new or changed clarification to the channels its visibility allows."""
    contest_id = clarification.contest_id
    await live.hub.publish(
        contest_channel(contest_id, "jury"), "clarification", await to_out(session, clarification, with_author=True)
    )
    if clarification.is_public:
        public = await to_out(session, clarification, with_author=False)
        await live.hub.publish(contest_channel(contest_id, "events"), "clarification", public)
    elif clarification.answer is not None and clarification.author_id is not None:
        own = await to_out(session, clarification, with_author=True)
        await live.hub.publish(user_channel(clarification.author_id), "clarification", own)
    logger.info("clarification %d of contest %d published (public: %s)", clarification.id, contest_id, clarification.is_public)

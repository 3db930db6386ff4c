"""Contests: schedule validation, organizers, registration and the lifecycle clock.

The lifecycle is draft -> scheduled -> running -> (frozen) -> ended -> finalized.
Drafts and finalized contests move only by organizer action. The others follow
their times: `target_state` derives the state from the clock, and
`advance_contest` stores it. Every process that runs the clock may try the same
transition, and a conditional UPDATE lets exactly one of them win and publish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar.exceptions import NotFoundException, PermissionDeniedException, ValidationException
from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import (
    Contest,
    ContestOrganizer,
    ContestProblem,
    ContestState,
    Participant,
    Problem,
    Role,
    Submission,
    User,
    utcnow,
)
from realtime.rankings import ICPC_MAX_LAST_ACCEPTED_S
from server.errors import ConflictError
from server.live import LiveContext, contest_channel

logger = logging.getLogger(__name__)

STARTED_STATES = (ContestState.RUNNING, ContestState.FROZEN, ContestState.ENDED, ContestState.FINALIZED)
ACTIVE_STATES = (ContestState.RUNNING, ContestState.FROZEN)
# States the clock moves; drafts wait for publishing and finalized contests never change.
CLOCKED_STATES = (ContestState.SCHEDULED, ContestState.RUNNING, ContestState.FROZEN)
CLOCK_ORDER = (*CLOCKED_STATES, ContestState.ENDED)
REGISTRATION_MODES = ("open", "invite", "closed")
REGISTERED = "registered"
INVITED = "invited"
CLOCK_INTERVAL_S = 1.0
# Contest settings key of the freeze time an organizer's early freeze replaced, as ISO 8601.
SCHEDULED_FREEZE_KEY = "scheduled_freeze_time"
# The ICPC ranking key stores the last accepted time in 21 bits of seconds (see realtime.rankings).
MAX_ICPC_DURATION = timedelta(seconds=ICPC_MAX_LAST_ACCEPTED_S)


def field_error(field: str, message: str) -> ValidationException:
    return ValidationException(
        f"invalid field {field}: {message}", extra=[{"key": field, "message": message, "source": "body"}]
    )


@dataclass(frozen=True)
class ProblemEntry:
    problem_id: int
    label: str
    points: float | None = None


# Schedule and state


def check_aware(field: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise field_error(field, "must include a UTC offset, for example 2030-01-01T10:00:00Z")


def validate_schedule(start: datetime, end: datetime, freeze: datetime | None, scoring: str) -> None:
    """Check end > start and start <= freeze <= end; raise a 422 naming the field."""
    for field, value in (("start_time", start), ("end_time", end), ("freeze_time", freeze)):
        check_aware(field, value)
    if end <= start:
        raise field_error("end_time", f"must be after start_time ({start.isoformat()})")
    if freeze is not None and not start <= freeze <= end:
        raise field_error("freeze_time", "must be between start_time and end_time")
    if scoring == "icpc" and end - start > MAX_ICPC_DURATION:
        raise field_error("end_time", f"an ICPC contest lasts at most {MAX_ICPC_DURATION} (the ranking key's time range)")


def target_state(contest: Contest, now: datetime) -> ContestState:
    """Return the state the contest's times call for; drafts, ended and finalized contests keep theirs.

    The clock only moves a contest forward: a clock reading taken before an organizer's start
    or freeze must not undo it. Going back from frozen to running is the unfreeze action's.
    """
    if contest.state not in CLOCKED_STATES:
        return contest.state
    if now >= contest.end_time:
        timed = ContestState.ENDED
    elif now < contest.start_time:
        timed = ContestState.SCHEDULED
    elif contest.freeze_time is not None and contest.unfrozen_at is None and now >= contest.freeze_time:
        timed = ContestState.FROZEN
    else:
        timed = ContestState.RUNNING
    return max(contest.state, timed, key=CLOCK_ORDER.index)


def board_frozen(contest: Contest, now: datetime) -> bool:
    """Return whether the public scoreboard hides new results now: from the freeze time until an unfreeze."""
    if contest.state in (ContestState.DRAFT, ContestState.SCHEDULED) or contest.freeze_time is None:
        return False
    return contest.unfrozen_at is None and now >= contest.freeze_time


def is_frozen_attempt(contest: Contest, submitted_at: datetime) -> bool:
    """Return whether a submission's result stays hidden from the public view until the contest is unfrozen."""
    return contest.freeze_time is not None and contest.unfrozen_at is None and submitted_at >= contest.freeze_time


def hidden_result_clause():
    """SQL condition for submissions whose result the public may not see yet.

    Those are contest submissions made at or after the freeze time while the contest is not
    unfrozen, whatever the contest's state: an ended contest stays frozen until its unfreeze.
    """
    return exists().where(
        Contest.id == Submission.contest_id,
        Contest.freeze_time.is_not(None),
        Contest.unfrozen_at.is_(None),
        Submission.created_at >= Contest.freeze_time,
    )


def has_started(contest: Contest, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return contest.state in STARTED_STATES and contest.start_time <= now


def accepts_submissions(contest: Contest, now: datetime | None = None) -> bool:
    """Return whether participants may submit now: the contest is running or frozen and its end time is ahead."""
    now = now or utcnow()
    return contest.state in ACTIVE_STATES and contest.start_time <= now < contest.end_time


# Access


async def find_contest(session: AsyncSession, contest_id: int, with_problems: bool = False) -> Contest | None:
    query = select(Contest).where(Contest.id == contest_id).execution_options(populate_existing=True)
    if with_problems:
        query = query.options(selectinload(Contest.problems).selectinload(ContestProblem.problem))
    return await session.scalar(query)


async def is_contest_organizer(session: AsyncSession, user: User | None, contest_id: int) -> bool:
    if user is None:
        return False
    if user.role == Role.ADMIN:
        return True
    found = await session.scalar(
        select(ContestOrganizer.id).where(ContestOrganizer.contest_id == contest_id, ContestOrganizer.user_id == user.id)
    )
    return found is not None


async def get_visible_contest(
    session: AsyncSession, contest_id: int, user: User | None, with_problems: bool = False
) -> tuple[Contest, bool]:
    """Return the contest and whether the user organizes it; drafts are 404 for everyone else."""
    contest = await find_contest(session, contest_id, with_problems)
    if contest is None:
        raise NotFoundException(f"contest {contest_id} not found")
    organizer = await is_contest_organizer(session, user, contest_id)
    if contest.state == ContestState.DRAFT and not organizer:
        raise NotFoundException(f"contest {contest_id} not found")
    return contest, organizer


async def get_managed_contest(
    session: AsyncSession, contest_id: int, user: User, with_problems: bool = False
) -> Contest:
    contest, organizer = await get_visible_contest(session, contest_id, user, with_problems)
    if not organizer:
        raise PermissionDeniedException(f"only organizers of contest {contest_id} and admins may do this")
    return contest


def listing_clause(user: User | None):
    """SQL condition for contests a user may list: every published contest, plus drafts they organize."""
    published = Contest.state != ContestState.DRAFT
    if user is None:
        return published
    if user.role == Role.ADMIN:
        return Contest.id.is_not(None)
    organizes = exists().where(ContestOrganizer.contest_id == Contest.id, ContestOrganizer.user_id == user.id)
    return published | organizes


# Problems and organizers


async def set_problems(session: AsyncSession, contest: Contest, entries: Sequence[ProblemEntry]) -> None:
    """Replace the contest's problem set; each problem leaves the public archive until the contest ends."""
    labels: set[str] = set()
    problem_ids: set[int] = set()
    for index, entry in enumerate(entries):
        if entry.label in labels:
            raise field_error(f"problems[{index}].label", f"label {entry.label!r} is used twice")
        if entry.problem_id in problem_ids:
            raise field_error(f"problems[{index}].problem_id", f"problem {entry.problem_id} is listed twice")
        labels.add(entry.label)
        problem_ids.add(entry.problem_id)

    found = {
        problem.id: problem
        for problem in (await session.scalars(select(Problem).where(Problem.id.in_(problem_ids)))).all()
    }
    for index, entry in enumerate(entries):
        if entry.problem_id not in found:
            raise field_error(f"problems[{index}].problem_id", f"problem {entry.problem_id} does not exist")

    contest.problems.clear()
    await session.flush()
    default_points = 100.0 if contest.scoring == "ioi" else 1.0
    for position, entry in enumerate(entries):
        problem = found[entry.problem_id]
        if problem.is_public:
            logger.info("problem %d hidden from the archive: it is part of contest %d", problem.id, contest.id)
            problem.is_public = False
        points = entry.points if entry.points is not None else default_points
        contest.problems.append(
            ContestProblem(problem_id=problem.id, label=entry.label, points=points, position=position)
        )


async def add_organizer(session: AsyncSession, contest_id: int, user: User) -> None:
    if user.role not in (Role.ADMIN, Role.ORGANIZER):
        raise field_error("username", f"user {user.username!r} needs the organizer or admin role first")
    if await is_contest_organizer(session, user, contest_id) and user.role != Role.ADMIN:
        raise ConflictError(f"{user.username} already organizes contest {contest_id}", extra={"field": "username"})
    existing = await session.scalar(
        select(ContestOrganizer.id).where(ContestOrganizer.contest_id == contest_id, ContestOrganizer.user_id == user.id)
    )
    if existing is None:
        session.add(ContestOrganizer(contest_id=contest_id, user_id=user.id))


async def remove_organizer(session: AsyncSession, contest_id: int, user_id: int) -> None:
    rows = (await session.scalars(select(ContestOrganizer).where(ContestOrganizer.contest_id == contest_id))).all()
    target = next((row for row in rows if row.user_id == user_id), None)
    if target is None:
        raise NotFoundException(f"user {user_id} does not organize contest {contest_id}")
    if len(rows) == 1:
        raise ConflictError("a contest keeps at least one organizer; add another one first")
    await session.delete(target)


# Registration


async def find_participant(session: AsyncSession, contest_id: int, user_id: int) -> Participant | None:
    return await session.scalar(
        select(Participant).where(Participant.contest_id == contest_id, Participant.user_id == user_id)
    )


def registration_open(contest: Contest, now: datetime) -> tuple[bool, str]:
    """Return whether self-registration is possible now, and the reason when it is not."""
    if contest.state == ContestState.DRAFT:
        return False, "the contest is not published yet"
    if contest.state in (ContestState.ENDED, ContestState.FINALIZED) or now >= contest.end_time:
        return False, "the contest is over"
    if has_started(contest, now) and not contest.allow_late_registration:
        return False, "the contest has started and does not allow late registration"
    return True, ""


async def register(session: AsyncSession, contest: Contest, user: User, now: datetime) -> Participant:
    """Register the user, or accept their invitation. Raises 403 or 409 with the reason."""
    is_open, reason = registration_open(contest, now)
    if not is_open:
        raise PermissionDeniedException(f"registration for contest {contest.id} is closed: {reason}")

    participant = await find_participant(session, contest.id, user.id)
    if participant is not None and participant.status == REGISTERED:
        raise ConflictError(f"{user.username} is already registered for contest {contest.id}")
    if participant is not None:
        participant.status = REGISTERED
        participant.registered_at = now
        return participant

    if contest.registration == "invite":
        raise PermissionDeniedException(f"contest {contest.id} is by invitation; ask an organizer to invite you")
    if contest.registration == "closed":
        raise PermissionDeniedException(f"contest {contest.id} takes no registrations; organizers add participants")
    participant = Participant(contest_id=contest.id, user_id=user.id, status=REGISTERED, registered_at=now)
    session.add(participant)
    return participant


async def unregister(session: AsyncSession, contest: Contest, user: User, now: datetime) -> Participant:
    if has_started(contest, now):
        raise ConflictError(f"contest {contest.id} has started; participants cannot leave it any more")
    participant = await find_participant(session, contest.id, user.id)
    if participant is None:
        raise NotFoundException(f"{user.username} is not registered for contest {contest.id}")
    await session.delete(participant)
    return participant


async def users_by_name(session: AsyncSession, usernames: Sequence[str], field: str) -> list[User]:
    users = []
    for index, username in enumerate(usernames):
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            raise field_error(f"{field}[{index}]", f"user {username!r} not found")
        users.append(user)
    return users


async def add_participants(session: AsyncSession, contest: Contest, users: Sequence[User], status: str) -> list[Participant]:
    """Invite or add users; existing participants keep their row, and an invitation never downgrades one."""
    added = []
    for user in users:
        participant = await find_participant(session, contest.id, user.id)
        if participant is None:
            participant = Participant(contest_id=contest.id, user_id=user.id, status=status)
            session.add(participant)
        elif status == REGISTERED:
            participant.status = REGISTERED
        added.append(participant)
    await session.flush()
    return added


# Lifecycle


@dataclass(frozen=True)
class Transition:
    contest_id: int
    previous: ContestState
    state: ContestState
    change: str


async def apply_state(
    session: AsyncSession, contest: Contest, state: ContestState, expected: ContestState, values: dict[str, Any] | None = None
) -> bool:
    """Store a state change only if the contest is still in `expected`; return whether this call made it."""
    result = await session.execute(
        update(Contest)
        .where(Contest.id == contest.id, Contest.state == expected)
        .values(state=state, updated_at=utcnow(), **(values or {}))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    contest.state = state
    for key, value in (values or {}).items():
        setattr(contest, key, value)
    if state == ContestState.ENDED and contest.practice_after_end:
        await open_for_practice(session, contest.id)
    return True


async def open_for_practice(session: AsyncSession, contest_id: int) -> None:
    """Put the contest's problems in the public archive, except those still in an unfinished contest."""
    other_pending = exists().where(
        ContestProblem.problem_id == Problem.id,
        ContestProblem.contest_id != contest_id,
        Contest.id == ContestProblem.contest_id,
        Contest.state.not_in((ContestState.ENDED, ContestState.FINALIZED)),
    )
    in_contest = select(ContestProblem.problem_id).where(ContestProblem.contest_id == contest_id)
    result = await session.execute(
        update(Problem)
        .where(Problem.id.in_(in_contest), ~other_pending)
        .values(is_public=True)
        .execution_options(synchronize_session=False)
    )
    logger.info("contest %d ended: %d problems opened for practice", contest_id, result.rowcount)


async def advance_contest(
    live: LiveContext, contest_id: int, now: datetime | None = None, publish: bool = True
) -> tuple[Contest, Transition] | None:
    """Move one contest to the state its times call for, and publish the change when `publish` is true.

    Without `now`, the clock is read after the contest is loaded, so it is never older than
    the last change stored.
    """
    async with live.session_factory() as session:
        contest = await find_contest(session, contest_id)
        if contest is None:
            return None
        now = now or utcnow()
        previous = contest.state
        target = target_state(contest, now)
        if target == previous:
            return None
        if not await apply_state(session, contest, target, previous):
            return None
        await session.commit()

    transition = Transition(contest_id, previous, target, "clock")
    logger.info("contest %d: %s -> %s (clock)", contest_id, previous.value, target.value)
    if publish:
        await publish_contest_change(live, contest, transition)
    return contest, transition


async def advance_all(
    live: LiveContext, now: datetime | None = None, publish: bool = True
) -> list[tuple[Contest, Transition]]:
    async with live.session_factory() as session:
        contest_ids = (await session.scalars(select(Contest.id).where(Contest.state.in_(CLOCKED_STATES)))).all()
    changes = []
    for contest_id in contest_ids:
        change = await advance_contest(live, contest_id, now, publish)
        if change is not None:
            changes.append(change)
    return changes


async def run_clock(
    live: LiveContext, unpublished: list[tuple[Contest, Transition]] = (), interval_s: float = CLOCK_INTERVAL_S
) -> None:
    """Publish `unpublished` changes, then apply due transitions every `interval_s`.

    The server applies the transitions it missed while down before it serves requests, with
    publishing off because the channels start later; they are published here.
    """
    logger.info("contest clock started")
    try:
        for contest, transition in unpublished:
            await publish_contest_change(live, contest, transition)
        while True:
            try:
                await advance_all(live)
            except Exception:
                logger.exception("contest clock tick failed; retrying in %.1f s", interval_s)
            await asyncio.sleep(interval_s)
    finally:
        logger.info("contest clock stopped")


# Events


def contest_event(contest: Contest, change: str, previous: ContestState | None, now: datetime) -> dict[str, Any]:
    return {
        "contest_id": contest.id,
        "change": change,
        "state": contest.state.value,
        "previous_state": previous.value if previous is not None else None,
        "start_time": contest.start_time,
        "end_time": contest.end_time,
        "freeze_time": contest.freeze_time,
        "unfrozen_at": contest.unfrozen_at,
        "frozen": board_frozen(contest, now),
    }


async def publish_contest_change(live: LiveContext, contest: Contest, transition: Transition) -> None:
    """Publish a contest change on its events channel and, for the page's banner and clock, its scoreboards."""
    data = contest_event(contest, transition.change, transition.previous, utcnow())
    await live.hub.publish(contest_channel(contest.id, "events"), "contest", data)
    for kind in ("scoreboard", "jury"):
        await live.hub.publish(contest_channel(contest.id, kind), "state", data)


# Organizer actions

ACTIONS = ("publish", "start", "freeze", "unfreeze", "end", "finalize")


async def perform_action(session: AsyncSession, contest: Contest, action: str, now: datetime) -> Transition:
    """Validate and store an organizer action in the session; the caller commits and publishes.

    Raises ConflictError (409) naming the state when the action does not apply.
    `unfreeze` only stores the state; the scoreboard publishes the reveal feed.
    """
    previous = contest.state
    values: dict[str, Any] = {}
    if action == "publish":
        _require_state(contest, action, (ContestState.DRAFT,))
        if not contest.problems:
            raise ConflictError("add at least one problem before publishing the contest", extra={"field": "problems"})
        target = ContestState.SCHEDULED
    elif action == "start":
        _require_state(contest, action, (ContestState.DRAFT, ContestState.SCHEDULED))
        if not contest.problems:
            raise ConflictError("add at least one problem before starting the contest", extra={"field": "problems"})
        if contest.end_time <= now:
            raise ConflictError("end_time is in the past; PATCH a later end_time first", extra={"field": "end_time"})
        values["start_time"] = now
        target = ContestState.RUNNING
    elif action == "freeze":
        _require_state(contest, action, (ContestState.RUNNING,))
        if contest.freeze_time is not None and contest.freeze_time > now:
            # Kept so that an unfreeze before it brings the scheduled freeze back.
            contest.settings = {**contest.settings, SCHEDULED_FREEZE_KEY: contest.freeze_time.isoformat()}
        values.update(freeze_time=now, unfrozen_at=None)
        target = ContestState.FROZEN
    elif action == "unfreeze":
        if not board_frozen(contest, now):
            raise ConflictError(f"contest {contest.id} is not frozen")
        scheduled = None
        if SCHEDULED_FREEZE_KEY in contest.settings:
            scheduled = datetime.fromisoformat(contest.settings[SCHEDULED_FREEZE_KEY])
            contest.settings = {key: value for key, value in contest.settings.items() if key != SCHEDULED_FREEZE_KEY}
        if scheduled is not None and now < scheduled < contest.end_time:
            values.update(freeze_time=scheduled, unfrozen_at=None)
        else:
            values["unfrozen_at"] = now
        target = ContestState.RUNNING if previous == ContestState.FROZEN else previous
    elif action == "end":
        _require_state(contest, action, ACTIVE_STATES)
        values["end_time"] = now
        if contest.freeze_time is not None and contest.freeze_time > now:
            values["freeze_time"] = None
        target = ContestState.ENDED
    elif action == "finalize":
        _require_state(contest, action, (ContestState.ENDED,))
        target = ContestState.FINALIZED
        contest.settings = {**contest.settings, "finalized_at": now.isoformat()}
    else:
        raise ValueError(f"unknown contest action {action!r}")

    if target == previous:
        for key, value in values.items():
            setattr(contest, key, value)
    elif not await apply_state(session, contest, target, previous, values):
        raise ConflictError(f"contest {contest.id} changed state meanwhile; reload it and retry")
    if action == "start":
        # Started now: the freeze time may not precede the new start.
        if contest.freeze_time is not None and contest.freeze_time < now:
            contest.freeze_time = now
    return Transition(contest.id, previous, contest.state, action)


def _require_state(contest: Contest, action: str, allowed: tuple[ContestState, ...]) -> None:
    if contest.state not in allowed:
        names = " or ".join(state.value for state in allowed)
        raise ConflictError(f"cannot {action} contest {contest.id}: it is {contest.state.value}, not {names}")

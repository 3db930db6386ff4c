"""Routes under /api/v1/contests: contests, lifecycle actions, registration, scoreboards."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Parameter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Contest, ContestOrganizer, ContestState, Participant, User, utcnow
from server import contests
from server.contests import REGISTERED, ProblemEntry
from server.deps import provide_current_user, provide_optional_user, require_staff
from server.errors import ConflictError
from server.scoreboard import JURY, RevealMessage, Scoreboard, scoreboards_for

logger = logging.getLogger(__name__)

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
LongText = Annotated[str, msgspec.Meta(max_length=200_000)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=8, pattern=r"^[A-Z][A-Z0-9]*$")]
Points = Annotated[float, msgspec.Meta(ge=0.01, le=1_000_000)]
Username = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Scoring = Literal["icpc", "ioi"]
IoiMode = Literal["best_of_groups", "best_submission"]
Registration = Literal["open", "invite", "closed"]
PenaltyMinutes = Annotated[int, msgspec.Meta(ge=0, le=1000)]


class ContestProblemIn(msgspec.Struct, forbid_unknown_fields=True):
    problem_id: int
    label: Label
    # Default: 100 for IOI scoring, 1 for ICPC (where points do not count).
    points: Points | None = None


ProblemList = Annotated[list[ContestProblemIn], msgspec.Meta(max_length=52)]


class ContestCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    start_time: datetime
    end_time: datetime
    description: LongText = ""
    freeze_time: datetime | None = None
    scoring: Scoring = "icpc"
    ioi_mode: IoiMode = "best_of_groups"
    penalty_minutes: PenaltyMinutes = 20
    registration: Registration = "open"
    allow_late_registration: bool = True
    practice_after_end: bool = True
    problems: ProblemList = []


class ContestUpdate(msgspec.Struct, forbid_unknown_fields=True):
    title: Title | msgspec.UnsetType = msgspec.UNSET
    description: LongText | msgspec.UnsetType = msgspec.UNSET
    start_time: datetime | msgspec.UnsetType = msgspec.UNSET
    end_time: datetime | msgspec.UnsetType = msgspec.UNSET
    freeze_time: datetime | None | msgspec.UnsetType = msgspec.UNSET
    scoring: Scoring | msgspec.UnsetType = msgspec.UNSET
    ioi_mode: IoiMode | msgspec.UnsetType = msgspec.UNSET
    penalty_minutes: PenaltyMinutes | msgspec.UnsetType = msgspec.UNSET
    registration: Registration | msgspec.UnsetType = msgspec.UNSET
    allow_late_registration: bool | msgspec.UnsetType = msgspec.UNSET
    practice_after_end: bool | msgspec.UnsetType = msgspec.UNSET
    problems: ProblemList | msgspec.UnsetType = msgspec.UNSET


# Fields an organizer may still change once the contest has started; the schedule rules apply to the times.
CHANGEABLE_WHILE_RUNNING = {
    "title", "description", "end_time", "freeze_time", "registration", "allow_late_registration", "practice_after_end"
}
CHANGEABLE_AFTER_END = {"title", "description", "practice_after_end"}


class UsernamesIn(msgspec.Struct, forbid_unknown_fields=True):
    usernames: Annotated[list[Username], msgspec.Meta(min_length=1, max_length=1000)]


class OrganizerIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Username


class ContestProblemOut(msgspec.Struct):
    problem_id: int
    label: str
    points: float
    slug: str
    title: str
    time_limit_ms: int
    memory_limit_mb: int


class ContestSummary(msgspec.Struct):
    id: int
    title: str
    state: str
    scoring: str
    start_time: datetime
    end_time: datetime
    freeze_time: datetime | None
    registration: str
    participant_count: int


class ContestDetail(ContestSummary):
    description: str
    ioi_mode: str
    penalty_minutes: int
    unfrozen_at: datetime | None
    frozen: bool
    allow_late_registration: bool
    practice_after_end: bool
    created_at: datetime
    updated_at: datetime
    organizers: list[str]
    is_organizer: bool
    # The caller's registration: registered, invited or None.
    registration_status: str | None
    # None before the start for everyone but organizers.
    problems: list[ContestProblemOut] | None


class ContestPage(msgspec.Struct):
    items: list[ContestSummary]
    total: int
    page: int
    per_page: int


class ParticipantOut(msgspec.Struct):
    id: int
    user_id: int
    username: str
    status: str
    registered_at: datetime


def _summary_fields(contest: Contest, participant_count: int) -> dict:
    return {
        "id": contest.id,
        "title": contest.title,
        "state": contest.state.value,
        "scoring": contest.scoring,
        "start_time": contest.start_time,
        "end_time": contest.end_time,
        "freeze_time": contest.freeze_time,
        "registration": contest.registration,
        "participant_count": participant_count,
    }


async def _participant_counts(session: AsyncSession, contest_ids: list[int]) -> dict[int, int]:
    if not contest_ids:
        return {}
    rows = await session.execute(
        select(Participant.contest_id, func.count())
        .where(Participant.contest_id.in_(contest_ids), Participant.status == REGISTERED)
        .group_by(Participant.contest_id)
    )
    return dict(rows.all())


async def contest_detail(session: AsyncSession, contest_id: int, user: User | None) -> ContestDetail:
    contest, organizer = await contests.get_visible_contest(session, contest_id, user, with_problems=True)
    now = utcnow()
    counts = await _participant_counts(session, [contest.id])
    organizers = (
        await session.scalars(
            select(User.username)
            .join(ContestOrganizer, ContestOrganizer.user_id == User.id)
            .where(ContestOrganizer.contest_id == contest.id)
            .order_by(User.username)
        )
    ).all()
    status = None
    if user is not None:
        participant = await contests.find_participant(session, contest.id, user.id)
        status = participant.status if participant is not None else None
    problems = None
    if organizer or contests.has_started(contest, now):
        problems = [
            ContestProblemOut(
                problem_id=entry.problem_id,
                label=entry.label,
                points=entry.points,
                slug=entry.problem.slug,
                title=entry.problem.title,
                time_limit_ms=entry.problem.time_limit_ms,
                memory_limit_mb=entry.problem.memory_limit_mb,
            )
            for entry in contest.problems
        ]
    return ContestDetail(
        **_summary_fields(contest, counts.get(contest.id, 0)),
        description=contest.description,
        ioi_mode=contest.settings.get("ioi_mode", "best_of_groups"),
        penalty_minutes=contest.penalty_minutes,
        unfrozen_at=contest.unfrozen_at,
        frozen=contests.board_frozen(contest, now),
        allow_late_registration=contest.allow_late_registration,
        practice_after_end=contest.practice_after_end,
        created_at=contest.created_at,
        updated_at=contest.updated_at,
        organizers=list(organizers),
        is_organizer=organizer,
        registration_status=status,
        problems=problems,
    )


def _problem_entries(items: list[ContestProblemIn]) -> list[ProblemEntry]:
    return [ProblemEntry(item.problem_id, item.label, item.points) for item in items]


def _check_update(contest: Contest, data: ContestUpdate, now: datetime) -> None:
    """Reject changes the contest's state no longer allows, naming the first such field."""
    if contest.state in (ContestState.DRAFT, ContestState.SCHEDULED):
        return
    allowed = CHANGEABLE_WHILE_RUNNING if contest.state in contests.ACTIVE_STATES else CHANGEABLE_AFTER_END
    for field in msgspec.structs.fields(ContestUpdate):
        value = getattr(data, field.name)
        if value is msgspec.UNSET or field.name in allowed:
            continue
        current = getattr(contest, field.name, None)
        if field.name == "ioi_mode":
            current = contest.settings.get("ioi_mode", "best_of_groups")
        if field.name != "problems" and value == current:
            continue
        raise ConflictError(
            f"invalid field {field.name}: it cannot change once the contest is {contest.state.value}",
            extra={"field": field.name},
        )
    if contest.state not in contests.ACTIVE_STATES:
        return
    if data.end_time is not msgspec.UNSET and data.end_time != contest.end_time and data.end_time <= now:
        raise contests.field_error("end_time", "must be in the future while the contest runs; use /end to end it now")
    if data.freeze_time is not msgspec.UNSET and data.freeze_time != contest.freeze_time:
        if contest.freeze_time is not None and contest.freeze_time <= now:
            raise ConflictError(
                "invalid field freeze_time: the freeze has begun; use /unfreeze instead", extra={"field": "freeze_time"}
            )
        if data.freeze_time is not None and data.freeze_time < now:
            raise contests.field_error("freeze_time", "must be in the future while the contest runs")


class ContestsController(Controller):
    path = "/api/v1/contests"
    tags = ["contests"]

    @get("/", dependencies={"current_user": Provide(provide_optional_user)})
    async def list_contests(
        self,
        db_session: AsyncSession,
        current_user: User | None,
        contest_state: Annotated[ContestState | None, Parameter(query="state")] = None,
        page: Annotated[int, Parameter(ge=1, le=100000)] = 1,
        per_page: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> ContestPage:
        query = select(Contest).where(contests.listing_clause(current_user))
        if contest_state is not None:
            query = query.where(Contest.state == contest_state)
        total = await db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = (
            await db_session.scalars(
                query.order_by(Contest.start_time.desc(), Contest.id.desc()).offset((page - 1) * per_page).limit(per_page)
            )
        ).all()
        counts = await _participant_counts(db_session, [contest.id for contest in rows])
        items = [ContestSummary(**_summary_fields(contest, counts.get(contest.id, 0))) for contest in rows]
        return ContestPage(items, total, page, per_page)

    @post("/", status_code=201, dependencies={"current_user": Provide(provide_current_user)})
    async def create_contest(self, data: ContestCreate, db_session: AsyncSession, current_user: User) -> ContestDetail:
        require_staff(current_user)
        contests.validate_schedule(data.start_time, data.end_time, data.freeze_time, data.scoring)
        contest = Contest(
            title=data.title,
            description=data.description,
            start_time=data.start_time,
            end_time=data.end_time,
            freeze_time=data.freeze_time,
            scoring=data.scoring,
            penalty_minutes=data.penalty_minutes,
            registration=data.registration,
            allow_late_registration=data.allow_late_registration,
            practice_after_end=data.practice_after_end,
            settings={"ioi_mode": data.ioi_mode},
            created_by_id=current_user.id,
            state=ContestState.DRAFT,
            problems=[],
        )
        db_session.add(contest)
        await db_session.flush()
        db_session.add(ContestOrganizer(contest_id=contest.id, user_id=current_user.id))
        await contests.set_problems(db_session, contest, _problem_entries(data.problems))
        await db_session.commit()
        logger.info("contest %d created by user %d", contest.id, current_user.id)
        return await contest_detail(db_session, contest.id, current_user)

    @get("/{contest_id:int}", dependencies={"current_user": Provide(provide_optional_user)})
    async def get_contest(self, contest_id: int, db_session: AsyncSession, current_user: User | None) -> ContestDetail:
        return await contest_detail(db_session, contest_id, current_user)

    @patch("/{contest_id:int}", dependencies={"current_user": Provide(provide_current_user)})
    async def update_contest(
        self, contest_id: int, data: ContestUpdate, state: State, db_session: AsyncSession, current_user: User
    ) -> ContestDetail:
        contest = await contests.get_managed_contest(db_session, contest_id, current_user, with_problems=True)
        now = utcnow()
        _check_update(contest, data, now)

        def new(name: str):
            value = getattr(data, name)
            return getattr(contest, name) if value is msgspec.UNSET else value

        scoring = new("scoring")
        contests.validate_schedule(new("start_time"), new("end_time"), new("freeze_time"), scoring)
        end_changed = data.end_time is not msgspec.UNSET and data.end_time != contest.end_time
        for name in ("title", "description", "start_time", "end_time", "freeze_time", "scoring", "penalty_minutes",
                     "registration", "allow_late_registration", "practice_after_end"):
            setattr(contest, name, new(name))
        if data.ioi_mode is not msgspec.UNSET:
            contest.settings = {**contest.settings, "ioi_mode": data.ioi_mode}
        if data.problems is not msgspec.UNSET:
            await contests.set_problems(db_session, contest, _problem_entries(data.problems))
        await db_session.commit()

        change = "extended" if end_changed else "updated"
        await contests.publish_contest_change(
            state.live, contest, contests.Transition(contest.id, contest.state, contest.state, change)
        )
        await contests.advance_contest(state.live, contest.id)
        return await contest_detail(db_session, contest.id, current_user)

    @delete("/{contest_id:int}", status_code=204, dependencies={"current_user": Provide(provide_current_user)})
    async def delete_contest(self, contest_id: int, state: State, db_session: AsyncSession, current_user: User) -> None:
        contest = await contests.get_managed_contest(db_session, contest_id, current_user)
        if contest.state in contests.ACTIVE_STATES:
            raise ConflictError(f"contest {contest_id} is {contest.state.value}; end it before deleting it")
        await db_session.delete(contest)
        await db_session.commit()
        await state.live.rankings.clear(contest_id)
        logger.info("contest %d deleted by user %d", contest_id, current_user.id)

    # Lifecycle

    async def _act(self, action: str, contest_id: int, state: State, db_session: AsyncSession, user: User) -> ContestDetail:
        contest = await contests.get_managed_contest(db_session, contest_id, user, with_problems=True)
        if action == "unfreeze":
            await scoreboards_for(state.live).unfreeze(contest_id)
        else:
            transition = await contests.perform_action(db_session, contest, action, utcnow())
            await db_session.commit()
            logger.info("contest %d: %s by user %d", contest_id, action, user.id)
            await contests.publish_contest_change(state.live, contest, transition)
            await contests.advance_contest(state.live, contest_id)
        return await contest_detail(db_session, contest_id, user)

    @post("/{contest_id:int}/publish", status_code=200, dependencies={"current_user": Provide(provide_current_user)})
    async def publish(self, contest_id: int, state: State, db_session: AsyncSession, current_user: User) -> ContestDetail:
        return await self._act("publish", contest_id, state, db_session, current_user)

    @post("/{contest_id:int}/start", status_code=200, dependencies={"current_user": Provide(provide_current_user)})
    async def start(self, contest_id: int, state: State, db_session: AsyncSession, current_user: User) -> ContestDetail:
        return await self._act("start", contest_id, state, db_session, current_user)

    @post("/{contest_id:int}/freeze", status_code=200, dependencies={"current_user": Provide(provide_current_user)})
    async def freeze(self, contest_id: int, state: State, db_session: AsyncSession, current_user: User) -> ContestDetail:
        return await self._act("freeze", contest_id, state, db_session, current_user)

    @post("/{contest_id:int}/unfreeze", status_code=200, dependencies={"current_user": Provide(provide_current_user)})
    async def unfreeze(self, contest_id: int, state: State, db_session: AsyncSession, current_user: User) -> ContestDetail:
        return await self._act("unfreeze", contest_id, state, db_session, current_user)

    @post("/{contest_id:int}/end", status_code=200, dependencies={"current_user": Provide(provide_current_user)})
    async def end(self, contest_id: int, state: State, db_session: AsyncSession, current_user: User) -> ContestDetail:
        return await self._act("end", contest_id, state, db_session, current_user)

    @post("/{contest_id:int}/finalize", status_code=200, dependencies={"current_user": Provide(provide_current_user)})
    async def finalize(self, contest_id: int, state: State, db_session: AsyncSession, current_user: User) -> ContestDetail:
        return await self._act("finalize", contest_id, state, db_session, current_user)

    # Problems and scoreboards

    @get("/{contest_id:int}/problems", dependencies={"current_user": Provide(provide_optional_user)})
    async def list_problems(
        self, contest_id: int, db_session: AsyncSession, current_user: User | None
    ) -> list[ContestProblemOut]:
        detail = await contest_detail(db_session, contest_id, current_user)
        if detail.problems is None:
            raise PermissionDeniedException(
                f"the problems of contest {contest_id} are hidden until it starts at {detail.start_time.isoformat()}"
            )
        return detail.problems

    @get("/{contest_id:int}/scoreboard", cache=False, dependencies={"current_user": Provide(provide_optional_user)})
    async def get_scoreboard(
        self, contest_id: int, state: State, db_session: AsyncSession, current_user: User | None,
        view: Literal["public", "jury"] = "public",
    ) -> Scoreboard:
        _, organizer = await contests.get_visible_contest(db_session, contest_id, current_user)
        if view == JURY and not organizer:
            raise PermissionDeniedException("the jury scoreboard is for the contest's organizers and admins")
        return await scoreboards_for(state.live).snapshot(contest_id, view)

    @get("/{contest_id:int}/reveal", cache=False, dependencies={"current_user": Provide(provide_current_user)})
    async def get_reveal(
        self, contest_id: int, state: State, db_session: AsyncSession, current_user: User
    ) -> list[RevealMessage]:
        await contests.get_managed_contest(db_session, contest_id, current_user)
        return await scoreboards_for(state.live).reveal_steps(contest_id)

    # Registration

    @post("/{contest_id:int}/register", status_code=201, dependencies={"current_user": Provide(provide_current_user)})
    async def register(self, contest_id: int, state: State, db_session: AsyncSession, current_user: User) -> ParticipantOut:
        contest, _ = await contests.get_visible_contest(db_session, contest_id, current_user)
        participant = await contests.register(db_session, contest, current_user, utcnow())
        await db_session.commit()
        logger.info("user %d registered for contest %d", current_user.id, contest_id)
        await scoreboards_for(state.live).participant_changed(contest_id, current_user.id)
        return ParticipantOut(participant.id, current_user.id, current_user.username, participant.status, participant.registered_at)

    @delete("/{contest_id:int}/register", status_code=204, dependencies={"current_user": Provide(provide_current_user)})
    async def unregister(self, contest_id: int, state: State, db_session: AsyncSession, current_user: User) -> None:
        contest, _ = await contests.get_visible_contest(db_session, contest_id, current_user)
        participant = await contests.unregister(db_session, contest, current_user, utcnow())
        await db_session.commit()
        await scoreboards_for(state.live).participant_removed(contest_id, participant.id)

    @get("/{contest_id:int}/participants", dependencies={"current_user": Provide(provide_optional_user)})
    async def list_participants(
        self, contest_id: int, db_session: AsyncSession, current_user: User | None
    ) -> list[ParticipantOut]:
        _, organizer = await contests.get_visible_contest(db_session, contest_id, current_user)
        query = (
            select(Participant, User.username)
            .join(User, User.id == Participant.user_id)
            .where(Participant.contest_id == contest_id)
            .order_by(User.username)
        )
        if not organizer:
            query = query.where(Participant.status == REGISTERED)
        rows = (await db_session.execute(query)).all()
        return [ParticipantOut(p.id, p.user_id, username, p.status, p.registered_at) for p, username in rows]

    @post("/{contest_id:int}/participants", status_code=201, dependencies={"current_user": Provide(provide_current_user)})
    async def add_participants(
        self, contest_id: int, data: UsernamesIn, state: State, db_session: AsyncSession, current_user: User
    ) -> list[ParticipantOut]:
        return await self._add(contest_id, data, state, db_session, current_user, REGISTERED)

    @post("/{contest_id:int}/invitations", status_code=201, dependencies={"current_user": Provide(provide_current_user)})
    async def invite(
        self, contest_id: int, data: UsernamesIn, state: State, db_session: AsyncSession, current_user: User
    ) -> list[ParticipantOut]:
        return await self._add(contest_id, data, state, db_session, current_user, contests.INVITED)

    async def _add(
        self, contest_id: int, data: UsernamesIn, state: State, db_session: AsyncSession, user: User, status: str
    ) -> list[ParticipantOut]:
        contest = await contests.get_managed_contest(db_session, contest_id, user)
        users = await contests.users_by_name(db_session, data.usernames, "usernames")
        participants = await contests.add_participants(db_session, contest, users, status)
        await db_session.commit()
        boards = scoreboards_for(state.live)
        for participant in participants:
            await boards.participant_changed(contest_id, participant.user_id)
        names = {added.id: added.username for added in users}
        return [ParticipantOut(p.id, p.user_id, names[p.user_id], p.status, p.registered_at) for p in participants]

    @delete(
        "/{contest_id:int}/participants/{participant_id:int}",
        status_code=204,
        dependencies={"current_user": Provide(provide_current_user)},
    )
    async def remove_participant(
        self, contest_id: int, participant_id: int, state: State, db_session: AsyncSession, current_user: User
    ) -> None:
        await contests.get_managed_contest(db_session, contest_id, current_user)
        participant = await db_session.get(Participant, participant_id)
        if participant is None or participant.contest_id != contest_id:
            raise NotFoundException(f"participant {participant_id} not found in contest {contest_id}")
        await db_session.delete(participant)
        await db_session.commit()
        logger.info("participant %d removed from contest %d by user %d", participant_id, contest_id, current_user.id)
        await scoreboards_for(state.live).participant_removed(contest_id, participant_id)

    # Organizers

    @post("/{contest_id:int}/organizers", status_code=201, dependencies={"current_user": Provide(provide_current_user)})
    async def add_organizer(
        self, contest_id: int, data: OrganizerIn, db_session: AsyncSession, current_user: User
    ) -> ContestDetail:
        await contests.get_managed_contest(db_session, contest_id, current_user)
        user = await db_session.scalar(select(User).where(User.username == data.username))
        if user is None:
            raise contests.field_error("username", f"user {data.username!r} not found")
        await contests.add_organizer(db_session, contest_id, user)
        await db_session.commit()
        return await contest_detail(db_session, contest_id, current_user)

    @delete(
        "/{contest_id:int}/organizers/{user_id:int}",
        status_code=204,
        dependencies={"current_user": Provide(provide_current_user)},
    )
    async def remove_organizer(self, contest_id: int, user_id: int, db_session: AsyncSession, current_user: User) -> None:
        await contests.get_managed_contest(db_session, contest_id, current_user)
        await contests.remove_organizer(db_session, contest_id, user_id)
        await db_session.commit()

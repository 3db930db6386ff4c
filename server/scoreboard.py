"""Live scoreboards: rankings, deltas on the contest channels, freeze, reveal and rebuild.

Each queued or judged contest submission recomputes only its participant's row
from the database (a 5,000-participant board takes about 150 ms per view to
recompute, too slow for every verdict). The participant's key goes into the
rankings of both views, and a `rows` delta goes to `contest:{id}:jury` and,
unless it would reveal a frozen result, to `contest:{id}:scoreboard`.

First-to-solve marks depend on other participants, so every delta carries the
marks of every problem. They are computed from the few attempts made before
each problem's earliest unfrozen AC (see `board_data.first_solve_bounds`).

Snapshots (REST and WebSocket) recompute the whole board from the database,
at most once per channel seq and process. Updates of one contest are
serialized: an asyncio lock in the process and, on PostgreSQL, a transaction
advisory lock across processes, so deltas of a contest are published in the
order their database reads happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
import msgspec
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Contest, ContestState, Participant, Submission, SubmissionStatus, User, utcnow
from realtime.rankings import row_key
from realtime.scoring import VIEWS, Attempt, ContestRules, IcpcScore, ProblemCell, Row, reveal_feed, scoreboard, unfreeze
from server import contests
from server.board_data import (
    REGISTERED,
    BoardInput,
    ParticipantInfo,
    first_solve_bounds,
    frozen_since,
    load_attempts,
    load_board,
    load_first_solve_attempts,
    load_participants,
    load_rules,
)
from server.live import LiveContext, contest_channel

logger = logging.getLogger(__name__)

PUBLIC = "public"
JURY = "jury"
CHANNEL_KIND = {PUBLIC: "scoreboard", JURY: "jury"}
# Namespace of the PostgreSQL advisory locks that serialize one contest's scoreboard updates.
ADVISORY_LOCK_NAMESPACE = 0x5C0EB0A0


class BoardScore(msgspec.Struct, omit_defaults=True):
    """A row's score: `num_solved` and `total_time` under ICPC rules, `score` under IOI rules.

    One struct with optional fields rather than a union, because the ICPC Contest API
    object has no type tag and OpenAPI generation needs one for a union of structs.
    """

    num_solved: int | None = None
    total_time: int | None = None
    score: float | None = None


class BoardRow(msgspec.Struct):
    """A row in the shape of the ICPC Contest API; `team_id` is the participant id.

    `sort_key` is the rankings key: a smaller key ranks better and equal keys share a rank,
    so a client can re-rank rows after a delta without the server resending every row.
    """

    rank: int
    team_id: int
    username: str
    score: BoardScore
    problems: list[ProblemCell]
    sort_key: float


class FirstToSolve(msgspec.Struct):
    problem_id: int
    team_ids: list[int]


class ProblemLabel(msgspec.Struct):
    problem_id: int
    label: str


class BoardState(msgspec.Struct):
    """Contest state with the timestamps of the Contest API state object."""

    state: str
    started: datetime | None
    frozen: datetime | None
    thawed: datetime | None
    ended: datetime | None
    finalized: datetime | None


class Scoreboard(msgspec.Struct):
    contest_id: int
    view: str
    scoring: str
    time: datetime
    contest_time: str
    start_time: datetime
    end_time: datetime
    state: BoardState
    # True when the public view hides results that came in since the freeze.
    frozen: bool
    problems: list[ProblemLabel]
    rows: list[BoardRow]
    first_to_solve: list[FirstToSolve]


class RowsDelta(msgspec.Struct):
    rows: list[BoardRow]
    first_to_solve: list[FirstToSolve]
    removed: list[int] = []


class RevealMessage(msgspec.Struct):
    team_id: int
    username: str
    problem_id: int
    label: str
    cell: ProblemCell
    rank_before: int
    rank_after: int
    row: BoardRow
    first_to_solve: list[FirstToSolve]


@dataclass
class _CachedRows:
    seq: int
    rows: list[BoardRow]
    problems: list[ProblemLabel]
    marks: list[FirstToSolve]


def check_view(view: str) -> str:
    if view not in VIEWS:
        raise ValueError(f"invalid view {view!r}: expected public or jury")
    return view


def format_contest_time(contest: Contest, now: datetime) -> str:
    """Contest API RELTIME (h:mm:ss.uuu) since the start, clamped to the contest's length."""
    if now <= contest.start_time:
        return "0:00:00.000"
    elapsed = min(now, contest.end_time) - contest.start_time
    total_ms = elapsed.days * 86_400_000 + elapsed.seconds * 1000 + elapsed.microseconds // 1000
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def board_state(contest: Contest, now: datetime) -> BoardState:
    started = contest.start_time if contests.has_started(contest, now) else None
    ended = contest.end_time if contest.state in (ContestState.ENDED, ContestState.FINALIZED) else None
    finalized_at = contest.settings.get("finalized_at")
    return BoardState(
        state=contest.state.value,
        started=started,
        frozen=contest.freeze_time if started and contest.freeze_time and contest.freeze_time <= now else None,
        thawed=contest.unfrozen_at,
        ended=ended,
        finalized=datetime.fromisoformat(finalized_at) if finalized_at else None,
    )


def to_board_row(row: Row, username: str) -> BoardRow:
    if isinstance(row.score, IcpcScore):
        total = BoardScore(num_solved=row.score.num_solved, total_time=row.score.total_time)
    else:
        total = BoardScore(score=row.score.score)
    return BoardRow(row.rank, row.participant_id, username, total, row.problems, row_key(row))


def marks_of_rows(rules: ContestRules, rows: Iterable[Row | BoardRow]) -> list[FirstToSolve]:
    holders: dict[int, list[int]] = {problem.problem_id: [] for problem in rules.problems}
    for row in rows:
        team_id = row.team_id if isinstance(row, BoardRow) else row.participant_id
        for cell in row.problems:
            if cell.first_to_solve:
                holders[cell.problem_id].append(team_id)
    return [FirstToSolve(problem_id, sorted(team_ids)) for problem_id, team_ids in holders.items()]


def apply_marks(row: Row, marks: list[FirstToSolve]) -> None:
    holders = {mark.problem_id: mark.team_ids for mark in marks}
    for cell in row.problems:
        cell.first_to_solve = row.participant_id in holders.get(cell.problem_id, ())


def single_row(rules: ContestRules, participant_id: int, attempts: list[Attempt], view: str) -> Row:
    """Compute the participant's row of one view; the caller sets its rank and first-to-solve marks."""
    return scoreboard(rules, [participant_id], attempts, view)[0]  # type: ignore[arg-type]


class Scoreboards:
    """Scoreboard updates and snapshots of one process, bound to its LiveContext."""

    def __init__(self, live: LiveContext) -> None:
        self.live = live
        self._locks: dict[int, asyncio.Lock] = {}
        self._cache: dict[tuple[int, str], _CachedRows] = {}
        self._building: dict[tuple[int, str, int], asyncio.Task[_CachedRows]] = {}

    # Hooks

    async def on_queued(self, ctx: LiveContext, submission_id: int) -> None:
        await self.submission_changed(submission_id, judged=False)

    async def on_judged(self, ctx: LiveContext, submission_id: int) -> None:
        await self.submission_changed(submission_id, judged=True)

    async def submission_changed(self, submission_id: int, judged: bool) -> None:
        async with self.live.session_factory() as session:
            found = (
                await session.execute(
                    select(Submission.contest_id, Submission.user_id, Submission.created_at, Submission.status).where(
                        Submission.id == submission_id
                    )
                )
            ).first()
        if found is None or found.contest_id is None:
            return
        contest_id, user_id, created_at, status = found
        if judged and status != SubmissionStatus.JUDGED:
            logger.warning("judged hook for submission %d, which is %s", submission_id, status.value)

        def publish_public(contest: Contest) -> bool:
            # A frozen attempt is pending on the public board before and after its verdict.
            return not (judged and contests.is_frozen_attempt(contest, created_at))

        await self.participant_changed(contest_id, user_id, publish_public)

    # Participant rows

    def _lock(self, contest_id: int) -> asyncio.Lock:
        return self._locks.setdefault(contest_id, asyncio.Lock())

    async def _lock_across_processes(self, session: AsyncSession, contest_id: int) -> None:
        if session.bind.dialect.name == "postgresql":
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, :contest_id)"),
                {"namespace": ADVISORY_LOCK_NAMESPACE, "contest_id": contest_id},
            )

    async def participant_changed(
        self, contest_id: int, user_id: int, publish_public: Callable[[Contest], bool] | None = None
    ) -> None:
        """Recompute one participant's rows, update the rankings and publish the deltas.

        `publish_public(contest)` decides whether the public view gets a delta (default: yes).
        Users who are not registered participants of the contest change nothing.
        """
        async with self._lock(contest_id), self.live.session_factory() as session, session.begin():
            await self._lock_across_processes(session, contest_id)
            contest = await contests.find_contest(session, contest_id)
            if contest is None or contest.state == ContestState.DRAFT:
                return
            found = (
                await session.execute(
                    select(Participant.id, User.username)
                    .join(User, User.id == Participant.user_id)
                    .where(
                        Participant.contest_id == contest_id,
                        Participant.user_id == user_id,
                        Participant.status == REGISTERED,
                        # TODO: virtual participants are left off the boards; they need a board of their own.
                        Participant.is_virtual.is_(False),
                    )
                )
            ).first()
            if found is None:
                return
            participant_id, username = found

            rules, scale = await load_rules(session, contest)
            await self.ensure_rankings(session, contest)
            freeze = frozen_since(contest)
            attempts = await load_attempts(session, contest, rules, scale, Submission.user_id == user_id, freeze=freeze)
            marks = await self.first_to_solve(session, contest, rules, scale, freeze)
            started = contests.has_started(contest)
            views = [JURY, PUBLIC] if publish_public is None or publish_public(contest) else [JURY]
            for view in views:
                row = single_row(rules, participant_id, attempts, view)
                apply_marks(row, marks[view])
                await self.live.rankings.set_score(contest_id, view, participant_id, row_key(row))
                row.rank = await self.live.rankings.rank_of(contest_id, view, participant_id) or 1
                delta = RowsDelta([to_board_row(row, username)], marks[view])
                if view == PUBLIC and not started:
                    # Before the start the public board shows no problems.
                    delta.rows[0].problems = []
                    delta.first_to_solve = []
                await self.live.hub.publish(contest_channel(contest_id, CHANNEL_KIND[view]), "rows", delta)

    async def participant_removed(self, contest_id: int, participant_id: int) -> None:
        """Drop a participant whose registration was deleted from the rankings and both boards."""
        async with self._lock(contest_id), self.live.session_factory() as session, session.begin():
            await self._lock_across_processes(session, contest_id)
            contest = await contests.find_contest(session, contest_id)
            if contest is None:
                return
            rules, scale = await load_rules(session, contest)
            marks = await self.first_to_solve(session, contest, rules, scale, frozen_since(contest))
            started = contests.has_started(contest)
            for view in VIEWS:
                await self.live.rankings.remove(contest_id, view, participant_id)
                view_marks = marks[view] if view == JURY or started else []
                delta = RowsDelta([], view_marks, removed=[participant_id])
                await self.live.hub.publish(contest_channel(contest_id, CHANNEL_KIND[view]), "rows", delta)

    async def first_to_solve(
        self, session: AsyncSession, contest: Contest, rules: ContestRules, scale: dict, freeze: datetime | None
    ) -> dict[str, list[FirstToSolve]]:
        """First-to-solve marks of every problem in both views, from the attempts that can decide them."""
        bounds = await first_solve_bounds(session, contest, freeze)
        problem_ids = [problem.problem_id for problem in rules.problems]
        attempts = await load_first_solve_attempts(session, contest, rules, scale, freeze, bounds, problem_ids)
        marks = _marks_from_attempts(rules, attempts)

        # An AC worth less than the full points (IOI) bounds nothing: decide those problems from all attempts.
        unsolved = [mark.problem_id for mark in marks[JURY] if mark.problem_id in bounds and not mark.team_ids]
        if unsolved:
            kept = [attempt for attempt in attempts if attempt.problem_id not in unsolved]
            unbounded = {problem_id: bound for problem_id, bound in bounds.items() if problem_id not in unsolved}
            kept += await load_first_solve_attempts(session, contest, rules, scale, freeze, unbounded, unsolved)
            marks = _marks_from_attempts(rules, kept)
        return marks

    # Rankings

    async def ensure_rankings(self, session: AsyncSession, contest: Contest) -> None:
        """Rebuild the contest's rankings from the database when the store lost them (Redis restarted empty)."""
        for view in VIEWS:
            if await self.live.rankings.is_empty(contest.id, view):
                break
        else:
            return
        participants = await load_participants(session, contest.id)
        if not participants:
            return
        logger.info("rankings of contest %d are empty; rebuilding them from the database", contest.id)
        await self._rebuild_rankings(session, contest)

    async def _rebuild_rankings(self, session: AsyncSession, contest: Contest) -> int:
        board = await load_board(session, contest, frozen_since(contest))
        for view in VIEWS:
            rows = scoreboard(board.rules, board.participant_ids, board.attempts, view)  # type: ignore[arg-type]
            await self.live.rankings.rebuild(contest.id, view, [(row.participant_id, row_key(row)) for row in rows])
        return len(board.participants)

    async def rebuild(self, contest_id: int) -> int:
        """Recompute both rankings from the database and tell clients to reload; return the participant count."""
        async with self._lock(contest_id), self.live.session_factory() as session, session.begin():
            await self._lock_across_processes(session, contest_id)
            contest = await contests.find_contest(session, contest_id)
            if contest is None:
                raise LookupError(f"contest {contest_id} not found")
            count = await self._rebuild_rankings(session, contest)
            for kind in CHANNEL_KIND.values():
                await self.live.hub.publish(contest_channel(contest_id, kind), "refresh", {"reason": "rebuild"})
        logger.info("rebuilt scoreboard of contest %d (%d participants)", contest_id, count)
        return count

    # Snapshots

    async def snapshot(self, contest_id: int, view: str, now: datetime | None = None) -> Scoreboard:
        """Return the whole board of a view, recomputed at most once per channel seq in this process."""
        check_view(view)
        now = now or utcnow()
        async with self.live.session_factory() as session:
            contest = await contests.find_contest(session, contest_id)
            if contest is None:
                raise LookupError(f"contest {contest_id} not found")
        seq = await self.live.hub.last_seq(contest_channel(contest_id, CHANNEL_KIND[view]))
        cached = await self._cached_rows(contest, view, seq, now)
        return Scoreboard(
            contest_id=contest.id,
            view=view,
            scoring=contest.scoring,
            time=now,
            contest_time=format_contest_time(contest, now),
            start_time=contest.start_time,
            end_time=contest.end_time,
            state=board_state(contest, now),
            frozen=contests.board_frozen(contest, now),
            problems=cached.problems,
            rows=cached.rows,
            first_to_solve=cached.marks,
        )

    async def _cached_rows(self, contest: Contest, view: str, seq: int, now: datetime) -> _CachedRows:
        cached = self._cache.get((contest.id, view))
        if cached is not None and cached.seq == seq:
            return cached
        key = (contest.id, view, seq)
        building = self._building.get(key)
        if building is None:
            # A task of its own, so a client that disconnects mid-build does not cancel it for the others.
            building = asyncio.create_task(self._build_rows(contest, view, seq, now))
            self._building[key] = building
            building.add_done_callback(lambda task: self._building.pop(key, None))
        return await asyncio.shield(building)

    async def _build_rows(self, contest: Contest, view: str, seq: int, now: datetime) -> _CachedRows:
        result = await self._compute_rows(contest, view, seq, now)
        self._cache[(contest.id, view)] = result
        return result

    async def _compute_rows(self, contest: Contest, view: str, seq: int, now: datetime) -> _CachedRows:
        async with self.live.session_factory() as session:
            contest = await contests.find_contest(session, contest.id) or contest
            board = await load_board(session, contest, frozen_since(contest))
        if view == PUBLIC and not contests.has_started(contest, now):
            # Before the start the public board lists the participants but not the problems.
            board.rules = msgspec.structs.replace(board.rules, problems=[])
            board.attempts = []
        rows = scoreboard(board.rules, board.participant_ids, board.attempts, view)  # type: ignore[arg-type]
        names = {participant.participant_id: participant.username for participant in board.participants}
        return _CachedRows(
            seq=seq,
            rows=[to_board_row(row, names[row.participant_id]) for row in rows],
            problems=[ProblemLabel(problem.problem_id, problem.label) for problem in board.rules.problems],
            marks=marks_of_rows(board.rules, rows),
        )

    # Freeze and reveal

    async def reveal_steps(self, contest_id: int) -> list[RevealMessage]:
        """Compute the award-ceremony reveal of the freeze period, as the unfreeze publishes (or published) it."""
        async with self.live.session_factory() as session:
            contest = await contests.find_contest(session, contest_id)
            if contest is None:
                raise LookupError(f"contest {contest_id} not found")
            board = await load_board(session, contest, contest.freeze_time)
        return reveal_messages(board)

    async def unfreeze(self, contest_id: int, now: datetime | None = None) -> contests.Transition:
        """Unfreeze the contest, bring the public rankings level with the jury's and publish the reveal feed."""
        now = now or utcnow()
        async with self._lock(contest_id), self.live.session_factory() as session:
            async with session.begin():
                await self._lock_across_processes(session, contest_id)
                contest = await contests.find_contest(session, contest_id, with_problems=True)
                if contest is None:
                    raise LookupError(f"contest {contest_id} not found")
                board = await load_board(session, contest, frozen_since(contest))
                transition = await contests.perform_action(session, contest, "unfreeze", now)

            messages = reveal_messages(board) if contests.has_started(contest, now) else []
            jury_rows = scoreboard(board.rules, board.participant_ids, board.attempts, JURY)  # type: ignore[arg-type]
            await self.live.rankings.rebuild(contest_id, PUBLIC, [(row.participant_id, row_key(row)) for row in jury_rows])
            channel = contest_channel(contest_id, CHANNEL_KIND[PUBLIC])
            for message in messages:
                await self.live.hub.publish(channel, "reveal", message)
        logger.info("contest %d unfrozen: %d reveal steps published", contest_id, len(messages))
        await contests.publish_contest_change(self.live, contest, transition)
        return transition


def _marks_from_attempts(rules: ContestRules, attempts: list[Attempt]) -> dict[str, list[FirstToSolve]]:
    participant_ids = sorted({attempt.participant_id for attempt in attempts})
    return {
        view: marks_of_rows(rules, scoreboard(rules, participant_ids, attempts, view))  # type: ignore[arg-type]
        for view in VIEWS
    }


def reveal_messages(board: BoardInput) -> list[RevealMessage]:
    """Turn the reveal feed into messages that carry the participant's whole public row after each step."""
    rules = board.rules
    names = {participant.participant_id: participant.username for participant in board.participants}
    by_participant: dict[int, list[Attempt]] = {}
    by_problem: dict[int, list[Attempt]] = {}
    for attempt in board.attempts:
        by_participant.setdefault(attempt.participant_id, []).append(attempt)
        by_problem.setdefault(attempt.problem_id, []).append(attempt)

    public_rows = scoreboard(rules, board.participant_ids, board.attempts, PUBLIC)
    marks = {mark.problem_id: mark for mark in marks_of_rows(rules, public_rows)}
    revealed: set[tuple[int, int]] = set()

    def shown(attempts: list[Attempt]) -> list[Attempt]:
        return [
            unfreeze([attempt])[0] if (attempt.participant_id, attempt.problem_id) in revealed else attempt
            for attempt in attempts
        ]

    messages = []
    for step in reveal_feed(rules, board.participant_ids, board.attempts):
        revealed.add((step.participant_id, step.problem_id))
        problem_rules = msgspec.structs.replace(rules, problems=[p for p in rules.problems if p.problem_id == step.problem_id])
        problem_attempts = shown(by_problem.get(step.problem_id, []))
        holders = sorted({attempt.participant_id for attempt in problem_attempts})
        marks[step.problem_id] = marks_of_rows(problem_rules, scoreboard(problem_rules, holders, problem_attempts, PUBLIC))[0]

        row = single_row(rules, step.participant_id, shown(by_participant.get(step.participant_id, [])), PUBLIC)
        apply_marks(row, list(marks.values()))
        row.rank = step.rank_after
        messages.append(
            RevealMessage(
                team_id=step.participant_id,
                username=names[step.participant_id],
                problem_id=step.problem_id,
                label=step.label,
                cell=step.cell,
                rank_before=step.rank_before,
                rank_after=step.rank_after,
                row=to_board_row(row, names[step.participant_id]),
                first_to_solve=[marks[step.problem_id]],
            )
        )
    return messages


def scoreboards_for(live: LiveContext) -> Scoreboards:
    """Return the Scoreboards registered on this LiveContext, and register one on first use."""
    for hook in live.on_judged:
        owner = getattr(hook, "__self__", None)
        if isinstance(owner, Scoreboards) and owner.live is live:
            return owner
    boards = Scoreboards(live)
    live.on_queued.append(boards.on_queued)
    live.on_judged.append(boards.on_judged)
    return boards


def register_contest_hooks(ctx: LiveContext) -> None:
    """Register the scoreboard hooks on a LiveContext; calling it again changes nothing."""
    scoreboards_for(ctx)

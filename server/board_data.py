"""Loading a contest's scoreboard input from the database: rules, participants, attempts.

An attempt is a contest submission of a registered, non-virtual participant,
made between the contest's start and end. Its contest time counts whole
seconds from the start, its verdict is None until the submission is judged, and
it is frozen when it was made at or after the freeze time while the contest is
not unfrozen. IOI scores are stored in the problem's test data points (the sum
of its test points), so they are scaled to the contest problem's points here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Contest, ContestProblem, Judging, Participant, Submission, SubmissionStatus, TestCase, User, Verdict
from realtime.scoring import Attempt, ContestRules, ProblemRef, to_hundredths

logger = logging.getLogger(__name__)

SECOND = timedelta(seconds=1)
REGISTERED = "registered"


@dataclass(frozen=True)
class ParticipantInfo:
    participant_id: int
    user_id: int
    username: str


@dataclass
class BoardInput:
    rules: ContestRules
    # Contest problem points divided by the test data's total points, per problem id (IOI only).
    scale: dict[int, float | None]
    participants: list[ParticipantInfo] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def participant_ids(self) -> list[int]:
        return [participant.participant_id for participant in self.participants]


def frozen_since(contest: Contest) -> datetime | None:
    """Return the time from which attempts are frozen, or None when nothing is frozen."""
    return contest.freeze_time if contest.unfrozen_at is None else None


async def load_rules(session: AsyncSession, contest: Contest) -> tuple[ContestRules, dict[int, float | None]]:
    entries = (
        await session.scalars(
            select(ContestProblem).where(ContestProblem.contest_id == contest.id).order_by(ContestProblem.position)
        )
    ).all()
    problems = [ProblemRef(entry.problem_id, entry.label, entry.points) for entry in entries]
    rules = ContestRules(
        scoring=contest.scoring,  # type: ignore[arg-type]
        problems=problems,
        penalty_minutes=contest.penalty_minutes,
        ioi_mode=contest.settings.get("ioi_mode", "best_of_groups"),
    )

    scale: dict[int, float | None] = {}
    if contest.scoring == "ioi" and problems:
        totals = dict(
            (
                await session.execute(
                    select(TestCase.problem_id, func.sum(TestCase.points))
                    .where(TestCase.problem_id.in_([problem.problem_id for problem in problems]))
                    .group_by(TestCase.problem_id)
                )
            ).all()
        )
        for problem in problems:
            total = totals.get(problem.problem_id) or 0.0
            scale[problem.problem_id] = problem.points / total if total > 0 else None
    return rules, scale


def official_participant_join(contest_id: int) -> ColumnElement[bool]:
    return and_(
        Participant.contest_id == contest_id,
        Participant.user_id == Submission.user_id,
        Participant.status == REGISTERED,
        Participant.is_virtual.is_(False),
    )


async def load_participants(session: AsyncSession, contest_id: int) -> list[ParticipantInfo]:
    """Registered, non-virtual participants, sorted by username: the display order of tied rows."""
    rows = await session.execute(
        select(Participant.id, Participant.user_id, User.username)
        .join(User, User.id == Participant.user_id)
        .where(Participant.contest_id == contest_id, Participant.status == REGISTERED, Participant.is_virtual.is_(False))
        .order_by(User.username, Participant.id)
    )
    return [ParticipantInfo(participant_id, user_id, username) for participant_id, user_id, username in rows.all()]


async def load_attempts(
    session: AsyncSession,
    contest: Contest,
    rules: ContestRules,
    scale: dict[int, float | None],
    *conditions: ColumnElement[bool],
    freeze: datetime | None = None,
) -> list[Attempt]:
    """Load the contest's attempts that match `conditions`, frozen from `freeze` on."""
    problem_ids = [problem.problem_id for problem in rules.problems]
    if not problem_ids:
        return []
    points = {problem.problem_id: problem.points for problem in rules.problems}
    query = (
        select(
            Submission.id,
            Participant.id,
            Submission.problem_id,
            Submission.created_at,
            Submission.status,
            Submission.verdict,
            Submission.score,
            Judging.group_scores,
        )
        .join(Participant, official_participant_join(contest.id))
        .outerjoin(Judging, and_(Judging.submission_id == Submission.id, Judging.attempt == Submission.attempt))
        .where(
            Submission.contest_id == contest.id,
            Submission.problem_id.in_(problem_ids),
            Submission.created_at >= contest.start_time,
            Submission.created_at < contest.end_time,
            *conditions,
        )
    )
    attempts = []
    for submission_id, participant_id, problem_id, created_at, status, verdict, score, group_scores in (
        await session.execute(query)
    ).all():
        judged = status == SubmissionStatus.JUDGED and verdict is not None
        attempt_verdict = verdict.value if judged else None
        attempt_score, attempt_groups = None, None
        if rules.scoring == "ioi" and judged:
            attempt_score, attempt_groups = _ioi_scores(
                submission_id, score, group_scores, scale.get(problem_id), points[problem_id]
            )
        attempts.append(
            Attempt(
                participant_id=participant_id,
                problem_id=problem_id,
                submission_id=submission_id,
                contest_time_s=(created_at - contest.start_time) // SECOND,
                verdict=attempt_verdict,
                score=attempt_score,
                group_scores=attempt_groups,
                frozen=freeze is not None and created_at >= freeze,
            )
        )
    return attempts


def _ioi_scores(
    submission_id: int, score: float | None, group_scores: dict | None, factor: float | None, points: float
) -> tuple[float | None, dict[str, float] | None]:
    """Scale a judging's scores to the contest problem's points, clamped so the scoring rules accept them."""
    if factor is None:
        # The test data has no points, so only the verdict counts (AC is worth the full points).
        return None, None
    scaled = None if score is None else min(max(score * factor, 0.0), points)
    if not group_scores:
        return scaled, None

    groups = {str(name): max(float(value) * factor, 0.0) for name, value in group_scores.items() if _is_number(value)}
    excess = sum(to_hundredths(value) for value in groups.values()) - to_hundredths(points)
    if excess > 0:
        # Rounding each group to hundredths can overshoot the total by a few hundredths.
        largest = max(groups, key=lambda name: groups[name])
        if excess > 5:
            logger.warning("submission %d: group scores exceed the problem's %s points; ignoring them", submission_id, points)
            return scaled, None
        groups[largest] = max(groups[largest] - excess / 100, 0.0)
    return scaled, groups


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


async def load_board(session: AsyncSession, contest: Contest, freeze: datetime | None) -> BoardInput:
    rules, scale = await load_rules(session, contest)
    board = BoardInput(rules, scale, await load_participants(session, contest.id))
    board.attempts = await load_attempts(session, contest, rules, scale, freeze=freeze)
    return board


async def first_solve_bounds(session: AsyncSession, contest: Contest, freeze: datetime | None) -> dict[int, datetime]:
    """Per problem, the end of the contest second of the earliest unfrozen AC.

    No attempt that starts at or after this bound can earn or block the first-to-solve mark,
    because that AC is solved in both views by then.
    """
    conditions = [
        Submission.contest_id == contest.id,
        Submission.status == SubmissionStatus.JUDGED,
        Submission.verdict == Verdict.AC,
        Submission.created_at >= contest.start_time,
        Submission.created_at < contest.end_time,
    ]
    if freeze is not None:
        conditions.append(Submission.created_at < freeze)
    rows = await session.execute(
        select(Submission.problem_id, func.min(Submission.created_at))
        .join(Participant, official_participant_join(contest.id))
        .where(*conditions)
        .group_by(Submission.problem_id)
    )
    bounds = {}
    for problem_id, earliest in rows.all():
        second = (earliest - contest.start_time) // SECOND
        bounds[problem_id] = contest.start_time + (second + 1) * SECOND
    return bounds


async def load_first_solve_attempts(
    session: AsyncSession,
    contest: Contest,
    rules: ContestRules,
    scale: dict[int, float | None],
    freeze: datetime | None,
    bounds: dict[int, datetime],
    problem_ids: list[int],
) -> list[Attempt]:
    """Load the attempts that decide the first-to-solve marks of `problem_ids`: all of a problem's
    attempts before its bound, or all of them when it has no bound yet."""
    if not problem_ids:
        return []
    scopes = [
        and_(Submission.problem_id == problem_id, Submission.created_at < bounds[problem_id])
        if problem_id in bounds
        else Submission.problem_id == problem_id
        for problem_id in problem_ids
    ]
    return await load_attempts(session, contest, rules, scale, or_(*scopes), freeze=freeze)

"""Practice statistics: solved problems per user, the global leaderboard, per-problem breakdowns.

A problem counts as solved by an accepted submission made in practice or in a
contest that has ended, on a problem anyone may read. Accepted submissions of
running contests stay out, so the leaderboard reveals nothing a frozen
scoreboard hides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Contest, ContestState, Difficulty, Problem, Submission, User, Verdict
from server.deps import is_staff
from server.problems import visibility_clause

# Leaderboard points per solved problem.
DIFFICULTY_POINTS = {Difficulty.EASY: 10, Difficulty.MEDIUM: 20, Difficulty.HARD: 40}

_ENDED = (ContestState.ENDED, ContestState.FINALIZED)


@dataclass(frozen=True)
class SolvedProblem:
    problem_id: int
    slug: str
    title: str
    difficulty: str
    solved_at: datetime


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    user_id: int
    username: str
    solved: int
    score: int


def counted_accepted():
    """Accepted submissions that count in practice statistics."""
    from server.contests import hidden_result_clause

    contest_over = exists().where(Contest.id == Submission.contest_id, Contest.state.in_(_ENDED))
    return and_(
        Submission.verdict == Verdict.AC,
        or_(Submission.contest_id.is_(None), contest_over),
        ~hidden_result_clause(),
    )


def _points():
    return case(*((Problem.difficulty == difficulty, points) for difficulty, points in DIFFICULTY_POINTS.items()), else_=0)


async def solved_problems(session: AsyncSession, user_id: int, viewer: User | None) -> list[SolvedProblem]:
    query = (
        select(Problem.id, Problem.slug, Problem.title, Problem.difficulty, func.min(Submission.created_at))
        .join(Submission, Submission.problem_id == Problem.id)
        .where(Submission.user_id == user_id, counted_accepted())
        .group_by(Problem.id, Problem.slug, Problem.title, Problem.difficulty)
        .order_by(func.min(Submission.created_at), Problem.id)
    )
    if not is_staff(viewer):
        query = query.where(visibility_clause(viewer))
    rows = (await session.execute(query)).all()
    return [SolvedProblem(pid, slug, title, difficulty.value, solved_at) for pid, slug, title, difficulty, solved_at in rows]


async def leaderboard(session: AsyncSession, page: int, per_page: int) -> tuple[list[LeaderboardRow], int]:
    """Rank users by problems solved, then score; equal (solved, score) pairs share a rank (1, 2, 2, 4)."""
    solved = (
        select(Submission.user_id, Submission.problem_id)
        .join(Problem, Problem.id == Submission.problem_id)
        .where(counted_accepted(), visibility_clause(None))
        .distinct()
        .subquery()
    )
    per_user = (
        select(
            solved.c.user_id.label("user_id"),
            func.count().label("solved"),
            func.sum(_points()).label("score"),
        )
        .join(Problem, Problem.id == solved.c.problem_id)
        .group_by(solved.c.user_id)
        .subquery()
    )
    ranked = (
        select(
            per_user.c.user_id,
            User.username,
            per_user.c.solved,
            per_user.c.score,
            func.rank().over(order_by=(per_user.c.solved.desc(), per_user.c.score.desc())).label("rank"),
        )
        .join(User, User.id == per_user.c.user_id)
        .where(User.is_active.is_(True))
        .subquery()
    )
    total = await session.scalar(select(func.count()).select_from(ranked)) or 0
    rows = (
        await session.execute(
            select(ranked).order_by(ranked.c.rank, ranked.c.username).offset((page - 1) * per_page).limit(per_page)
        )
    ).all()
    items = [LeaderboardRow(int(rank), user_id, username, int(count), int(score or 0)) for user_id, username, count, score, rank in rows]
    return items, total


async def verdict_breakdown(session: AsyncSession, problem_id: int) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Judged submissions of a problem by verdict, and by language then verdict.

    CE and IE are counted here, unlike in the problem's submission total. Results a scoreboard
    freeze hides stay out of both.
    """
    from server.contests import hidden_result_clause

    rows = (
        await session.execute(
            select(Submission.language, Submission.verdict, func.count())
            .where(Submission.problem_id == problem_id, Submission.verdict.is_not(None), ~hidden_result_clause())
            .group_by(Submission.language, Submission.verdict)
        )
    ).all()
    by_verdict: dict[str, int] = {}
    by_language: dict[str, dict[str, int]] = {}
    for language, verdict, count in rows:
        by_verdict[verdict.value] = by_verdict.get(verdict.value, 0) + count
        by_language.setdefault(language, {})[verdict.value] = count
    return by_verdict, by_language

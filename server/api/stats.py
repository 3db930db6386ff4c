"""Practice statistics: the global leaderboard, a user's solved problems, a problem's verdicts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User
from server.api.users import find_user
from server.deps import provide_optional_user
from server.problems import find_visible_problem, problem_stats
from server.stats import DIFFICULTY_POINTS, leaderboard, solved_problems, verdict_breakdown


class LeaderboardEntry(msgspec.Struct):
    rank: int
    user_id: int
    username: str
    solved: int
    score: int


class LeaderboardPage(msgspec.Struct):
    items: list[LeaderboardEntry]
    total: int
    page: int
    per_page: int
    # Score per solved problem by difficulty.
    points: dict[str, int]


class SolvedEntry(msgspec.Struct):
    problem_id: int
    slug: str
    title: str
    difficulty: str
    solved_at: datetime


class SolvedList(msgspec.Struct):
    user_id: int
    username: str
    total: int
    items: list[SolvedEntry]


class ProblemStatistics(msgspec.Struct):
    """Statistics of one problem; `submissions` leaves CE and IE out, `verdicts` and `languages` count them."""

    problem_id: int
    submissions: int
    accepted: int
    acceptance_rate: float
    solvers: int
    verdicts: dict[str, int]
    languages: dict[str, dict[str, int]]


class StatsController(Controller):
    path = "/api/v1"
    tags = ["statistics"]

    @get("/leaderboard")
    async def get_leaderboard(
        self,
        db_session: AsyncSession,
        page: Annotated[int, Parameter(ge=1, le=100000)] = 1,
        per_page: Annotated[int, Parameter(ge=1, le=100)] = 50,
    ) -> LeaderboardPage:
        rows, total = await leaderboard(db_session, page, per_page)
        items = [LeaderboardEntry(row.rank, row.user_id, row.username, row.solved, row.score) for row in rows]
        points = {difficulty.value: value for difficulty, value in DIFFICULTY_POINTS.items()}
        return LeaderboardPage(items, total, page, per_page, points)

    @get("/users/{id_or_username:str}/solved", dependencies={"current_user": Provide(provide_optional_user)})
    async def get_solved(self, id_or_username: str, db_session: AsyncSession, current_user: User | None) -> SolvedList:
        user = await find_user(db_session, id_or_username)
        solved = await solved_problems(db_session, user.id, current_user)
        items = [SolvedEntry(item.problem_id, item.slug, item.title, item.difficulty, item.solved_at) for item in solved]
        return SolvedList(user.id, user.username, len(items), items)

    @get("/problems/{problem_key:str}/stats", dependencies={"current_user": Provide(provide_optional_user)})
    async def get_problem_stats(self, problem_key: str, db_session: AsyncSession, current_user: User | None) -> ProblemStatistics:
        problem = await find_visible_problem(db_session, current_user, problem_key)
        if problem is None:
            raise NotFoundException(f"problem {problem_key!r} not found")
        stats = (await problem_stats(db_session, [problem.id])).get(problem.id)
        verdicts, languages = await verdict_breakdown(db_session, problem.id)
        return ProblemStatistics(
            problem_id=problem.id,
            submissions=stats.submissions if stats else 0,
            accepted=stats.accepted if stats else 0,
            acceptance_rate=stats.acceptance_rate if stats else 0.0,
            solvers=stats.solvers if stats else 0,
            verdicts=verdicts,
            languages=languages,
        )

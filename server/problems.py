"""Problems: visibility rules, test data storage, statistics."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import case, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.blobs import BlobStore
from db.models import (
    Blob,
    Contest,
    ContestProblem,
    ContestState,
    Participant,
    Problem,
    Submission,
    TestCase,
    TestGroup,
    User,
    Verdict,
    utcnow,
)
from judge import function_style
from judge.job import FUNCTION_CHECKER
from server.deps import is_staff

logger = logging.getLogger(__name__)

STARTED_STATES = (ContestState.RUNNING, ContestState.FROZEN, ContestState.ENDED, ContestState.FINALIZED)


def takes_language(problem: Problem, language_id: str) -> bool:
    """Return whether the problem takes submissions in the language, because function-style problems take only some."""
    return problem.checker != FUNCTION_CHECKER or language_id in function_style.SUPPORTED_LANGUAGES


@dataclass(frozen=True)
class NewTest:
    input: bytes
    answer: bytes
    is_sample: bool = False
    points: float = 0.0
    group: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class ProblemStats:
    submissions: int
    accepted: int
    solvers: int

    @property
    def acceptance_rate(self) -> float:
        return round(100.0 * self.accepted / self.submissions, 1) if self.submissions else 0.0


def visibility_clause(user: User | None):
    """SQL condition for problems this user may read: public ones, or those of a started contest."""
    now = utcnow()
    started_contest = exists().where(
        ContestProblem.problem_id == Problem.id,
        Contest.id == ContestProblem.contest_id,
        Contest.state.in_(STARTED_STATES),
        Contest.start_time <= now,
    )
    if user is not None:
        organizer_of_contest = exists().where(
            ContestProblem.problem_id == Problem.id,
            Contest.id == ContestProblem.contest_id,
            Contest.created_by_id == user.id,
        )
        return Problem.is_public.is_(True) | started_contest | organizer_of_contest
    return Problem.is_public.is_(True) | started_contest


async def find_visible_problem(session: AsyncSession, user: User | None, id_or_slug: str) -> Problem | None:
    key = Problem.id == int(id_or_slug) if id_or_slug.isdigit() else Problem.slug == id_or_slug.lower()
    query = select(Problem).where(key)
    if not is_staff(user):
        query = query.where(visibility_clause(user))
    return await session.scalar(query)


async def is_participant(session: AsyncSession, user: User, contest_id: int) -> bool:
    found = await session.scalar(
        select(Participant.id).where(Participant.contest_id == contest_id, Participant.user_id == user.id)
    )
    return found is not None


async def store_tests(session: AsyncSession, blobs: BlobStore, problem: Problem, tests: list[NewTest]) -> None:
    """Replace the problem's test data; files go to the blob store, metadata to the database."""
    await session.execute(delete(TestCase).where(TestCase.problem_id == problem.id))
    await session.execute(delete(TestGroup).where(TestGroup.problem_id == problem.id))

    groups: dict[str, TestGroup] = {}
    for position, test in enumerate(tests, start=1):
        input_sha = await asyncio.to_thread(blobs.put_bytes, test.input)
        answer_sha = await asyncio.to_thread(blobs.put_bytes, test.answer)
        for sha, size in ((input_sha, len(test.input)), (answer_sha, len(test.answer))):
            if await session.get(Blob, sha) is None:
                session.add(Blob(sha256=sha, size=size))
                await session.flush()

        group_name = test.group or ("sample" if test.is_sample else "secret")
        group = groups.get(group_name)
        if group is None:
            group = TestGroup(problem_id=problem.id, name=group_name, position=len(groups), is_sample=test.is_sample)
            session.add(group)
            await session.flush()
            groups[group_name] = group
        group.points += test.points

        session.add(
            TestCase(
                problem_id=problem.id,
                group_id=group.id,
                name=test.name or f"{group_name}/{position:03d}",
                position=position,
                is_sample=test.is_sample,
                points=test.points,
                input_sha256=input_sha,
                answer_sha256=answer_sha,
                input_size=len(test.input),
                answer_size=len(test.answer),
            )
        )
    problem.version += 1
    logger.info("stored %d tests for problem %d (version %d)", len(tests), problem.id, problem.version)


async def problem_stats(session: AsyncSession, problem_ids: list[int]) -> dict[int, ProblemStats]:
    from server.contests import hidden_result_clause

    if not problem_ids:
        return {}
    judged = Submission.verdict.is_not(None) & Submission.verdict.not_in((Verdict.CE, Verdict.IE))
    accepted = Submission.verdict == Verdict.AC
    rows = await session.execute(
        select(
            Submission.problem_id,
            func.count(case((judged, 1))),
            func.count(case((accepted, 1))),
            func.count(func.distinct(case((accepted, Submission.user_id)))),
        )
        # Results hidden by a scoreboard freeze stay out of the statistics too.
        .where(Submission.problem_id.in_(problem_ids), ~hidden_result_clause())
        .group_by(Submission.problem_id)
    )
    return {pid: ProblemStats(total, ok, solvers) for pid, total, ok, solvers in rows.all()}


async def problem_in_contest(session: AsyncSession, problem_id: int) -> bool:
    found = await session.scalar(select(ContestProblem.id).where(ContestProblem.problem_id == problem_id).limit(1))
    return found is not None


"""Routes under /api/v1/submissions: submit, read, list, rejudge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Parameter
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import Contest, Judging, Problem, Submission, SubmissionStatus, User, Verdict
from judge import function_style
from server.api.languages import language_for_submission
from server.deps import is_staff, provide_current_user, provide_optional_user, require_staff
from server.errors import TooManyRequestsError
from server.problems import find_visible_problem, takes_language, visibility_clause
from server.ratelimit import retry_after_header
from server.submissions import (
    ENDED_STATES,
    announce_queued,
    check_contest_entry,
    check_practice_entry,
    check_source,
    create_submission,
    faster_than_percent,
    field_error,
    start_rejudge,
)

# Submissions a problem rejudge may touch in one request.
MAX_PROBLEM_REJUDGE = 5000


class SubmissionCreate(msgspec.Struct, forbid_unknown_fields=True):
    problem_id: Annotated[int, msgspec.Meta(ge=1)]
    language: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    code: str
    contest_id: Annotated[int, msgspec.Meta(ge=1)] | None = None


class Queued(msgspec.Struct):
    id: int
    status: str
    attempt: int


class TestResultView(msgspec.Struct):
    """One finished test; `index` counts from 1 in the order the tests run."""

    __test__ = False  # not a pytest test class

    index: int
    name: str
    group: str | None
    verdict: str
    time_ms: int
    wall_ms: int
    memory_kb: int
    score: float | None


class JudgingView(msgspec.Struct):
    attempt: int
    status: str
    verdict: str | None
    score: float | None
    execution_time_ms: int | None
    memory_used_kb: int | None
    test_cases_passed: int | None
    test_cases_total: int | None
    compile_output: str | None
    internal_error: str | None
    worker: str | None
    requested_by_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    tests: list[TestResultView]


class SubmissionSummary(msgspec.Struct, omit_defaults=True):
    id: int
    user_id: int
    username: str
    problem_id: int
    problem_slug: str
    contest_id: int | None
    language: str
    status: str
    attempt: int
    verdict: str | None
    score: float | None
    execution_time_ms: int | None
    memory_used_kb: int | None
    test_cases_passed: int | None
    test_cases_total: int | None
    created_at: datetime
    judged_at: datetime | None
    # Staff listings with include_code only.
    code: str | None = None


class SubmissionDetail(SubmissionSummary, omit_defaults=True):
    """A submission; the author and staff also get the code, compile output and per-test results."""

    faster_than_percent: float | None = None
    compile_output: str | None = None
    tests: list[TestResultView] | None = None
    # Organizers and admins only.
    error_message: str | None = None
    internal_error: str | None = None
    judgings: list[JudgingView] | None = None


class SubmissionPage(msgspec.Struct):
    items: list[SubmissionSummary]
    total: int
    page: int
    per_page: int


class RejudgeStarted(msgspec.Struct):
    submission_ids: list[int]
    count: int


def summary_fields(submission: Submission, username: str, problem_slug: str) -> dict[str, Any]:
    return {
        "id": submission.id,
        "user_id": submission.user_id,
        "username": username,
        "problem_id": submission.problem_id,
        "problem_slug": problem_slug,
        "contest_id": submission.contest_id,
        "language": submission.language,
        "status": submission.status.value,
        "attempt": submission.attempt,
        "verdict": submission.verdict.value if submission.verdict else None,
        "score": submission.score,
        "execution_time_ms": submission.execution_time_ms,
        "memory_used_kb": submission.memory_used_kb,
        "test_cases_passed": submission.test_cases_passed,
        "test_cases_total": submission.test_cases_total,
        "created_at": submission.created_at,
        "judged_at": submission.judged_at,
    }


def _test_views(judging: Judging) -> list[TestResultView]:
    return [
        TestResultView(
            index=result.position,
            name=result.name,
            group=result.group,
            verdict=result.verdict.value,
            time_ms=result.time_ms,
            wall_ms=result.wall_ms,
            memory_kb=result.memory_kb,
            score=result.score,
        )
        for result in judging.test_results
    ]


def _judging_view(judging: Judging) -> JudgingView:
    return JudgingView(
        attempt=judging.attempt,
        status=judging.status.value,
        verdict=judging.verdict.value if judging.verdict else None,
        score=judging.score,
        execution_time_ms=judging.execution_time_ms,
        memory_used_kb=judging.memory_used_kb,
        test_cases_passed=judging.test_cases_passed,
        test_cases_total=judging.test_cases_total,
        compile_output=judging.compile_output,
        internal_error=judging.internal_error,
        worker=judging.worker,
        requested_by_id=judging.requested_by_id,
        created_at=judging.created_at,
        started_at=judging.started_at,
        finished_at=judging.finished_at,
        tests=_test_views(judging),
    )


def public_clause(viewer: User | None):
    """Submissions anyone may see: practice or from an ended and unfrozen contest, on a problem visible to the viewer."""
    from server.contests import hidden_result_clause

    contest_over = exists().where(Contest.id == Submission.contest_id, Contest.state.in_(ENDED_STATES))
    return and_(or_(Submission.contest_id.is_(None), contest_over), ~hidden_result_clause(), visibility_clause(viewer))


def readable_clause(viewer: User | None):
    if is_staff(viewer):
        return None
    if viewer is None:
        return public_clause(None)
    return or_(Submission.user_id == viewer.id, public_clause(viewer))


async def submission_detail(session: AsyncSession, submission_id: int, viewer: User | None) -> SubmissionDetail:
    """Build the submission as `viewer` may see it; raise 404 when the viewer may not see it at all."""
    query = (
        select(Submission, User.username, Problem.slug)
        .join(User, User.id == Submission.user_id)
        .join(Problem, Problem.id == Submission.problem_id)
        .where(Submission.id == submission_id)
        .options(selectinload(Submission.judgings).selectinload(Judging.test_results))
        .execution_options(populate_existing=True)
    )
    clause = readable_clause(viewer)
    if clause is not None:
        query = query.where(clause)
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFoundException(f"submission {submission_id} not found")
    submission, username, slug = row

    detail = SubmissionDetail(**summary_fields(submission, username, slug))
    detail.faster_than_percent = await faster_than_percent(session, submission)
    if viewer is None or (viewer.id != submission.user_id and not is_staff(viewer)):
        return detail

    current = next((judging for judging in submission.judgings if judging.attempt == submission.attempt), None)
    detail.code = submission.code
    detail.tests = _test_views(current) if current else []
    detail.compile_output = current.compile_output if current else None
    if is_staff(viewer):
        detail.error_message = submission.error_message
        detail.internal_error = current.internal_error if current else None
        detail.judgings = [_judging_view(judging) for judging in submission.judgings]
    return detail


async def _find_user_id(session: AsyncSession, key: str) -> int | None:
    if key.isdigit():
        return int(key)
    return await session.scalar(select(User.id).where(func.lower(User.username) == key.lower()))


async def _find_problem_id(session: AsyncSession, key: str) -> int | None:
    if key.isdigit():
        return int(key)
    return await session.scalar(select(Problem.id).where(Problem.slug == key.lower()))


class SubmissionsController(Controller):
    path = "/api/v1/submissions"
    tags = ["submissions"]

    @post("/", dependencies={"current_user": Provide(provide_current_user)})
    async def submit(
        self, data: SubmissionCreate, state: State, db_session: AsyncSession, current_user: User
    ) -> Response[Queued]:
        await language_for_submission(state, data.language)
        check_source(data.code, state.settings.limits.max_source_bytes)
        problem = await find_visible_problem(db_session, current_user, str(data.problem_id))
        if problem is None:
            raise NotFoundException(f"problem {data.problem_id} not found", extra={"field": "problem_id"})
        if not takes_language(problem, data.language):
            accepted = " or ".join(function_style.SUPPORTED_LANGUAGES)
            raise field_error("language", f"problem {problem.slug!r} is function-style and takes {accepted}, not {data.language!r}")
        if data.contest_id is not None:
            await check_contest_entry(db_session, current_user, data.contest_id, problem)
        elif not is_staff(current_user):
            await check_practice_entry(db_session, problem)

        wait_s = await state.rate_limiter.acquire(f"submit:{current_user.id}")
        if wait_s > 0:
            limit = state.settings.limits.submissions_per_minute
            raise TooManyRequestsError(
                f"rate limit of {limit} submissions per minute reached; retry in {retry_after_header(wait_s)} s",
                headers={"Retry-After": retry_after_header(wait_s)},
            )

        submission = await create_submission(db_session, current_user, problem, data.language, data.code, data.contest_id)
        await announce_queued(state.live, state.judge_queue, [submission])
        return Response(Queued(submission.id, SubmissionStatus.QUEUED.value, submission.attempt), status_code=202)

    @get("/{submission_id:int}", dependencies={"current_user": Provide(provide_optional_user)})
    async def get_submission(self, submission_id: int, db_session: AsyncSession, current_user: User | None) -> SubmissionDetail:
        return await submission_detail(db_session, submission_id, current_user)

    @get("/", dependencies={"current_user": Provide(provide_optional_user)})
    async def list_submissions(
        self,
        db_session: AsyncSession,
        current_user: User | None,
        user: Annotated[str | None, Parameter(max_length=32, description="User id or username.")] = None,
        problem: Annotated[str | None, Parameter(max_length=64, description="Problem id or slug.")] = None,
        contest: Annotated[int | None, Parameter(ge=1)] = None,
        verdict: Verdict | None = None,
        language: Annotated[str | None, Parameter(max_length=32)] = None,
        status: SubmissionStatus | None = None,
        include_code: bool = False,
        page: Annotated[int, Parameter(ge=1, le=100000)] = 1,
        per_page: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> SubmissionPage:
        if include_code and not is_staff(current_user):
            raise PermissionDeniedException("include_code needs the organizer or admin role")
        query = (
            select(Submission, User.username, Problem.slug)
            .join(User, User.id == Submission.user_id)
            .join(Problem, Problem.id == Submission.problem_id)
        )
        clause = readable_clause(current_user)
        if clause is not None:
            query = query.where(clause)

        empty = SubmissionPage([], 0, page, per_page)
        if user is not None:
            user_id = await _find_user_id(db_session, user)
            if user_id is None:
                return empty
            query = query.where(Submission.user_id == user_id)
        if problem is not None:
            problem_id = await _find_problem_id(db_session, problem)
            if problem_id is None:
                return empty
            query = query.where(Submission.problem_id == problem_id)
        if contest is not None:
            query = query.where(Submission.contest_id == contest)
        if verdict is not None:
            query = query.where(Submission.verdict == verdict)
        if language:
            query = query.where(Submission.language == language)
        if status is not None:
            query = query.where(Submission.status == status)

        total = await db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = (await db_session.execute(query.order_by(Submission.id.desc()).offset((page - 1) * per_page).limit(per_page))).all()
        items = []
        for submission, username, slug in rows:
            item = SubmissionSummary(**summary_fields(submission, username, slug))
            if include_code:
                item.code = submission.code
            items.append(item)
        return SubmissionPage(items, total, page, per_page)

    @post("/{submission_id:int}/rejudge", status_code=202, dependencies={"current_user": Provide(provide_current_user)})
    async def rejudge_submission(
        self, submission_id: int, state: State, db_session: AsyncSession, current_user: User
    ) -> Queued:
        require_staff(current_user)
        submission = await db_session.get(Submission, submission_id, with_for_update=True)
        if submission is None:
            raise NotFoundException(f"submission {submission_id} not found")
        await start_rejudge(db_session, [submission], current_user)
        await announce_queued(state.live, state.judge_queue, [submission])
        return Queued(submission.id, submission.status.value, submission.attempt)


class ProblemRejudgeController(Controller):
    path = "/api/v1/problems"
    tags = ["submissions"]

    @post("/{problem_key:str}/rejudge", status_code=202, dependencies={"current_user": Provide(provide_current_user)})
    async def rejudge_problem(
        self,
        problem_key: str,
        state: State,
        db_session: AsyncSession,
        current_user: User,
        verdict: Verdict | None = None,
        contest: Annotated[int | None, Parameter(ge=1)] = None,
    ) -> RejudgeStarted:
        """Rejudge every submission of a problem, optionally only those with one verdict or of one contest."""
        require_staff(current_user)
        problem_id = await _find_problem_id(db_session, problem_key)
        if problem_id is None or await db_session.get(Problem, problem_id) is None:
            raise NotFoundException(f"problem {problem_key!r} not found")
        query = select(Submission).where(Submission.problem_id == problem_id)
        if verdict is not None:
            query = query.where(Submission.verdict == verdict)
        if contest is not None:
            query = query.where(Submission.contest_id == contest)
        count = await db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
        if count > MAX_PROBLEM_REJUDGE:
            raise field_error(
                "verdict", f"{count} submissions match, at most {MAX_PROBLEM_REJUDGE} per request; filter by verdict or contest"
            )
        submissions = (await db_session.scalars(query.order_by(Submission.id).with_for_update())).all()
        await start_rejudge(db_session, submissions, current_user)
        await announce_queued(state.live, state.judge_queue, submissions)
        ids = [submission.id for submission in submissions]
        return RejudgeStarted(ids, len(ids))

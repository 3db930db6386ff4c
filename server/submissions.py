"""Submissions: entry rules, queueing, rejudges, start-up recovery and live events."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException, ValidationException
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Contest,
    ContestProblem,
    ContestState,
    Judging,
    Participant,
    Problem,
    Submission,
    SubmissionStatus,
    User,
    Verdict,
    utcnow,
)
from server.errors import ConflictError
from server.live import LiveContext, submission_channel, user_channel
from server.queue import Job, JudgeQueue

logger = logging.getLogger(__name__)

RUNNING_STATES = (ContestState.RUNNING, ContestState.FROZEN)
ENDED_STATES = (ContestState.ENDED, ContestState.FINALIZED)
UNFINISHED = (SubmissionStatus.QUEUED, SubmissionStatus.JUDGING)


class PayloadTooLargeError(HTTPException):
    status_code = 413


def field_error(field: str, message: str) -> ValidationException:
    return ValidationException(f"invalid field {field}: {message}", extra=[{"key": field, "message": message, "source": "body"}])


def check_source(code: str, max_bytes: int) -> None:
    size = len(code.encode())
    if size > max_bytes:
        raise PayloadTooLargeError(
            f"invalid field code: the source is {size} bytes, the maximum is {max_bytes}", extra={"field": "code"}
        )
    if not code.strip():
        raise field_error("code", "the source is empty")
    if "\x00" in code:
        raise field_error("code", "the source contains a NUL character")


async def check_contest_entry(session: AsyncSession, user: User, contest_id: int, problem: Problem) -> None:
    """Allow a contest submission only from a registered participant, while the contest runs, on one of its problems."""
    contest = await session.get(Contest, contest_id)
    if contest is None:
        raise NotFoundException(f"contest {contest_id} not found", extra={"field": "contest_id"})

    participant = await session.scalar(
        select(Participant).where(Participant.contest_id == contest_id, Participant.user_id == user.id)
    )
    if participant is None or participant.status != "registered":
        raise PermissionDeniedException(
            f"you are not registered for contest {contest_id}; register first", extra={"field": "contest_id"}
        )

    now = utcnow()
    if contest.state in ENDED_STATES or now >= contest.end_time:
        hint = "; submit without contest_id to practice" if contest.practice_after_end else ""
        raise ConflictError(f"contest {contest_id} has ended{hint}", extra={"field": "contest_id"})
    if contest.state not in RUNNING_STATES or now < contest.start_time:
        raise ConflictError(
            f"contest {contest_id} has not started (state {contest.state.value}); submissions open at its start, "
            f"{contest.start_time.isoformat()}",
            extra={"field": "contest_id"},
        )

    in_contest = await session.scalar(
        select(ContestProblem.id).where(ContestProblem.contest_id == contest_id, ContestProblem.problem_id == problem.id)
    )
    if in_contest is None:
        raise field_error("problem_id", f"problem {problem.id} is not part of contest {contest_id}")


async def check_practice_entry(session: AsyncSession, problem: Problem) -> None:
    """Reject a practice submission on a hidden problem while its contest runs: it belongs on the scoreboard."""
    if problem.is_public:
        return
    running = (
        await session.scalars(
            select(Contest.id)
            .join(ContestProblem, ContestProblem.contest_id == Contest.id)
            .where(ContestProblem.problem_id == problem.id, Contest.state.in_(RUNNING_STATES), Contest.end_time > utcnow())
        )
    ).all()
    if running:
        raise ConflictError(
            f"problem {problem.id} is part of running contest {running[0]}; submit with contest_id {running[0]}",
            extra={"field": "contest_id"},
        )


def live_summary(submission: Submission) -> dict[str, Any]:
    """Return the verdict fields of a submission as live events carry them."""
    return {
        "submission_id": submission.id,
        "attempt": submission.attempt,
        "status": submission.status.value,
        "verdict": submission.verdict.value if submission.verdict else None,
        "score": submission.score,
        "execution_time_ms": submission.execution_time_ms,
        "memory_used_kb": submission.memory_used_kb,
        "test_cases_passed": submission.test_cases_passed,
        "test_cases_total": submission.test_cases_total,
        "judged_at": submission.judged_at.isoformat() if submission.judged_at else None,
    }


async def publish_event(live: LiveContext, submission_id: int, user_id: int, type: str, data: dict[str, Any]) -> None:
    """Publish one event on the submission's and its author's channels; a failure is logged, never raised."""
    for channel in (submission_channel(submission_id), user_channel(user_id)):
        try:
            await live.hub.publish(channel, type, data)
        except Exception as exc:  # noqa: BLE001 - the result is in the database; only the live view misses it
            logger.warning("cannot publish %s of submission %d on %s: %s", type, submission_id, channel, exc)


async def run_hooks(live: LiveContext, hooks: Sequence, submission_id: int, what: str) -> None:
    for hook in hooks:
        try:
            await hook(live, submission_id)
        except Exception:
            logger.exception("%s hook %r failed for submission %d", what, hook, submission_id)


async def create_submission(
    session: AsyncSession,
    user: User,
    problem: Problem,
    language: str,
    code: str,
    contest_id: int | None,
) -> Submission:
    """Insert the submission with status QUEUED and its first judging, and commit."""
    submission = Submission(
        user_id=user.id,
        problem_id=problem.id,
        contest_id=contest_id,
        language=language,
        code=code,
        status=SubmissionStatus.QUEUED,
        attempt=1,
    )
    session.add(submission)
    await session.flush()
    session.add(Judging(submission_id=submission.id, attempt=1, status=SubmissionStatus.QUEUED))
    await session.commit()
    logger.info(
        "submission %d queued: user %d, problem %d, contest %s, language %s",
        submission.id, user.id, problem.id, contest_id, language,
    )  # fmt: skip
    return submission


async def announce_queued(live: LiveContext, queue: JudgeQueue, submissions: Iterable[Submission]) -> None:
    """Enqueue committed submissions, publish `queued` and run the on_queued hooks.

    An enqueue that fails leaves the submission QUEUED in the database, where
    recovery finds it (at start-up, and periodically with Redis).
    """
    submissions = list(submissions)
    try:
        await queue.enqueue_many(Job(submission.id, submission.attempt) for submission in submissions)
    except Exception as exc:  # noqa: BLE001
        ids = [submission.id for submission in submissions]
        logger.error("cannot enqueue submissions %s (%s); recovery requeues them", ids, exc)
    for submission in submissions:
        await publish_event(live, submission.id, submission.user_id, "queued", live_summary(submission))
        await run_hooks(live, live.on_queued, submission.id, "on_queued")


async def start_rejudge(session: AsyncSession, submissions: Sequence[Submission], requested_by: User) -> None:
    """Add a judging attempt to each submission and make it current; the old attempts stay as history."""
    if not submissions:
        return
    ids = [submission.id for submission in submissions]
    latest = dict(
        (
            await session.execute(
                select(Judging.submission_id, func.max(Judging.attempt))
                .where(Judging.submission_id.in_(ids))
                .group_by(Judging.submission_id)
            )
        ).all()
    )
    for submission in submissions:
        attempt = max(latest.get(submission.id, 0), submission.attempt) + 1
        session.add(
            Judging(
                submission_id=submission.id,
                attempt=attempt,
                status=SubmissionStatus.QUEUED,
                requested_by_id=requested_by.id,
            )
        )
        reset_to_queued(submission, attempt)
    await session.commit()
    logger.info("rejudge of %d submissions requested by user %d: %s", len(ids), requested_by.id, ids[:20])


def reset_to_queued(submission: Submission, attempt: int) -> None:
    submission.attempt = attempt
    submission.status = SubmissionStatus.QUEUED
    submission.verdict = None
    submission.score = None
    submission.execution_time_ms = None
    submission.memory_used_kb = None
    submission.test_cases_passed = None
    submission.test_cases_total = None
    submission.error_message = None
    submission.judged_at = None


async def recover_unfinished(live: LiveContext, queue: JudgeQueue, *, reset_running: bool, min_age_s: float = 0.0) -> int:
    """Requeue every judging left QUEUED or JUDGING that the queue does not hold.

    `reset_running` is for embedded mode, where this process is the only judge:
    a JUDGING row there belongs to a process that died. With Redis, workers on
    other machines may be alive, so their leases decide instead.
    """
    async with live.session_factory() as session:
        if reset_running:
            await session.execute(
                update(Judging)
                .where(Judging.status == SubmissionStatus.JUDGING)
                .values(status=SubmissionStatus.QUEUED, worker=None, lease_expires_at=None)
            )
            await session.execute(
                update(Submission)
                .where(Submission.status == SubmissionStatus.JUDGING)
                .values(status=SubmissionStatus.QUEUED)
            )
            await session.commit()
        query = select(Judging.submission_id, Judging.attempt).where(Judging.status.in_(UNFINISHED))
        if min_age_s > 0:
            query = query.where(Judging.created_at <= utcnow() - timedelta(seconds=min_age_s))
        rows = (await session.execute(query.order_by(Judging.id))).all()

    waiting = await queue.waiting_jobs()
    jobs = [Job(submission_id, attempt) for submission_id, attempt in rows]
    missing = [job for job in jobs if waiting is None or job not in waiting]
    if missing:
        await queue.enqueue_many(missing)
        logger.info("requeued %d unfinished judgings, first %s", len(missing), missing[0])
    return len(missing)


async def faster_than_percent(session: AsyncSession, submission: Submission) -> float | None:
    """Share of the other accepted submissions (same problem and language) that took more CPU time; None without any."""
    if submission.verdict != Verdict.AC or submission.execution_time_ms is None:
        return None
    same = (
        Submission.problem_id == submission.problem_id,
        Submission.language == submission.language,
        Submission.verdict == Verdict.AC,
        Submission.execution_time_ms.is_not(None),
        Submission.id != submission.id,
    )
    others = await session.scalar(select(func.count()).where(*same)) or 0
    if not others:
        return None
    slower = await session.scalar(select(func.count()).where(*same, Submission.execution_time_ms > submission.execution_time_ms)) or 0
    return round(100.0 * slower / others, 1)

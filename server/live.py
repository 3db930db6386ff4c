"""What code outside a request needs to store results and publish them live.

The server builds one `LiveContext` at start-up; a standalone judge worker
builds its own from the same settings, so both run the same result hooks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.blobs import BlobStore
from realtime.hub import Hub
from realtime.rankings import Rankings
from server.settings import Settings

# Called with the submission id after a submission is queued or judged.
SubmissionHook = Callable[["LiveContext", int], Awaitable[None]]


@dataclass
class LiveContext:
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    hub: Hub
    rankings: Rankings
    blobs: BlobStore
    on_queued: list[SubmissionHook] = field(default_factory=list)
    on_judged: list[SubmissionHook] = field(default_factory=list)


def submission_channel(submission_id: int) -> str:
    return f"submission:{submission_id}"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


def contest_channel(contest_id: int, kind: str) -> str:
    """Channel of a contest: kind is scoreboard (public), jury or events."""
    return f"contest:{contest_id}:{kind}"

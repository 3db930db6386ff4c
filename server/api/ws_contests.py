"""Live contest channels over WebSocket: public scoreboard, jury scoreboard, contest events.

Each socket gets a snapshot (or the envelopes it missed, with `?since=SEQ`) and
then the channel's deltas; see realtime.ws for the protocol. A contest that
does not exist, or is a draft, is refused before the upgrade with 404. The jury
channel takes the access token in the `Sec-WebSocket-Protocol` header as
`bearer, <token>`, so the token stays out of URLs and access logs, and the
server accepts with the `bearer` subprotocol.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.datastructures import State
from sqlalchemy import select

from db.models import Clarification, ContestState, User, utcnow
from realtime.ws import parse_since, serve_channel
from server import clarifications, contests
from server.live import contest_channel
from server.scoreboard import JURY, PUBLIC, scoreboards_for
from server.security import InvalidTokenError

logger = logging.getLogger(__name__)

BEARER_SUBPROTOCOL = "bearer"


def bearer_token_from_subprotocols(header: str | None) -> str | None:
    """Return the token of a `Sec-WebSocket-Protocol: bearer, <token>` header, or None when it has another form."""
    if not header:
        return None
    parts = [part.strip() for part in header.split(",")]
    if len(parts) != 2 or parts[0].lower() != BEARER_SUBPROTOCOL or not parts[1]:
        return None
    return parts[1]


class _AcceptWithSubprotocol:
    """The socket, accepted with a chosen subprotocol; browsers drop a socket whose offered subprotocol is ignored."""

    def __init__(self, socket: WebSocket, subprotocol: str) -> None:
        self._socket = socket
        self._subprotocol = subprotocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._socket, name)

    async def accept(self, *args: Any, **kwargs: Any) -> None:
        await self._socket.accept(subprotocols=self._subprotocol)


async def deny(socket: WebSocket, status: int, detail: str) -> None:
    """Refuse the upgrade with an HTTP error response, or close with 4000 + status where the server cannot send one."""
    message = await socket.receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in (socket.scope.get("extensions") or {}):
        body = msgspec.json.encode({"title": "WebSocket refused", "status": status, "detail": detail})
        await socket.send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await socket.send({"type": "websocket.http.response.body", "body": body, "more_body": False})
        return
    await socket.send({"type": "websocket.close", "code": 4000 + status, "reason": detail})


async def _published_contest(state: State, contest_id: int):
    async with state.live.session_factory() as session:
        contest = await contests.find_contest(session, contest_id)
    if contest is None or contest.state == ContestState.DRAFT:
        return None
    return contest


async def _jury_user(state: State, socket: WebSocket, contest_id: int) -> tuple[int, str]:
    """Return (status, detail) for a refused jury socket, or (0, "") for an organizer of the contest."""
    token = bearer_token_from_subprotocols(socket.headers.get("sec-websocket-protocol"))
    if token is None:
        return 401, "send the access token as the subprotocols `bearer, <token>`"
    try:
        claims = state.access_tokens.decode(token)
    except InvalidTokenError:
        return 401, "invalid or expired access token; log in again"
    async with state.live.session_factory() as session:
        user = await session.get(User, int(claims["sub"]))
        if user is None or not user.is_active:
            return 401, "invalid or expired access token; log in again"
        if not await contests.is_contest_organizer(session, user, contest_id):
            return 403, "the jury scoreboard is for the contest's organizers and admins"
    return 0, ""


async def _serve_scoreboard(socket: WebSocket, state: State, contest_id: int, view: str) -> None:
    boards = scoreboards_for(state.live)
    channel = contest_channel(contest_id, "scoreboard" if view == PUBLIC else "jury")

    async def snapshot() -> Any:
        return await boards.snapshot(contest_id, view)

    target = socket if view == PUBLIC else _AcceptWithSubprotocol(socket, BEARER_SUBPROTOCOL)
    await serve_channel(target, state.hub, channel, snapshot, parse_since(socket.query_params.get("since")))  # type: ignore[arg-type]


@websocket("/ws/contests/{contest_id:int}/scoreboard")
async def scoreboard_socket(socket: WebSocket, contest_id: int, state: State) -> None:
    if await _published_contest(state, contest_id) is None:
        await deny(socket, 404, f"contest {contest_id} not found")
        return
    await _serve_scoreboard(socket, state, contest_id, PUBLIC)


@websocket("/ws/contests/{contest_id:int}/jury")
async def jury_socket(socket: WebSocket, contest_id: int, state: State) -> None:
    if await _published_contest(state, contest_id) is None:
        await deny(socket, 404, f"contest {contest_id} not found")
        return
    status, detail = await _jury_user(state, socket, contest_id)
    if status:
        await deny(socket, status, detail)
        return
    await _serve_scoreboard(socket, state, contest_id, JURY)


@websocket("/ws/contests/{contest_id:int}/events")
async def events_socket(socket: WebSocket, contest_id: int, state: State) -> None:
    if await _published_contest(state, contest_id) is None:
        await deny(socket, 404, f"contest {contest_id} not found")
        return

    async def snapshot() -> Any:
        async with state.live.session_factory() as session:
            contest = await contests.find_contest(session, contest_id)
            if contest is None:
                return None
            public = (
                await session.scalars(
                    select(Clarification)
                    .where(Clarification.contest_id == contest_id, Clarification.is_public.is_(True))
                    .order_by(Clarification.created_at, Clarification.id)
                )
            ).all()
            return {
                "contest": contests.contest_event(contest, "snapshot", None, utcnow()),
                "clarifications": [await clarifications.to_out(session, item, with_author=False) for item in public],
            }

    since = parse_since(socket.query_params.get("since"))
    await serve_channel(socket, state.hub, contest_channel(contest_id, "events"), snapshot, since)


WS_HANDLERS = [scoreboard_socket, jury_socket, events_socket]

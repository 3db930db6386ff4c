"""Live verdicts over WebSocket: /ws/submissions/{id} and /ws/me.

Authentication: the client offers two subprotocols, `bearer` and its access
token (`Sec-WebSocket-Protocol: bearer, <token>`; in a browser
`new WebSocket(url, ["bearer", token])`), and the server selects `bearer`.
Servers and proxies log request lines with query strings, while this header
stays out of logs, so a query-string token is not accepted. A socket without
a valid token, or for a submission of another user (staff excepted), is
closed with 1008 before it is accepted, which the client sees as HTTP 403.

After that the protocol of realtime/ws.py applies: a snapshot (or, with
`?since=SEQ`, the missed events), then events in seq order.
"""

from __future__ import annotations

import logging

from litestar import WebSocket, websocket
from litestar.exceptions import NotAuthorizedException
from sqlalchemy import select

from db.models import Problem, Submission, User
from realtime.ws import POLICY_VIOLATION, parse_since, serve_channel
from server.api.submissions import SubmissionSummary, summary_fields, submission_detail
from server.deps import is_staff, user_from_token
from server.live import submission_channel, user_channel

logger = logging.getLogger(__name__)

SUBPROTOCOL = "bearer"
# Submissions in the /ws/me snapshot, newest first.
ME_SNAPSHOT_SIZE = 20


def _offered_token(socket: WebSocket) -> str | None:
    header = socket.headers.get("sec-websocket-protocol", "")
    parts = [part.strip() for part in header.split(",")]
    if len(parts) == 2 and parts[0].lower() == SUBPROTOCOL and parts[1]:
        return parts[1]
    return None


async def _authenticate(socket: WebSocket) -> User | None:
    token = _offered_token(socket)
    if token is None:
        return None
    state = socket.app.state
    async with state.session_factory() as session:
        try:
            return await user_from_token(state, session, token)
        except NotAuthorizedException:
            return None


async def _reject(socket: WebSocket, reason: str) -> None:
    logger.info("WebSocket %s rejected: %s", socket.url.path, reason)
    await socket.close(code=POLICY_VIOLATION, reason=reason)


@websocket("/ws/submissions/{submission_id:int}")
async def submission_socket(socket: WebSocket, submission_id: int, since: str | None = None) -> None:
    user = await _authenticate(socket)
    if user is None:
        await _reject(socket, "authentication required: offer the subprotocols `bearer` and the access token")
        return
    state = socket.app.state
    async with state.session_factory() as session:
        owner_id = await session.scalar(select(Submission.user_id).where(Submission.id == submission_id))
    if owner_id is None or (owner_id != user.id and not is_staff(user)):
        await _reject(socket, f"submission {submission_id} not found")
        return

    async def snapshot():
        async with state.session_factory() as session:
            return await submission_detail(session, submission_id, user)

    await socket.accept(subprotocols=SUBPROTOCOL)
    await serve_channel(socket, state.hub, submission_channel(submission_id), snapshot, parse_since(since))


@websocket("/ws/me")
async def my_socket(socket: WebSocket, since: str | None = None) -> None:
    user = await _authenticate(socket)
    if user is None:
        await _reject(socket, "authentication required: offer the subprotocols `bearer` and the access token")
        return
    state = socket.app.state

    async def snapshot():
        async with state.session_factory() as session:
            rows = (
                await session.execute(
                    select(Submission, Problem.slug)
                    .join(Problem, Problem.id == Submission.problem_id)
                    .where(Submission.user_id == user.id)
                    .order_by(Submission.id.desc())
                    .limit(ME_SNAPSHOT_SIZE)
                )
            ).all()
        return {"submissions": [SubmissionSummary(**summary_fields(row[0], user.username, row[1])) for row in rows]}

    await socket.accept(subprotocols=SUBPROTOCOL)
    await serve_channel(socket, state.hub, user_channel(user.id), snapshot, parse_since(since))


WEBSOCKET_HANDLERS = [submission_socket, my_socket]

"""The WebSocket loop shared by every live endpoint: snapshot or replay, then deltas.

Protocol: the server sends JSON envelopes `{type, seq, at, data}`. The first
is a `snapshot` (seq = the channel's seq it reflects) unless the client passed
`?since=SEQ` and the history still contains everything after SEQ, in which case
the missed envelopes come first. A client may send `{"type": "ping"}` and gets
a `pong`; any other, malformed or oversized message closes that socket with
1008 (policy violation). A client too slow to keep up is closed with 1013 and
reconnects with `since`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from realtime.hub import Envelope, Hub, SlowSubscriberError, encode

logger = logging.getLogger(__name__)

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
MAX_CLIENT_MESSAGE_BYTES = 1024
# A client that cannot take one envelope within this many seconds is dropped.
SEND_TIMEOUT_S = 10.0


class ClientMessage(msgspec.Struct, forbid_unknown_fields=True):
    type: str


_client_decoder = msgspec.json.Decoder(ClientMessage)


def parse_since(raw: str | None) -> int | None:
    """Return the `since` query value, or None when absent or invalid (the client then gets a snapshot)."""
    if raw is None or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


async def _send_text(socket: WebSocket, text: str) -> None:
    # asyncio.timeout, unlike wait_for on Python 3.11, creates no task per send: that matters with thousands of sockets.
    async with asyncio.timeout(SEND_TIMEOUT_S):
        await socket.send_data(text, mode="text")


async def _send(socket: WebSocket, envelope: Envelope) -> None:
    await _send_text(socket, encode(envelope).decode())


async def _read_client(socket: WebSocket) -> int:
    """Reply to pings until the client leaves; return the close code to use on a bad message."""
    while True:
        try:
            raw = await socket.receive_data(mode="text")
        except WebSocketDisconnect:
            return 0
        except (UnicodeDecodeError, ValueError, KeyError):
            return POLICY_VIOLATION
        if len(raw) > MAX_CLIENT_MESSAGE_BYTES:
            return POLICY_VIOLATION
        try:
            message = _client_decoder.decode(raw)
        except msgspec.DecodeError:
            return POLICY_VIOLATION
        if message.type != "ping":
            return POLICY_VIOLATION
        await socket.send_data(encode(Envelope("pong", 0, datetime.now(UTC), None)).decode(), mode="text")


async def serve_channel(
    socket: WebSocket,
    hub: Hub,
    channel: str,
    snapshot: Callable[[], Awaitable[Any]],
    since: int | None,
) -> None:
    """Accept the socket and stream `channel` to it until either side closes."""
    await socket.accept()
    async with hub.subscribe(channel) as subscription:
        replay = await hub.since(channel, since) if since is not None else None
        if replay is None:
            seq = await hub.last_seq(channel)
            data = await snapshot()
            await _send(socket, Envelope("snapshot", seq, datetime.now(UTC), data))
            subscription.skip_through(seq)
        else:
            subscription.skip_through(since or 0)
            for envelope in replay:
                await _send(socket, envelope)
                subscription.skip_through(envelope.seq)

        async def forward() -> int:
            # Live envelopes go out as published, without decoding and re-encoding them per client.
            async for delivery in subscription:
                await _send_text(socket, delivery.text)
            return 0

        reader = asyncio.create_task(_read_client(socket))
        forwarder = asyncio.create_task(forward())
        close_code = 0
        try:
            done, _ = await asyncio.wait({reader, forwarder}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                close_code = task.result() or close_code
        except SlowSubscriberError as exc:
            logger.info("dropped slow WebSocket client on %s: %s", channel, exc)
            close_code = TRY_AGAIN_LATER
        except (TimeoutError, WebSocketDisconnect, RuntimeError) as exc:
            logger.info("WebSocket client on %s gone: %s", channel, type(exc).__name__)
        finally:
            for task in (reader, forwarder):
                task.cancel()
            await asyncio.gather(reader, forwarder, return_exceptions=True)

    if close_code:
        try:
            await socket.close(code=close_code)
        except (RuntimeError, WebSocketDisconnect):
            pass

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
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from realtime.hub import Delivery, Envelope, Hub, encode

logger = logging.getLogger(__name__)

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
MAX_CLIENT_MESSAGE_BYTES = 1024
# A client that cannot take one envelope within this many seconds is dropped.
SEND_TIMEOUT_S = 10.0
# Live envelopes one client may have unsent before it counts as slow and is dropped.
MAX_CLIENT_BACKLOG = 256
# What a send raises when the client has left.
CLIENT_GONE = (WebSocketDisconnect, RuntimeError, OSError)


class ClientMessage(msgspec.Struct, forbid_unknown_fields=True):
    type: str


_client_decoder = msgspec.json.Decoder(ClientMessage)


def parse_since(raw: str | None) -> int | None:
    """Return the `since` query value, or None when absent or invalid (the client then gets a snapshot)."""
    if raw is None or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


async def _send_text(socket: WebSocket, text: str, timeout_s: float = SEND_TIMEOUT_S) -> None:
    # asyncio.timeout, unlike wait_for on Python 3.11, creates no task per send: that matters with thousands of sockets.
    async with asyncio.timeout(timeout_s):
        await socket.send_data(text, mode="text")


async def _send(socket: WebSocket, envelope: Envelope) -> None:
    await _send_text(socket, encode(envelope).decode())


class ClientFeed:
    """Live envelopes of one channel for one socket, in seq order and without duplicates.

    The hub's pump calls `deliver` for every socket in turn. A socket that can take a frame
    at once gets it there. Otherwise the frame waits in the feed's backlog, which a task of
    the feed sends, and a client whose backlog overflows, or who misses an envelope, is
    closed with 1013 to reconnect with `since`.
    """

    __slots__ = ("socket", "channel", "last_seq", "failed", "_max_backlog", "_backlog", "_live", "_sender", "_closer")

    def __init__(self, socket: WebSocket, channel: str, max_backlog: int = MAX_CLIENT_BACKLOG) -> None:
        self.socket = socket
        self.channel = channel
        self.last_seq = 0
        self.failed = False
        self._max_backlog = max_backlog
        # Created on first use: most sockets never need one.
        self._backlog: deque[Delivery] | None = None
        self._live = False
        self._sender: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None

    @property
    def closing(self) -> bool:
        """Whether the feed gave up on the client and closes the socket itself."""
        return self._closer is not None

    async def deliver(self, delivery: Delivery) -> None:
        if self.failed:
            return
        if not self._live:
            # The snapshot or replay is not out yet: `start` sends these after it.
            self._queue(delivery)
            return
        if not self._accept(delivery):
            return
        if self._sender is not None:
            self._queue(delivery)
            return
        try:
            # A zero timeout sends only if the socket takes the frame without waiting. Uvicorn's
            # websockets-sansio protocol waits, if at all, before it writes anything.
            await _send_text(self.socket, delivery.text, 0)
        except TimeoutError:
            self._queue(delivery)
            self._sender = asyncio.create_task(self._send_backlog())
        except CLIENT_GONE as exc:
            self._gone(exc)

    async def start(self, seq: int) -> None:
        """Send what arrived during the snapshot or replay that reflects `seq`, then go live."""
        self.last_seq = seq
        while self._backlog:
            delivery = self._backlog.popleft()
            if self.failed or not self._accept(delivery):
                continue
            try:
                await _send_text(self.socket, delivery.text)
            except TimeoutError:
                self._fail("timed out sending the envelopes that arrived during the snapshot")
            except CLIENT_GONE as exc:
                self._gone(exc)
        self._live = True

    async def stop(self) -> None:
        """Stop sending, and wait for a closing the feed started."""
        self.failed = True
        if self._sender is not None:
            self._sender.cancel()
        if self._closer is not None:
            await asyncio.gather(self._closer, return_exceptions=True)

    def _accept(self, delivery: Delivery) -> bool:
        """Return whether the delivery is the next one to send; fail the feed on a gap."""
        if delivery.seq <= self.last_seq:
            return False
        if self.last_seq and delivery.seq != self.last_seq + 1:
            self._fail(f"missed envelopes: expected seq {self.last_seq + 1}, got {delivery.seq}")
            return False
        self.last_seq = delivery.seq
        return True

    def _queue(self, delivery: Delivery) -> None:
        if self._backlog is None:
            self._backlog = deque()
        if len(self._backlog) >= self._max_backlog:
            self._fail(f"more than {self._max_backlog} envelopes unsent")
            return
        self._backlog.append(delivery)

    async def _send_backlog(self) -> None:
        assert self._backlog is not None
        try:
            while self._backlog and not self.failed:
                await _send_text(self.socket, self._backlog[0].text)
                self._backlog.popleft()
        except TimeoutError:
            self._fail(f"timed out after {SEND_TIMEOUT_S:.0f} s sending one envelope")
        except CLIENT_GONE as exc:
            self._gone(exc)
        finally:
            self._sender = None

    def _gone(self, exc: BaseException) -> None:
        # The handler's read loop receives the same disconnect and ends the subscription.
        logger.info("WebSocket client on %s gone while sending: %s", self.channel, type(exc).__name__)
        self.failed = True

    def _fail(self, reason: str) -> None:
        logger.info("dropped slow WebSocket client on %s: %s", self.channel, reason)
        self.failed = True
        if self._backlog is not None:
            self._backlog.clear()
        self._closer = asyncio.create_task(_close(self.socket, TRY_AGAIN_LATER))


async def _close(socket: WebSocket, code: int) -> None:
    try:
        await socket.close(code=code)
    except CLIENT_GONE:
        pass


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
    """Accept the socket and stream `channel` to it until either side closes.

    The handler's own task reads the client's messages. Live envelopes go out from the hub's
    pump, so an idle socket costs no task of its own.
    """
    await socket.accept()
    feed = ClientFeed(socket, channel)
    close_code = 0
    async with hub.subscribe(channel, feed):
        try:
            replay = await hub.since(channel, since) if since is not None else None
            if replay is None:
                seq = await hub.last_seq(channel)
                data = await snapshot()
                await _send(socket, Envelope("snapshot", seq, datetime.now(UTC), data))
            else:
                seq = since or 0
                for envelope in replay:
                    await _send(socket, envelope)
                    seq = envelope.seq
            await feed.start(seq)
            close_code = await _read_client(socket)
        except (TimeoutError, WebSocketDisconnect, RuntimeError) as exc:
            logger.info("WebSocket client on %s gone: %s", channel, type(exc).__name__)
        finally:
            await feed.stop()

    if close_code and not feed.closing:
        await _close(socket, close_code)

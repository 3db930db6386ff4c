"""Live channels: numbered envelopes, bounded history and fan-out to subscribers.

Every message on a channel is an `Envelope` whose `seq` grows by one per
message on that channel. A client that reconnects with `since=SEQ` gets the
envelopes after SEQ from the history, or a fresh snapshot when SEQ is older
than the history keeps.

Fan-out goes through Litestar's ChannelsPlugin (memory backend embedded, Redis
pub/sub with several server processes), with one plugin subscription per
channel and process: its pump hands each envelope to the process's local
subscribers, such as the client sockets of `realtime.ws`. With Redis, one Lua script assigns the
seq, appends to the history and publishes, so every process and client sees a
channel's envelopes in seq order even when several processes publish at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import msgspec
from litestar.channels import ChannelsPlugin

logger = logging.getLogger(__name__)

# Envelopes kept per channel for `since` replay; older gaps get a snapshot.
DEFAULT_HISTORY = 512
# Envelopes a channel's pump may have unread before the channels plugin drops new ones. There is
# one pump per channel and process, and a burst such as an unfreeze's reveal feed must fit.
DEFAULT_MAX_BACKLOG = 4096

_PUBLISH_SCRIPT = """
local seq = redis.call('INCR', KEYS[2])
local payload = '{"type":' .. ARGV[1] .. ',"seq":' .. seq .. ',"at":' .. ARGV[2] .. ',"data":' .. ARGV[3] .. '}'
redis.call('RPUSH', KEYS[3], payload)
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[4]), -1)
redis.call('PUBLISH', KEYS[1], payload)
return seq
"""


class Envelope(msgspec.Struct):
    type: str
    seq: int
    at: datetime
    data: Any


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)


def encode(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode(payload: bytes) -> Envelope:
    return _decoder.decode(payload)


class _SeqOnly(msgspec.Struct):
    seq: int


_seq_decoder = msgspec.json.Decoder(_SeqOnly)


class Delivery(NamedTuple):
    """One published envelope as it goes to a client: its seq and its JSON text."""

    seq: int
    text: str


class Subscriber(Protocol):
    """A receiver of a channel's deliveries in this process, such as one client's socket."""

    async def deliver(self, delivery: Delivery) -> None:
        """Take one delivery without waiting for the client. A slow client's backlog is the subscriber's own."""


class _Fanout:
    """A channel's subscribers in this process, fed by one subscription to the channels plugin."""

    __slots__ = ("subscribers", "ready", "pump")

    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.ready: asyncio.Future[Any] | None = None
        self.pump: asyncio.Task[None] | None = None


class _Subscribed:
    """The context `Hub.subscribe` returns: a plain class, because thousands of sockets each hold one."""

    __slots__ = ("hub", "channel", "subscriber")

    def __init__(self, hub: Hub, channel: str, subscriber: Subscriber) -> None:
        self.hub = hub
        self.channel = channel
        self.subscriber = subscriber

    async def __aenter__(self) -> None:
        await self.hub._add(self.channel, self.subscriber)

    async def __aexit__(self, *exc_info: object) -> None:
        await self.hub._remove(self.channel, self.subscriber)


class Hub:
    """Publishes and replays envelopes; one per server process."""

    def __init__(
        self,
        channels: ChannelsPlugin,
        redis: Any | None = None,
        history: int = DEFAULT_HISTORY,
        key_prefix: str = "codearena",
    ) -> None:
        self.channels = channels
        self._redis = redis
        self._history_size = history
        self._prefix = key_prefix
        self._script = redis.register_script(_PUBLISH_SCRIPT) if redis is not None else None
        self._seq: dict[str, int] = {}
        self._history: dict[str, deque[bytes]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._fanouts: dict[str, _Fanout] = {}

    def _seq_key(self, channel: str) -> str:
        return f"{self._prefix}:seq:{channel}"

    def _history_key(self, channel: str) -> str:
        return f"{self._prefix}:history:{channel}"

    async def publish(self, channel: str, type: str, data: Any) -> int:
        """Publish one envelope and return its seq."""
        at = datetime.now(UTC)
        if self._script is not None:
            seq = await self._script(
                keys=[channel, self._seq_key(channel), self._history_key(channel)],
                args=[_encoder.encode(type), _encoder.encode(at), _encoder.encode(data), self._history_size],
            )
            return int(seq)

        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            seq = self._seq.get(channel, 0) + 1
            self._seq[channel] = seq
            payload = encode(Envelope(type, seq, at, data))
            self._history.setdefault(channel, deque(maxlen=self._history_size)).append(payload)
            await self.channels.wait_published(payload, channel)
        return seq

    async def last_seq(self, channel: str) -> int:
        if self._redis is not None:
            value = await self._redis.get(self._seq_key(channel))
            return int(value or 0)
        return self._seq.get(channel, 0)

    async def since(self, channel: str, seq: int) -> list[Envelope] | None:
        """Return the envelopes after `seq`, or None when the history no longer reaches back that far."""
        if self._redis is not None:
            payloads = await self._redis.lrange(self._history_key(channel), 0, -1)
        else:
            payloads = list(self._history.get(channel, ()))
        last = await self.last_seq(channel)
        if seq < 0 or seq > last:
            return None
        envelopes = [decode(payload) for payload in payloads]
        missed = [envelope for envelope in envelopes if envelope.seq > seq]
        if seq < last and (not missed or missed[0].seq != seq + 1):
            return None
        return missed

    def subscribe(self, channel: str, subscriber: Subscriber) -> _Subscribed:
        """Return a context that feeds `subscriber` every envelope published on `channel` while it is open."""
        return _Subscribed(self, channel, subscriber)

    async def _add(self, channel: str, subscriber: Subscriber) -> None:
        fanout = self._fanouts.get(channel)
        if fanout is None:
            fanout = self._fanouts[channel] = _Fanout()
            fanout.ready = asyncio.ensure_future(self._open(channel, fanout))
        fanout.subscribers.add(subscriber)
        try:
            # Shielded: a client that leaves during the set-up must not cancel it for the others.
            await asyncio.shield(fanout.ready)
        except BaseException:
            await self._remove(channel, subscriber)
            raise

    async def _remove(self, channel: str, subscriber: Subscriber) -> None:
        fanout = self._fanouts.get(channel)
        if fanout is None:
            return
        fanout.subscribers.discard(subscriber)
        if not fanout.subscribers:
            del self._fanouts[channel]
            await self._close(fanout)

    async def _open(self, channel: str, fanout: _Fanout) -> Any:
        try:
            plugin_subscriber = await self.channels.subscribe(channel)
        except BaseException:
            if self._fanouts.get(channel) is fanout:
                del self._fanouts[channel]
            raise
        if self._fanouts.get(channel) is not fanout:
            # Every subscriber left while the subscription was being set up.
            await self.channels.unsubscribe(plugin_subscriber)
            return None
        fanout.pump = asyncio.create_task(self._pump(channel, fanout, plugin_subscriber))
        return plugin_subscriber

    async def _close(self, fanout: _Fanout) -> None:
        # A set-up still running unsubscribes by itself, and a failed one has nothing to undo.
        assert fanout.ready is not None
        if not fanout.ready.done() or fanout.ready.cancelled() or fanout.ready.exception() is not None:
            return
        if fanout.pump is not None:
            fanout.pump.cancel()
        await self.channels.unsubscribe(fanout.ready.result())

    async def _pump(self, channel: str, fanout: _Fanout, plugin_subscriber: Any) -> None:
        """Hand each payload of the channel to every local subscriber in turn, in this one task.

        Subscribers send to their clients directly when they can, so a delta reaches thousands of
        sockets without waking a task per socket.
        """
        async for payload in plugin_subscriber.iter_events():
            delivery = Delivery(_seq_decoder.decode(payload).seq, payload.decode())
            for subscriber in list(fanout.subscribers):
                try:
                    await subscriber.deliver(delivery)
                except Exception:
                    logger.exception("delivery of %s seq %d to a subscriber failed", channel, delivery.seq)

    async def forget(self, channel: str) -> None:
        """Drop a channel's counter and history, for tests and deleted objects."""
        self._seq.pop(channel, None)
        self._history.pop(channel, None)
        if self._redis is not None:
            await self._redis.delete(self._seq_key(channel), self._history_key(channel))


def create_channels_plugin(redis: Any | None, max_backlog: int = DEFAULT_MAX_BACKLOG) -> ChannelsPlugin:
    from litestar.channels.backends.memory import MemoryChannelsBackend

    if redis is not None:
        from litestar.channels.backends.redis import RedisChannelsPubSubBackend

        backend: Any = RedisChannelsPubSubBackend(redis=redis)
    else:
        backend = MemoryChannelsBackend()
    # "backoff" drops new envelopes for a full pump, and each local subscriber notices the seq gap at the next one.
    return ChannelsPlugin(
        backend=backend,
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=max_backlog,
        subscriber_backlog_strategy="backoff",
    )

"""Live channels: numbered envelopes, bounded history and fan-out to subscribers.

Every message on a channel is an `Envelope` whose `seq` grows by one per
message on that channel. A client that reconnects with `since=SEQ` gets the
envelopes after SEQ from the history, or a fresh snapshot when SEQ is older
than the history keeps.

Fan-out goes through Litestar's ChannelsPlugin (memory backend embedded, Redis
pub/sub with several server processes). With Redis, one Lua script assigns the
seq, appends to the history and publishes, so every process and client sees a
channel's envelopes in seq order even when several processes publish at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec
from litestar.channels import ChannelsPlugin

logger = logging.getLogger(__name__)

# Envelopes kept per channel for `since` replay; older gaps get a snapshot.
DEFAULT_HISTORY = 512
# Envelopes one subscriber may have unsent before it counts as slow and is dropped.
DEFAULT_MAX_BACKLOG = 256

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


class SlowSubscriberError(Exception):
    """A subscriber fell more than the allowed backlog behind and lost envelopes."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)


def encode(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode(payload: bytes) -> Envelope:
    return _decoder.decode(payload)


class _SeqOnly(msgspec.Struct):
    seq: int


class Delivery(NamedTuple):
    """One published envelope as it goes to a client: its seq and its JSON text."""

    seq: int
    text: str


_seq_decoder = msgspec.json.Decoder(_SeqOnly)
# Every subscriber of a channel receives the same payload object, so one parse serves them all.
_recent_deliveries: dict[bytes, Delivery] = {}
_RECENT_DELIVERIES_MAX = 256


def _delivery(payload: bytes) -> Delivery:
    delivery = _recent_deliveries.get(payload)
    if delivery is None:
        delivery = Delivery(_seq_decoder.decode(payload).seq, payload.decode())
        if len(_recent_deliveries) >= _RECENT_DELIVERIES_MAX:
            del _recent_deliveries[next(iter(_recent_deliveries))]
        _recent_deliveries[payload] = delivery
    return delivery


class Subscription:
    """Deliveries of one channel for one client, in seq order, without duplicates."""

    def __init__(self, hub: Hub, channel: str, subscriber: Any) -> None:
        self._hub = hub
        self.channel = channel
        self._subscriber = subscriber
        self.last_seq = 0

    def skip_through(self, seq: int) -> None:
        """Ignore live envelopes up to `seq`, which the client already has from a snapshot or replay."""
        self.last_seq = max(self.last_seq, seq)

    async def __aiter__(self) -> AsyncIterator[Delivery]:
        async for payload in self._subscriber.iter_events():
            delivery = _delivery(payload)
            if delivery.seq <= self.last_seq:
                continue
            if self.last_seq and delivery.seq != self.last_seq + 1:
                # The subscriber's bounded queue dropped envelopes: the client must resync.
                raise SlowSubscriberError(f"{self.channel}: expected seq {self.last_seq + 1}, got {delivery.seq}")
            self.last_seq = delivery.seq
            yield delivery


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

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        subscriber = await self.channels.subscribe(channel)
        try:
            yield Subscription(self, channel, subscriber)
        finally:
            await self.channels.unsubscribe(subscriber)

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
    # "backoff" drops new envelopes for a full subscriber; Subscription notices the seq gap.
    return ChannelsPlugin(
        backend=backend,
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=max_backlog,
        subscriber_backlog_strategy="backoff",
    )

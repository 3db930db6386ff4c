"""The hub's per-process fan-out and the per-socket feed of realtime.ws.

The sockets here are fakes that stand in for clients too slow to take a frame. The
endpoints' tests run the same code against real uvicorn sockets.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from realtime.hub import Hub, create_channels_plugin
from realtime.ws import TRY_AGAIN_LATER, ClientFeed


class FakeSocket:
    """A client socket whose sends wait until `open` is set, as sends to a paused transport do."""

    def __init__(self, blocked: bool = False) -> None:
        self.texts: list[str] = []
        self.close_codes: list[int] = []
        self.open = asyncio.Event()
        if not blocked:
            self.open.set()

    async def send_data(self, data: str, mode: str = "text") -> None:
        await self.open.wait()
        self.texts.append(data)

    async def close(self, code: int = 1000) -> None:
        self.close_codes.append(code)

    @property
    def seqs(self) -> list[int]:
        return [json.loads(text)["seq"] for text in self.texts]


@asynccontextmanager
async def running_hub() -> AsyncIterator[Hub]:
    """Yield a hub on the memory backend, with the channels plugin started and stopped in this task."""
    channels = create_channels_plugin(None)
    app = Litestar(plugins=[channels])
    async with app.lifespan():
        yield Hub(channels)


async def settle(rounds: int = 5) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def publish(hub: Hub, channel: str, count: int) -> None:
    for index in range(count):
        await hub.publish(channel, "rows", {"index": index})
    await asyncio.sleep(0.05)


async def test_live_feed_gets_every_envelope():
    async with running_hub() as hub:
        socket = FakeSocket()
        feed = ClientFeed(socket, "c")  # type: ignore[arg-type]

        async with hub.subscribe("c", feed):
            await feed.start(0)
            await publish(hub, "c", 5)

        assert socket.seqs == [1, 2, 3, 4, 5]


async def test_envelopes_during_snapshot_follow_it():
    async with running_hub() as hub:
        socket = FakeSocket()
        feed = ClientFeed(socket, "c")  # type: ignore[arg-type]

        async with hub.subscribe("c", feed):
            await publish(hub, "c", 4)
            assert socket.seqs == []
            # The snapshot reflected seq 2: the feed sends only what came after it.
            await feed.start(2)
            await publish(hub, "c", 1)

        assert socket.seqs == [3, 4, 5]


async def test_blocked_client_gets_backlog_in_order():
    async with running_hub() as hub:
        slow = FakeSocket(blocked=True)
        fast = FakeSocket()
        slow_feed = ClientFeed(slow, "c")  # type: ignore[arg-type]
        fast_feed = ClientFeed(fast, "c")  # type: ignore[arg-type]

        async with hub.subscribe("c", slow_feed), hub.subscribe("c", fast_feed):
            await slow_feed.start(0)
            await fast_feed.start(0)
            await publish(hub, "c", 10)
            fast_while_blocked = list(fast.seqs)
            slow_while_blocked = list(slow.seqs)
            slow.open.set()
            await asyncio.sleep(0.05)

        assert fast_while_blocked == list(range(1, 11))
        assert slow_while_blocked == []
        assert slow.seqs == list(range(1, 11))
        assert slow.close_codes == []


async def test_backlog_overflow_closes_with_1013():
    async with running_hub() as hub:
        slow = FakeSocket(blocked=True)
        feed = ClientFeed(slow, "c", max_backlog=3)  # type: ignore[arg-type]

        async with hub.subscribe("c", feed):
            await feed.start(0)
            await publish(hub, "c", 6)
            await settle()
            assert feed.closing

        await feed.stop()
        assert slow.close_codes == [TRY_AGAIN_LATER]
        assert slow.texts == []


async def test_seq_gap_closes_with_1013():
    async with running_hub() as hub:
        socket = FakeSocket()
        feed = ClientFeed(socket, "c")  # type: ignore[arg-type]

        async with hub.subscribe("c", feed):
            await feed.start(0)
            await publish(hub, "c", 2)
            # The channel's seq jumps, as when the pump's own backlog dropped envelopes.
            hub._seq["c"] = 5
            await publish(hub, "c", 2)

        await feed.stop()
        assert socket.seqs == [1, 2]
        assert socket.close_codes == [TRY_AGAIN_LATER]


async def test_last_subscriber_leaving_ends_pump():
    async with running_hub() as hub:
        first = ClientFeed(FakeSocket(), "c")  # type: ignore[arg-type]
        second = ClientFeed(FakeSocket(), "c")  # type: ignore[arg-type]

        async with hub.subscribe("c", first):
            async with hub.subscribe("c", second):
                pump = hub._fanouts["c"].pump
                assert pump is not None
            assert not pump.done()
        await settle()

        assert pump.done()
        assert "c" not in hub._fanouts
        assert hub.channels._channels.get("c", set()) == set()


async def test_resubscribing_after_leaving_delivers():
    async with running_hub() as hub:
        socket = FakeSocket()

        async with hub.subscribe("c", ClientFeed(FakeSocket(), "c")):  # type: ignore[arg-type]
            pass
        feed = ClientFeed(socket, "c")  # type: ignore[arg-type]
        async with hub.subscribe("c", feed):
            await feed.start(0)
            await publish(hub, "c", 2)

        assert socket.seqs == [1, 2]

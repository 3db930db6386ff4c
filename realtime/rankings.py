"""Rankings: each participant's rank per contest and view, kept in a sorted set.

A participant's result is encoded as one float key, and a SMALLER key ranks
better. The rank is 1 + the number of participants with a strictly smaller key,
so equal keys share a rank (1, 1, 3). `RedisRankings` keeps one Redis sorted
set per contest and view, and `MemoryRankings` is the in-process equivalent for
embedded mode. Both order equal keys by the participant id as a string, as
Redis orders equal scores by member bytes.

Key encoding. A double represents every integer below 2**53 exactly, so the ICPC
result is packed into a 53-bit integer whose integer order is the ranking
order (solved desc, penalty asc, last accepted time asc):

    bits 43..52 (10 bits)  ICPC_MAX_SOLVED - solved     solved in 0..1023
    bits 21..42 (22 bits)  penalty in minutes           0..4_194_303 (about 7.98 years of minutes)
    bits  0..20 (21 bits)  last accepted contest second 0..2_097_151 (24 days 6:32:31)

So an ICPC contest may last at most 2_097_151 seconds, and the penalty sum of
one participant may reach 4_194_303 minutes. For a 5-hour contest that leaves
room for 1023 solved problems with about 190 rejected attempts each.
`icpc_key` raises ValueError outside these bounds instead of losing order.

An IOI key is minus the score in hundredths of a point, the resolution that
`realtime.scoring` ranks with. Scores go from 0 to IOI_MAX_SCORE
(10**13 points), so the key stays above -2**53 and is exact too.
"""

from __future__ import annotations

import abc
import bisect
import logging
import math
import uuid
from collections.abc import Iterable

import redis.asyncio
from redis.exceptions import RedisError

from realtime.scoring import VIEWS, IcpcScore, Row, to_hundredths

logger = logging.getLogger(__name__)

ICPC_SOLVED_BITS = 10
ICPC_PENALTY_BITS = 22
ICPC_TIME_BITS = 21
ICPC_MAX_SOLVED = (1 << ICPC_SOLVED_BITS) - 1
ICPC_MAX_PENALTY_MINUTES = (1 << ICPC_PENALTY_BITS) - 1
ICPC_MAX_LAST_ACCEPTED_S = (1 << ICPC_TIME_BITS) - 1
IOI_MAX_SCORE = 10**13
MAX_EXACT_INTEGER = 2**53

# A rebuild that dies before its RENAME leaves a temporary set, which Redis drops after this delay.
REBUILD_TEMP_TTL_S = 600
REBUILD_CHUNK = 1000

assert ICPC_SOLVED_BITS + ICPC_PENALTY_BITS + ICPC_TIME_BITS == 53


def _check_bounded_int(name: str, value: object, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise ValueError(f"invalid {name} {value!r}: expected an integer from 0 to {maximum}")
    return value


def icpc_key(num_solved: int, penalty_minutes: int, last_accepted_s: int) -> float:
    """Encode an ICPC result as a ranking key. Raises ValueError outside the documented bounds."""
    solved = _check_bounded_int("num_solved", num_solved, ICPC_MAX_SOLVED)
    penalty = _check_bounded_int("penalty_minutes", penalty_minutes, ICPC_MAX_PENALTY_MINUTES)
    last = _check_bounded_int("last_accepted_s", last_accepted_s, ICPC_MAX_LAST_ACCEPTED_S)

    packed = (ICPC_MAX_SOLVED - solved) << (ICPC_PENALTY_BITS + ICPC_TIME_BITS)
    packed |= penalty << ICPC_TIME_BITS
    packed |= last
    return float(packed)


def decode_icpc_key(key: float) -> tuple[int, int, int]:
    """Return (num_solved, penalty_minutes, last_accepted_s) of a key made by `icpc_key`."""
    if not (math.isfinite(key) and key == int(key) and 0 <= key < MAX_EXACT_INTEGER):
        raise ValueError(f"invalid ICPC key {key!r}: expected an integer from 0 to {MAX_EXACT_INTEGER - 1}")

    packed = int(key)
    last = packed & ICPC_MAX_LAST_ACCEPTED_S
    penalty = (packed >> ICPC_TIME_BITS) & ICPC_MAX_PENALTY_MINUTES
    solved = ICPC_MAX_SOLVED - (packed >> (ICPC_PENALTY_BITS + ICPC_TIME_BITS))
    return solved, penalty, last


def ioi_key(score: float) -> float:
    """Encode an IOI total score in points as a ranking key, at hundredth-of-a-point resolution."""
    is_number = isinstance(score, (int, float)) and not isinstance(score, bool)
    if not is_number or not math.isfinite(score) or not 0 <= score <= IOI_MAX_SCORE:
        raise ValueError(f"invalid IOI score {score!r}: expected points from 0 to {IOI_MAX_SCORE}")
    return float(-to_hundredths(score))


def decode_ioi_key(key: float) -> float:
    """Return the IOI score in points of a key made by `ioi_key`."""
    return -key / 100 + 0.0


def row_key(row: Row) -> float:
    """Return the ranking key of a scoreboard row from `realtime.scoring`."""
    if isinstance(row.score, IcpcScore):
        return icpc_key(row.score.num_solved, row.score.total_time, row.score.last_accepted_s)
    return ioi_key(row.score.score)


def _check_id(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"invalid {name} {value!r}: expected an integer")
    return value


def _check_view(view: str) -> str:
    if view not in VIEWS:
        raise ValueError(f"invalid view {view!r}: expected one of {', '.join(VIEWS)}")
    return view


def _check_key(key: object) -> float:
    is_number = isinstance(key, (int, float)) and not isinstance(key, bool)
    if not is_number or not math.isfinite(key):
        raise ValueError(f"invalid ranking key {key!r}: expected a finite number")
    return float(key)


def _check_range(start: int, stop: int) -> None:
    for name, value in (("start", start), ("stop", stop)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"invalid {name} {value!r}: expected an integer >= 0")


def _check_entries(entries: Iterable[tuple[int, float]]) -> dict[int, float]:
    checked: dict[int, float] = {}
    for participant_id, key in entries:
        participant_id = _check_id("participant_id", participant_id)
        if participant_id in checked:
            raise ValueError(f"duplicate participant_id {participant_id} in rebuild entries")
        checked[participant_id] = _check_key(key)
    return checked


class Rankings(abc.ABC):
    """Sorted sets of ranking keys per contest and view, where a smaller key ranks better."""

    @abc.abstractmethod
    async def set_score(self, contest_id: int, view: str, participant_id: int, key: float) -> None:
        """Insert the participant or replace their key."""

    @abc.abstractmethod
    async def remove(self, contest_id: int, view: str, participant_id: int) -> bool:
        """Remove the participant and return whether they were present."""

    @abc.abstractmethod
    async def rank_of(self, contest_id: int, view: str, participant_id: int) -> int | None:
        """Return 1 + the number of participants with a smaller key, or None when absent."""

    @abc.abstractmethod
    async def top(self, contest_id: int, view: str, start: int, stop: int) -> list[tuple[int, float]]:
        """Return (participant_id, key) at positions start <= i < stop, best first."""

    @abc.abstractmethod
    async def size(self, contest_id: int, view: str) -> int:
        """Return the number of participants in the set."""

    @abc.abstractmethod
    async def clear(self, contest_id: int) -> None:
        """Delete the sets of every view of the contest."""

    @abc.abstractmethod
    async def rebuild(self, contest_id: int, view: str, entries: Iterable[tuple[int, float]]) -> None:
        """Replace the set with (participant_id, key) entries. Readers see the old or the new set, never a mix.

        All entries are validated before anything is written, so invalid input leaves the old set.
        NOTE: in Redis, a set_score that runs while a rebuild fills its temporary set is lost
        when the new set replaces the old one, so run a rebuild while verdicts are paused or
        rebuild again afterwards.
        """

    async def is_empty(self, contest_id: int, view: str) -> bool:
        return await self.size(contest_id, view) == 0


class _SortedSet:
    """Keys per participant plus a list of (key, member, participant_id) in Redis order."""

    def __init__(self) -> None:
        self.keys: dict[int, float] = {}
        self.order: list[tuple[float, str, int]] = []

    def set(self, participant_id: int, key: float) -> None:
        self.remove(participant_id)
        self.keys[participant_id] = key
        bisect.insort(self.order, (key, str(participant_id), participant_id))

    def remove(self, participant_id: int) -> bool:
        old_key = self.keys.pop(participant_id, None)
        if old_key is None:
            return False
        index = bisect.bisect_left(self.order, (old_key, str(participant_id), participant_id))
        del self.order[index]
        return True

    def rank_of(self, participant_id: int) -> int | None:
        key = self.keys.get(participant_id)
        if key is None:
            return None
        # (key,) sorts before every (key, member, id), so this counts the strictly smaller keys.
        return bisect.bisect_left(self.order, (key,)) + 1


class MemoryRankings(Rankings):
    """In-process rankings for embedded mode. Each method runs without awaiting, so it is atomic."""

    def __init__(self) -> None:
        self._sets: dict[tuple[int, str], _SortedSet] = {}

    def _get(self, contest_id: int, view: str) -> _SortedSet | None:
        return self._sets.get((_check_id("contest_id", contest_id), _check_view(view)))

    async def set_score(self, contest_id: int, view: str, participant_id: int, key: float) -> None:
        participant_id = _check_id("participant_id", participant_id)
        key = _check_key(key)
        name = (_check_id("contest_id", contest_id), _check_view(view))
        self._sets.setdefault(name, _SortedSet()).set(participant_id, key)

    async def remove(self, contest_id: int, view: str, participant_id: int) -> bool:
        participant_id = _check_id("participant_id", participant_id)
        ranking = self._get(contest_id, view)
        return ranking is not None and ranking.remove(participant_id)

    async def rank_of(self, contest_id: int, view: str, participant_id: int) -> int | None:
        participant_id = _check_id("participant_id", participant_id)
        ranking = self._get(contest_id, view)
        return ranking.rank_of(participant_id) if ranking is not None else None

    async def top(self, contest_id: int, view: str, start: int, stop: int) -> list[tuple[int, float]]:
        _check_range(start, stop)
        ranking = self._get(contest_id, view)
        if ranking is None:
            return []
        return [(participant_id, key) for key, _, participant_id in ranking.order[start:stop]]

    async def size(self, contest_id: int, view: str) -> int:
        ranking = self._get(contest_id, view)
        return len(ranking.keys) if ranking is not None else 0

    async def clear(self, contest_id: int) -> None:
        contest_id = _check_id("contest_id", contest_id)
        for view in VIEWS:
            self._sets.pop((contest_id, view), None)

    async def rebuild(self, contest_id: int, view: str, entries: Iterable[tuple[int, float]]) -> None:
        name = (_check_id("contest_id", contest_id), _check_view(view))
        checked = _check_entries(entries)

        ranking = _SortedSet()
        ranking.keys = checked
        ranking.order = sorted((key, str(participant_id), participant_id) for participant_id, key in checked.items())
        self._sets[name] = ranking


# Competition rank in one round trip, atomic because Redis runs a script without interleaving.
_RANK_SCRIPT = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  return false
end
return redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. score) + 1
"""


class RedisRankings(Rankings):
    """Rankings in Redis sorted sets named `{prefix}:contest:{contest_id}:rank:{view}`."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str = "codearena") -> None:
        self.client = client
        self.prefix = prefix
        self._rank_script = client.register_script(_RANK_SCRIPT)

    def key_name(self, contest_id: int, view: str) -> str:
        return f"{self.prefix}:contest:{_check_id('contest_id', contest_id)}:rank:{_check_view(view)}"

    async def set_score(self, contest_id: int, view: str, participant_id: int, key: float) -> None:
        member = str(_check_id("participant_id", participant_id))
        await self.client.zadd(self.key_name(contest_id, view), {member: _check_key(key)})

    async def remove(self, contest_id: int, view: str, participant_id: int) -> bool:
        member = str(_check_id("participant_id", participant_id))
        return await self.client.zrem(self.key_name(contest_id, view), member) == 1

    async def rank_of(self, contest_id: int, view: str, participant_id: int) -> int | None:
        member = str(_check_id("participant_id", participant_id))
        rank = await self._rank_script(keys=[self.key_name(contest_id, view)], args=[member])
        return int(rank) if rank is not None else None

    async def top(self, contest_id: int, view: str, start: int, stop: int) -> list[tuple[int, float]]:
        _check_range(start, stop)
        name = self.key_name(contest_id, view)
        if stop <= start:
            return []

        # ZRANGE includes its stop index.
        entries = await self.client.zrange(name, start, stop - 1, withscores=True)
        return [(int(member), float(key)) for member, key in entries]

    async def size(self, contest_id: int, view: str) -> int:
        return await self.client.zcard(self.key_name(contest_id, view))

    async def clear(self, contest_id: int) -> None:
        await self.client.delete(*(self.key_name(contest_id, view) for view in VIEWS))

    async def rebuild(self, contest_id: int, view: str, entries: Iterable[tuple[int, float]]) -> None:
        name = self.key_name(contest_id, view)
        mapping = {str(participant_id): key for participant_id, key in _check_entries(entries).items()}
        if not mapping:
            await self.client.delete(name)
            logger.info("rebuilt ranking %s with 0 participants", name)
            return

        # Fill a temporary set first, so readers keep the old set until one RENAME swaps it in.
        temp = f"{name}:rebuild:{uuid.uuid4().hex}"
        members = list(mapping.items())
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for index in range(0, len(members), REBUILD_CHUNK):
                    pipe.zadd(temp, dict(members[index : index + REBUILD_CHUNK]))
                    if index == 0:
                        pipe.expire(temp, REBUILD_TEMP_TTL_S)
                await pipe.execute()

            # RENAME carries the TTL of the temporary key over, so PERSIST removes it in the same transaction.
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.rename(temp, name)
                pipe.persist(name)
                await pipe.execute()
        except BaseException:
            await self._drop_temp(temp)
            raise
        logger.info("rebuilt ranking %s with %d participants", name, len(mapping))

    async def _drop_temp(self, temp: str) -> None:
        try:
            await self.client.delete(temp)
        except RedisError as error:
            logger.warning("failed to delete temporary ranking %s, it expires in %d s: %s", temp, REBUILD_TEMP_TTL_S, error)

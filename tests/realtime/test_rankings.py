import asyncio
import contextlib
import itertools
import random
import uuid

import pytest
import redis.asyncio

from realtime.rankings import (
    ICPC_MAX_LAST_ACCEPTED_S,
    ICPC_MAX_PENALTY_MINUTES,
    ICPC_MAX_SOLVED,
    IOI_MAX_SCORE,
    MemoryRankings,
    RedisRankings,
    decode_icpc_key,
    decode_ioi_key,
    icpc_key,
    ioi_key,
    row_key,
)
from realtime.scoring import Attempt, ContestRules, ProblemRef, scoreboard

REDIS_DB = 15

SOLVED_EDGES = [0, 1, 2, 511, 512, ICPC_MAX_SOLVED - 1, ICPC_MAX_SOLVED]
PENALTY_EDGES = [0, 1, 2, 20, 2**21 - 1, 2**21, ICPC_MAX_PENALTY_MINUTES - 1, ICPC_MAX_PENALTY_MINUTES]
TIME_EDGES = [0, 1, 59, 60, 18000, 2**20, ICPC_MAX_LAST_ACCEPTED_S - 1, ICPC_MAX_LAST_ACCEPTED_S]


def icpc_order(solved, penalty, last):
    return (-solved, penalty, last)


def test_icpc_key_bounds_are_exact():
    best = icpc_key(ICPC_MAX_SOLVED, 0, 0)
    worst = icpc_key(0, ICPC_MAX_PENALTY_MINUTES, ICPC_MAX_LAST_ACCEPTED_S)

    assert best == 0.0
    assert worst == float(2**53 - 1)
    assert int(worst) == 2**53 - 1
    assert worst != float(2**53 - 2)


def test_icpc_key_order_exhaustive_edges():
    values = list(itertools.product(SOLVED_EDGES, PENALTY_EDGES, TIME_EDGES))
    keys = {value: icpc_key(*value) for value in values}

    assert len(set(keys.values())) == len(values)
    for left, right in itertools.product(values, repeat=2):
        expected = (icpc_order(*left) > icpc_order(*right)) - (icpc_order(*left) < icpc_order(*right))
        actual = (keys[left] > keys[right]) - (keys[left] < keys[right])
        assert actual == expected, (left, right)


def test_icpc_key_order_random_pairs():
    generator = random.Random(3)

    def draw():
        return (
            generator.randint(0, ICPC_MAX_SOLVED),
            generator.randint(0, ICPC_MAX_PENALTY_MINUTES),
            generator.randint(0, ICPC_MAX_LAST_ACCEPTED_S),
        )

    for _ in range(50_000):
        left, right = draw(), draw()
        # Neighbours differ in one component by one, the hardest case for float precision.
        neighbour = list(left)
        component = generator.randrange(3)
        maximum = (ICPC_MAX_SOLVED, ICPC_MAX_PENALTY_MINUTES, ICPC_MAX_LAST_ACCEPTED_S)[component]
        neighbour[component] = min(neighbour[component] + 1, maximum)
        for other in (right, tuple(neighbour)):
            assert (icpc_key(*left) < icpc_key(*other)) == (icpc_order(*left) < icpc_order(*other))
            assert (icpc_key(*left) == icpc_key(*other)) == (left == other)


def test_icpc_key_decode_round_trip():
    for value in itertools.product(SOLVED_EDGES, PENALTY_EDGES, TIME_EDGES):
        assert decode_icpc_key(icpc_key(*value)) == value


@pytest.mark.parametrize(
    ("value", "field"),
    [
        pytest.param((ICPC_MAX_SOLVED + 1, 0, 0), "num_solved", id="solved-too-high"),
        pytest.param((-1, 0, 0), "num_solved", id="solved-negative"),
        pytest.param((1, ICPC_MAX_PENALTY_MINUTES + 1, 0), "penalty_minutes", id="penalty-too-high"),
        pytest.param((1, -1, 0), "penalty_minutes", id="penalty-negative"),
        pytest.param((1, 0, ICPC_MAX_LAST_ACCEPTED_S + 1), "last_accepted_s", id="time-too-high"),
        pytest.param((1, 0, -1), "last_accepted_s", id="time-negative"),
        pytest.param((1.5, 0, 0), "num_solved", id="solved-float"),
        pytest.param((True, 0, 0), "num_solved", id="solved-bool"),
        pytest.param((1, 0, 60.0), "last_accepted_s", id="time-float"),
    ],
)
def test_icpc_key_out_of_bounds_rejected(value, field):
    with pytest.raises(ValueError, match=f"invalid {field}"):
        icpc_key(*value)


def test_decode_icpc_key_rejects_non_keys():
    for key in (-1.0, 0.5, float(2**53), float("nan")):
        with pytest.raises(ValueError, match="invalid ICPC key"):
            decode_icpc_key(key)


def test_ioi_key_order_and_bounds():
    scores = [0, 0.01, 0.02, 0.1, 0.3, 33.33, 33.34, 99.99, 100, 1e6, IOI_MAX_SCORE - 0.01, IOI_MAX_SCORE]
    keys = [ioi_key(score) for score in scores]

    assert keys == sorted(keys, reverse=True)
    assert len(set(keys)) == len(keys)
    assert ioi_key(IOI_MAX_SCORE) > -(2**53)
    assert ioi_key(0.1 + 0.2) == ioi_key(0.3)
    assert ioi_key(33.333) == ioi_key(33.334)
    for score in scores:
        assert decode_ioi_key(ioi_key(score)) == score


def test_ioi_key_round_trip_random_hundredths():
    generator = random.Random(9)
    for _ in range(20_000):
        hundredths = generator.randint(0, IOI_MAX_SCORE * 100)
        key = ioi_key(hundredths / 100)
        assert key == -hundredths


@pytest.mark.parametrize("score", [-0.01, IOI_MAX_SCORE + 1, float("nan"), float("inf"), "10", None])
def test_ioi_key_out_of_bounds_rejected(score):
    with pytest.raises(ValueError, match="invalid IOI score"):
        ioi_key(score)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def rankings(request):
    if request.param == "memory":
        yield MemoryRankings()
        return

    async with redis_rankings() as store:
        yield store


@contextlib.asynccontextmanager
async def redis_rankings():
    """Yield a RedisRankings on database 15 under a fresh key prefix, and delete its keys on exit."""
    client = redis.asyncio.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    prefix = f"codearena-test-{uuid.uuid4().hex}"
    try:
        yield RedisRankings(client, prefix=prefix)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


# (participant_id, key) entries; expected rank per participant.
RANK_TABLE = [
    pytest.param([(1, 5.0), (2, 5.0), (3, 7.0)], {1: 1, 2: 1, 3: 3}, id="shared-1-1-3"),
    pytest.param(
        [(1, 5.0), (2, 5.0), (3, 7.0), (4, 7.0), (5, 7.0), (6, 9.0)],
        {1: 1, 2: 1, 3: 3, 4: 3, 5: 3, 6: 6},
        id="two-tie-groups",
    ),
    pytest.param([(1, 3.0), (2, 2.0), (3, 1.0)], {3: 1, 2: 2, 1: 3}, id="smaller-key-ranks-better"),
    pytest.param([(1, -5.0), (2, 0.0), (3, 5.0)], {1: 1, 2: 2, 3: 3}, id="negative-keys"),
    pytest.param(
        [(1, float(2**53 - 1)), (2, float(2**53 - 2)), (3, 0.0)],
        {3: 1, 2: 2, 1: 3},
        id="keys-at-2-pow-53",
    ),
    pytest.param([(7, 1.0)], {7: 1}, id="single"),
]


@pytest.mark.parametrize(("entries", "expected"), RANK_TABLE)
async def test_rank_table(rankings, entries, expected):
    for participant_id, key in entries:
        await rankings.set_score(1, "jury", participant_id, key)

    for participant_id, rank in expected.items():
        assert await rankings.rank_of(1, "jury", participant_id) == rank
    assert await rankings.size(1, "jury") == len(entries)


@pytest.mark.parametrize(("entries", "expected"), RANK_TABLE)
async def test_rank_table_by_rebuild(rankings, entries, expected):
    await rankings.rebuild(1, "public", entries)

    for participant_id, rank in expected.items():
        assert await rankings.rank_of(1, "public", participant_id) == rank


async def test_set_score_replaces_key(rankings):
    await rankings.set_score(1, "jury", 1, 10.0)
    await rankings.set_score(1, "jury", 2, 20.0)

    await rankings.set_score(1, "jury", 2, 5.0)

    assert await rankings.rank_of(1, "jury", 2) == 1
    assert await rankings.rank_of(1, "jury", 1) == 2
    assert await rankings.size(1, "jury") == 2
    assert await rankings.top(1, "jury", 0, 10) == [(2, 5.0), (1, 10.0)]


async def test_remove_and_missing(rankings):
    await rankings.set_score(1, "jury", 1, 10.0)
    await rankings.set_score(1, "jury", 2, 20.0)

    assert await rankings.remove(1, "jury", 1) is True
    assert await rankings.remove(1, "jury", 1) is False
    assert await rankings.remove(2, "jury", 1) is False
    assert await rankings.rank_of(1, "jury", 1) is None
    assert await rankings.rank_of(1, "jury", 2) == 1
    assert await rankings.rank_of(3, "public", 2) is None


async def test_top_slices(rankings):
    for participant_id in range(1, 11):
        await rankings.set_score(1, "public", participant_id, float(100 - participant_id))

    assert await rankings.top(1, "public", 0, 3) == [(10, 90.0), (9, 91.0), (8, 92.0)]
    assert await rankings.top(1, "public", 8, 20) == [(2, 98.0), (1, 99.0)]
    assert await rankings.top(1, "public", 10, 20) == []
    assert await rankings.top(1, "public", 3, 3) == []
    assert await rankings.top(1, "public", 5, 2) == []
    assert await rankings.top(2, "public", 0, 5) == []


async def test_top_orders_ties_by_member_string(rankings):
    for participant_id in (9, 10, 2, 100):
        await rankings.set_score(1, "jury", participant_id, 1.0)

    assert await rankings.top(1, "jury", 0, 10) == [(10, 1.0), (100, 1.0), (2, 1.0), (9, 1.0)]


async def test_views_and_contests_independent(rankings):
    await rankings.set_score(1, "public", 1, 1.0)
    await rankings.set_score(1, "jury", 1, 2.0)
    await rankings.set_score(1, "jury", 2, 1.0)
    await rankings.set_score(2, "jury", 1, 3.0)

    assert await rankings.rank_of(1, "public", 1) == 1
    assert await rankings.rank_of(1, "jury", 1) == 2
    assert await rankings.size(1, "public") == 1
    assert await rankings.size(2, "jury") == 1


async def test_clear_and_is_empty(rankings):
    assert await rankings.is_empty(1, "public") is True
    await rankings.set_score(1, "public", 1, 1.0)
    await rankings.set_score(1, "jury", 1, 1.0)
    await rankings.set_score(2, "jury", 1, 1.0)
    assert await rankings.is_empty(1, "public") is False

    await rankings.clear(1)

    assert await rankings.is_empty(1, "public") is True
    assert await rankings.is_empty(1, "jury") is True
    assert await rankings.is_empty(2, "jury") is False
    assert await rankings.size(1, "jury") == 0


async def test_rebuild_replaces_old_set(rankings):
    await rankings.rebuild(1, "jury", [(1, 1.0), (2, 2.0), (3, 3.0)])

    await rankings.rebuild(1, "jury", [(3, 0.5), (4, 4.0)])

    assert await rankings.top(1, "jury", 0, 10) == [(3, 0.5), (4, 4.0)]
    assert await rankings.rank_of(1, "jury", 1) is None
    assert await rankings.size(1, "jury") == 2


async def test_rebuild_empty_clears_view(rankings):
    await rankings.rebuild(1, "jury", [(1, 1.0)])
    await rankings.set_score(1, "public", 1, 1.0)

    await rankings.rebuild(1, "jury", [])

    assert await rankings.is_empty(1, "jury") is True
    assert await rankings.is_empty(1, "public") is False


async def test_rebuild_failing_entries_keep_old_set(rankings):
    await rankings.rebuild(1, "jury", [(1, 1.0), (2, 2.0)])

    def entries_that_fail():
        yield (5, 5.0)
        yield (6, 6.0)
        raise RuntimeError("database connection lost")

    with pytest.raises(RuntimeError, match="database connection lost"):
        await rankings.rebuild(1, "jury", entries_that_fail())

    assert await rankings.top(1, "jury", 0, 10) == [(1, 1.0), (2, 2.0)]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        pytest.param([(1, 1.0), (1, 2.0)], "duplicate participant_id 1", id="duplicate"),
        pytest.param([(1, 1.0), (2, float("nan"))], "invalid ranking key", id="nan"),
        pytest.param([(1, 1.0), ("2", 2.0)], "invalid participant_id", id="string-id"),
    ],
)
async def test_rebuild_invalid_entries_keep_old_set(rankings, entries, message):
    await rankings.rebuild(1, "jury", [(1, 1.0), (2, 2.0)])

    with pytest.raises(ValueError, match=message):
        await rankings.rebuild(1, "jury", entries)

    assert await rankings.top(1, "jury", 0, 10) == [(1, 1.0), (2, 2.0)]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda r: r.set_score(1, "spectator", 1, 1.0), "invalid view 'spectator'", id="view"),
        pytest.param(lambda r: r.set_score(1, "jury", 1, float("nan")), "invalid ranking key", id="nan-key"),
        pytest.param(lambda r: r.set_score(1, "jury", 1, float("inf")), "invalid ranking key", id="inf-key"),
        pytest.param(lambda r: r.set_score(1, "jury", True, 1.0), "invalid participant_id", id="bool-id"),
        pytest.param(lambda r: r.set_score("1", "jury", 1, 1.0), "invalid contest_id", id="string-contest"),
        pytest.param(lambda r: r.rank_of(1, "jury", 1.5), "invalid participant_id", id="float-id"),
        pytest.param(lambda r: r.top(1, "jury", -1, 5), "invalid start", id="negative-start"),
        pytest.param(lambda r: r.top(1, "jury", 0, -1), "invalid stop", id="negative-stop"),
        pytest.param(lambda r: r.clear(None), "invalid contest_id", id="clear-none"),
    ],
)
async def test_invalid_arguments_rejected(rankings, call, message):
    with pytest.raises(ValueError, match=message):
        await call(rankings)


async def test_invalid_set_score_leaves_set(rankings):
    await rankings.set_score(1, "jury", 1, 1.0)

    with pytest.raises(ValueError):
        await rankings.set_score(1, "jury", 1, float("nan"))

    assert await rankings.top(1, "jury", 0, 5) == [(1, 1.0)]


def random_icpc_board(seed):
    generator = random.Random(seed)
    rules = ContestRules(scoring="icpc", problems=[ProblemRef(i, chr(64 + i)) for i in range(1, 6)])
    participants = list(range(1, 61))
    attempts = [
        Attempt(
            participant_id=generator.choice(participants),
            problem_id=generator.randint(1, 5),
            submission_id=submission_id,
            # Few distinct times so that many participants tie.
            contest_time_s=generator.choice([59, 60, 119, 600, 601, 1800]),
            verdict=generator.choice(["AC", "AC", "WA", "CE", None]),
        )
        for submission_id in range(400)
    ]
    return scoreboard(rules, participants, attempts)


def random_ioi_board(seed):
    generator = random.Random(seed)
    rules = ContestRules(scoring="ioi", problems=[ProblemRef(1, "A", points=100), ProblemRef(2, "B", points=100)])
    participants = list(range(1, 41))
    attempts = [
        Attempt(
            participant_id=generator.choice(participants),
            problem_id=generator.randint(1, 2),
            submission_id=submission_id,
            contest_time_s=submission_id,
            verdict="WA",
            group_scores={"g1": generator.choice([0, 10, 33.33]), "g2": generator.choice([0, 25.5, 50])},
        )
        for submission_id in range(150)
    ]
    return scoreboard(rules, participants, attempts)


@pytest.mark.parametrize("board", [random_icpc_board, random_ioi_board])
async def test_store_ranks_match_scoreboard(rankings, board):
    rows = board(seed=1)

    await rankings.rebuild(1, "jury", [(row.participant_id, row_key(row)) for row in rows])

    assert len({row.rank for row in rows}) < len(rows)
    for row in rows:
        assert await rankings.rank_of(1, "jury", row.participant_id) == row.rank


@pytest.mark.redis
async def test_memory_and_redis_agree_on_random_operations():
    generator = random.Random(21)
    memory = MemoryRankings()
    async with redis_rankings() as redis_store:
        for _ in range(600):
            contest_id = generator.randint(1, 2)
            view = generator.choice(["public", "jury"])
            participant_id = generator.randint(1, 30)
            operation = generator.random()
            if operation < 0.6:
                key = icpc_key(generator.randint(0, 3), generator.choice([0, 20, 21, 40]), generator.choice([0, 59, 60]))
                for store in (memory, redis_store):
                    await store.set_score(contest_id, view, participant_id, key)
            elif operation < 0.75:
                assert await memory.remove(contest_id, view, participant_id) == await redis_store.remove(
                    contest_id, view, participant_id
                )
            elif operation < 0.8:
                entries = [(p, float(generator.randint(0, 5))) for p in generator.sample(range(1, 30), 10)]
                for store in (memory, redis_store):
                    await store.rebuild(contest_id, view, entries)
            elif operation < 0.82:
                for store in (memory, redis_store):
                    await store.clear(contest_id)

            for participant_id in range(1, 31):
                assert await memory.rank_of(contest_id, view, participant_id) == await redis_store.rank_of(
                    contest_id, view, participant_id
                )
            assert await memory.top(contest_id, view, 0, 50) == await redis_store.top(contest_id, view, 0, 50)
            assert await memory.size(contest_id, view) == await redis_store.size(contest_id, view)


@pytest.mark.redis
async def test_redis_key_name_and_no_ttl_after_rebuild():
    async with redis_rankings() as store:
        await store.rebuild(7, "public", [(1, 1.0), (2, 2.0)])

        name = f"{store.prefix}:contest:7:rank:public"
        assert store.key_name(7, "public") == name
        assert await store.client.zcard(name) == 2
        assert await store.client.ttl(name) == -1
        keys = sorted([key async for key in store.client.scan_iter(match=f"{store.prefix}:*")])
        assert keys == [name.encode()]


def test_redis_default_key_prefix():
    store = RedisRankings(redis.asyncio.Redis(host="127.0.0.1", port=6379, db=REDIS_DB))

    assert store.key_name(3, "jury") == "codearena:contest:3:rank:jury"


@pytest.mark.redis
async def test_redis_rebuild_atomic_for_readers():
    old_entries = [(participant_id, 1.0) for participant_id in range(1, 1001)]
    new_entries = [(participant_id, 2.0) for participant_id in range(100_001, 130_001)]
    async with redis_rankings() as store:
        await store.rebuild(1, "jury", old_entries)
        reader = redis.asyncio.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
        name = store.key_name(1, "jury")
        observed = []
        done = asyncio.Event()

        async def read_until_done():
            while not done.is_set():
                async with reader.pipeline(transaction=True) as pipe:
                    pipe.zcard(name)
                    pipe.zrange(name, 0, 0, withscores=True)
                    observed.append(tuple(await pipe.execute()))
                await asyncio.sleep(0)

        readers = [asyncio.create_task(read_until_done()) for _ in range(4)]
        try:
            await store.rebuild(1, "jury", new_entries)
        finally:
            done.set()
            await asyncio.gather(*readers)
            await reader.aclose()

        sizes = {size for size, _ in observed}
        assert len(observed) > 10
        assert sizes <= {1000, 30000}
        for size, first in observed:
            expected_first = [(b"1", 1.0)] if size == 1000 else [(b"100001", 2.0)]
            assert first == expected_first
        assert await store.size(1, "jury") == 30000

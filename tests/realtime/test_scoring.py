import random

import msgspec
import pytest

from realtime.scoring import (
    Attempt,
    ContestRules,
    IcpcScore,
    IoiScore,
    ProblemRef,
    public_attempts,
    reveal_feed,
    scoreboard,
    unfreeze,
)

PROBLEMS = [ProblemRef(10, "A"), ProblemRef(20, "B"), ProblemRef(30, "C")]
ICPC = ContestRules(scoring="icpc", problems=PROBLEMS)


class Counter:
    """Hands out increasing submission ids so tables list attempts in submission order."""

    def __init__(self) -> None:
        self.next_id = 0

    def __call__(self, participant_id, problem_id, time_s, verdict, frozen=False, **scores) -> Attempt:
        self.next_id += 1
        return Attempt(
            participant_id=participant_id,
            problem_id=problem_id,
            submission_id=self.next_id,
            contest_time_s=time_s,
            verdict=verdict,
            frozen=frozen,
            **scores,
        )


def row_of(rows, participant_id):
    return next(row for row in rows if row.participant_id == participant_id)


def cell_of(rows, participant_id, problem_id):
    return next(c for c in row_of(rows, participant_id).problems if c.problem_id == problem_id)


def ranks(rows):
    return [(row.participant_id, row.rank) for row in rows]


# (attempts as (time_s, verdict) in submission order) ->
# (num_judged, num_pending, solved, time in minutes, total_time)
ICPC_CELL_TABLE = [
    pytest.param([(59, "AC")], (1, 0, True, 0, 0), id="59s-is-minute-0"),
    pytest.param([(60, "AC")], (1, 0, True, 1, 1), id="60s-is-minute-1"),
    pytest.param([(119, "AC")], (1, 0, True, 1, 1), id="119s-is-minute-1"),
    pytest.param([(0, "AC")], (1, 0, True, 0, 0), id="ac-at-start"),
    pytest.param([(17999, "AC")], (1, 0, True, 299, 299), id="last-second-of-5h"),
    pytest.param([(10, "WA"), (130, "AC")], (2, 0, True, 2, 22), id="one-rejected"),
    pytest.param(
        [(1, "WA"), (2, "TLE"), (3, "MLE"), (4, "RTE"), (5, "OLE"), (600, "AC")],
        (6, 0, True, 10, 110),
        id="every-rejected-verdict-counts",
    ),
    pytest.param([(10, "CE"), (20, "IE"), (61, "AC")], (1, 0, True, 1, 1), id="ce-ie-before-ac-not-counted"),
    pytest.param([(10, "WA"), (20, "CE"), (30, "IE"), (130, "AC")], (2, 0, True, 2, 22), id="ce-ie-mixed"),
    pytest.param([(10, "CE"), (20, "IE")], (0, 0, False, None, 0), id="only-ce-ie"),
    pytest.param([(10, "AC"), (20, "WA"), (30, "AC"), (40, "TLE")], (1, 0, True, 0, 0), id="after-ac-ignored"),
    pytest.param([(10, "AC"), (20, None)], (1, 0, True, 0, 0), id="pending-after-ac-ignored"),
    pytest.param([(10, "WA"), (20, None)], (1, 1, False, None, 0), id="pending-counted"),
    pytest.param([(10, None), (20, None), (30, "CE")], (0, 2, False, None, 0), id="two-pending"),
    pytest.param([(10, None), (70, "AC")], (1, 1, True, 1, 1), id="pending-before-ac"),
    pytest.param([(10, "WA"), (20, "WA"), (30, "WA")], (3, 0, False, None, 0), id="unsolved-adds-no-penalty"),
]


@pytest.mark.parametrize(("table", "expected"), ICPC_CELL_TABLE)
def test_icpc_cell_rules(table, expected):
    attempt = Counter()
    attempts = [attempt(1, 10, time_s, verdict) for time_s, verdict in table]

    rows = scoreboard(ICPC, [1], attempts)
    cell = cell_of(rows, 1, 10)

    num_judged, num_pending, solved, time, total_time = expected
    assert cell.num_judged == num_judged
    assert cell.num_pending == num_pending
    assert cell.solved is solved
    assert cell.time == time
    assert rows[0].score.total_time == total_time
    assert rows[0].score.num_solved == int(solved)


def test_icpc_custom_penalty_minutes():
    attempt = Counter()
    rules = ContestRules(scoring="icpc", problems=PROBLEMS, penalty_minutes=5)
    attempts = [attempt(1, 10, 10, "WA"), attempt(1, 10, 20, "WA"), attempt(1, 10, 200, "AC")]

    rows = scoreboard(rules, [1], attempts)

    assert rows[0].score.total_time == 3 + 2 * 5


def test_icpc_same_second_uses_submission_order():
    wa_first = [Attempt(1, 10, 4, 100, "WA"), Attempt(1, 10, 5, 100, "AC")]
    ac_first = [Attempt(1, 10, 5, 100, "WA"), Attempt(1, 10, 4, 100, "AC")]

    assert scoreboard(ICPC, [1], wa_first)[0].score.total_time == 21
    assert scoreboard(ICPC, [1], ac_first)[0].score.total_time == 1
    assert cell_of(scoreboard(ICPC, [1], ac_first), 1, 10).num_judged == 1


def test_icpc_attempt_order_in_input_irrelevant():
    attempt = Counter()
    attempts = [attempt(1, 10, 10, "WA"), attempt(1, 10, 130, "AC"), attempt(1, 20, 500, "AC")]

    forward = scoreboard(ICPC, [1], attempts)
    backward = scoreboard(ICPC, [1], list(reversed(attempts)))

    assert forward == backward


def test_icpc_total_and_last_accepted():
    attempt = Counter()
    attempts = [
        attempt(1, 10, 10, "WA"),
        attempt(1, 10, 130, "AC"),
        attempt(1, 20, 3601, "AC"),
        attempt(1, 30, 7000, "WA"),
    ]

    score = scoreboard(ICPC, [1], attempts)[0].score

    assert score == IcpcScore(num_solved=2, total_time=22 + 60, last_accepted_s=3601)


# Each participant's attempts as (problem_id, time_s, verdict); expected ranks in display order.
ICPC_RANK_TABLE = [
    pytest.param(
        {1: [(10, 600, "AC")], 2: [(10, 600, "AC")], 3: [(10, 1200, "AC")]},
        [(1, 1), (2, 1), (3, 3)],
        id="shared-rank-1-1-3",
    ),
    pytest.param(
        {1: [(10, 600, "AC")], 2: [(10, 600, "AC")], 3: [(10, 600, "AC")], 4: []},
        [(1, 1), (2, 1), (3, 1), (4, 4)],
        id="three-way-tie",
    ),
    pytest.param(
        {1: [(10, 600, "AC")], 2: [(10, 100, "AC"), (20, 200, "AC")]},
        [(2, 1), (1, 2)],
        id="solved-beats-penalty",
    ),
    pytest.param(
        {1: [(10, 1500, "AC")], 2: [(10, 10, "WA"), (10, 60, "AC")]},
        [(2, 1), (1, 2)],
        id="penalty-asc",
    ),
    pytest.param(
        # Both 2 solved with 30 minutes: 1 solves at 10 and 20 min, 2 at 0 and 30 min.
        {1: [(10, 600, "AC"), (20, 1200, "AC")], 2: [(10, 0, "AC"), (20, 1800, "AC")]},
        [(1, 1), (2, 2)],
        id="last-accepted-breaks-tie",
    ),
    pytest.param(
        # Same minutes and penalty, the last AC differs by one second.
        {1: [(10, 61, "AC")], 2: [(10, 60, "AC")]},
        [(2, 1), (1, 2)],
        id="last-accepted-in-seconds",
    ),
    pytest.param(
        {3: [], 1: [], 2: []},
        [(3, 1), (1, 1), (2, 1)],
        id="nobody-solved-keeps-input-order",
    ),
    pytest.param(
        {5: [(10, 100, "AC")], 4: [(10, 100, "AC")], 6: []},
        [(5, 1), (4, 1), (6, 3)],
        id="tie-keeps-input-order",
    ),
]


@pytest.mark.parametrize(("table", "expected"), ICPC_RANK_TABLE)
def test_icpc_ranking(table, expected):
    attempt = Counter()
    attempts = [
        attempt(participant_id, problem_id, time_s, verdict)
        for participant_id, entries in table.items()
        for problem_id, time_s, verdict in entries
    ]

    rows = scoreboard(ICPC, list(table), attempts)

    assert ranks(rows) == expected


def test_icpc_ranking_matches_tuple_order():
    generator = random.Random(7)
    attempt = Counter()
    verdicts = ["AC", "WA", "TLE", "CE", "IE", None]
    participants = list(range(1, 41))
    attempts = [
        attempt(
            generator.choice(participants),
            generator.choice([10, 20, 30]),
            generator.randrange(0, 600),
            generator.choice(verdicts),
        )
        for _ in range(400)
    ]

    rows = scoreboard(ICPC, participants, attempts)

    keys = {row.participant_id: (-row.score.num_solved, row.score.total_time, row.score.last_accepted_s) for row in rows}
    for row in rows:
        better = sum(1 for key in keys.values() if key < keys[row.participant_id])
        assert row.rank == better + 1
    assert [keys[row.participant_id] for row in rows] == sorted(keys.values())
    assert sorted(row.participant_id for row in rows) == participants


def test_first_to_solve_earliest_only():
    attempt = Counter()
    attempts = [attempt(1, 10, 300, "AC"), attempt(2, 10, 200, "AC"), attempt(3, 10, 100, "WA")]

    rows = scoreboard(ICPC, [1, 2, 3], attempts)

    assert cell_of(rows, 2, 10).first_to_solve is True
    assert cell_of(rows, 1, 10).first_to_solve is False
    assert cell_of(rows, 3, 10).first_to_solve is False
    assert cell_of(rows, 2, 20).first_to_solve is False


def test_first_to_solve_same_second_shared():
    attempt = Counter()
    attempts = [attempt(1, 10, 200, "AC"), attempt(2, 10, 200, "AC"), attempt(3, 10, 201, "AC")]

    rows = scoreboard(ICPC, [1, 2, 3], attempts)

    assert cell_of(rows, 1, 10).first_to_solve is True
    assert cell_of(rows, 2, 10).first_to_solve is True
    assert cell_of(rows, 3, 10).first_to_solve is False


def test_first_to_solve_uses_seconds_not_minutes():
    attempt = Counter()
    attempts = [attempt(1, 10, 61, "AC"), attempt(2, 10, 60, "AC")]

    rows = scoreboard(ICPC, [1, 2], attempts)

    assert cell_of(rows, 2, 10).first_to_solve is True
    assert cell_of(rows, 1, 10).first_to_solve is False


def test_first_to_solve_withheld_by_earlier_pending():
    attempt = Counter()
    pending = attempt(2, 10, 100, None)
    accepted = attempt(1, 10, 200, "AC")

    withheld = scoreboard(ICPC, [1, 2], [pending, accepted])
    rejected = scoreboard(ICPC, [1, 2], [msgspec.structs.replace(pending, verdict="WA"), accepted])
    compile_error = scoreboard(ICPC, [1, 2], [msgspec.structs.replace(pending, verdict="CE"), accepted])

    assert cell_of(withheld, 1, 10).first_to_solve is False
    assert cell_of(rejected, 1, 10).first_to_solve is True
    assert cell_of(compile_error, 1, 10).first_to_solve is True


def test_first_to_solve_not_withheld_by_later_pending():
    attempt = Counter()
    attempts = [attempt(1, 10, 200, "AC"), attempt(2, 10, 200, None), attempt(3, 10, 300, None)]

    rows = scoreboard(ICPC, [1, 2, 3], attempts)

    assert cell_of(rows, 1, 10).first_to_solve is True


def freeze_scenario():
    """Three participants. The freeze starts at 3600 s; attempts after it are frozen."""
    attempt = Counter()
    return [
        attempt(1, 10, 600, "AC"),
        attempt(1, 20, 4000, "AC", frozen=True),
        attempt(2, 10, 900, "WA"),
        attempt(2, 10, 1200, "AC"),
        attempt(2, 20, 3700, "WA", frozen=True),
        attempt(2, 20, 3800, "AC", frozen=True),
        attempt(2, 30, 3900, "AC", frozen=True),
        attempt(3, 10, 300, "AC"),
        attempt(3, 10, 4100, "WA", frozen=True),
        attempt(3, 30, 4200, "CE", frozen=True),
        attempt(3, 30, 4300, "TLE", frozen=True),
    ]


def test_freeze_public_hides_results():
    attempts = freeze_scenario()

    public = scoreboard(ICPC, [1, 2, 3], attempts, view="public")

    frozen_ac = cell_of(public, 1, 20)
    assert (frozen_ac.num_judged, frozen_ac.num_pending, frozen_ac.solved, frozen_ac.time) == (0, 1, False, None)
    two_frozen = cell_of(public, 2, 20)
    assert (two_frozen.num_judged, two_frozen.num_pending, two_frozen.solved) == (0, 2, False)
    # A frozen CE shows as a pending try until it is revealed.
    assert cell_of(public, 3, 30).num_pending == 2
    # A frozen attempt after an AC shown before the freeze stays ignored.
    assert cell_of(public, 3, 10).num_pending == 0
    assert [row.score.num_solved for row in public] == [1, 1, 1]
    assert ranks(public) == [(3, 1), (1, 2), (2, 3)]


def test_freeze_jury_shows_everything():
    attempts = freeze_scenario()

    jury = scoreboard(ICPC, [1, 2, 3], attempts, view="jury")

    assert ranks(jury) == [(2, 1), (1, 2), (3, 3)]
    assert row_of(jury, 2).score == IcpcScore(num_solved=3, total_time=(20 + 20) + (63 + 20) + 65, last_accepted_s=3900)
    assert cell_of(jury, 3, 30).num_judged == 1
    assert cell_of(jury, 3, 30).num_pending == 0


def test_freeze_jury_default_view():
    attempts = freeze_scenario()

    assert scoreboard(ICPC, [1, 2, 3], attempts) == scoreboard(ICPC, [1, 2, 3], attempts, view="jury")


def test_public_attempts_matches_public_view():
    attempts = freeze_scenario()

    public = scoreboard(ICPC, [1, 2, 3], attempts, view="public")
    converted = scoreboard(ICPC, [1, 2, 3], public_attempts(attempts), view="jury")

    assert public == converted


def test_unfreeze_public_equals_jury():
    attempts = freeze_scenario()
    jury = scoreboard(ICPC, [1, 2, 3], attempts, view="jury")

    public = scoreboard(ICPC, [1, 2, 3], unfreeze(attempts), view="public")

    assert public == jury
    assert scoreboard(ICPC, [1, 2, 3], attempts, view="public") != jury


def test_unfreeze_random_boards_public_equals_jury():
    generator = random.Random(11)
    verdicts = ["AC", "WA", "RTE", "CE", "IE", None]
    for _ in range(20):
        attempt = Counter()
        attempts = [
            attempt(
                generator.randrange(1, 9),
                generator.choice([10, 20, 30]),
                generator.randrange(0, 18000),
                generator.choice(verdicts),
                frozen=generator.random() < 0.4,
            )
            for _ in range(60)
        ]

        jury = scoreboard(ICPC, list(range(1, 9)), attempts, view="jury")
        public = scoreboard(ICPC, list(range(1, 9)), unfreeze(attempts), view="public")

        assert public == jury


IOI_PROBLEMS = [ProblemRef(10, "A", points=100), ProblemRef(20, "B", points=50)]
IOI_GROUPS = ContestRules(scoring="ioi", problems=IOI_PROBLEMS, ioi_mode="best_of_groups")
IOI_SINGLE = ContestRules(scoring="ioi", problems=IOI_PROBLEMS, ioi_mode="best_submission")


def group_attempts():
    attempt = Counter()
    return [
        attempt(1, 10, 100, "WA", score=30, group_scores={"g1": 20, "g2": 0, "g3": 10}),
        attempt(1, 10, 200, "WA", score=35, group_scores={"g1": 0, "g2": 30, "g3": 5}),
        attempt(1, 10, 300, "TLE", score=20, group_scores={"g1": 20, "g2": 0, "g3": 0}),
    ]


def test_ioi_best_of_groups_across_submissions():
    rows = scoreboard(IOI_GROUPS, [1], group_attempts())

    assert cell_of(rows, 1, 10).score == 60.0
    assert rows[0].score == IoiScore(score=60.0)
    assert cell_of(rows, 1, 10).solved is False


def test_ioi_best_submission_mode():
    rows = scoreboard(IOI_SINGLE, [1], group_attempts())

    assert cell_of(rows, 1, 10).score == 35.0
    assert rows[0].score == IoiScore(score=35.0)


def test_ioi_full_score_from_groups():
    attempt = Counter()
    attempts = [
        attempt(1, 10, 100, "WA", group_scores={"g1": 40, "g2": 0}),
        attempt(1, 10, 250, "WA", group_scores={"g1": 0, "g2": 60}),
        attempt(1, 10, 400, "AC", group_scores={"g1": 40, "g2": 60}),
    ]

    groups = cell_of(scoreboard(IOI_GROUPS, [1], attempts), 1, 10)
    single = cell_of(scoreboard(IOI_SINGLE, [1], attempts), 1, 10)

    assert (groups.score, groups.solved, groups.time) == (100.0, True, 4)
    assert (single.score, single.solved, single.time) == (100.0, True, 6)


def test_ioi_best_single_without_groups():
    attempt = Counter()
    attempts = [attempt(1, 20, 10, "WA", score=12.5), attempt(1, 20, 20, "WA", score=40), attempt(1, 20, 30, "WA", score=7)]

    for rules in (IOI_GROUPS, IOI_SINGLE):
        assert cell_of(scoreboard(rules, [1], attempts), 1, 20).score == 40.0


def test_ioi_ac_without_score_is_full():
    attempt = Counter()
    attempts = [attempt(1, 20, 10, "AC"), attempt(2, 20, 10, "WA")]

    rows = scoreboard(IOI_GROUPS, [1, 2], attempts)

    assert cell_of(rows, 1, 20).score == 50.0
    assert cell_of(rows, 1, 20).solved is True
    assert cell_of(rows, 1, 20).first_to_solve is True
    assert cell_of(rows, 2, 20).score == 0.0


def test_ioi_scores_rounded_to_hundredths():
    attempt = Counter()
    attempts = [
        attempt(1, 10, 10, "WA", group_scores={"g1": 0.1, "g2": 0.2}),
        attempt(2, 10, 10, "WA", score=0.3),
        attempt(3, 10, 10, "WA", score=33.333),
        attempt(4, 10, 10, "WA", score=33.334),
    ]

    rows = scoreboard(IOI_GROUPS, [1, 2, 3, 4], attempts)

    assert row_of(rows, 1).score.score == 0.3
    assert ranks(rows) == [(3, 1), (4, 1), (1, 3), (2, 3)]
    assert row_of(rows, 3).score.score == 33.33


def test_ioi_ce_ie_pending_counts():
    attempt = Counter()
    attempts = [
        attempt(1, 10, 10, "CE"),
        attempt(1, 10, 20, "IE"),
        attempt(1, 10, 30, "WA", score=10),
        attempt(1, 10, 40, None),
        attempt(1, 10, 50, "AC", score=70, frozen=True),
    ]

    jury = cell_of(scoreboard(IOI_GROUPS, [1], attempts), 1, 10)
    public = cell_of(scoreboard(IOI_GROUPS, [1], attempts, view="public"), 1, 10)

    assert (jury.num_judged, jury.num_pending, jury.score) == (2, 1, 70.0)
    assert (public.num_judged, public.num_pending, public.score) == (1, 2, 10.0)


def test_ioi_ranking_sums_problems():
    attempt = Counter()
    attempts = [
        attempt(1, 10, 10, "WA", score=60),
        attempt(1, 20, 10, "WA", score=10),
        attempt(2, 10, 10, "AC", score=100),
        attempt(3, 20, 10, "AC", score=50),
        attempt(3, 10, 10, "WA", score=20),
    ]

    rows = scoreboard(IOI_GROUPS, [1, 2, 3], attempts)

    assert ranks(rows) == [(2, 1), (1, 2), (3, 2)]
    assert [row.score.score for row in rows] == [100.0, 70.0, 70.0]


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        pytest.param({"score": 100.5}, "invalid score", id="above-points"),
        pytest.param({"score": -1}, "invalid score", id="negative"),
        pytest.param({"score": float("nan")}, "invalid score", id="nan"),
        pytest.param({"score": float("inf")}, "invalid score", id="inf"),
        pytest.param({"group_scores": {"g1": -5}}, "test group 'g1'", id="negative-group"),
        pytest.param({"group_scores": {"g1": 60, "g2": 41}}, "add up to more", id="groups-above-points"),
    ],
)
def test_ioi_invalid_scores_rejected(scores, message):
    attempts = [Attempt(1, 10, 1, 10, "WA", **scores)]

    with pytest.raises(ValueError, match=message):
        scoreboard(IOI_GROUPS, [1], attempts)


@pytest.mark.parametrize(
    ("attempt", "message"),
    [
        pytest.param(Attempt(9, 10, 1, 10, "AC"), "participant_id 9", id="unknown-participant"),
        pytest.param(Attempt(1, 99, 1, 10, "AC"), "problem_id 99", id="unknown-problem"),
        pytest.param(Attempt(1, 10, 1, -1, "AC"), "contest_time_s", id="negative-time"),
        pytest.param(Attempt(1, 10, 1, 1.5, "AC"), "contest_time_s", id="float-time"),
        pytest.param(Attempt(1, 10, 1, 10, "OK"), "invalid verdict 'OK'", id="unknown-verdict"),
    ],
)
def test_invalid_attempt_rejected(attempt, message):
    with pytest.raises(ValueError, match=message):
        scoreboard(ICPC, [1], [attempt])


def test_duplicate_submission_rejected():
    attempts = [Attempt(1, 10, 7, 10, "WA"), Attempt(1, 20, 7, 20, "AC")]

    with pytest.raises(ValueError, match="duplicate submission_id 7"):
        scoreboard(ICPC, [1], attempts)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        pytest.param(ContestRules("icpc", [ProblemRef(1, "A"), ProblemRef(1, "B")]), "duplicate problem_id", id="dup-id"),
        pytest.param(ContestRules("icpc", [ProblemRef(1, "A"), ProblemRef(2, "A")]), "duplicate label", id="dup-label"),
        pytest.param(ContestRules("icpc", PROBLEMS, penalty_minutes=-1), "penalty_minutes", id="negative-penalty"),
        pytest.param(ContestRules("elo", PROBLEMS), "invalid scoring", id="unknown-scoring"),
        pytest.param(ContestRules("ioi", PROBLEMS, ioi_mode="worst"), "invalid ioi_mode", id="unknown-ioi-mode"),
        pytest.param(ContestRules("ioi", [ProblemRef(1, "A", points=0)]), "invalid points", id="zero-points"),
        pytest.param(ContestRules("ioi", [ProblemRef(1, "A", points=float("nan"))]), "invalid points", id="nan-points"),
    ],
)
def test_invalid_rules_rejected(rules, message):
    with pytest.raises(ValueError, match=message):
        scoreboard(rules, [1], [])


def test_invalid_view_and_participants_rejected():
    with pytest.raises(ValueError, match="invalid view 'spectator'"):
        scoreboard(ICPC, [1], [], view="spectator")
    with pytest.raises(ValueError, match="duplicate participant_id"):
        scoreboard(ICPC, [1, 1], [])


def test_rows_encode_as_contest_api_objects():
    attempt = Counter()
    icpc_rows = scoreboard(ICPC, [1], [attempt(1, 10, 130, "AC")])
    ioi_rows = scoreboard(IOI_GROUPS, [1], [attempt(1, 10, 130, "WA", score=12.5)])

    icpc = msgspec.json.decode(msgspec.json.encode(icpc_rows))[0]
    ioi = msgspec.json.decode(msgspec.json.encode(ioi_rows))[0]

    assert icpc["score"] == {"num_solved": 1, "total_time": 2, "last_accepted_s": 130}
    assert icpc["problems"][0] == {
        "problem_id": 10,
        "label": "A",
        "num_judged": 1,
        "num_pending": 0,
        "solved": True,
        "first_to_solve": True,
        "time": 2,
    }
    assert "time" not in icpc["problems"][1]
    assert "score" not in icpc["problems"][1]
    assert ioi["score"] == {"score": 12.5}
    assert ioi["problems"][0]["score"] == 12.5


def replay(rules, participants, attempts, steps):
    """Apply reveal steps to the attempts one by one and check each step's ranks."""
    current = list(attempts)
    for step in steps:
        before = scoreboard(rules, participants, current, view="public")
        assert row_of(before, step.participant_id).rank == step.rank_before

        current = [
            msgspec.structs.replace(a, frozen=False)
            if (a.participant_id, a.problem_id) == (step.participant_id, step.problem_id)
            else a
            for a in current
        ]
        after = scoreboard(rules, participants, current, view="public")
        assert row_of(after, step.participant_id).rank == step.rank_after
        assert cell_of(after, step.participant_id, step.problem_id) == step.cell
    return scoreboard(rules, participants, current, view="public")


def test_reveal_feed_order_and_ranks():
    attempts = freeze_scenario()

    steps = list(reveal_feed(ICPC, [1, 2, 3], attempts))

    # The public board is 3, 1, 2. Participant 2 is lowest and reveals B, which moves it to rank 1.
    # Then 1 is lowest and reveals B. Then 3 reveals C (a CE and a TLE), and last 2 reveals C.
    summary = [(s.participant_id, s.label, s.cell.solved, s.rank_before, s.rank_after) for s in steps]
    assert summary == [
        (2, "B", True, 3, 1),
        (1, "B", True, 3, 1),
        (3, "C", False, 3, 3),
        (2, "C", True, 2, 1),
    ]


def test_reveal_feed_ends_at_jury_board():
    attempts = freeze_scenario()
    jury = scoreboard(ICPC, [1, 2, 3], attempts, view="jury")

    steps = list(reveal_feed(ICPC, [1, 2, 3], attempts))
    final = replay(ICPC, [1, 2, 3], attempts, steps)

    assert final == jury


def test_reveal_feed_skips_frozen_after_ac():
    attempt = Counter()
    attempts = [attempt(1, 10, 100, "AC"), attempt(1, 10, 5000, "WA", frozen=True)]

    assert list(reveal_feed(ICPC, [1], attempts)) == []


def test_reveal_feed_without_freeze_is_empty():
    attempt = Counter()
    attempts = [attempt(1, 10, 100, "AC"), attempt(2, 10, 200, "WA")]

    assert list(reveal_feed(ICPC, [1, 2], attempts)) == []


def test_reveal_feed_random_boards_reach_jury():
    generator = random.Random(5)
    verdicts = ["AC", "AC", "WA", "TLE", "CE", "IE", None]
    participants = list(range(1, 13))
    for _ in range(15):
        attempt = Counter()
        attempts = []
        for _ in range(120):
            time_s = generator.randrange(0, 18000)
            attempts.append(
                attempt(
                    generator.choice(participants),
                    generator.choice([10, 20, 30]),
                    time_s,
                    generator.choice(verdicts),
                    frozen=time_s >= 14400,
                )
            )
        jury = scoreboard(ICPC, participants, attempts, view="jury")

        steps = list(reveal_feed(ICPC, participants, attempts))
        final = replay(ICPC, participants, attempts, steps)

        assert final == jury
        revealed = [(s.participant_id, s.problem_id) for s in steps]
        assert len(revealed) == len(set(revealed))


def test_reveal_feed_ioi_reaches_jury():
    attempt = Counter()
    attempts = [
        attempt(1, 10, 100, "WA", score=40),
        attempt(1, 10, 5000, "AC", score=100, frozen=True),
        attempt(2, 10, 200, "WA", score=70),
        attempt(2, 20, 5100, "WA", score=20, frozen=True),
    ]
    jury = scoreboard(IOI_GROUPS, [1, 2], attempts, view="jury")

    steps = list(reveal_feed(IOI_GROUPS, [1, 2], attempts))
    final = replay(IOI_GROUPS, [1, 2], attempts, steps)

    assert [(s.participant_id, s.label, s.rank_before, s.rank_after) for s in steps] == [(1, "A", 2, 1), (2, "B", 2, 2)]
    assert final == jury


def test_reveal_feed_validates_on_call():
    with pytest.raises(ValueError, match="participant_id 9"):
        reveal_feed(ICPC, [1], [Attempt(9, 10, 1, 10, "AC", frozen=True)])

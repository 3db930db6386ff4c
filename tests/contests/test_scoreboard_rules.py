"""Scoring rules end to end: rows stored in the database, hooks, rankings, deltas and the REST board."""

from __future__ import annotations

from datetime import timedelta

import pytest

from db.models import Participant, Submission, SubmissionStatus, Verdict
from realtime.scoring import VIEWS
from server.live import contest_channel
from tests.contests.conftest import (
    cell_of,
    on_app_loop,
    participant_id,
    register,
    row_of,
    scoreboard,
    set_verdict,
    store_submission,
)

# (username, problem label, seconds after the start, verdict or None for pending)
Attempts = list[tuple[str, str, int, str | None]]

ICPC_CASES: dict[str, tuple[Attempts, dict[str, tuple[int, int, int]]]] = {
    # expected: username -> (rank, num_solved, total_time)
    "shared rank": (
        [("ann", "A", 600, "AC"), ("bob", "A", 600, "AC"), ("cid", "A", 700, "WA")],
        {"ann": (1, 1, 10), "bob": (1, 1, 10), "cid": (3, 0, 0)},
    ),
    "equal penalty, earlier last AC wins": (
        [("dan", "A", 300, "AC"), ("dan", "B", 900, "AC"), ("eve", "A", 600, "AC"), ("eve", "B", 600, "AC")],
        {"eve": (1, 2, 20), "dan": (2, 2, 20)},
    ),
    "minute truncation": (
        [("ann", "A", 59, "AC"), ("bob", "A", 119, "AC"), ("cid", "A", 3599, "AC")],
        {"ann": (1, 1, 0), "bob": (2, 1, 1), "cid": (3, 1, 59)},
    ),
    "compile errors not counted": (
        [("ann", "A", 60, "CE"), ("ann", "A", 120, "CE"), ("ann", "A", 1800, "AC"),
         ("bob", "A", 60, "WA"), ("bob", "A", 120, "CE"), ("bob", "A", 600, "AC")],
        # Equal penalty, so bob's earlier AC ranks him first.
        {"bob": (1, 1, 30), "ann": (2, 1, 30)},
    ),
    "attempts after AC ignored": (
        [("ann", "A", 600, "AC"), ("ann", "A", 1200, "WA"), ("ann", "A", 1800, "AC"), ("ann", "A", 2400, None),
         ("bob", "A", 600, "WA"), ("bob", "A", 900, "AC"), ("bob", "A", 1000, "WA")],
        {"ann": (1, 1, 10), "bob": (2, 1, 35)},
    ),
    "penalty per rejected attempt": (
        [("ann", "A", 60, "WA"), ("ann", "A", 120, "TLE"), ("ann", "A", 180, "RTE"), ("ann", "A", 240, "AC"),
         ("bob", "B", 3000, "AC")],
        {"bob": (1, 1, 50), "ann": (2, 1, 64)},
    ),
}


async def _play(client, db, contest: dict, accounts: dict, attempts: Attempts, judged, queued) -> dict[str, int]:
    labels = {problem["label"]: problem["problem_id"] for problem in contest["problems"]}
    ids = {}
    for index, (username, label, seconds, verdict) in enumerate(attempts):
        submission_id = await store_submission(
            db, contest, accounts[username].id, labels[label], timedelta(seconds=seconds), verdict
        )
        await (judged if verdict is not None else queued)(submission_id)
        ids[f"{index}"] = submission_id
    return ids


async def _accounts(client, contest: dict, make_account, names) -> dict:
    accounts = {}
    for name in sorted(set(names)):
        accounts[name] = await make_account(name)
        await register(client, contest, accounts[name])
    return accounts


async def _check_live_state_matches_board(client, app, contest: dict, organizer) -> None:
    """The rankings and the last delta of each participant agree with a recomputation from the database."""
    hub = app.state.hub
    rankings = app.state.live.rankings
    for view in VIEWS:
        board = await scoreboard(client, contest, view, organizer.headers)
        kind = "scoreboard" if view == "public" else "jury"
        envelopes = await on_app_loop(client, hub.since, contest_channel(contest["id"], kind), 0)
        last_rows = {}
        marks = {}
        for envelope in envelopes:
            if envelope.type == "rows":
                for row in envelope.data["rows"]:
                    last_rows[row["team_id"]] = row
                marks = {mark["problem_id"]: mark["team_ids"] for mark in envelope.data["first_to_solve"]}
        assert marks == {mark["problem_id"]: mark["team_ids"] for mark in board["first_to_solve"]}, view
        for row in board["rows"]:
            rank = await on_app_loop(client, rankings.rank_of, contest["id"], view, row["team_id"])
            assert rank == row["rank"], (view, row["username"])
            delta = last_rows[row["team_id"]]
            assert delta["sort_key"] == row["sort_key"], (view, row["username"])
            assert delta["score"] == row["score"], (view, row["username"])
            # A delta's own cell marks are as of that delta; later deltas' first_to_solve lists supersede them.
            assert _without_marks(delta["problems"]) == _without_marks(row["problems"]), (view, row["username"])


def _without_marks(cells: list[dict]) -> list[dict]:
    return [{key: value for key, value in cell.items() if key != "first_to_solve"} for cell in cells]


@pytest.mark.parametrize("case", sorted(ICPC_CASES))
async def test_icpc_rules_through_hooks(case, client, app, db, organizer, make_account, make_contest, judged, queued):
    attempts, expected = ICPC_CASES[case]
    contest = await make_contest(problems=2)
    accounts = await _accounts(client, contest, make_account, [name for name, *_ in attempts])

    await _play(client, db, contest, accounts, attempts, judged, queued)

    board = await scoreboard(client, contest)
    for username, (rank, solved, penalty) in expected.items():
        row = row_of(board, username)
        assert row["rank"] == rank, username
        assert row["score"] == {"num_solved": solved, "total_time": penalty}, username
    await _check_live_state_matches_board(client, app, contest, organizer)


async def test_icpc_cells_count_tries_and_time(client, db, make_account, make_contest, judged, queued):
    attempts = ICPC_CASES["attempts after AC ignored"][0] + [("cid", "B", 100, "CE"), ("cid", "B", 200, None)]
    contest = await make_contest(problems=2)
    accounts = await _accounts(client, contest, make_account, ["ann", "bob", "cid"])

    await _play(client, db, contest, accounts, attempts, judged, queued)

    board = await scoreboard(client, contest)
    ann_a = cell_of(row_of(board, "ann"), "A")
    assert (ann_a["num_judged"], ann_a["num_pending"], ann_a["solved"], ann_a["time"]) == (1, 0, True, 10)
    bob_a = cell_of(row_of(board, "bob"), "A")
    assert (bob_a["num_judged"], bob_a["num_pending"], bob_a["time"]) == (2, 0, 15)
    cid_b = cell_of(row_of(board, "cid"), "B")
    assert (cid_b["num_judged"], cid_b["num_pending"], cid_b["solved"]) == (0, 1, False)
    assert "time" not in cid_b


async def test_first_to_solve_withheld_while_earlier_pending(client, app, db, organizer, make_account, make_contest, judged, queued):
    contest = await make_contest(problems=1)
    accounts = await _accounts(client, contest, make_account, ["ann", "bob", "cid"])
    problem = contest["problems"][0]["problem_id"]
    pending = await store_submission(db, contest, accounts["cid"].id, problem, timedelta(seconds=1100), None)
    await queued(pending)
    for name in ("ann", "bob"):
        await judged(await store_submission(db, contest, accounts[name].id, problem, timedelta(seconds=1200), "AC"))

    board = await scoreboard(client, contest)
    assert board["first_to_solve"] == [{"problem_id": problem, "team_ids": []}]
    assert not cell_of(row_of(board, "ann"), "A")["first_to_solve"]

    await set_verdict(db, pending, "WA")
    await judged(pending)

    board = await scoreboard(client, contest)
    tied = sorted([await participant_id(db, contest, accounts[name].id) for name in ("ann", "bob")])
    assert board["first_to_solve"] == [{"problem_id": problem, "team_ids": tied}]
    assert cell_of(row_of(board, "ann"), "A")["first_to_solve"]
    assert cell_of(row_of(board, "bob"), "A")["first_to_solve"]
    await _check_live_state_matches_board(client, app, contest, organizer)


async def test_pending_then_judged_moves_rank(client, db, make_account, make_contest, judged, queued):
    contest = await make_contest(problems=1)
    accounts = await _accounts(client, contest, make_account, ["ann", "bob"])
    problem = contest["problems"][0]["problem_id"]
    await judged(await store_submission(db, contest, accounts["ann"].id, problem, timedelta(minutes=30), "AC"))
    submission = await store_submission(db, contest, accounts["bob"].id, problem, timedelta(minutes=10), None)
    await queued(submission)

    before = await scoreboard(client, contest)
    await set_verdict(db, submission, "AC")
    await judged(submission)
    after = await scoreboard(client, contest)

    assert [row["username"] for row in before["rows"]] == ["ann", "bob"]
    assert cell_of(row_of(before, "bob"), "A")["num_pending"] == 1
    assert [row["username"] for row in after["rows"]] == ["bob", "ann"]
    assert [row["rank"] for row in after["rows"]] == [1, 2]


IOI_CASES: dict[str, tuple[str, list[tuple[str, str, int, float, dict]], dict[str, tuple[int, float]]]] = {
    # ioi_mode, attempts (username, label, seconds, score, group scores), expected username -> (rank, score)
    "best of groups across submissions": (
        "best_of_groups",
        [("ann", "A", 60, 50.0, {"g1": 50.0, "g2": 0.0}), ("ann", "A", 120, 50.0, {"g1": 0.0, "g2": 50.0}),
         ("bob", "A", 60, 50.0, {"g1": 50.0, "g2": 0.0}), ("bob", "A", 90, 0.0, {"g1": 0.0, "g2": 0.0})],
        {"ann": (1, 100.0), "bob": (2, 50.0)},
    ),
    "best single submission": (
        "best_submission",
        [("ann", "A", 60, 50.0, {"g1": 50.0, "g2": 0.0}), ("ann", "A", 120, 50.0, {"g1": 0.0, "g2": 50.0}),
         ("bob", "A", 60, 50.0, {"g1": 50.0, "g2": 0.0})],
        {"ann": (1, 50.0), "bob": (1, 50.0)},
    ),
    "scores scaled to contest points": (
        "best_of_groups",
        [("ann", "B", 60, 100.0, {"g1": 50.0, "g2": 50.0}), ("bob", "A", 60, 100.0, {"g1": 50.0, "g2": 50.0})],
        {"bob": (1, 100.0), "ann": (2, 25.0)},
    ),
}


@pytest.mark.parametrize("case", sorted(IOI_CASES))
async def test_ioi_rules_through_hooks(case, client, app, db, organizer, make_account, make_contest, judged):
    mode, attempts, expected = IOI_CASES[case]
    contest = await make_contest(problems=2, scoring="ioi", ioi_mode=mode)
    # Problem B is worth 25 points on this contest; its test data totals 100.
    problem_ids = [problem["problem_id"] for problem in contest["problems"]]
    await _set_points(db, contest["id"], problem_ids[1], 25.0)
    accounts = await _accounts(client, contest, make_account, [name for name, *_ in attempts])
    labels = {problem["label"]: problem["problem_id"] for problem in contest["problems"]}

    for username, label, seconds, score, groups in attempts:
        verdict = "AC" if score == 100.0 else "WA"
        submission = await store_submission(
            db, contest, accounts[username].id, labels[label], timedelta(seconds=seconds), verdict,
            score=score, group_scores=groups,
        )
        await judged(submission)

    board = await scoreboard(client, contest)
    for username, (rank, total) in expected.items():
        row = row_of(board, username)
        assert row["rank"] == rank, username
        assert row["score"] == {"score": total}, username
    await _check_live_state_matches_board(client, app, contest, organizer)


async def _set_points(db, contest_id: int, problem_id: int, points: float) -> None:
    from sqlalchemy import update

    from db.models import ContestProblem

    async with db() as session:
        await session.execute(
            update(ContestProblem)
            .where(ContestProblem.contest_id == contest_id, ContestProblem.problem_id == problem_id)
            .values(points=points)
        )
        await session.commit()


async def test_ioi_full_score_from_groups_counts_as_solved(client, db, make_account, make_contest, judged):
    contest = await make_contest(problems=1, scoring="ioi")
    accounts = await _accounts(client, contest, make_account, ["ann"])
    problem = contest["problems"][0]["problem_id"]
    for seconds, groups in ((60, {"g1": 50.0, "g2": 0.0}), (180, {"g1": 0.0, "g2": 50.0})):
        submission = await store_submission(
            db, contest, accounts["ann"].id, problem, timedelta(seconds=seconds), "WA", score=50.0, group_scores=groups
        )
        await judged(submission)

    cell = cell_of(row_of(await scoreboard(client, contest), "ann"), "A")

    assert cell["score"] == 100.0
    assert cell["solved"] is True
    assert cell["time"] == 3
    assert cell["first_to_solve"] is True


async def test_rejudge_board_equals_recomputation(client, app, db, organizer, make_account, make_contest, judged, queued):
    contest = await make_contest(problems=2)
    accounts = await _accounts(client, contest, make_account, ["ann", "bob"])
    labels = {problem["label"]: problem["problem_id"] for problem in contest["problems"]}
    first = await store_submission(db, contest, accounts["ann"].id, labels["A"], timedelta(minutes=5), "AC")
    await judged(first)
    await judged(await store_submission(db, contest, accounts["bob"].id, labels["A"], timedelta(minutes=7), "AC"))
    await judged(await store_submission(db, contest, accounts["ann"].id, labels["A"], timedelta(minutes=9), "WA"))

    # A rejudge turns ann's first AC into WA: her later WA now counts and bob becomes first to solve.
    async with db() as session:
        submission = await session.get(Submission, first)
        submission.status = SubmissionStatus.QUEUED
        submission.verdict = None
        submission.attempt = 2
        await session.commit()
    await queued(first)
    await set_verdict(db, first, "WA")
    await judged(first)

    board = await scoreboard(client, contest)
    bob_id = await participant_id(db, contest, accounts["bob"].id)
    assert [row["username"] for row in board["rows"]] == ["bob", "ann"]
    assert cell_of(row_of(board, "ann"), "A")["num_judged"] == 2
    assert board["first_to_solve"][0] == {"problem_id": labels["A"], "team_ids": [bob_id]}
    await _check_live_state_matches_board(client, app, contest, organizer)


async def test_rankings_rebuilt_when_store_empty(client, app, db, organizer, make_account, make_contest, judged):
    contest = await make_contest(problems=1)
    accounts = await _accounts(client, contest, make_account, ["ann", "bob", "cid"])
    problem = contest["problems"][0]["problem_id"]
    await judged(await store_submission(db, contest, accounts["bob"].id, problem, timedelta(minutes=3), "AC"))

    # The store loses everything, as Redis does when it restarts without persistence.
    await on_app_loop(client, app.state.live.rankings.clear, contest["id"])
    await judged(await store_submission(db, contest, accounts["cid"].id, problem, timedelta(minutes=4), "AC"))

    board = await scoreboard(client, contest)
    for row in board["rows"]:
        rank = await on_app_loop(client, app.state.live.rankings.rank_of, contest["id"], "public", row["team_id"])
        assert rank == row["rank"], row["username"]
    assert await on_app_loop(client, app.state.live.rankings.size, contest["id"], "jury") == 3


async def test_hook_ignores_practice_and_strangers(client, app, db, make_account, make_contest, judged):
    contest = await make_contest(problems=1)
    ann = await make_account("ann")
    stranger = await make_account("stranger")
    await register(client, contest, ann)
    problem = contest["problems"][0]["problem_id"]
    async with db() as session:
        practice = Submission(
            user_id=ann.id, problem_id=problem, language="python3", code="", status=SubmissionStatus.JUDGED,
            verdict=Verdict.AC,
        )
        session.add(practice)
        await session.commit()
    await judged(practice.id)
    await judged(await store_submission(db, contest, stranger.id, problem, timedelta(minutes=1), "AC"))
    await judged(999_999)

    board = await scoreboard(client, contest)
    assert [row["username"] for row in board["rows"]] == ["ann"]
    assert row_of(board, "ann")["score"]["num_solved"] == 0


async def test_virtual_participant_not_on_board(client, db, make_account, make_contest, judged):
    contest = await make_contest(problems=1)
    ann = await make_account("ann")
    await register(client, contest, ann)
    async with db() as session:
        participant = await session.get(Participant, await participant_id(db, contest, ann.id))
        participant.is_virtual = True
        await session.commit()
    await judged(await store_submission(db, contest, ann.id, contest["problems"][0]["problem_id"], timedelta(minutes=1), "AC"))

    assert (await scoreboard(client, contest))["rows"] == []

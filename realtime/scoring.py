"""Scoring rules: turn the attempts of a contest into scoreboard rows.

Pure functions without I/O. The rows have the shape of the scoreboard object of
the ICPC Contest API, so the server can encode them as they are.

ICPC rules:

- Rank by problems solved (desc), penalty (asc), then the contest time of the
  last accepted attempt in seconds (asc). Participants equal on all three share
  a rank (standard competition ranking: 1, 1, 3).
- The penalty of a solved problem is the minutes from the contest start to its
  first AC, truncated (59 s is minute 0, 119 s is minute 1), plus
  `penalty_minutes` for each rejected attempt before that AC. Unsolved problems
  add nothing.
- CE and IE attempts never count, neither as rejected nor as judged.
- Attempts after the first AC of a problem are ignored, including pending ones.
- Attempts of one participant and problem are ordered by contest time, then by
  submission id, so two attempts in the same second keep submission order.
- First to solve: every participant whose first AC of a problem has the
  earliest contest time (in whole seconds) over all participants gets the mark,
  so ties on the same second all get it. The mark is withheld while any
  participant has a counted pending attempt on that problem that is strictly
  earlier, because that attempt may still be accepted. So a mark once shown is
  never taken back by a later verdict.

IOI rules:

- `Attempt.score` and the values of `Attempt.group_scores` are points of the
  problem (not fractions), between 0 and `ProblemRef.points`. An AC without a
  score is worth the full points, and any other judged attempt without a score
  or group scores is worth 0.
- Every score is rounded to hundredths of a point first, and all sums are
  exact integer arithmetic on hundredths, so equal boards rank equally
  everywhere.
- `best_submission`: a problem's score is the best score of a single attempt.
- `best_of_groups`: a problem's score is the sum over test groups of the best
  score of that group across attempts, capped at the problem's points, and
  never below the best single attempt.
- Participants with equal total scores share a rank. A problem counts as
  solved once its score reaches the full points, and `time` is the minute it
  first did.

Freeze: an attempt with `frozen=True` shows in the public view as pending
(the try is counted, the result is hidden), including a frozen CE or IE, so the
public board does not leak which frozen attempts failed to compile. The jury
view shows every result. When no attempt is frozen the two views are equal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

import msgspec

Verdict = Literal["AC", "WA", "TLE", "MLE", "RTE", "OLE", "CE", "IE"]
View = Literal["public", "jury"]

VERDICTS: frozenset[str] = frozenset({"AC", "WA", "TLE", "MLE", "RTE", "OLE", "CE", "IE"})
NOT_COUNTED_VERDICTS: frozenset[str] = frozenset({"CE", "IE"})
VIEWS: tuple[str, ...] = ("public", "jury")
SCORING_MODES: tuple[str, ...] = ("icpc", "ioi")
IOI_MODES: tuple[str, ...] = ("best_of_groups", "best_submission")


class ProblemRef(msgspec.Struct, frozen=True):
    problem_id: int
    label: str
    # Maximum score of the problem. Only IOI scoring reads it.
    points: float = 100.0


class ContestRules(msgspec.Struct, frozen=True):
    scoring: Literal["icpc", "ioi"]
    # In label order: the reveal feed walks a participant's problems in this order.
    problems: list[ProblemRef]
    penalty_minutes: int = 20
    ioi_mode: Literal["best_of_groups", "best_submission"] = "best_of_groups"


class Attempt(msgspec.Struct, frozen=True):
    participant_id: int
    problem_id: int
    submission_id: int
    # Seconds since the contest start (for a virtual participant, since their own start).
    contest_time_s: int
    # None while the attempt is queued or being judged.
    verdict: Verdict | None = None
    score: float | None = None
    group_scores: dict[str, float] | None = None
    # True when the result came in during the freeze and is hidden from the public view.
    frozen: bool = False


class ProblemCell(msgspec.Struct, omit_defaults=True):
    """One problem of a scoreboard row. Encoding leaves out `time` and `score` when they are None."""

    problem_id: int
    label: str
    num_judged: int
    num_pending: int
    solved: bool
    first_to_solve: bool
    # Minutes from the contest start to the first AC (IOI: to the first full score).
    time: int | None = None
    # Points of the problem, IOI only.
    score: float | None = None


class IcpcScore(msgspec.Struct):
    num_solved: int
    total_time: int
    # Contest time in seconds of the last first-AC, the third ranking criterion.
    # 0 when nothing is solved. The Contest API object has no such field.
    last_accepted_s: int


class IoiScore(msgspec.Struct):
    score: float


class Row(msgspec.Struct):
    rank: int
    participant_id: int
    score: IcpcScore | IoiScore
    problems: list[ProblemCell]


class RevealStep(msgspec.Struct):
    participant_id: int
    problem_id: int
    label: str
    # The participant's cell for that problem after the reveal.
    cell: ProblemCell
    rank_before: int
    rank_after: int


class _CellState(msgspec.Struct):
    """Result of one participant on one problem in one view, before ranking."""

    num_judged: int = 0
    num_pending: int = 0
    solved: bool = False
    # Contest second of the first AC (IOI: of the first full score).
    solved_s: int | None = None
    # Contest second of the earliest counted pending attempt.
    earliest_pending_s: int | None = None
    penalty: int = 0
    score_hundredths: int = 0


def to_hundredths(points: float) -> int:
    """Round a score in points to an integer number of hundredths of a point."""
    return round(points * 100)


def public_attempts(attempts: Iterable[Attempt]) -> list[Attempt]:
    """Return the attempts of the public view, where each frozen attempt has no verdict (pending)."""
    return [
        msgspec.structs.replace(attempt, verdict=None) if attempt.frozen else attempt
        for attempt in attempts
    ]


def unfreeze(attempts: Iterable[Attempt]) -> list[Attempt]:
    """Return the attempts with every freeze flag cleared, as after the contest is unfrozen."""
    return [
        msgspec.structs.replace(attempt, frozen=False) if attempt.frozen else attempt
        for attempt in attempts
    ]


def scoreboard(
    rules: ContestRules,
    participants: Sequence[int],
    attempts: Iterable[Attempt],
    view: View = "jury",
) -> list[Row]:
    """Compute the ranked scoreboard rows of one view.

    `participants` lists every participant on the board, including those
    without attempts. Participants sharing a rank are listed in this order, so
    pass them sorted by the display tie-break (name or id).
    Raises ValueError for invalid rules or an attempt that does not fit them.
    """
    _check_view(view)
    board = _Board(rules, participants, attempts)
    return board.rows(view)


def reveal_feed(
    rules: ContestRules,
    participants: Sequence[int],
    attempts: Iterable[Attempt],
) -> Iterator[RevealStep]:
    """Yield the steps that turn the frozen public board into the jury board.

    Each step reveals one problem of the lowest-ranked participant that still
    has something to reveal, taking that participant's first such problem in
    the order of `rules.problems`, then re-ranks. A problem has something to
    reveal when its jury cell differs from its public cell. Frozen attempts
    that change nothing (for example after an AC shown before the freeze)
    are unfrozen without a step. After the last step the public board equals
    the jury board.
    """
    board = _Board(rules, participants, attempts)
    return _reveal_steps(board)


def _reveal_steps(board: _Board) -> Iterator[RevealStep]:
    rules = board.rules
    to_reveal = board.problems_to_reveal()

    # NOTE: every step re-ranks the whole board, so a feed costs steps x board size.
    rows = board.rows("public")
    while to_reveal:
        row = _lowest_with_reveal(rows, to_reveal)
        problem = next(p for p in rules.problems if (row.participant_id, p.problem_id) in to_reveal)
        to_reveal.discard((row.participant_id, problem.problem_id))

        board.reveal(row.participant_id, problem.problem_id)
        rows = board.rows("public")
        new_row = next(r for r in rows if r.participant_id == row.participant_id)
        cell = next(c for c in new_row.problems if c.problem_id == problem.problem_id)
        yield RevealStep(
            participant_id=row.participant_id,
            problem_id=problem.problem_id,
            label=problem.label,
            cell=cell,
            rank_before=row.rank,
            rank_after=new_row.rank,
        )


def _lowest_with_reveal(rows: list[Row], to_reveal: set[tuple[int, int]]) -> Row:
    pending_participants = {participant_id for participant_id, _ in to_reveal}
    for row in reversed(rows):
        if row.participant_id in pending_participants:
            return row
    raise AssertionError("a participant with a problem to reveal is missing from the board")


class _Board:
    """Attempts of a contest grouped per participant and problem, with their cells per view."""

    def __init__(self, rules: ContestRules, participants: Sequence[int], attempts: Iterable[Attempt]):
        _check_rules(rules)
        self.rules = rules
        self.participants = _check_participants(participants)
        self.problem_index = {problem.problem_id: i for i, problem in enumerate(rules.problems)}
        self.attempts: dict[tuple[int, int], list[Attempt]] = {}

        known = set(self.participants)
        seen_submissions: set[int] = set()
        for attempt in attempts:
            _check_attempt(attempt, rules, self.problem_index, known, seen_submissions)
            self.attempts.setdefault((attempt.participant_id, attempt.problem_id), []).append(attempt)
        for group in self.attempts.values():
            group.sort(key=lambda a: (a.contest_time_s, a.submission_id))

        self._cells: dict[str, dict[tuple[int, int], _CellState]] = {}

    def cells(self, view: str) -> dict[tuple[int, int], _CellState]:
        if view not in self._cells:
            self._cells[view] = {key: self._cell(key, view) for key in self.attempts}
        return self._cells[view]

    def problems_to_reveal(self) -> set[tuple[int, int]]:
        to_reveal = set()
        for key, group in self.attempts.items():
            if not any(attempt.frozen for attempt in group):
                continue
            if self.cells("public")[key] == self.cells("jury")[key]:
                self.reveal(*key)
            else:
                to_reveal.add(key)
        return to_reveal

    def reveal(self, participant_id: int, problem_id: int) -> None:
        key = (participant_id, problem_id)
        self.attempts[key] = unfreeze(self.attempts[key])
        self.cells("public")[key] = self._cell(key, "public")

    def _cell(self, key: tuple[int, int], view: str) -> _CellState:
        group = self.attempts[key]
        if view == "public":
            group = public_attempts(group)

        if self.rules.scoring == "icpc":
            return _icpc_cell(group, self.rules.penalty_minutes)
        problem = self.rules.problems[self.problem_index[key[1]]]
        return _ioi_cell(group, to_hundredths(problem.points), self.rules.ioi_mode)

    def rows(self, view: str) -> list[Row]:
        cells = self.cells(view)
        empty = _CellState()
        first_to_solve = _first_to_solve_times(cells)

        rows: list[tuple[tuple[int, ...], int, Row]] = []
        for order, participant_id in enumerate(self.participants):
            states = [cells.get((participant_id, p.problem_id), empty) for p in self.rules.problems]
            problems = [
                _problem_cell(problem, state, first_to_solve.get(problem.problem_id), self.rules.scoring)
                for problem, state in zip(self.rules.problems, states)
            ]
            score, sort_key = _total(states, self.rules.scoring)
            rows.append((sort_key, order, Row(0, participant_id, score, problems)))
        rows.sort(key=lambda item: (item[0], item[1]))

        # Standard competition ranking: a row shares the rank of the first row with its key.
        rank = 0
        previous_key: tuple[int, ...] | None = None
        for position, (sort_key, _, row) in enumerate(rows, start=1):
            if sort_key != previous_key:
                rank = position
                previous_key = sort_key
            row.rank = rank
        return [row for _, _, row in rows]


def _icpc_cell(group: list[Attempt], penalty_minutes: int) -> _CellState:
    state = _CellState()
    rejected = 0
    for attempt in group:
        verdict = attempt.verdict
        if verdict in NOT_COUNTED_VERDICTS:
            continue
        if verdict is None:
            state.num_pending += 1
            if state.earliest_pending_s is None:
                state.earliest_pending_s = attempt.contest_time_s
            continue

        state.num_judged += 1
        if verdict == "AC":
            state.solved = True
            state.solved_s = attempt.contest_time_s
            state.penalty = attempt.contest_time_s // 60 + penalty_minutes * rejected
            return state
        rejected += 1
    return state


def _ioi_cell(group: list[Attempt], points: int, mode: str) -> _CellState:
    state = _CellState()
    best_single = 0
    best_of_group: dict[str, int] = {}
    for attempt in group:
        verdict = attempt.verdict
        if verdict in NOT_COUNTED_VERDICTS:
            continue
        if verdict is None:
            state.num_pending += 1
            if state.earliest_pending_s is None:
                state.earliest_pending_s = attempt.contest_time_s
            continue

        state.num_judged += 1
        best_single = max(best_single, _attempt_hundredths(attempt, points))
        best = best_single
        if mode == "best_of_groups":
            for group_name, group_score in (attempt.group_scores or {}).items():
                value = to_hundredths(group_score)
                best_of_group[group_name] = max(best_of_group.get(group_name, 0), value)
            best = max(best_single, min(sum(best_of_group.values()), points))

        state.score_hundredths = best
        if not state.solved and best >= points:
            state.solved = True
            state.solved_s = attempt.contest_time_s
    return state


def _attempt_hundredths(attempt: Attempt, points: int) -> int:
    if attempt.score is not None:
        return to_hundredths(attempt.score)
    if attempt.group_scores:
        return sum(to_hundredths(value) for value in attempt.group_scores.values())
    if attempt.verdict == "AC":
        return points
    return 0


def _first_to_solve_times(cells: dict[tuple[int, int], _CellState]) -> dict[int, int]:
    """Map each problem id to the contest second that earns the first-to-solve mark."""
    earliest_solved: dict[int, int] = {}
    earliest_pending: dict[int, int] = {}
    for (_, problem_id), state in cells.items():
        if state.solved_s is not None:
            earliest_solved[problem_id] = min(state.solved_s, earliest_solved.get(problem_id, state.solved_s))
        if state.earliest_pending_s is not None:
            pending = state.earliest_pending_s
            earliest_pending[problem_id] = min(pending, earliest_pending.get(problem_id, pending))

    return {
        problem_id: solved_s
        for problem_id, solved_s in earliest_solved.items()
        if earliest_pending.get(problem_id, solved_s) >= solved_s
    }


def _problem_cell(problem: ProblemRef, state: _CellState, first_to_solve_s: int | None, scoring: str) -> ProblemCell:
    return ProblemCell(
        problem_id=problem.problem_id,
        label=problem.label,
        num_judged=state.num_judged,
        num_pending=state.num_pending,
        solved=state.solved,
        time=state.solved_s // 60 if state.solved_s is not None else None,
        first_to_solve=state.solved_s is not None and state.solved_s == first_to_solve_s,
        score=state.score_hundredths / 100 if scoring == "ioi" else None,
    )


def _total(states: list[_CellState], scoring: str) -> tuple[IcpcScore | IoiScore, tuple[int, ...]]:
    """Return the row's score and its sort key, where a smaller key ranks better."""
    if scoring == "ioi":
        total = sum(state.score_hundredths for state in states)
        return IoiScore(score=total / 100), (-total,)

    solved = [state for state in states if state.solved]
    num_solved = len(solved)
    total_time = sum(state.penalty for state in solved)
    last_accepted_s = max((state.solved_s or 0 for state in solved), default=0)
    score = IcpcScore(num_solved=num_solved, total_time=total_time, last_accepted_s=last_accepted_s)
    return score, (-num_solved, total_time, last_accepted_s)


def _check_view(view: str) -> None:
    if view not in VIEWS:
        raise ValueError(f"invalid view {view!r}: expected one of {', '.join(VIEWS)}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_points(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_rules(rules: ContestRules) -> None:
    if rules.scoring not in SCORING_MODES:
        raise ValueError(f"invalid scoring {rules.scoring!r}: expected one of {', '.join(SCORING_MODES)}")
    if rules.ioi_mode not in IOI_MODES:
        raise ValueError(f"invalid ioi_mode {rules.ioi_mode!r}: expected one of {', '.join(IOI_MODES)}")
    if not _is_int(rules.penalty_minutes) or rules.penalty_minutes < 0:
        raise ValueError(f"invalid penalty_minutes {rules.penalty_minutes!r}: expected an integer >= 0")

    problem_ids: set[int] = set()
    labels: set[str] = set()
    for problem in rules.problems:
        if problem.problem_id in problem_ids:
            raise ValueError(f"duplicate problem_id {problem.problem_id} in contest problems")
        if problem.label in labels:
            raise ValueError(f"duplicate label {problem.label!r} in contest problems")
        if rules.scoring == "ioi" and not (_is_points(problem.points) and to_hundredths(problem.points) > 0):
            raise ValueError(
                f"invalid points {problem.points!r} of problem {problem.label!r}: expected at least 0.01"
            )
        problem_ids.add(problem.problem_id)
        labels.add(problem.label)


def _check_participants(participants: Sequence[int]) -> list[int]:
    ordered = list(participants)
    if len(set(ordered)) != len(ordered):
        raise ValueError("duplicate participant_id in participants")
    return ordered


def _check_attempt(
    attempt: Attempt,
    rules: ContestRules,
    problem_index: dict[int, int],
    participants: set[int],
    seen_submissions: set[int],
) -> None:
    submission = attempt.submission_id
    if attempt.participant_id not in participants:
        raise ValueError(f"submission {submission}: participant_id {attempt.participant_id} is not on the board")
    if attempt.problem_id not in problem_index:
        raise ValueError(f"submission {submission}: problem_id {attempt.problem_id} is not in the contest")
    if submission in seen_submissions:
        raise ValueError(f"duplicate submission_id {submission}")
    seen_submissions.add(submission)
    if not _is_int(attempt.contest_time_s) or attempt.contest_time_s < 0:
        raise ValueError(
            f"submission {submission}: invalid contest_time_s {attempt.contest_time_s!r}: expected an integer >= 0"
        )
    if attempt.verdict is not None and attempt.verdict not in VERDICTS:
        raise ValueError(f"submission {submission}: invalid verdict {attempt.verdict!r}")
    if rules.scoring == "ioi":
        points = rules.problems[problem_index[attempt.problem_id]].points
        _check_ioi_scores(attempt, points)


def _check_ioi_scores(attempt: Attempt, points: float) -> None:
    submission = attempt.submission_id
    maximum = to_hundredths(points)
    if attempt.score is not None and not (_is_points(attempt.score) and 0 <= to_hundredths(attempt.score) <= maximum):
        raise ValueError(
            f"submission {submission}: invalid score {attempt.score!r}: expected points between 0 and {points}"
        )
    if attempt.group_scores is None:
        return
    for group_name, group_score in attempt.group_scores.items():
        if not (_is_points(group_score) and to_hundredths(group_score) >= 0):
            raise ValueError(
                f"submission {submission}: invalid score {group_score!r} of test group {group_name!r}: expected >= 0"
            )
    if sum(to_hundredths(value) for value in attempt.group_scores.values()) > maximum:
        raise ValueError(
            f"submission {submission}: group_scores add up to more than the problem's {points} points"
        )

"""Checkers (output validators): plain functions chosen by name.

Every checker takes the program's output, the judge's answer and the flags,
and returns a CheckResult. The default one follows the Kattis default output
validator (problemtools, support/default_validator/default_validator.cc).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import msgspec


class CheckerFlags(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The flags of the Kattis default output validator (`validator_flags`)."""

    case_sensitive: bool = False
    space_change_sensitive: bool = False
    float_absolute_tolerance: float | None = None
    float_relative_tolerance: float | None = None
    # Sets both tolerances, as in Kattis.
    float_tolerance: float | None = None

    def __post_init__(self) -> None:
        for name in ("float_absolute_tolerance", "float_relative_tolerance", "float_tolerance"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    @classmethod
    def parse(cls, text: str) -> CheckerFlags:
        """Parse a Kattis `validator_flags` string such as "float_tolerance 1e-6"."""
        words = text.split()
        values: dict[str, object] = {}
        index = 0
        while index < len(words):
            word = words[index]
            if word in ("case_sensitive", "space_change_sensitive"):
                values[word] = True
                index += 1
            elif word in ("float_absolute_tolerance", "float_relative_tolerance", "float_tolerance"):
                if index + 1 == len(words) or parse_float_token(words[index + 1].encode()) is None:
                    raise ValueError(f"validator flag {word} needs a number after it")
                values[word] = parse_float_token(words[index + 1].encode())
                index += 2
            else:
                raise ValueError(f"unknown validator flag {word!r}")
        return cls(**values)

    @property
    def absolute_tolerance(self) -> float | None:
        return self.float_tolerance if self.float_tolerance is not None else self.float_absolute_tolerance

    @property
    def relative_tolerance(self) -> float | None:
        return self.float_tolerance if self.float_tolerance is not None else self.float_relative_tolerance


class CheckResult(msgspec.Struct, frozen=True):
    accepted: bool
    message: str = ""


Checker = Callable[[bytes, bytes, CheckerFlags], CheckResult]

# C isspace() in the C locale; bytes.split() uses the same set.
_RUNS = re.compile(rb"[ \t\n\v\f\r]+|[^ \t\n\v\f\r]+")
_DECIMAL = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HEX = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?")
_MESSAGE_TOKEN_CHARS = 60


def parse_float_token(token: bytes) -> float | None:
    """Return the value of a token that is one whole finite C `%lf` number, else None.

    Python's float() would also take "1_0", "infinity" and spaces, so the
    syntax is checked first. Infinity and NaN never count as floats.
    """
    try:
        if _DECIMAL.fullmatch(token):
            value = float(token)
        elif _HEX.fullmatch(token):
            text = token.decode()
            sign = -1.0 if text.startswith("-") else 1.0
            value = sign * float.fromhex(text.lstrip("+-"))
        else:
            return None
    except (OverflowError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _show(token: bytes) -> str:
    text = token.decode(errors="replace")
    return text if len(text) <= _MESSAGE_TOKEN_CHARS else text[:_MESSAGE_TOKEN_CHARS] + "..."


def _compare_tokens(judge: bytes, team: bytes, flags: CheckerFlags, number: int) -> str | None:
    """Return why the team token is wrong, or None when it matches."""
    absolute = flags.absolute_tolerance
    relative = flags.relative_tolerance
    if absolute is not None or relative is not None:
        judge_value = parse_float_token(judge)
        if judge_value is not None:
            team_value = parse_float_token(team)
            if team_value is None:
                return f"token {number}: expected a number, got {_show(team)!r}"
            difference = abs(judge_value - team_value)
            if absolute is not None and difference <= absolute:
                return None
            if relative is not None and difference <= relative * abs(judge_value):
                return None
            return f"token {number}: expected {_show(judge)}, got {_show(team)} (difference {difference:g})"
    if flags.case_sensitive:
        same = judge == team
    else:
        same = judge.lower() == team.lower()
    if same:
        return None
    return f"token {number}: expected {_show(judge)!r}, got {_show(team)!r}"


def default_checker(output: bytes, answer: bytes, flags: CheckerFlags) -> CheckResult:
    """Compare tokens like the Kattis default output validator.

    Tokens are compared case-insensitively (ASCII) unless `case_sensitive`.
    With a float tolerance, a judge token that is a number accepts a team
    number within the absolute or the relative tolerance. With
    `space_change_sensitive`, every run of white space must be identical too.
    """
    if flags.space_change_sensitive:
        judge_runs = _RUNS.findall(answer)
        team_runs = _RUNS.findall(output)
    else:
        judge_runs = answer.split()
        team_runs = output.split()

    number = 0
    for index, judge in enumerate(judge_runs):
        is_space = judge[:1].isspace()
        if not is_space:
            number += 1
        if index >= len(team_runs):
            if not output.strip():
                return CheckResult(False, f"output is empty; expected {_show(judge)!r} first")
            return CheckResult(False, f"output ended early; expected token {number}: {_show(judge)!r}")
        team = team_runs[index]
        if is_space or team[:1].isspace():
            if judge != team:
                return CheckResult(False, f"white space differs before token {number + (not is_space)}")
            continue
        problem = _compare_tokens(judge, team, flags, number)
        if problem is not None:
            return CheckResult(False, problem)

    if len(team_runs) > len(judge_runs):
        extra = team_runs[len(judge_runs)]
        if extra[:1].isspace():
            return CheckResult(False, "trailing white space differs")
        return CheckResult(False, f"trailing output: {_show(extra)!r}")
    return CheckResult(True)


def exact_checker(output: bytes, answer: bytes, flags: CheckerFlags) -> CheckResult:
    """Accept only output identical to the answer, byte for byte."""
    if output == answer:
        return CheckResult(True)
    for index, (got, expected) in enumerate(zip(output, answer)):
        if got != expected:
            return CheckResult(False, f"byte {index} differs: expected {expected:#04x}, got {got:#04x}")
    if len(output) < len(answer):
        return CheckResult(False, f"output is {len(output)} bytes, shorter than the {len(answer)}-byte answer")
    return CheckResult(False, f"output is {len(output)} bytes, longer than the {len(answer)}-byte answer")


CHECKERS: dict[str, Checker] = {
    "default": default_checker,
    "exact": exact_checker,
}


def get_checker(name: str) -> Checker:
    try:
        return CHECKERS[name]
    except KeyError:
        raise ValueError(f"unknown checker {name!r}; known checkers: {', '.join(CHECKERS)}") from None

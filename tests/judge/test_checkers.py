"""Checkers: the Kattis default output validator semantics and the exact mode."""

from __future__ import annotations

import pytest

from judge.checkers import CheckerFlags, default_checker, exact_checker, get_checker, parse_float_token

LENIENT = CheckerFlags()


@pytest.mark.parametrize(
    ("output", "answer"),
    [
        (b"1 2 3\n", b"1 2 3\n"),
        (b"  1\t2\n\n3  ", b"1 2 3\n"),
        (b"1 2 3", b"1 2 3\n"),
        (b"HELLO world\n", b"hello WORLD\n"),
        (b"", b""),
        (b" \n\t", b""),
        (b"\r\n42\r\n", b"42\n"),
    ],
)
def test_default_accepts_token_equal(output: bytes, answer: bytes) -> None:
    assert default_checker(output, answer, LENIENT).accepted


@pytest.mark.parametrize(
    ("output", "answer"),
    [
        (b"1 2\n", b"1 2 3\n"),
        (b"1 2 3 4\n", b"1 2 3\n"),
        (b"", b"1\n"),
        (b"\n", b"1\n"),
        (b"12 3\n", b"1 23\n"),
        (b"1.0\n", b"1\n"),
        (b"x\n", b""),
    ],
)
def test_default_rejects_different_tokens(output: bytes, answer: bytes) -> None:
    assert not default_checker(output, answer, LENIENT).accepted


def test_default_empty_output_message() -> None:
    result = default_checker(b"", b"5\n", LENIENT)
    assert not result.accepted
    assert "empty" in result.message


def test_case_sensitive_flag() -> None:
    flags = CheckerFlags(case_sensitive=True)
    assert default_checker(b"Yes\n", b"Yes\n", flags).accepted
    assert not default_checker(b"YES\n", b"Yes\n", flags).accepted


def test_case_insensitive_is_ascii_only() -> None:
    # strcasecmp in the C locale folds only ASCII letters.
    assert not default_checker("É\n".encode(), "é\n".encode(), LENIENT).accepted


def test_space_change_sensitive_flag() -> None:
    flags = CheckerFlags(space_change_sensitive=True)
    assert default_checker(b"1 2\n3\n", b"1 2\n3\n", flags).accepted
    assert not default_checker(b"1  2\n3\n", b"1 2\n3\n", flags).accepted
    assert not default_checker(b"1 2\n3", b"1 2\n3\n", flags).accepted
    assert not default_checker(b"1 2\n3\n\n", b"1 2\n3\n", flags).accepted
    assert not default_checker(b" 1 2\n3\n", b"1 2\n3\n", flags).accepted
    assert not default_checker(b"1\t2\n3\n", b"1 2\n3\n", flags).accepted
    assert default_checker(b"", b"", flags).accepted
    assert not default_checker(b"\n", b"", flags).accepted


def test_absolute_tolerance() -> None:
    flags = CheckerFlags(float_absolute_tolerance=1e-3)
    assert default_checker(b"3.1415\n", b"3.14159\n", flags).accepted
    assert default_checker(b"1000.0005\n", b"1000\n", flags).accepted
    assert not default_checker(b"3.14\n", b"3.14159\n", flags).accepted


def test_relative_tolerance() -> None:
    flags = CheckerFlags(float_relative_tolerance=1e-6)
    assert default_checker(b"1000000.5\n", b"1000000\n", flags).accepted
    assert not default_checker(b"1000002\n", b"1000000\n", flags).accepted
    # Relative to zero only an exact match passes.
    assert not default_checker(b"1e-12\n", b"0\n", flags).accepted
    assert default_checker(b"0.0\n", b"0\n", flags).accepted


def test_float_tolerance_sets_both() -> None:
    flags = CheckerFlags(float_tolerance=1e-6)
    assert default_checker(b"0.0000005\n", b"0\n", flags).accepted
    assert default_checker(b"1000000.5\n", b"1000000\n", flags).accepted
    assert not default_checker(b"0.00001\n", b"0\n", flags).accepted


def test_float_mode_needs_a_number_from_the_team() -> None:
    flags = CheckerFlags(float_tolerance=1e-6)
    result = default_checker(b"abc\n", b"1.5\n", flags)
    assert not result.accepted
    assert "number" in result.message
    assert not default_checker(b"nan\n", b"1.5\n", flags).accepted
    assert not default_checker(b"inf\n", b"1e308\n", flags).accepted


def test_float_mode_compares_words_as_strings() -> None:
    flags = CheckerFlags(float_tolerance=1e-6)
    assert default_checker(b"yes 1.0000001\n", b"YES 1\n", flags).accepted
    assert not default_checker(b"no 1\n", b"yes 1\n", flags).accepted


def test_without_tolerance_numbers_are_strings() -> None:
    assert not default_checker(b"1.0\n", b"1\n", LENIENT).accepted
    assert not default_checker(b"01\n", b"1\n", LENIENT).accepted


@pytest.mark.parametrize(
    ("token", "value"),
    [
        (b"1", 1.0),
        (b"-2.5", -2.5),
        (b"+.5", 0.5),
        (b"5.", 5.0),
        (b"1e3", 1000.0),
        (b"1E-2", 0.01),
        (b"0x1p4", 16.0),
        (b"-0x.8", -0.5),
    ],
)
def test_parse_float_token_accepts_c_numbers(token: bytes, value: float) -> None:
    assert parse_float_token(token) == value


@pytest.mark.parametrize("token", [b"1_000", b"inf", b"nan", b"infinity", b"1e999", b"1.2.3", b"e5", b"", b"0x", b"1e"])
def test_parse_float_token_rejects_others(token: bytes) -> None:
    assert parse_float_token(token) is None


def test_flags_parse_kattis_string() -> None:
    flags = CheckerFlags.parse("case_sensitive float_tolerance 1e-6")
    assert flags.case_sensitive
    assert flags.absolute_tolerance == 1e-6
    assert flags.relative_tolerance == 1e-6
    assert not flags.space_change_sensitive


@pytest.mark.parametrize("text", ["float_tolerance", "float_tolerance abc", "bogus_flag", "float_absolute_tolerance -1"])
def test_flags_parse_rejects_bad_strings(text: str) -> None:
    with pytest.raises(ValueError):
        CheckerFlags.parse(text)


def test_flags_reject_negative_tolerance() -> None:
    with pytest.raises(ValueError, match="float_tolerance"):
        CheckerFlags(float_tolerance=-0.5)


def test_exact_checker() -> None:
    assert exact_checker(b"a b\n", b"a b\n", LENIENT).accepted
    assert not exact_checker(b"a b", b"a b\n", LENIENT).accepted
    assert not exact_checker(b"A b\n", b"a b\n", LENIENT).accepted
    result = exact_checker(b"a c\n", b"a b\n", LENIENT)
    assert "byte 2" in result.message


def test_get_checker_by_name() -> None:
    assert get_checker("default") is default_checker
    assert get_checker("exact") is exact_checker
    with pytest.raises(ValueError, match="unknown checker"):
        get_checker("nope")

"""Function-style harness run with the host's python3 and node: prints, order, wrong answers, errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from judge.function_style import (
    INPUT_ERROR_EXIT_CODE,
    RESULT_MARKER,
    FunctionOptions,
    build_program,
    compare_values,
    function_checker,
)

RUNNERS = {"python3": ("python3", "main.py"), "javascript": ("node", "main.js")}
TWO_SUM_INPUT = b"[2,7,11,15]\n9\n"


def run(tmp_path: Path, language: str, source: str, stdin: bytes) -> subprocess.CompletedProcess:
    interpreter, file_name = RUNNERS[language]
    if shutil.which(interpreter) is None:
        pytest.fail(f"{interpreter} is needed for the function-style tests")
    program = tmp_path / file_name
    program.write_text(build_program(language, source))
    # A judge sandbox has no PYTHONUNBUFFERED; neither does this run.
    environment = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    return subprocess.run([interpreter, str(program)], input=stdin, capture_output=True, timeout=20, env=environment)


PRINTING = {
    "python3": (
        "import sys\n"
        "def solution(nums, target):\n"
        "    print('looking at', nums)\n"
        "    sys.stdout.write('no newline')\n"
        "    seen = {}\n"
        "    for i, x in enumerate(nums):\n"
        "        if target - x in seen:\n"
        "            return [seen[target - x], i]\n"
        "        seen[x] = i\n"
    ),
    "javascript": (
        "function solution(nums, target) {\n"
        "  console.log('looking at', nums);\n"
        "  process.stdout.write('no newline');\n"
        "  const seen = new Map();\n"
        "  for (let i = 0; i < nums.length; i++) {\n"
        "    if (seen.has(target - nums[i])) return [seen.get(target - nums[i]), i];\n"
        "    seen.set(nums[i], i);\n"
        "  }\n"
        "}\n"
    ),
}


@pytest.mark.parametrize("language", RUNNERS)
def test_prints_do_not_break_answer(tmp_path, language):
    result = run(tmp_path, language, PRINTING[language], TWO_SUM_INPUT)

    assert result.returncode == 0, result.stderr
    assert b"looking at" in result.stderr
    assert b"looking at" not in result.stdout
    assert function_checker(result.stdout, b"[0,1]\n").accepted


@pytest.mark.parametrize("language", RUNNERS)
def test_top_level_print_before_harness(tmp_path, language):
    source = {
        "python3": "print('loaded')\ndef solution(a, b):\n    return a + b\n",
        "javascript": "console.log('loaded');\nconst solution = (a, b) => a + b;\n",
    }[language]

    result = run(tmp_path, language, source, b"2\n3\n")

    assert result.returncode == 0, result.stderr
    assert function_checker(result.stdout, b"5").accepted


@pytest.mark.parametrize("language", RUNNERS)
def test_unordered_option(tmp_path, language):
    source = {
        "python3": "def solution(nums, target):\n    return [1, 0]\n",
        "javascript": "function solution(nums, target) { return [1, 0]; }\n",
    }[language]

    output = run(tmp_path, language, source, TWO_SUM_INPUT).stdout

    assert not function_checker(output, b"[0,1]", FunctionOptions()).accepted
    assert function_checker(output, b"[0,1]", FunctionOptions(unordered=True)).accepted


@pytest.mark.parametrize("language", RUNNERS)
def test_wrong_answer_detected(tmp_path, language):
    source = {
        "python3": "def solution(nums, target):\n    return [0, 2]\n",
        "javascript": "function solution(nums, target) { return [0, 2]; }\n",
    }[language]

    result = function_checker(run(tmp_path, language, source, TWO_SUM_INPUT).stdout, b"[0,1]", FunctionOptions(unordered=True))

    assert not result.accepted
    assert "expected 1, got 2" in result.message


@pytest.mark.parametrize("language", RUNNERS)
def test_exception_is_runtime_error(tmp_path, language):
    source = {
        "python3": "def solution(nums, target):\n    return nums[100]\n",
        "javascript": "function solution(nums, target) { throw new Error('boom'); }\n",
    }[language]

    result = run(tmp_path, language, source, TWO_SUM_INPUT)

    assert result.returncode != 0
    assert result.returncode != INPUT_ERROR_EXIT_CODE
    assert RESULT_MARKER.encode() not in result.stdout
    assert (b"IndexError" if language == "python3" else b"boom") in result.stderr


@pytest.mark.parametrize("language", RUNNERS)
def test_invalid_input_reported_apart(tmp_path, language):
    source = {"python3": "def solution(x):\n    return x\n", "javascript": "function solution(x) { return x; }\n"}[language]

    result = run(tmp_path, language, source, b"[1, 2\n")

    assert result.returncode == INPUT_ERROR_EXIT_CODE
    assert b"invalid test input" in result.stderr


@pytest.mark.parametrize("language", RUNNERS)
def test_missing_solution_function(tmp_path, language):
    source = {"python3": "def solve(x):\n    return x\n", "javascript": "function solve(x) { return x; }\n"}[language]

    result = run(tmp_path, language, source, b"1\n")

    assert result.returncode == 1
    assert b"define a function solution" in result.stderr


@pytest.mark.parametrize("language", RUNNERS)
def test_solution_class_method(tmp_path, language):
    source = {
        "python3": "class Solution:\n    def solution(self, words):\n        return sorted(words)\n",
        "javascript": "class Solution { solution(words) { return [...words].sort(); } }\n",
    }[language]

    output = run(tmp_path, language, source, b'["b","a"]\n').stdout

    assert function_checker(output, b'["a","b"]').accepted


def test_python_unserializable_return_is_runtime_error(tmp_path):
    result = run(tmp_path, "python3", "def solution():\n    return object()\n", b"")

    assert result.returncode == 1
    assert b"cannot be written as JSON" in result.stderr


def test_python_set_and_tuple_returned_as_lists(tmp_path):
    output = run(tmp_path, "python3", "def solution(n):\n    return {'pair': (n, n + 1), 'seen': {3, 1, 2}}\n", b"5\n").stdout

    assert function_checker(output, b'{"pair": [5, 6], "seen": [1, 2, 3]}').accepted


def test_javascript_async_solution(tmp_path):
    source = "async function solution(a) { return new Promise((done) => setTimeout(() => done(a * 2), 10)); }\n"

    output = run(tmp_path, "javascript", source, b"21\n").stdout

    assert function_checker(output, b"42").accepted


def test_javascript_undefined_is_null(tmp_path):
    output = run(tmp_path, "javascript", "function solution() {}\n", b"").stdout

    assert function_checker(output, b"null").accepted


def test_exit_without_returning(tmp_path):
    result = run(tmp_path, "python3", "import sys\ndef solution(x):\n    sys.exit(0)\n", b"1\n")
    check = function_checker(result.stdout, b"1")

    assert not check.accepted
    assert "without returning" in check.message


def test_forged_marker_in_print_is_harmless(tmp_path):
    source = f"def solution(x):\n    print({RESULT_MARKER!r} + '1')\n    return 2\n"

    output = run(tmp_path, "python3", source, b"1\n").stdout

    assert not function_checker(output, b"1").accepted
    assert function_checker(output, b"2").accepted


def test_last_marker_line_counts():
    output = f"{RESULT_MARKER}1\nnoise\n{RESULT_MARKER}[3]\n".encode()

    assert function_checker(output, b"[3]").accepted


def test_answer_file_not_json_raises():
    with pytest.raises(ValueError, match="answer file is not one JSON value"):
        function_checker(f"{RESULT_MARKER}1\n".encode(), b"not json")


@pytest.mark.parametrize(
    ("expected", "actual", "options", "same"),
    [
        (1, 1.0, FunctionOptions(), True),
        (True, 1, FunctionOptions(), False),
        (0, False, FunctionOptions(), False),
        (None, 0, FunctionOptions(), False),
        ("1", 1, FunctionOptions(), False),
        (0.1, 0.1000001, FunctionOptions(), False),
        (0.1, 0.1000001, FunctionOptions(float_tolerance=1e-6), True),
        (1e9, 1e9 + 100, FunctionOptions(float_tolerance=1e-6), True),
        ([[1, 2], [3]], [[3], [2, 1]], FunctionOptions(unordered=True), True),
        ([[1, 2], [3]], [[3], [2, 1]], FunctionOptions(), False),
        ([1, 1, 2], [1, 2, 2], FunctionOptions(unordered=True), False),
        ([1, 2.0], [2, 1], FunctionOptions(unordered=True), True),
        ({"a": [1, 2]}, {"a": [2, 1]}, FunctionOptions(unordered=True), True),
        ({"a": 1}, {"a": 1, "b": 2}, FunctionOptions(), False),
        ([1, 2], [1, 2, 3], FunctionOptions(), False),
    ],
)
def test_compare_values(expected, actual, options, same):
    assert (compare_values(expected, actual, options) is None) == same


def test_build_program_rejects_other_languages():
    with pytest.raises(ValueError, match="python3 or javascript"):
        build_program("cpp", "int solution() { return 1; }")


def test_source_line_numbers_kept(tmp_path):
    source = "def solution(x):\n\n\n    raise ValueError('line four')\n"

    result = run(tmp_path, "python3", source, b"1\n")

    assert b"line 4" in result.stderr

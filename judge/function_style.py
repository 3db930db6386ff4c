"""Function-style problems: the contestant writes `solution(...)`, the judge supplies the program around it.

Test data: each non-empty line of the input file is one JSON value, and the
values of one test case are the arguments of one call `solution(*arguments)`.
The answer file holds the JSON of the expected return value.

`build_program(language, source)` returns a complete program: the
contestant's source unchanged (so error line numbers match), then a harness
that reads stdin, calls `solution`, and writes the JSON of the return value
on stdout as one line starting with RESULT_MARKER. While `solution` runs,
print() and console.log() go to stderr, and the checker only reads the last
marker line, so debugging output never breaks an answer.

Exit codes of the generated program: 0 after writing the result; non-zero
when `solution` raises or its return value is not JSON (a run-time error of
the contestant); INPUT_ERROR_EXIT_CODE when a test input line is not JSON,
which is the problem's fault, never the contestant's.
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec

from judge.checkers import CheckResult

FUNCTION_NAME = "solution"
# Control characters inside JSON strings are always escaped, so a JSON text
# never contains the record separator U+001E that frames the marker.
RESULT_MARKER = "\x1ecodearena-result\x1e"
INPUT_ERROR_EXIT_CODE = 86
SUPPORTED_LANGUAGES = ("python3", "javascript")
MESSAGE_CHARS = 80

_PYTHON_HARNESS = r'''

# ---- harness added by the judge: calls solution() with the test's arguments ----
def __codearena_main():
    import json, sys

    real_stdout = sys.stdout
    try:
        arguments = [json.loads(line) for line in sys.stdin.read().splitlines() if line.strip()]
    except ValueError as error:
        print(f"invalid test input, each line must be one JSON value: {error}", file=sys.stderr)
        sys.exit(__EXIT_CODE__)
    function = globals().get("__NAME__")
    if function is None and isinstance(globals().get("Solution"), type):
        function = getattr(globals()["Solution"](), "__NAME__", None)
    if not callable(function):
        print("define a function __NAME__(...) that returns the answer", file=sys.stderr)
        sys.exit(1)

    def encode_extra(value):
        if isinstance(value, (set, frozenset)):
            try:
                return sorted(value)
            except TypeError:
                return list(value)
        raise TypeError(f"a {type(value).__name__} cannot be written as JSON")

    sys.stdout = sys.stderr
    try:
        result = function(*arguments)
    finally:
        sys.stdout = real_stdout
    try:
        text = json.dumps(result, default=encode_extra, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        print(f"the return value of __NAME__ cannot be written as JSON: {error}", file=sys.stderr)
        sys.exit(1)
    real_stdout.write("\n" + __MARKER__ + text + "\n")
    real_stdout.flush()


__codearena_main()
'''

_JAVASCRIPT_HARNESS = r'''
;// ---- harness added by the judge: calls solution() with the test's arguments ----
(async () => {
  const fs = require("fs");
  const writeOut = process.stdout.write.bind(process.stdout);
  let args;
  try {
    args = fs.readFileSync(0, "utf8").split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
  } catch (error) {
    process.stderr.write("invalid test input, each line must be one JSON value: " + error.message + "\n");
    process.exit(__EXIT_CODE__);
  }
  let fn = typeof __NAME__ === "function" ? __NAME__ : undefined;
  if (fn === undefined && typeof Solution === "function") {
    const instance = new Solution();
    if (typeof instance.__NAME__ === "function") fn = instance.__NAME__.bind(instance);
  }
  if (fn === undefined) {
    process.stderr.write("define a function __NAME__(...) that returns the answer\n");
    process.exit(1);
  }
  const toStderr = (...parts) => process.stderr.write(parts.map((part) => (typeof part === "string" ? part : require("util").inspect(part))).join(" ") + "\n");
  console.log = console.info = console.debug = toStderr;
  process.stdout.write = (chunk, ...rest) => process.stderr.write(chunk, ...rest);
  let result = fn(...args);
  if (result && typeof result.then === "function") result = await result;
  process.stdout.write = writeOut;
  let text;
  try {
    text = JSON.stringify(result === undefined ? null : result);
  } catch (error) {
    process.stderr.write("the return value of __NAME__ cannot be written as JSON: " + error.message + "\n");
    process.exit(1);
  }
  writeOut("\n" + __MARKER__ + text + "\n", () => process.exit(0));
})();
'''


class FunctionOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Options of the comparison between a function-style return value and the expected one."""

    # Compare every list as a multiset (order ignored), at every depth.
    unordered: bool = False
    # Numbers match within this absolute or relative difference.
    float_tolerance: float | None = None


def build_program(language: str, source: str) -> str:
    """Return the full program for a function-style submission in `language` (python3 or javascript)."""
    if language == "python3":
        harness = _PYTHON_HARNESS
    elif language == "javascript":
        harness = _JAVASCRIPT_HARNESS
    else:
        raise ValueError(f"language: function-style problems take {' or '.join(SUPPORTED_LANGUAGES)}, not {language!r}")
    harness = (
        harness.replace("__EXIT_CODE__", str(INPUT_ERROR_EXIT_CODE))
        .replace("__MARKER__", json.dumps(RESULT_MARKER))
        .replace("__NAME__", FUNCTION_NAME)
    )
    return source.rstrip("\n") + "\n" + harness


def extract_result(output: bytes) -> tuple[bool, Any]:
    """Return (True, value) from the last marker line of the program's stdout, or (False, reason)."""
    text = output.decode("utf-8", errors="replace")
    marker_line = None
    for line in text.split("\n"):
        if line.startswith(RESULT_MARKER):
            marker_line = line[len(RESULT_MARKER):]
    if marker_line is None:
        return False, f"the program ended without returning from {FUNCTION_NAME}()"
    try:
        return True, json.loads(marker_line)
    except ValueError as exc:
        return False, f"the returned value is not valid JSON: {exc}"


def _show(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _canonical(value: Any, unordered: bool) -> Any:
    # Integral floats become ints so 2 and 2.0 sort and compare alike, as JSON does not tell them apart.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        items = [_canonical(item, unordered) for item in value]
        return sorted(items, key=_sort_key) if unordered else items
    if isinstance(value, dict):
        return {key: _canonical(item, unordered) for key, item in value.items()}
    return value


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def compare_values(expected: Any, actual: Any, options: FunctionOptions, where: str = "$") -> str | None:
    """Return why `actual` does not match `expected`, or None when it does."""
    if _is_number(expected):
        if not _is_number(actual):
            return f"at {where}: expected the number {_show(expected)}, got {_show(actual)}"
        if expected == actual:
            return None
        tolerance = options.float_tolerance
        if tolerance is not None and math.isfinite(actual):
            difference = abs(expected - actual)
            if difference <= tolerance or difference <= tolerance * abs(expected):
                return None
        return f"at {where}: expected {_show(expected)}, got {_show(actual)}"
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        if type(actual) is type(expected) and actual == expected:
            return None
        return f"at {where}: expected {_show(expected)}, got {_show(actual)}"
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"at {where}: expected a list, got {_show(actual)}"
        if len(actual) != len(expected):
            return f"at {where}: expected a list of {len(expected)} items, got {len(actual)} items"
        if options.unordered:
            expected = _canonical(expected, True)
            actual = _canonical(actual, True)
        for index, (expected_item, actual_item) in enumerate(zip(expected, actual)):
            reason = compare_values(expected_item, actual_item, options, f"{where}[{index}]")
            if reason is not None:
                return reason + (" (lists compared in any order)" if options.unordered else "")
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"at {where}: expected an object, got {_show(actual)}"
        if set(expected) != set(actual):
            missing = sorted(set(expected) - set(actual))
            extra = sorted(set(actual) - set(expected))
            return f"at {where}: object keys differ (missing {missing}, unexpected {extra})"
        for key in expected:
            reason = compare_values(expected[key], actual[key], options, f"{where}.{key}")
            if reason is not None:
                return reason
        return None
    return f"at {where}: the answer holds an unsupported value {expected!r}"


def function_checker(output: bytes, answer: bytes, options: FunctionOptions = FunctionOptions()) -> CheckResult:
    """Compare the program's returned JSON value with the answer file's JSON value.

    Raises ValueError when the answer file is not JSON: that is a fault of the
    problem, which the judge reports as an internal error.
    """
    try:
        expected = json.loads(answer.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"the answer file is not one JSON value: {exc}") from None
    found, actual = extract_result(output)
    if not found:
        return CheckResult(False, actual)
    reason = compare_values(expected, actual, options)
    if reason is not None:
        return CheckResult(False, reason)
    return CheckResult(True)

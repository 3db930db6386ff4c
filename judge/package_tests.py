"""Test data of a Kattis package: the group tree under data/, its settings and its points.

Groups are named by their path relative to data/ ("sample", "secret",
"secret/group1") and test cases by their path without extension
("secret/group1/01"). Test cases and subgroups run in lexicographic order
of their names, as the format requires.

Points follow the two scoring models of the format:

- legacy: a test case is worth `accept_score` (default 1), and a group
  aggregates its children with the `grader_flags` mode (sum, min, max, avg).
  A group without `testdata.yaml` uses the closest ancestor's file whole.
- 2023-07-draft: `scoring: {score, aggregation}` in the group's settings file;
  `secret` is worth 100 by default and sums its children, subgroups default
  to pass-fail, and children without a score share what is left evenly.

Each group that holds test cases directly gets `points`: its maximum score.
For pass-fail, min, max and avg groups those points are spread over the
group's test cases, so "all test cases of the group pass" yields exactly the
group's points; sum groups give each test case its own score.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import yaml

SETTINGS_FILES = ("testdata.yaml", "test_group.yaml")
LEGACY_SCORING_KEYS = {"grading", "grader_flags", "accept_score", "reject_score", "range"}
KNOWN_GROUP_KEYS = LEGACY_SCORING_KEYS | {
    "on_reject",
    "input_validator_flags",
    "output_validator_flags",
    "scoring",
    "input_validator_args",
    "output_validator_args",
    "full_feedback",
    "hint",
    "description",
    "static_validation",
    "args",
}
POINTS_DIGITS = 6


class PackageError(Exception):
    """A package that cannot be imported; every message names the file at fault."""

    def __init__(self, messages: str | list[str]) -> None:
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("; ".join(self.messages))


class TestCaseSpec(msgspec.Struct, frozen=True, kw_only=True):
    __test__ = False  # not a pytest test class

    name: str
    group: str
    input_path: str
    answer_path: str
    input_size: int
    answer_size: int
    is_sample: bool
    points: float = 0.0
    # Settings from the test case's own .yaml file (args, output_validator_args, ...).
    settings: dict[str, Any] = {}


class TestGroupSpec(msgspec.Struct, frozen=True, kw_only=True):
    __test__ = False  # not a pytest test class

    name: str
    is_sample: bool
    # Maximum score; for groups without own test cases it is informational.
    points: float
    # Normalized settings: aggregation, max_score, output_validator_args, ...
    settings: dict[str, Any]
    test_count: int
    has_settings_file: bool


@dataclass
class _Test:
    name: str
    input_path: Path
    answer_path: Path
    settings: dict[str, Any]
    max_score: float = 0.0


@dataclass
class _Group:
    name: str
    own: dict[str, Any] | None
    settings_file: str | None
    effective: dict[str, Any] = field(default_factory=dict)
    children: list[_Group | _Test] = field(default_factory=list)
    max_score: float = 0.0
    aggregation: str = "pass-fail"


def read_yaml(path: Path, root: Path) -> Any:
    """Load a YAML file of the package; errors name the file."""
    relative = path.relative_to(root).as_posix()
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PackageError(f"{relative}: not valid UTF-8 text") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise PackageError(f"{relative}: invalid YAML{where}: {problem}") from None


def validator_args(value: Any, where: str) -> list[str]:
    """Normalize validator flags: a string (split like a shell), a list of strings, or a {name, flags} map."""
    if value is None:
        return []
    if isinstance(value, dict):
        return validator_args(value.get("flags"), where)
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise PackageError(f"{where}: cannot split the flags: {exc}") from None
    if isinstance(value, list) and all(isinstance(item, (str, int, float)) for item in value):
        return [str(item) for item in value]
    raise PackageError(f"{where}: expected a string or a list of strings, got {type(value).__name__}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PackageError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise PackageError(f"{where}: expected a number, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise PackageError(f"{where}: expected a finite number >= 0, got {value!r}")
    return number


class TestDataReader:
    """Walk data/ of one package and build its groups and test cases."""

    __test__ = False  # not a pytest test class

    def __init__(self, root: Path, *, format_version: str, scoring: bool, max_test_bytes: int) -> None:
        self.root = root
        self.data = root / "data"
        self.draft = format_version != "legacy"
        self.scoring = scoring
        self.max_test_bytes = max_test_bytes
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.extra_files: list[Path] = []
        self.interactions: list[tuple[str, Path]] = []

    def read(self) -> tuple[list[TestGroupSpec], list[TestCaseSpec], float]:
        if not self.data.is_dir():
            raise PackageError("data/: missing; a package needs data/secret with at least one test case")
        root_group = self._walk(self.data, "", None)
        if self.errors:
            raise PackageError(self.errors)

        top = {child.name: child for child in root_group.children if isinstance(child, _Group)}
        if "secret" not in top or not any(True for _ in _tests_below(top["secret"])):
            raise PackageError("data/secret: missing or without test cases; a package needs at least one secret test case")
        for child in root_group.children:
            if isinstance(child, _Test):
                self.errors.append(f"data/{child.name}.in: test cases must be inside data/sample or data/secret")
        if self.errors:
            raise PackageError(self.errors)

        model = self._scoring_model(root_group)
        self._score(root_group, model)
        groups: list[TestGroupSpec] = []
        tests: list[TestCaseSpec] = []
        self._flatten(root_group, groups, tests)
        max_score = sum(group.max_score for group in root_group.children if isinstance(group, _Group) and group.name != "sample")
        if model == "legacy":
            max_score = root_group.max_score
        return groups, tests, round(max_score, POINTS_DIGITS)

    def _walk(self, folder: Path, name: str, parent: _Group | None) -> _Group:
        own, settings_file = self._read_settings(folder)
        group = _Group(name=name, own=own, settings_file=settings_file)
        group.effective = self._inherit(parent.effective if parent else {}, own)

        entries: dict[str, Path | tuple[Path, Path | None]] = {}
        answers: set[str] = set()
        for path in sorted(folder.iterdir(), key=lambda item: item.name):
            if path.name.startswith(".") or path.name in SETTINGS_FILES and path.is_file():
                if path.name in SETTINGS_FILES:
                    self.extra_files.append(path)
                continue
            if path.is_dir():
                if path.name.endswith((".files", ".download")):
                    self.extra_files.extend(item for item in sorted(path.rglob("*")) if item.is_file())
                    continue
                if name == "" and path.name not in ("sample", "secret"):
                    # invalid_input, invalid_output, valid_output: validation material, never judged.
                    self.extra_files.extend(item for item in sorted(path.rglob("*")) if item.is_file())
                    continue
                if path.name in entries:
                    self.errors.append(f"{self._relative(path)}: a test group has the name of a test case in the same folder")
                entries[path.name] = path
                continue
            if path.name.endswith(".in"):
                base = path.name[: -len(".in")]
                if base in entries:
                    self.errors.append(f"{self._relative(path)}: a test case has the name of a test group in the same folder")
                entries[base] = (path, folder / f"{base}.ans")
            elif path.name.endswith(".ans"):
                answers.add(path.name[: -len(".ans")])
            else:
                self.extra_files.append(path)
                if path.name.endswith(".interaction"):
                    self.interactions.append((_join(name, path.name[: -len(".interaction")]), path))

        for base in sorted(answers - {key for key, value in entries.items() if isinstance(value, tuple)}):
            self.errors.append(f"{self._relative(folder / (base + '.ans'))}: answer file without a matching .in file")

        for key in sorted(entries):
            value = entries[key]
            child_name = _join(name, key)
            if isinstance(value, Path):
                group.children.append(self._walk(value, child_name, group))
                continue
            input_path, answer_path = value
            if not answer_path.is_file():
                self.errors.append(f"{self._relative(input_path)}: missing answer file {self._relative(answer_path)}")
                continue
            for path in (input_path, answer_path):
                size = path.stat().st_size
                if size > self.max_test_bytes:
                    self.errors.append(f"{self._relative(path)}: {size} bytes, the maximum for a test file is {self.max_test_bytes}")
            group.children.append(_Test(child_name, input_path, answer_path, self._test_settings(folder, key)))
        return group

    def _read_settings(self, folder: Path) -> tuple[dict[str, Any] | None, str | None]:
        found = [name for name in SETTINGS_FILES if (folder / name).is_file()]
        if not found:
            return None, None
        if len(found) > 1:
            self.warnings.append(f"{self._relative(folder)}: both testdata.yaml and test_group.yaml; using {found[0]}")
        path = folder / found[0]
        content = read_yaml(path, self.root)
        if content is None:
            content = {}
        if not isinstance(content, dict):
            raise PackageError(f"{self._relative(path)}: expected a mapping of settings, got {type(content).__name__}")
        for key in content:
            if key not in KNOWN_GROUP_KEYS:
                self.warnings.append(f"{self._relative(path)}: unknown key {key!r} ignored")
        return content, self._relative(path)

    def _inherit(self, parent: dict[str, Any], own: dict[str, Any] | None) -> dict[str, Any]:
        if not self.draft:
            # Legacy: the closest testdata.yaml applies whole.
            return dict(own) if own is not None else dict(parent)
        # Draft: everything but `scoring` and `static_validation` is inherited key by key.
        merged = {key: value for key, value in parent.items() if key not in ("scoring", "static_validation")}
        merged.update(own or {})
        return merged

    def _test_settings(self, folder: Path, base: str) -> dict[str, Any]:
        path = folder / f"{base}.yaml"
        if not path.is_file():
            return {}
        content = read_yaml(path, self.root)
        if content is None:
            return {}
        if not isinstance(content, dict):
            raise PackageError(f"{self._relative(path)}: expected a mapping of test case settings")
        return _json_safe(content)

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _scoring_model(self, root_group: _Group) -> str:
        if not self.draft:
            return "legacy"
        for group in _groups_below(root_group):
            if group.own and LEGACY_SCORING_KEYS & group.own.keys() and "scoring" not in group.own:
                return "legacy"
        return "draft"

    def _score(self, root_group: _Group, model: str) -> None:
        if not self.scoring:
            for group in _groups_below(root_group):
                group.aggregation = "pass-fail"
            return
        if model == "legacy":
            self._score_legacy(root_group)
            return
        for child in root_group.children:
            if isinstance(child, _Group) and child.name == "secret":
                scoring = self._draft_scoring(child)
                score = scoring.get("score", 100)
                child.aggregation = scoring.get("aggregation", "sum")
                self._score_draft(child, _draft_score(score, f"{child.settings_file}: scoring.score"))
            elif isinstance(child, _Group):
                for group in _groups_below(child):
                    group.aggregation = "pass-fail"

    def _draft_scoring(self, group: _Group) -> dict[str, Any]:
        scoring = (group.own or {}).get("scoring", {})
        where = f"{group.settings_file}: scoring"
        if not isinstance(scoring, dict):
            raise PackageError(f"{where}: expected a mapping with score and aggregation")
        aggregation = scoring.get("aggregation")
        if aggregation is not None and aggregation not in ("pass-fail", "sum", "min"):
            raise PackageError(f"{where}.aggregation: must be pass-fail, sum or min, got {aggregation!r}")
        return scoring

    def _score_draft(self, group: _Group, maximum: float) -> None:
        group.max_score = maximum
        if group.aggregation == "pass-fail":
            # The whole group passes or scores nothing: its points are spread
            # over every test case below it, subgroups included.
            below = list(_tests_below(group))
            for test, share in zip(below, _spread(maximum, len(below)) if below else []):
                test.max_score = share
            for subgroup in list(_groups_below(group))[1:]:
                subgroup.aggregation = "pass-fail"
                subgroup.max_score = round(sum(test.max_score for test in _tests_below(subgroup)), POINTS_DIGITS)
            return

        explicit: dict[int, float] = {}
        for index, child in enumerate(group.children):
            if isinstance(child, _Group):
                scoring = self._draft_scoring(child)
                child.aggregation = scoring.get("aggregation", "pass-fail")
                if "score" in scoring:
                    explicit[index] = _draft_score(scoring["score"], f"{child.settings_file}: scoring.score")
        unspecified = len(group.children) - len(explicit)
        if group.aggregation == "sum":
            left = maximum - sum(explicit.values())
            if left < -1e-9:
                raise PackageError(
                    f"{group.settings_file or 'data/' + group.name}: the scores of the subgroups add up to more than the group's score {maximum:g}"
                )
            share = left / unspecified if unspecified else 0.0
        else:
            share = maximum
        for index, child in enumerate(group.children):
            score = explicit.get(index, share)
            if isinstance(child, _Group):
                self._score_draft(child, score)
            else:
                child.max_score = score

    def _score_legacy(self, group: _Group) -> float:
        settings = group.effective
        where = group.settings_file or f"data/{group.name}"
        flags = validator_args(settings.get("grader_flags"), f"{where}: grader_flags")
        aggregation = "sum"
        for flag in flags:
            if flag in ("sum", "min", "max", "avg"):
                aggregation = flag
        group.aggregation = aggregation
        accept_score = _number(settings.get("accept_score", 1), f"{where}: accept_score")

        scores = []
        for child in group.children:
            if isinstance(child, _Group):
                scores.append(self._score_legacy(child))
            else:
                child.max_score = accept_score
                scores.append(accept_score)
        if group.name == "" and "ignore_sample" in flags:
            # The samples still run, but are worth nothing.
            for child in group.children:
                if isinstance(child, _Group) and child.name == "sample":
                    for item in [*_groups_below(child), *_tests_below(child)]:
                        item.max_score = 0.0
            scores = [
                score for child, score in zip(group.children, scores) if not (isinstance(child, _Group) and child.name == "sample")
            ]
        group.max_score = _aggregate(aggregation, scores)
        return group.max_score

    def _flatten(self, group: _Group, groups: list[TestGroupSpec], tests: list[TestCaseSpec]) -> None:
        own_tests = [child for child in group.children if isinstance(child, _Test)]
        is_sample = group.name == "sample" or group.name.startswith("sample/")
        if group.name:
            points = self._own_points(group, own_tests, is_sample)
            groups.append(
                TestGroupSpec(
                    name=group.name,
                    is_sample=is_sample,
                    points=float(sum(points)),
                    settings=self._normalized_settings(group),
                    test_count=len(own_tests),
                    has_settings_file=group.own is not None,
                )
            )
            test_points = iter(points)
        for child in group.children:
            if isinstance(child, _Group):
                self._flatten(child, groups, tests)
                continue
            tests.append(
                TestCaseSpec(
                    name=child.name,
                    group=group.name,
                    input_path=self._relative(child.input_path),
                    answer_path=self._relative(child.answer_path),
                    input_size=child.input_path.stat().st_size,
                    answer_size=child.answer_path.stat().st_size,
                    is_sample=is_sample,
                    points=next(test_points),
                    settings=child.settings,
                )
            )

    def _own_points(self, group: _Group, own_tests: list[_Test], is_sample: bool) -> list[float]:
        if not self.scoring or not own_tests:
            return [0.0] * len(own_tests)
        if group.aggregation in ("sum", "pass-fail"):
            return [round(test.max_score, POINTS_DIGITS) for test in own_tests]
        # Legacy min, max and avg: the group's score is spread over its own test cases.
        subgroups = [child for child in group.children if isinstance(child, _Group)]
        total = group.max_score if not subgroups else _aggregate(group.aggregation, [test.max_score for test in own_tests])
        return _spread(total, len(own_tests))

    def _normalized_settings(self, group: _Group) -> dict[str, Any]:
        effective = group.effective
        where = group.settings_file or f"data/{group.name}"
        settings: dict[str, Any] = {"aggregation": group.aggregation}
        if self.scoring:
            settings["max_score"] = round(group.max_score, POINTS_DIGITS)
        args_key = "output_validator_args" if "output_validator_args" in effective else "output_validator_flags"
        args = validator_args(effective.get(args_key), f"{where}: {args_key}")
        if args:
            settings["output_validator_args"] = args
        for key in ("on_reject", "full_feedback", "require_pass", "accept_score", "reject_score", "range", "grader_flags"):
            if key in effective:
                settings[key] = _json_safe(effective[key])
        scoring = (group.own or {}).get("scoring")
        if isinstance(scoring, dict) and "require_pass" in scoring:
            settings["require_pass"] = _json_safe(scoring["require_pass"])
        return settings


def _draft_score(value: Any, where: str) -> float:
    if value == "unbounded":
        raise PackageError(f"{where}: unbounded scores are not supported; give the group a maximum score")
    return _number(value, where)


def _aggregate(aggregation: str, scores: list[float]) -> float:
    if not scores:
        return 0.0
    if aggregation == "min":
        return min(scores)
    if aggregation == "max":
        return max(scores)
    if aggregation == "avg":
        return sum(scores) / len(scores)
    return sum(scores)


def _spread(total: float, count: int) -> list[float]:
    """Split `total` into `count` rounded shares whose sum is `total` up to rounding of the last one."""
    share = round(total / count, POINTS_DIGITS)
    shares = [share] * (count - 1)
    shares.append(round(total - share * (count - 1), POINTS_DIGITS))
    return shares


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def _tests_below(group: _Group):
    for child in group.children:
        if isinstance(child, _Group):
            yield from _tests_below(child)
        else:
            yield child


def _groups_below(group: _Group):
    yield group
    for child in group.children:
        if isinstance(child, _Group):
            yield from _groups_below(child)


def _json_safe(value: Any) -> Any:
    """Turn YAML values (dates, non-string keys) into JSON-compatible ones."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return value
    return str(value)


json_safe = _json_safe

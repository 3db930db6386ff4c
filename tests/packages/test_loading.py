"""Reading Kattis packages: both format versions, groups and points, limits, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from judge.packages import (
    PackageError,
    TimeLimitPolicy,
    derive_time_limit,
    load_package,
    parse_default_validator_flags,
)
from tests.packages.conftest import DRAFT_PACKAGE, LEGACY_PACKAGE, write_package


def load(tmp_path: Path, files: dict, name: str = "prob"):
    return load_package(write_package(tmp_path / name, files), name)


def errors_of(tmp_path: Path, files: dict) -> str:
    with pytest.raises(PackageError) as caught:
        load(tmp_path, files)
    return str(caught.value)


def test_legacy_package_loads(legacy_package):
    package = load_package(legacy_package, "hello")

    assert package.format_version == "legacy"
    assert package.title == "Hello"
    assert package.problem_type == "pass-fail"
    assert package.checker == "default"
    assert package.memory_limit_mb == 64
    assert [test.name for test in package.tests] == ["sample/1", "secret/1", "secret/2"]
    assert [group.name for group in package.groups] == ["sample", "secret"]
    assert package.tests[0].is_sample
    assert not package.tests[1].is_sample
    assert package.description.strip() == "Print $n$ greetings."
    assert [(submission.expected, submission.language) for submission in package.submissions] == [
        ("accepted", "python3"),
        ("wrong_answer", "python3"),
    ]


def test_legacy_time_limit_pending(legacy_package):
    package = load_package(legacy_package, "hello")

    assert package.time_limit.seconds is None
    assert package.time_limit.source == "pending"
    assert package.time_limit.legacy


def test_draft_package_loads(draft_package):
    package = load_package(draft_package, "hellodraft")

    assert package.format_version == "2023-07-draft"
    assert package.names == {"en": "Hello", "de": "Hallo"}
    assert package.title == "Hello"
    assert package.time_limit.seconds == 1.5
    assert package.time_limit.source == "problem.yaml"
    assert package.memory_limit_mb == 128
    assert package.output_limit_kb == 4 * 1024
    assert package.description == "Print *n* greetings.\n"
    assert package.statement.path == "statement/problem.en.md"
    assert {statement.language for statement in package.statements} == {"en", "de"}
    assert package.uuid == "11111111-2222-3333-4444-555555555555"


def test_package_files_exclude_tests(legacy_package):
    package = load_package(legacy_package, "hello")
    paths = {file.path for file in package.files}

    assert "problem_statement/problem.en.tex" in paths
    assert "submissions/accepted/hello.py" in paths
    assert "problem.yaml" not in paths
    assert not any(path.startswith("data/") and path.endswith((".in", ".ans")) for path in paths)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("name: [unclosed\n", "problem.yaml: invalid YAML at line"),
        ("- just\n- a list\n", "problem.yaml: expected a mapping"),
        ("type: puzzle\n", "type 'puzzle' is not one of"),
        ("type: [pass-fail, scoring]\nproblem_format_version: 2023-07-draft\n", "cannot be both pass-fail and scoring"),
        ("problem_format_version: 1999-01\n", "problem_format_version '1999-01' is not supported"),
        ("limits:\n  memory: lots\n", "limits.memory must be a positive whole number"),
        ("limits:\n  memory: -5\n", "limits.memory must be a positive whole number"),
        ("limits: 5\n", "limits must be a mapping"),
        ("limits:\n  time_limit: 0\n", "limits.time_limit must be a number > 0"),
        ("limits:\n  speed: 3\n", "unknown key limits.speed"),
        ("validation: strict\n", "validation must start with default or custom"),
        ("validator_flags: float_tolerance\n", "float_tolerance needs a number"),
        ("validator_flags: ignore_everything\n", "unknown flag 'ignore_everything'"),
        ("codearena: {style: magic}\n", "codearena.style must be standard or function"),
        ("codearena: {colour: red}\n", "unknown key codearena.colour"),
        ("name: {en: [1, 2]}\n", "name must be a string or a map"),
        ("type: submit-answer\nproblem_format_version: 2023-07-draft\n", "submit-answer is not supported"),
    ],
)
def test_malformed_problem_yaml_named(tmp_path, content, expected):
    message = errors_of(tmp_path, {**LEGACY_PACKAGE, "problem.yaml": content})

    assert "problem.yaml" in message
    assert expected in message


def test_problem_yaml_missing(tmp_path):
    files = {key: value for key, value in LEGACY_PACKAGE.items() if key != "problem.yaml"}

    assert "problem.yaml: missing" in errors_of(tmp_path, files)


def test_problem_yaml_not_utf8(tmp_path):
    assert "problem.yaml: not valid UTF-8" in errors_of(tmp_path, {**LEGACY_PACKAGE, "problem.yaml": b"name: \xff\xfe\n"})


def test_missing_answer_file_named(tmp_path):
    files = {key: value for key, value in LEGACY_PACKAGE.items() if key != "data/secret/2.ans"}

    message = errors_of(tmp_path, files)

    assert "data/secret/2.in: missing answer file data/secret/2.ans" in message


def test_every_missing_answer_listed(tmp_path):
    files = {key: value for key, value in LEGACY_PACKAGE.items() if not key.endswith(".ans") or key.startswith("data/sample")}

    with pytest.raises(PackageError) as caught:
        load(tmp_path, files)

    assert len(caught.value.messages) == 2
    assert "data/secret/1.ans" in caught.value.messages[0]
    assert "data/secret/2.ans" in caught.value.messages[1]


def test_answer_without_input_named(tmp_path):
    message = errors_of(tmp_path, {**LEGACY_PACKAGE, "data/secret/3.ans": "x\n"})

    assert "data/secret/3.ans: answer file without a matching .in file" in message


def test_no_secret_tests_rejected(tmp_path):
    files = {key: value for key, value in LEGACY_PACKAGE.items() if not key.startswith("data/secret")}

    assert "data/secret" in errors_of(tmp_path, files)


def test_no_data_folder_rejected(tmp_path):
    files = {key: value for key, value in LEGACY_PACKAGE.items() if not key.startswith("data/")}

    assert "data/: missing" in errors_of(tmp_path, files)


def test_test_file_size_capped(tmp_path):
    root = write_package(tmp_path / "big", {**LEGACY_PACKAGE, "data/secret/1.in": "x" * 2000})
    from judge.packages import LoadOptions

    with pytest.raises(PackageError) as caught:
        load_package(root, "big", LoadOptions(max_test_bytes=1000))

    assert "data/secret/1.in: 2000 bytes, the maximum for a test file is 1000" in str(caught.value)


def test_custom_validation_needs_validator(tmp_path):
    message = errors_of(tmp_path, {**LEGACY_PACKAGE, "problem.yaml": "validation: custom\n"})

    assert "output_validators/: missing" in message


def test_legacy_interactive(tmp_path):
    files = {
        **LEGACY_PACKAGE,
        "problem.yaml": "validation: custom interactive\n",
        "output_validators/judge/judge.cpp": "int main() { return 42; }\n",
        "output_validators/judge/testlib.h": "// helper header\n",
        "data/sample/1.interaction": "<1\n>hello\n",
    }

    package = load(tmp_path, files)

    assert package.problem_type == "interactive"
    assert package.checker == "custom"
    assert package.validation.interactive
    assert [(program.name, program.language) for program in package.output_validators] == [("judge", "cpp")]
    assert package.output_validators[0].files == ["output_validators/judge/judge.cpp", "output_validators/judge/testlib.h"]
    assert package.sample_interactions == [{"name": "sample/1", "text": "<1\n>hello\n"}]


def test_draft_interactive_single_validator_folder(tmp_path):
    files = {
        **DRAFT_PACKAGE,
        "problem.yaml": DRAFT_PACKAGE["problem.yaml"] + "type: interactive\n",
        "output_validator/interactor.py": "import sys\nsys.exit(42)\n",
    }

    package = load(tmp_path, files)

    assert package.problem_type == "interactive"
    assert package.types == ["pass-fail", "interactive"]
    assert package.output_validators[0].path == "output_validator"
    assert package.output_validators[0].entry == "output_validator/interactor.py"
    assert package.output_validators[0].language == "python3"


def test_draft_validator_makes_custom(tmp_path):
    files = {**DRAFT_PACKAGE, "output_validator/check.c": "int main(void) { return 42; }\n"}

    package = load(tmp_path, files)

    assert package.checker == "custom"
    assert package.output_validators[0].language == "c"


def test_second_output_validator_warned(tmp_path):
    files = {
        **LEGACY_PACKAGE,
        "problem.yaml": "validation: custom\n",
        "output_validators/a_check/check.py": "import sys\nsys.exit(42)\n",
        "output_validators/b_check/check.py": "import sys\nsys.exit(43)\n",
    }

    package = load(tmp_path, files)

    assert [program.name for program in package.output_validators] == ["a_check", "b_check"]
    warning = next(warning for warning in package.warnings if "output validators found" in warning)
    assert "only the first, output_validators/a_check, judges outputs" in warning


def test_validator_of_unknown_language_rejected(tmp_path):
    files = {**LEGACY_PACKAGE, "problem.yaml": "validation: custom\n", "output_validators/check.rb": "exit 42\n"}

    assert "output_validators/check.rb: cannot tell the validator's language" in errors_of(tmp_path, files)


def test_validator_flags_become_checker_flags(tmp_path):
    files = {**LEGACY_PACKAGE, "problem.yaml": "validator_flags: case_sensitive float_relative_tolerance 1e-4\n"}

    package = load(tmp_path, files)

    assert package.checker_flags == {"case_sensitive": True, "float_relative_tolerance": 1e-4}


def test_draft_output_validator_args_in_testdata(tmp_path):
    files = {**DRAFT_PACKAGE, "data/testdata.yaml": "output_validator_args: [space_change_sensitive]\n"}

    package = load(tmp_path, files)

    assert package.checker_flags == {"space_change_sensitive": True}
    assert all(group.settings["output_validator_args"] == ["space_change_sensitive"] for group in package.groups)


def test_group_validator_flags_stay_in_group(tmp_path):
    files = {**LEGACY_PACKAGE, "data/secret/testdata.yaml": "output_validator_flags: float_tolerance 0.5\n"}

    package = load(tmp_path, files)
    secret = next(group for group in package.groups if group.name == "secret")
    sample = next(group for group in package.groups if group.name == "sample")

    assert package.checker_flags == {}
    assert secret.settings["output_validator_args"] == ["float_tolerance", "0.5"]
    assert "output_validator_args" not in sample.settings


def test_parse_default_validator_flags():
    flags = parse_default_validator_flags(["float_absolute_tolerance", "0.001", "case_sensitive"], "x")

    assert flags == {"float_absolute_tolerance": 0.001, "case_sensitive": True}
    with pytest.raises(PackageError, match="needs a number >= 0"):
        parse_default_validator_flags(["float_tolerance", "-1"], "x")


LEGACY_SCORING = {
    "problem.yaml": "type: scoring\n",
    "data/sample/1.in": "1\n",
    "data/sample/1.ans": "1\n",
    "data/testdata.yaml": "grader_flags: ignore_sample\n",
    "data/secret/testdata.yaml": "grader_flags: sum\naccept_score: 1\n",
    "data/secret/g1/testdata.yaml": "grader_flags: min\naccept_score: 30\n",
    "data/secret/g1/a.in": "1\n",
    "data/secret/g1/a.ans": "1\n",
    "data/secret/g1/b.in": "2\n",
    "data/secret/g1/b.ans": "2\n",
    "data/secret/g1/c.in": "3\n",
    "data/secret/g1/c.ans": "3\n",
    "data/secret/g2/testdata.yaml": "grader_flags: sum\naccept_score: 35\n",
    "data/secret/g2/a.in": "4\n",
    "data/secret/g2/a.ans": "4\n",
    "data/secret/g2/b.in": "5\n",
    "data/secret/g2/b.ans": "5\n",
    "submissions/accepted/x.py": "print(input())\n",
}


def test_legacy_scoring_groups(tmp_path):
    package = load(tmp_path, LEGACY_SCORING)
    groups = {group.name: group for group in package.groups}
    points = {test.name: test.points for test in package.tests}

    assert package.problem_type == "scoring"
    assert package.max_score == 100
    assert groups["secret/g1"].points == 30
    assert groups["secret/g1"].settings["aggregation"] == "min"
    assert groups["secret/g2"].points == 70
    assert groups["secret/g2"].settings["aggregation"] == "sum"
    assert points["secret/g2/a"] == 35
    assert sum(points[f"secret/g1/{name}"] for name in "abc") == pytest.approx(30)
    # ignore_sample at the root: the samples run but are worth nothing.
    assert points["sample/1"] == 0
    assert groups["sample"].points == 0


def test_legacy_samples_count_without_ignore_sample(tmp_path):
    files = {**LEGACY_SCORING}
    del files["data/testdata.yaml"]

    package = load(tmp_path, files)

    assert next(group for group in package.groups if group.name == "sample").points == 1
    assert package.max_score == 101


def test_legacy_testdata_inherited_whole(tmp_path):
    files = {**LEGACY_SCORING}
    del files["data/secret/g2/testdata.yaml"]

    package = load(tmp_path, files)
    g2 = next(group for group in package.groups if group.name == "secret/g2")

    # Without its own file, g2 uses secret/testdata.yaml: sum of accept_score 1 per test.
    assert g2.points == 2
    assert not g2.has_settings_file


DRAFT_SCORING = {
    "problem.yaml": "problem_format_version: 2023-07-draft\nname: S\nuuid: x\ntype: scoring\nlimits: {time_limit: 1}\n",
    "statement/problem.en.md": "Sum.\n",
    "data/sample/1.in": "1\n",
    "data/sample/1.ans": "1\n",
    "data/secret/g1/testdata.yaml": "scoring: {score: 40}\n",
    "data/secret/g1/a.in": "1\n",
    "data/secret/g1/a.ans": "1\n",
    "data/secret/g1/b.in": "2\n",
    "data/secret/g1/b.ans": "2\n",
    "data/secret/g2/a.in": "3\n",
    "data/secret/g2/a.ans": "3\n",
    "data/secret/g3/test_group.yaml": "scoring: {aggregation: sum}\n",
    "data/secret/g3/a.in": "4\n",
    "data/secret/g3/a.ans": "4\n",
    "data/secret/g3/b.in": "5\n",
    "data/secret/g3/b.ans": "5\n",
}


def test_draft_scoring_inference(tmp_path):
    package = load(tmp_path, DRAFT_SCORING)
    groups = {group.name: group for group in package.groups}
    points = {test.name: test.points for test in package.tests}

    # secret defaults to 100 and sum; g1 takes 40, the rest is split evenly over g2 and g3.
    assert package.max_score == 100
    assert groups["secret/g1"].points == 40
    assert groups["secret/g1"].settings["aggregation"] == "pass-fail"
    assert groups["secret/g2"].points == 30
    assert groups["secret/g3"].points == 30
    assert groups["secret/g3"].settings["aggregation"] == "sum"
    assert points["secret/g3/a"] == 15
    assert points["secret/g1/a"] + points["secret/g1/b"] == pytest.approx(40)
    assert groups["sample"].points == 0


def test_draft_scores_over_total_rejected(tmp_path):
    files = {**DRAFT_SCORING, "data/secret/g2/testdata.yaml": "scoring: {score: 70}\n"}

    message = errors_of(tmp_path, files)

    assert "add up to more than" in message


def test_draft_bad_aggregation_named(tmp_path):
    files = {**DRAFT_SCORING, "data/secret/g2/testdata.yaml": "scoring: {aggregation: max}\n"}

    assert "data/secret/g2/testdata.yaml: scoring.aggregation" in errors_of(tmp_path, files)


def test_testdata_yaml_malformed_named(tmp_path):
    files = {**DRAFT_SCORING, "data/secret/g2/testdata.yaml": "scoring: [\n"}

    assert "data/secret/g2/testdata.yaml: invalid YAML" in errors_of(tmp_path, files)


def test_test_order_is_lexicographic(tmp_path):
    files = {
        **LEGACY_PACKAGE,
        "data/secret/10.in": "1\n",
        "data/secret/10.ans": "1\n",
        "data/secret/a/1.in": "1\n",
        "data/secret/a/1.ans": "1\n",
    }

    package = load(tmp_path, files)

    assert [test.name for test in package.tests] == ["sample/1", "secret/1", "secret/10", "secret/2", "secret/a/1"]


def test_timelimit_file(tmp_path):
    package = load(tmp_path, {**LEGACY_PACKAGE, ".timelimit": "2.5\n"})

    assert package.time_limit.seconds == 2.5
    assert package.time_limit.source == ".timelimit"


def test_function_style_key(tmp_path):
    files = {**DRAFT_PACKAGE, "problem.yaml": DRAFT_PACKAGE["problem.yaml"] + "codearena: {style: function, unordered: true}\n"}

    package = load(tmp_path, files)

    assert package.problem_type == "function"
    assert package.checker == "function"
    assert package.checker_flags == {"unordered": True}


def test_function_style_with_validator_rejected(tmp_path):
    files = {
        **DRAFT_PACKAGE,
        "problem.yaml": DRAFT_PACKAGE["problem.yaml"] + "codearena: {style: function}\n",
        "output_validator/v.py": "exit(42)\n",
    }

    assert "cannot be combined" in errors_of(tmp_path, files)


def test_unknown_keys_are_warnings(tmp_path):
    package = load(tmp_path, {**LEGACY_PACKAGE, "problem.yaml": "name: X\nflavour: spicy\n"})

    assert any("unknown key 'flavour'" in warning for warning in package.warnings)


def test_keywords_become_tags(tmp_path):
    package = load(tmp_path, {**LEGACY_PACKAGE, "problem.yaml": "keywords: Graphs dp\ncodearena: {tags: [greedy]}\n"})

    assert package.tags == ["dp", "graphs", "greedy"]


def test_name_from_latex_when_yaml_has_none(tmp_path):
    files = {**LEGACY_PACKAGE, "problem.yaml": "license: cc0\n"}

    assert load(tmp_path, files).title == "Hello"


def test_submission_folders_and_languages(tmp_path):
    files = {
        **LEGACY_PACKAGE,
        "submissions/time_limit_exceeded/slow.cpp": "int main(){for(;;);}\n",
        "submissions/run_time_error/Crash.java": "class Crash {}\n",
        "submissions/accepted/multi/main.py": "import util\n",
        "submissions/accepted/multi/util.py": "\n",
        "submissions/accepted/old.py": "#!/usr/bin/env python2\nprint 1\n",
        "submissions/mystery/x.py": "print(1)\n",
    }

    package = load(tmp_path, files)
    by_path = {submission.path: submission for submission in package.submissions}

    assert by_path["submissions/time_limit_exceeded/slow.cpp"].verdicts == ("TLE",)
    assert by_path["submissions/run_time_error/Crash.java"].language == "java"
    assert by_path["submissions/accepted/multi"].entry == "submissions/accepted/multi/main.py"
    assert by_path["submissions/accepted/old.py"].language == "python2"
    assert by_path["submissions/mystery/x.py"].verdicts == ()
    assert any("submissions/mystery" in warning for warning in package.warnings)


def test_derive_time_limit_legacy():
    policy = TimeLimitPolicy(seconds=None, source="pending", legacy=True, time_multiplier=5, time_safety_margin=2)

    derived = derive_time_limit(policy, [0.05, 0.21], [5.0])

    # 0.21 s x 5 = 1.05 s, rounded up to whole seconds.
    assert derived.seconds == 2
    assert derived.warnings == []


def test_derive_time_limit_legacy_margin_warning():
    policy = TimeLimitPolicy(seconds=None, source="pending", legacy=True)

    derived = derive_time_limit(policy, [0.1], [1.5])

    assert derived.seconds == 1
    assert "safety margin" in derived.warnings[0]


def test_derive_time_limit_draft():
    policy = TimeLimitPolicy(seconds=None, source="pending", legacy=False, ac_to_time_limit=2.0, time_limit_to_tle=1.5, time_resolution=0.5)

    assert derive_time_limit(policy, [0.3, 0.6]).seconds == 1.5
    assert derive_time_limit(policy, [0.1], [10.0]).seconds == 0.5


def test_derive_time_limit_draft_impossible():
    policy = TimeLimitPolicy(seconds=None, source="pending", legacy=False)

    with pytest.raises(PackageError, match="no time limit fits"):
        derive_time_limit(policy, [0.9], [2.0])


def test_derive_time_limit_needs_accepted():
    policy = TimeLimitPolicy(seconds=None, source="pending", legacy=False)

    with pytest.raises(PackageError, match="no accepted submission"):
        derive_time_limit(policy, [])

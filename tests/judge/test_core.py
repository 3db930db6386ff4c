"""Judge pieces that need no Docker: language table, image tags, jobs, verdict rules."""

from __future__ import annotations

import signal

import msgspec
import pytest

from judge.events import Final, JudgeEvent, Verdict
from judge.images import image_tag, recipe_hash, recipes_for
from judge import job as judge_job
from judge.job import JudgeJob
from judge.languages import GCC_IMAGE, LANGUAGES, LANGUAGES_BY_ID, ImageRecipe, expand_command, get_language, source_file_name
from judge.sandbox import RunnerReply
from judge.session import classify, effective_time_limit_ms, wall_time_limit_ms


def test_language_ids_are_the_documented_ones() -> None:
    assert [language.id for language in LANGUAGES] == ["c", "cpp", "cpp20", "python3", "java", "javascript"]


def test_languages_have_compile_and_self_test() -> None:
    for language in LANGUAGES:
        assert language.compile, language.id
        assert language.self_test_source.strip(), language.id
        assert language.time_multiplier >= 1.0, language.id


def test_c_and_cpp_flags() -> None:
    assert {"-std=gnu17", "-O2", "-lm"} <= set(get_language("c").compile)
    assert {"-std=gnu++17", "-O2"} <= set(get_language("cpp").compile)
    assert {"-std=gnu++20", "-O2"} <= set(get_language("cpp20").compile)


def test_java_file_named_after_public_class() -> None:
    java = get_language("java")
    assert source_file_name(java, "public class Solution {}") == "Solution.java"
    assert source_file_name(java, "public final class Answer {}") == "Answer.java"
    assert source_file_name(java, "class Main {}") == "Main.java"
    assert source_file_name(get_language("c"), "int main(){}") == "main.c"


def test_expand_command_fills_placeholders() -> None:
    java = get_language("java")
    argv = expand_command(java.run, source_name="Foo.java", main="Foo", memory_mb=256)
    assert "-Xmx256m" in argv
    assert argv[-1] == "Foo"


def test_unknown_language_error_lists_known() -> None:
    with pytest.raises(KeyError, match="known languages"):
        get_language("cobol")


def test_image_tag_changes_only_with_recipe() -> None:
    assert image_tag(GCC_IMAGE) == image_tag(ImageRecipe(name="gcc", packages=GCC_IMAGE.packages, setup=GCC_IMAGE.setup))
    assert recipe_hash(GCC_IMAGE) != recipe_hash(ImageRecipe(name="gcc", packages=("gcc",), setup=GCC_IMAGE.setup))
    assert recipe_hash(GCC_IMAGE) != recipe_hash(ImageRecipe(name="gcc", packages=GCC_IMAGE.packages))
    assert recipe_hash(GCC_IMAGE) != recipe_hash(GCC_IMAGE, runner_source=b"int main(){}")
    assert image_tag(GCC_IMAGE).startswith("codearena-judge-gcc:")
    assert len(image_tag(GCC_IMAGE).split(":")[1]) == 12


def test_languages_share_images() -> None:
    assert recipes_for(["c", "cpp", "cpp20"]) == [GCC_IMAGE]
    assert len(recipes_for(None)) == 4
    with pytest.raises(ValueError, match="unknown language"):
        recipes_for(["rust"])


def _job(**fields) -> JudgeJob:
    values = dict(submission_id=1, language="c", source="", tests=(), time_limit_ms=1000, memory_limit_mb=256)
    values.update(fields)
    return JudgeJob(**values)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("language", "cobol"),
        ("time_limit_ms", 0),
        ("memory_limit_mb", 1),
        ("output_limit_kb", 0),
        ("checker", "nope"),
    ],
)
def test_job_rejects_bad_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        _job(**{field: value})


def test_job_rejects_duplicate_test_names() -> None:
    test = judge_job.TestCase(name="a", input_path="/x", answer_path="/y")
    with pytest.raises(ValueError, match="unique"):
        _job(tests=(test, test))


def test_job_round_trips_through_json() -> None:
    job = _job(tests=(judge_job.TestCase(name="a", input_path="/x", answer_path="/y", group="g1", points=5),))
    assert msgspec.json.decode(msgspec.json.encode(job), type=JudgeJob) == job


def test_events_decode_by_type_tag() -> None:
    final = Final(submission_id=1, attempt=1, verdict=Verdict.AC, time_ms=3, memory_kb=10, passed=1, total=1, score=1, max_score=1)
    encoded = msgspec.json.encode(final)
    assert b'"type":"final"' in encoded
    assert msgspec.json.decode(encoded, type=JudgeEvent) == final


def test_time_limits_use_the_multiplier() -> None:
    assert effective_time_limit_ms(_job(language="python3", time_limit_ms=1000), get_language("python3")) == 3000
    assert effective_time_limit_ms(_job(language="c", time_limit_ms=1000), get_language("c")) == 1000
    assert wall_time_limit_ms(1000) == 3000


def _reply(**fields) -> RunnerReply:
    values = dict(type="test", exit_code=0, cpu_ms=10, wall_ms=12.0, memory_kb=1000)
    values.update(fields)
    return RunnerReply(**values)


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        (_reply(), None),
        (_reply(exit_code=1), Verdict.RTE),
        (_reply(exit_code=-1, signal=signal.SIGSEGV), Verdict.RTE),
        (_reply(cpu_ms=1001), Verdict.TLE),
        (_reply(exit_code=-1, signal=signal.SIGXCPU, cpu_ms=999), Verdict.TLE),
        (_reply(exit_code=-1, signal=signal.SIGKILL, wall_timeout=True, cpu_ms=1), Verdict.TLE),
        (_reply(exit_code=-1, signal=signal.SIGKILL, oom_killed=True, memory_kb=60000), Verdict.MLE),
        (_reply(memory_kb=65536), Verdict.MLE),
        (_reply(memory_kb=65535), None),
        (_reply(exit_code=-1, signal=signal.SIGXFSZ, output_exceeded=True), Verdict.OLE),
        (_reply(exit_code=1, output_exceeded=True, cpu_ms=5000), Verdict.OLE),
    ],
)
def test_classify_from_status_and_limits(reply: RunnerReply, verdict: Verdict | None) -> None:
    assert classify(reply, cpu_limit_ms=1000, memory_limit_kb=65536, output_limit_bytes=1024)[0] == verdict

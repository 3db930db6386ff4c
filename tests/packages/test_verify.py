"""`codearena problems verify`: every submission judged by the real judge against its folder's verdict."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time

import pytest
from click.testing import CliRunner

from tests.conftest import make_settings
from tests.judge.conftest import _docker_problem
from tests.packages.conftest import DEMO_NAMES, DEMO_PROBLEMS, write_package

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def judge_ready() -> None:
    problem = asyncio.run(_docker_problem())
    if problem:
        pytest.fail(problem, pytrace=False)


def verify(path, tmp_path):
    from server.cli import main

    # The suite's own variable is no setting: unset it, as a user's shell would not have it.
    environment = {"CODEARENA_DATA_DIR": str(tmp_path / "data"), "CODEARENA_TEST_DATABASE_URL": None}
    return CliRunner().invoke(main, ["--log-level", "WARNING", "problems", "verify", str(path)], env=environment)


def test_verify_demo_derives_time_limit(judge_ready, tmp_path):
    result = verify(DEMO_PROBLEMS / "aplusb", tmp_path)

    assert result.exit_code == 0, result.output
    assert "aplusb: time limit 1000 ms (derived)" in result.output
    assert "OK   submissions/accepted/Sum.java" in result.output
    assert "OK   submissions/wrong_answer/int32.c" in result.output
    assert "got RTE" in result.output
    assert "8 as expected, 0 mismatched, 0 skipped" in result.output


def test_verify_reports_mismatch(judge_ready, tmp_path):
    package = tmp_path / "wrongfolder"
    shutil.copytree(DEMO_PROBLEMS / "maxsubarray", package)
    shutil.rmtree(package / "submissions" / "time_limit_exceeded")
    (package / "submissions" / "wrong_answer" / "int32.cpp").rename(package / "submissions" / "accepted" / "int32.cpp")

    result = verify(package, tmp_path)

    assert result.exit_code == 1, result.output
    assert "FAIL submissions/accepted/int32.cpp" in result.output
    assert "got WA" in result.output
    assert "score 20" in result.output
    assert "1 mismatched" in result.output


def test_verify_skips_unrunnable_validator(judge_ready, tmp_path):
    package = tmp_path / "scripted"
    shutil.copytree(DEMO_PROBLEMS / "guess", package)
    # A validator folder with a run script is a program the judge cannot build.
    (package / "output_validators" / "interactor" / "run").write_text("#!/bin/sh\nexec python3 interactor.py \"$@\"\n")

    result = verify(package, tmp_path)

    assert result.exit_code == 0, result.output
    assert "SKIP submissions/accepted/binary_search.py" in result.output
    assert "the judge cannot check this problem" in result.output
    assert "'script' validators are not supported" in result.output
    assert "0 as expected, 0 mismatched, 4 skipped" in result.output


def test_verify_skips_unknown_language(judge_ready, tmp_path):
    package = tmp_path / "ruby"
    shutil.copytree(DEMO_PROBLEMS / "trianglearea", package)
    (package / "submissions" / "accepted" / "heron.rb").write_text("puts 0\n")

    result = verify(package, tmp_path)

    assert result.exit_code == 0, result.output
    assert "SKIP submissions/accepted/heron.rb" in result.output
    assert "language ruby is not judged here" in result.output
    assert "4 as expected, 0 mismatched, 1 skipped" in result.output


# The validator accepts "ok" only when its arguments after the feedback folder
# equal the tokens of the answer file, so the submission in accepted/ passes
# only if each test gets its group's output_validator_args, then its own.
VALIDATOR_ARGS_PACKAGE = {
    "problem.yaml": "problem_format_version: 2023-07-draft\nname: Arguments\nlimits:\n  time_limit: 1\n  memory: 128\n",
    "statement/problem.en.md": "Print ok.\n",
    "output_validator/validator.py": (
        "import sys\n"
        "answer = open(sys.argv[2]).read().split()\n"
        "output = sys.stdin.read().split()\n"
        "if output != ['ok'] or sys.argv[4:] != answer:\n"
        "    open(sys.argv[3] + 'judgemessage.txt', 'w').write(f'arguments {sys.argv[4:]}, output {output}')\n"
        "    sys.exit(43)\n"
        "sys.exit(42)\n"
    ),
    "data/sample/1.in": "\n",
    "data/sample/1.ans": "\n",
    "data/secret/group1/testdata.yaml": "output_validator_args: --group one\n",
    "data/secret/group1/1.in": "\n",
    "data/secret/group1/1.ans": "--group one\n",
    "data/secret/group1/2.in": "\n",
    "data/secret/group1/2.yaml": "output_validator_args: [--test, two]\n",
    "data/secret/group1/2.ans": "--group one --test two\n",
    "submissions/accepted/ok.py": "print('ok')\n",
    "submissions/wrong_answer/no.py": "print('no')\n",
}


def test_verify_passes_validator_args(judge_ready, tmp_path):
    package = write_package(tmp_path / "arguments", VALIDATOR_ARGS_PACKAGE)

    result = verify(package, tmp_path)

    assert result.exit_code == 0, result.output
    assert "OK   submissions/accepted/ok.py" in result.output
    assert "OK   submissions/wrong_answer/no.py" in result.output
    assert "2 as expected, 0 mismatched, 0 skipped" in result.output


async def test_verify_every_demo_package(judge_ready, tmp_path, import_folder, db, blobs):
    """Verify every demo package, and the package each one exports after an import, with the same verdicts."""
    from judge.pool import JudgePool
    from server.package_export import export_problem
    from server.package_verify import verify_package

    exported = {}
    for name in DEMO_NAMES:
        await import_folder(DEMO_PROBLEMS / name)
        async with db() as session:
            exported[name] = await export_problem(session, blobs, name, tmp_path / "exported")

    settings = make_settings(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}")
    # One pool for all packages, verified at once: as many submissions run together as there are cores.
    pool = JudgePool(concurrency=2, warm_containers=1)
    await pool.start()

    @contextlib.asynccontextmanager
    async def shared_pool():
        yield pool

    started = time.monotonic()
    folders = [DEMO_PROBLEMS / name for name in DEMO_NAMES] + [exported[name] for name in DEMO_NAMES]
    try:
        all_reports = await asyncio.gather(*(verify_package(folder, settings, shared_pool) for folder in folders))
    finally:
        await pool.close()
    print(f"verified {len(folders)} packages in {time.monotonic() - started:.1f} s")
    reports, exported_reports = all_reports[: len(DEMO_NAMES)], all_reports[len(DEMO_NAMES) :]

    assert len(DEMO_NAMES) == 8
    for name, report, exported_report in zip(DEMO_NAMES, reports, exported_reports):
        submissions = sorted(
            path.relative_to(DEMO_PROBLEMS / name).as_posix() for path in (DEMO_PROBLEMS / name / "submissions").rglob("*.*")
        )
        summary = [(result.path, result.status, result.verdict, result.note) for result in report.results]
        assert sorted(result.path for result in report.results) == submissions, name
        assert [result for result in report.results if result.status == "skipped"] == [], (name, summary)
        assert report.mismatches == [], (name, summary)
        for result in report.results:
            assert result.verdict in result.allowed, (name, result)
        # An exported package judges the same submissions to the same verdicts.
        verdicts = {result.path: result.verdict for result in report.results}
        exported_verdicts = {result.path: result.verdict for result in exported_report.results}
        assert exported_verdicts == verdicts, name


def test_verify_invalid_package(tmp_path):
    package = tmp_path / "broken"
    shutil.copytree(DEMO_PROBLEMS / "coins", package)
    (package / "data" / "secret" / "01-one-coin.ans").unlink()

    result = verify(package, tmp_path)

    assert result.exit_code == 1
    assert "data/secret/01-one-coin.in: missing answer file" in result.output

"""`codearena problems verify`: every submission judged by the real judge against its folder's verdict."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from click.testing import CliRunner

from tests.judge.conftest import _docker_problem
from tests.packages.conftest import DEMO_PROBLEMS

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


def test_verify_skips_what_the_judge_cannot_run(judge_ready, tmp_path):
    result = verify(DEMO_PROBLEMS / "guess", tmp_path)

    assert result.exit_code == 0, result.output
    assert "SKIP submissions/accepted/binary_search.py" in result.output
    assert "no 'custom' checker" in result.output


def test_verify_invalid_package(tmp_path):
    package = tmp_path / "broken"
    shutil.copytree(DEMO_PROBLEMS / "coins", package)
    (package / "data" / "secret" / "01-one-coin.ans").unlink()

    result = verify(package, tmp_path)

    assert result.exit_code == 1
    assert "data/secret/01-one-coin.in: missing answer file" in result.output

"""The CI guard in conftest.py: a run that skips, deselects or leaves out a test fails."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTS = """
import pytest

def test_one():
    assert True

def test_two():
    assert True

@pytest.mark.slow
def test_three():
    assert True
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A small suite under this project's conftest.py, run as CI runs it."""
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makepyfile(test_small=TESTS)
    pytester.makeini("[pytest]\nmarkers =\n    slow: a marker to select by\n")
    monkeypatch.setenv("WIPP_REQUIRE_ENGINE", "1")
    return pytester


def test_a_full_run_passes(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess()
    result.assert_outcomes(passed=3)
    assert result.ret == 0


@pytest.mark.parametrize("dropping", [["--deselect", "test_small.py::test_two"], ["-k", "not two"], ["-m", "not slow"]])
def test_a_run_that_drops_a_test_fails(suite: pytest.Pytester, dropping: list[str]) -> None:
    result = suite.runpytest_subprocess(*dropping)
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*WIPP_REQUIRE_ENGINE=1 runs every test*would drop some*"])


def test_a_run_that_stops_early_fails(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_first="def test_fails():\n    assert False\n")
    result = suite.runpytest_subprocess("-x")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*collected test(s) reported no result*"])


def test_a_skipped_test_fails_the_run(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_skip="import pytest\n\ndef test_skips():\n    pytest.skip('no engine')\n")
    result = suite.runpytest_subprocess()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*1 test(s) skipped*"])


def test_outside_ci_filters_are_fine(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIPP_REQUIRE_ENGINE")
    result = suite.runpytest_subprocess("-k", "not two")
    result.assert_outcomes(passed=2, deselected=1)
    assert result.ret == 0


# -- a distributed run (pytest-xdist), as CI's test command runs the suite ----------------------------
DISTRIBUTED = ["-n", "2", "--dist", "loadfile", "--no-loadscope-reorder"]


def test_a_distributed_full_run_passes_and_its_workers_lines_reach_the_summary(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_lines="def test_adds_a_line(report_line):\n    report_line('a line from whichever worker ran me')\n"
    )
    result = suite.runpytest_subprocess(*DISTRIBUTED)
    result.assert_outcomes(passed=4)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["a line from whichever worker ran me"])


def test_a_distributed_run_that_stops_early_fails(suite: pytest.Pytester) -> None:
    """One worker, so that the stop comes before the other module ran (two would race it)."""
    suite.makepyfile(test_first="def test_fails():\n    assert False\n")
    result = suite.runpytest_subprocess("-n", "1", *DISTRIBUTED[2:], "-x")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*collected test(s) reported no result*"])


def test_a_distributed_run_with_a_skipped_test_fails(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_skip="import pytest\n\ndef test_skips():\n    pytest.skip('no engine')\n")
    result = suite.runpytest_subprocess(*DISTRIBUTED)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*1 test(s) skipped*"])


def test_each_worker_takes_its_own_world(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The modules that report sort first, so that xdist's first assignment gives each worker one."""
    monkeypatch.setenv("WIPP_TEST_WORLDS", "2")
    for world in ("0", "1"):
        monkeypatch.setenv(f"WIPP_TEST_W{world}_MANAGER_HOST", f"unix:///world-{world}/docker.sock")
    suite.makepyfile(
        **{
            f"test_a_world_{n}": "import os\n\ndef test_world(report_line):\n"
            '    report_line(f\'{os.environ["PYTEST_XDIST_WORKER"]} on {os.environ["WIPP_TEST_MANAGER_HOST"]}\')\n'
            for n in range(4)
        }
    )
    result = suite.runpytest_subprocess(*DISTRIBUTED)
    assert result.ret == 0
    lines = {line for line in result.stdout.lines if line.startswith("gw")}
    assert lines <= {"gw0 on unix:///world-0/docker.sock", "gw1 on unix:///world-1/docker.sock"}, lines
    assert len(lines) == 2, "both workers ran a module, each on its own world"


def test_a_worker_without_a_world_stops_the_run(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIPP_TEST_WORLDS", "1")
    monkeypatch.setenv("WIPP_TEST_W0_MANAGER_HOST", "unix:///world-0/docker.sock")
    result = suite.runpytest_subprocess(*DISTRIBUTED)
    assert result.ret != 0
    assert "worker gw1 has no test world: .ci/run started 1" in result.stdout.str() + result.stderr.str()

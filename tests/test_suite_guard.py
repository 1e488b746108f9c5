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

"""Suite-wide rules: engine tests are marked, and CI (WIPP_REQUIRE_ENGINE=1) allows no skips."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ENGINE_TESTS = Path(__file__).parent / "engine"
_skipped: list[str] = []
_summary: list[str] = []


@pytest.fixture
def report_line() -> Callable[[str], None]:
    """Adds a line to the summary pytest prints at the end of the run."""
    return _summary.append


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _summary:
        terminalreporter.write_line(line)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if ENGINE_TESTS in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.engine)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("WIPP_REQUIRE_ENGINE") == "1" and _skipped:
        print(f"\nWIPP_REQUIRE_ENGINE=1 but {len(_skipped)} test(s) skipped: {_skipped[:5]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

"""Suite-wide rules: engine tests are marked, and CI (WIPP_REQUIRE_ENGINE=1) allows no skipped test
and no dropped one: no -k, -m or --deselect, and every collected test must report a result."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ENGINE_TESTS = Path(__file__).parent / "engine"
_skipped: list[str] = []
_reported: set[str] = set()
_deselected: list[str] = []
_summary: list[str] = []


def _in_ci() -> bool:
    return os.environ.get("WIPP_REQUIRE_ENGINE") == "1"


@pytest.fixture
def report_line() -> Callable[[str], None]:
    """Adds a line to the summary pytest prints at the end of the run."""
    return _summary.append


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _summary:
        terminalreporter.write_line(line)


def pytest_configure(config: pytest.Config) -> None:
    if not _in_ci():
        return
    filters = {"-k": config.option.keyword, "-m": config.option.markexpr, "--deselect": config.option.deselect}
    used = [name for name, value in filters.items() if value]
    if used:
        raise pytest.UsageError(f"WIPP_REQUIRE_ENGINE=1 runs every test: {', '.join(used)} would drop some")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if ENGINE_TESTS in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.engine)


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.extend(item.nodeid for item in items)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)
    if report.when == "call" or report.outcome != "passed":  # a result, or an error before or after it
        _reported.add(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _in_ci():
        return
    collected = {item.nodeid for item in session.items}
    problems = []
    if _skipped:
        problems.append(f"{len(_skipped)} test(s) skipped: {_skipped[:5]}")
    if _deselected:
        problems.append(f"{len(_deselected)} test(s) deselected: {_deselected[:5]}")
    if collected - _reported:
        problems.append(f"{len(collected - _reported)} of {len(collected)} collected test(s) reported no result")
    if problems:
        print(f"\nWIPP_REQUIRE_ENGINE=1 but {'; '.join(problems)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

"""Suite-wide rules: engine tests are marked, and CI (WIPP_REQUIRE_ENGINE=1) allows no skipped test
and no dropped one: no -k, -m or --deselect, and every collected test must report a result.

CI runs the suite on pytest-xdist workers (`-n N --dist loadfile`: a module stays on one worker),
each with a test world of its own (`.ci/run` starts N: two engines and their lan each, described by
`WIPP_TEST_W<k>_*`); worker `gw<k>` takes world k as the plain `WIPP_TEST_*` every test reads. The
longest modules go first (`LONGEST_FIRST`), so that no worker starts one of them last. The checks
of a whole run and the summary lines are made where every report arrives: in the one process of a
plain run, in the controller of a distributed one.
"""

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
_collected_by_workers: set[str] = set()
SUMMARY_PROPERTY = "wipp-summary-line"
# The modules that take minutes (a full CI run's durations), longest first: each starts on a worker
# of its own at the beginning of a distributed run instead of last behind a queue of others.
LONGEST_FIRST = (
    "engine/test_multi_on_vms.py",
    "engine/test_timing_on_engine.py",
    "engine/test_registry_on_engine.py",
    "engine/test_single_on_engine.py",
    "engine/test_data_safety_on_engine.py",
    "engine/test_multi_on_engine.py",
    "test_ci_engine.py",  # .ci/run in a copy: 1.5 to 3 minutes
)


def _in_ci() -> bool:
    return os.environ.get("WIPP_REQUIRE_ENGINE") == "1"


def _worker_id(config: pytest.Config) -> str | None:
    """`gw<k>` in a pytest-xdist worker, None in a plain run or in the controller."""
    workerinput = getattr(config, "workerinput", None)
    return None if workerinput is None else str(workerinput["workerid"])


@pytest.fixture
def report_line(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Adds a line to the summary pytest prints at the end of the run. The line travels with the
    test's reports (its user properties), so it reaches the summary from an xdist worker too."""

    def add(line: str) -> None:
        request.node.user_properties.append((SUMMARY_PROPERTY, line))

    return add


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _summary:
        terminalreporter.write_line(line)


def take_world(worker: str, environ: dict[str, str] | os._Environ[str]) -> None:
    """Worker `gw<k>`'s test world: each `WIPP_TEST_W<k>_NAME` as `WIPP_TEST_NAME`. When the
    environment describes worlds (WIPP_TEST_WORLDS) and this worker has none, it stops: two workers
    on one world would deploy onto the same engines at once."""
    index = worker.removeprefix("gw")
    worlds = environ.get("WIPP_TEST_WORLDS")
    if worlds is None:
        return
    if not index.isdigit() or int(index) >= int(worlds):
        raise pytest.UsageError(
            f"pytest-xdist worker {worker} has no test world: .ci/run started {worlds} (WIPP_TEST_WORLDS); "
            f"run with -n {worlds} or fewer"
        )
    prefix = f"WIPP_TEST_W{index}_"
    for name, value in list(environ.items()):
        if name.startswith(prefix):
            environ[f"WIPP_TEST_{name.removeprefix(prefix)}"] = value


def pytest_configure(config: pytest.Config) -> None:
    worker = _worker_id(config)
    if worker is not None:
        take_world(worker, os.environ)
    if not _in_ci():
        return
    filters = {"-k": config.option.keyword, "-m": config.option.markexpr, "--deselect": config.option.deselect}
    used = [name for name, value in filters.items() if value]
    if used:
        raise pytest.UsageError(f"WIPP_REQUIRE_ENGINE=1 runs every test: {', '.join(used)} would drop some")


def _start_rank(item: pytest.Item) -> int:
    """Where an item's module is in LONGEST_FIRST; every other module after those, in its place."""
    path, tests = Path(str(item.fspath)), Path(__file__).parent
    relative = path.relative_to(tests).as_posix() if path.is_relative_to(tests) else ""
    return LONGEST_FIRST.index(relative) if relative in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if ENGINE_TESTS in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.engine)
    items.sort(key=_start_rank)  # a stable sort: each module's own order is kept


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """The controller of a distributed run: what each worker collected (all collect the same)."""
    _collected_by_workers.update(ids)


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.extend(item.nodeid for item in items)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":  # the last report of a test carries every line it added
        _summary.extend(str(value) for name, value in report.user_properties if name == SUMMARY_PROPERTY)
    if report.skipped:
        _skipped.append(report.nodeid)
    if report.when == "call" or report.outcome != "passed":  # a result, or an error before or after it
        _reported.add(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _in_ci() or _worker_id(session.config) is not None:
        return  # a worker ran only its share: the controller judges the run
    # A distributed run's controller collects nothing itself (no `session.items`); its workers did.
    collected = {item.nodeid for item in getattr(session, "items", [])} | _collected_by_workers
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

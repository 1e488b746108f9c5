"""A failing engine test's report never shows a secret the test passed on stdin (a join token, a
registry password): pytest's long tracebacks print each frame's arguments, so the helpers that take
`stdin` hide their frames. Checked by running failing tests in a pytest of their own, with the
secret in the environment (not in the test's source, which the report quotes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SECRET = "SWMTKN-1-do-not-print-me"
FAILING = """
import os

from docker_api import run_script


def test_fails_with_a_secret_on_stdin() -> None:
    run_script("read -r token; echo 'refused' >&2; exit 3", stdin=os.environ["THE_SECRET"])


def helper_that_shows_its_arguments(stdin: str) -> None:
    raise RuntimeError("refused")


def test_control_a_plain_helper_would_show_it() -> None:
    helper_that_shows_its_arguments(os.environ["THE_SECRET"])
"""


def _report(tmp_path: Path, test: str) -> str:
    (tmp_path / "test_secret.py").write_text(FAILING)
    report = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", "/dev/null", f"test_secret.py::{test}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "THE_SECRET": SECRET,
            "PYTHONPATH": f"{REPO / 'tests' / 'engine'}:{REPO / 'tests'}:{REPO}",
        },
    )
    assert "1 failed" in report.stdout, report.stdout + report.stderr
    return report.stdout + report.stderr


def test_a_failing_run_script_reports_the_failure_but_not_its_stdin(tmp_path: Path) -> None:
    report = _report(tmp_path, "test_fails_with_a_secret_on_stdin")
    assert "exited 3: refused" in report  # what failed is still said
    assert SECRET not in report


def test_control_without_the_hiding_the_report_prints_the_argument(tmp_path: Path) -> None:
    assert SECRET in _report(tmp_path, "test_control_a_plain_helper_would_show_it")

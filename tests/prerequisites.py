"""What a test needs from the machine: without it the test skips, or under CI (WIPP_REQUIRE_ENGINE=1) fails."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def skip_or_fail(reason: str) -> NoReturn:
    """Skips the test with `reason`; in CI, where every test must run, fails it instead."""
    if os.environ.get("WIPP_REQUIRE_ENGINE") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def require_root(why: str) -> None:
    if os.geteuid() != 0:
        skip_or_fail(f"{why} needs root; .ci/run runs as root")

"""Go durations (`500ms`, `1m30s`, `20m`): the form of wipp:convergeInterval and wipp:convergeTimeout.

Used by `config/` (to compare the two) and by `services.py` (to hand the wait script seconds).
"""

from __future__ import annotations

import re

_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def milliseconds(duration: str) -> int:
    """A duration config has checked, in milliseconds."""
    return sum(int(number) * _UNIT_MS[unit] for number, unit in re.findall(r"([0-9]+)(ms|s|m|h)", duration))

"""The stack's `wipp:*` config: read once by `__main__.py`, checked whole, then handed out as `Settings`.

- `forms.py`     what every part shares: the base of every object, the errors, the value forms used
                 in several places (ports, flags, durations, addresses) and the checks behind them;
- `hosts.py`     one host of `wipp:hosts`, and the checks across the host list;
- `storage.py`   `wipp:storage`: named volumes or shared folders;
- `overrides.py` `wipp:serviceArgs`, `wipp:mountTargets`, `wipp:containerPorts`: NIST's values by default;
- `settings.py`  `Settings`, one field per top-level key, and the checks between keys;
- `load.py`      `load_settings`: reads the keys from Pulumi, and turns every mistake into one report.

To add a key: one field in the model it belongs to (its type, default, constraint and, as its
description, the form a user must write), a line in README.md's configuration reference, and for a
plain single value its default in Pulumi.yaml. See CONTRIBUTING.md.
"""

from .hosts import Host
from .load import load_settings
from .settings import Settings

__all__ = ["Host", "Settings", "load_settings"]

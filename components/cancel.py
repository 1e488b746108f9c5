"""How the program ends when Pulumi cancels it: quietly, without a Python traceback.

Once a resource fails (or the user presses Ctrl-C), the Pulumi engine cancels the run and the
Python language host stops this program with SIGINT (`pulumi-language-python`, `cmd.Cancel`).
Python's default answer to SIGINT is a `KeyboardInterrupt` raised wherever the program happens
to be, which the language host's runner does not catch: its traceback (30 to 50 lines, sometimes
twice) then stood in the output ahead of the failing step's own error, as if someone had pressed
Ctrl-C. The engine has already reported why it cancelled, so the program has nothing to add: it
flushes what it printed and exits with the language host's "already reported" code.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

# pulumi-language-python-exec's code for "the program exited after it showed the user its message":
# the language host then adds no "program exited with non-zero exit code" line of its own.
ALREADY_REPORTED = 32


def end_quietly(signum: int, frame: FrameType | None) -> None:
    """A SIGINT handler: flush stdout and stderr, then exit at once (no traceback, no cleanup that
    could wait on the engine that is cancelling us)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(ALREADY_REPORTED)


def end_quietly_when_cancelled() -> None:
    """Installs `end_quietly` for SIGINT (the program's main thread only: runpy runs it there)."""
    signal.signal(signal.SIGINT, end_quietly)

"""A run the engine cancels ends without a Python traceback (components/cancel.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from harness import REPO, run_program

from components.cancel import ALREADY_REPORTED, end_quietly


def test_the_program_answers_sigint_with_the_quiet_end() -> None:
    assert run_program("single").sigint_handler is end_quietly


def _interrupted(handler: bool) -> subprocess.CompletedProcess[str]:
    """A Python process that prints a line without a newline, then gets SIGINT while it waits (as
    the language host cancels the program), with or without the program's handler."""
    program = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from components.cancel import end_quietly_when_cancelled
        # Python's own answer to SIGINT, whatever this process inherited (an xdist worker ignores SIGINT,
        # and so would its children): the state a program starts in under the language host.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if {handler}:
            end_quietly_when_cancelled()
        sys.stdout.write("registered so far")
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
        """
    )
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, cwd=REPO)


def test_sigint_ends_the_program_quietly_with_what_it_printed_flushed() -> None:
    ended = _interrupted(handler=True)
    assert ended.returncode == ALREADY_REPORTED
    assert ended.stdout == "registered so far"
    assert "Traceback" not in ended.stderr and "KeyboardInterrupt" not in ended.stderr


def test_without_the_handler_python_prints_the_traceback_the_handler_removes() -> None:
    """The control: what a cancelled run printed before."""
    ended = _interrupted(handler=False)
    assert ended.returncode != ALREADY_REPORTED
    assert "KeyboardInterrupt" in ended.stderr and "Traceback" in ended.stderr

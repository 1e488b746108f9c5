"""Host scripts (files in `scripts/`) rendered into the text pulumi-command runs.

Used by every component that runs a script on a host; depends on nothing but the files.

A rendered script is plain POSIX shell: `NAME='value'` lines, the functions all
scripts share (`scripts/lib/common.sh`), then the file.
Values are shell-quoted; secrets never go here (they travel on stdin).
"""

from __future__ import annotations

import shlex
from pathlib import Path

SCRIPTS_DIR = Path(__file__).parent / "scripts"
COMMON = SCRIPTS_DIR / "lib" / "common.sh"


def render(script: str, docker_host: str | None = None, **variables: str) -> str:
    """The text of `scripts/<script>` preceded by its input variables."""
    lines = [f"{name}={shlex.quote(value)}" for name, value in variables.items()]
    if docker_host:
        lines.append(f"export DOCKER_HOST={shlex.quote(docker_host)}")
    return "\n".join(lines) + "\n" + script_text(script)


def script_text(script: str) -> str:
    """`scripts/<script>` after the functions every host script shares (`scripts/lib/common.sh`)."""
    return COMMON.read_text() + (SCRIPTS_DIR / script).read_text()

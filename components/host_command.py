"""One shell command on one host: a pulumi-command resource, local or over SSH.

Makes: a `command:local:Command` for a host with `local: true`, else a `command:remote:Command`
that connects with the host's user, port, checked host key and wipp:sshPrivateKey.
Depends on: `HostConnection`, which `config/settings.py` builds from a `Host`. Every component
that acts on a host goes through `host_command`, so SSH and logging are decided in one place.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_command as command

# What `host_command` makes: a local command or one over SSH; both have `stdout` and `stderr`.
HostCommand = command.local.Command | command.remote.Command

# What pulumi-command runs for `create`: it reads the script (its first COUNT bytes of stdin, one byte at
# a time, so nothing after it is consumed) and runs it, for at most BOUND seconds (`timeout`, which ends
# the script's whole process group, then kills it 10 s later); what follows on stdin (a secret) is left to
# the script. pulumi-command puts the command it ran into its error message, three times in the CLI's
# output: this keeps that to one line, and the script's own message comes right after it. pulumi-command
# bounds neither an SSH session nor a local command (its remote `session.Run` does not watch the
# context a custom timeout sets): the bound has to be on the host.
RUNNER = "timeout -k 10 {bound} sh -c 'eval \"$(dd bs=1 count={count} 2>/dev/null)\"' wipp-host-script"
RUNNER_PATTERN = re.compile(
    r"timeout -k 10 ([0-9]+) sh -c 'eval \"\$\(dd bs=1 count=([0-9]+) 2>/dev/null\)\"' wipp-host-script"
)
# A step's bound unless its component gives another: the steps' own waits (a service converging, a join,
# the web port) are bounded by their own settings, well inside it; this ends a step that hangs elsewhere.
STEP_BOUND_S = 3600
# Steps whose time grows with the data or the link (a backup, the image pulls).
LONG_STEP_BOUND_S = 24 * 3600


def script_on_stdin(script: str, stdin: str | None, bound_s: int = STEP_BOUND_S) -> tuple[str, str]:
    """The fixed `create` command for `script`, and the stdin that carries the script then `stdin`."""
    return RUNNER.format(bound=bound_s, count=len(script.encode())), script + (stdin or "")


def step_header(step: str, host: str, bound_s: int) -> str:
    """The lines ahead of a step's script: which step on which host, and its bound. `scripts/lib/common.sh`
    names them in the message of a step ended at its bound, and of a docker call with no answer."""
    return f"WIPP_STEP={shlex.quote(step)}\nWIPP_HOST={shlex.quote(host)}\nWIPP_BOUND_S={bound_s}\n"


@dataclass(frozen=True)
class HostConnection:
    """How commands reach one host: here (local) or over SSH with a checked host key."""

    host_name: str
    address: str
    local: bool
    user: str = "root"
    port: int = 22
    host_key: str | None = None  # None: the host's key is not checked (wipp:allowUnknownHostKeys)
    private_key: pulumi.Input[str] | None = None
    docker_host: str | None = None  # DOCKER_HOST for scripts on a local host


def host_command(
    name: str,
    connection: HostConnection,
    *,
    create: pulumi.Input[str],
    delete: str | None = None,
    stdin: pulumi.Input[str] | None = None,
    triggers: list[str] | None = None,
    secret_stdout: bool = False,
    bound_s: int = STEP_BOUND_S,
    opts: pulumi.ResourceOptions,
) -> HostCommand:
    """A pulumi-command resource running `create` (and `delete` on destroy) on one host.

    A change of `create` re-runs `create` only (the old `delete` never runs); a
    change of `triggers` replaces the resource, so the old `delete` runs too.
    The `create` script travels on stdin behind a fixed one-line command (RUNNER), ahead of
    `stdin`; a secret `stdin` makes the whole stdin secret (encrypted in the state). It runs for at
    most `bound_s` seconds; then it fails, naming the step (`name`) and the host.

    With `secret_stdout`, stdout is stored as a secret and never logged: only
    stderr reaches the Pulumi log. Previous output is never put into the
    environment of `delete`, so a secret stdout cannot leak there either.
    """
    logging = command.local.Logging.STDERR if secret_stdout else command.local.Logging.STDOUT_AND_STDERR
    if secret_stdout:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["stdout"]))
    script = pulumi.Output.from_input(create).apply(
        lambda text: step_header(name, connection.host_name, bound_s) + text
    )
    common: dict[str, Any] = {
        "create": script.apply(lambda text: script_on_stdin(text, None, bound_s)[0]),  # never secret: a byte count
        "delete": delete,
        "stdin": pulumi.Output.all(script, stdin).apply(lambda values: script_on_stdin(values[0], values[1])[1]),
        "triggers": triggers,
        "add_previous_output_in_env": False,
        "opts": opts,
    }
    if connection.local:
        return command.local.Command(name, logging=logging, **common)
    ssh = command.remote.ConnectionArgs(
        host=connection.address,
        port=connection.port,
        user=connection.user,
        private_key=connection.private_key,
        host_key=connection.host_key,
    )
    return command.remote.Command(name, connection=ssh, logging=command.remote.Logging(logging.value), **common)

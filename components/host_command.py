"""One shell command on one host: a pulumi-command resource, local or over SSH.

Makes: a `command:local:Command` for a host with `local: true`, else a `command:remote:Command`
that connects with the host's user, port, checked host key and wipp:sshPrivateKey.
Depends on: `HostConnection`, which `config/settings.py` builds from a `Host`. Every component
that acts on a host goes through `host_command`, so SSH and logging are decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_command as command

# What `host_command` makes: a local command or one over SSH; both have `stdout` and `stderr`.
HostCommand = command.local.Command | command.remote.Command


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
    opts: pulumi.ResourceOptions,
) -> HostCommand:
    """A pulumi-command resource running `create` (and `delete` on destroy) on one host.

    A change of `create` re-runs `create` only (the old `delete` never runs); a
    change of `triggers` replaces the resource, so the old `delete` runs too.

    With `secret_stdout`, stdout is stored as a secret and never logged: only
    stderr reaches the Pulumi log. Previous output is never put into the
    environment of `delete`, so a secret stdout cannot leak there either.
    """
    logging = command.local.Logging.STDERR if secret_stdout else command.local.Logging.STDOUT_AND_STDERR
    if secret_stdout:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["stdout"]))
    common: dict[str, Any] = {
        "create": create,
        "delete": delete,
        "stdin": stdin,
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

"""One shell command on one host: local (no SSH) or over SSH, as the host says."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_command as command

from .settings import Host, Settings


def host_command(
    name: str,
    host: Host,
    settings: Settings,
    *,
    create: str,
    delete: str | None = None,
    stdin: pulumi.Input[str] | None = None,
    triggers: list[str] | None = None,
    secret_stdout: bool = False,
    opts: pulumi.ResourceOptions,
) -> pulumi.CustomResource:
    """A pulumi-command resource running `create` (and `delete` on destroy) on `host`.

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
    if host.local:
        return command.local.Command(name, logging=logging, **common)
    connection = command.remote.ConnectionArgs(
        host=host.address,
        port=host.ssh_port,
        user=host.ssh_user,
        private_key=settings.ssh_private_key,
        host_key=host.host_key,
    )
    return command.remote.Command(name, connection=connection, logging=command.remote.Logging(logging.value), **common)

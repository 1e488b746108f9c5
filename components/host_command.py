"""One shell command on one host: local (no SSH) or over SSH, as the host says."""

from __future__ import annotations

import pulumi
import pulumi_command as command

from .config import Host, Settings


def host_command(
    name: str,
    host: Host,
    settings: Settings,
    *,
    create: str,
    delete: str | None = None,
    stdin: pulumi.Input[str] | None = None,
    secret_stdout: bool = False,
    opts: pulumi.ResourceOptions,
) -> pulumi.CustomResource:
    """A pulumi-command resource running `create` (and `delete` on destroy) on `host`.

    With `secret_stdout`, stdout is stored as a secret and never logged: only
    stderr reaches the Pulumi log. Previous output is never put into the
    environment of `delete`, so a secret stdout cannot leak there either.
    """
    logging = command.local.Logging.STDERR if secret_stdout else command.local.Logging.STDOUT_AND_STDERR
    if secret_stdout:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["stdout"]))
    if host.local:
        return command.local.Command(
            name,
            create=create,
            delete=delete,
            stdin=stdin,
            logging=logging,
            add_previous_output_in_env=False,
            opts=opts,
        )
    return command.remote.Command(
        name,
        connection=command.remote.ConnectionArgs(
            host=host.address,
            port=host.ssh_port,
            user=host.ssh_user,
            private_key=settings.ssh_private_key,
        ),
        create=create,
        delete=delete,
        stdin=stdin,
        logging=command.remote.Logging(logging.value),
        add_previous_output_in_env=False,
        opts=opts,
    )

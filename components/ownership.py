"""StackOwnership: nothing this stack uses may belong to another stack on the same engine."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_command as command

from .host_command import HostConnection, host_command
from .scripts import render


@dataclass
class StackOwnershipArgs:
    manager: HostConnection  # the first manager: its engine holds the volumes, network and services
    owner: str  # this stack's label value, <project>/<stack>
    volumes: dict[str, str]  # storage key -> volume name (empty with shared folders)
    network: str
    services: dict[str, str]  # service -> name on the swarm
    container: str  # the wipp container's name (bindAddress set), or ""
    ports: list[int]


class StackOwnership(pulumi.ComponentResource):
    """Runs `stack-ownership.sh` against the first manager's engine.

    On a local first manager at every preview and `up` (pulumi-command's `local.run`, which runs
    whenever the program does), so that a clash is refused at preview and nothing is created.
    A remote first manager can be reached at preview only by the Docker provider, which cannot
    read volume labels (pulumi-docker has no volume lookup): there it is a command that runs
    first at `up`, before anything changes (the script passes if Docker does not answer there;
    the preflight then stops the `up`). `checked` is what must come after it.
    """

    checked: list[pulumi.Resource]

    def __init__(self, name: str, args: StackOwnershipArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wipp:ownership:StackOwnership", name, None, opts)
        self.checked = []
        if args.manager.local:
            self._refuse_at_preview(args)
        else:
            self.checked.append(
                host_command(
                    f"{name}-{args.manager.host_name}",
                    args.manager,
                    create=self._script(args, report=False),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        self.register_outputs({})

    @staticmethod
    def _script(args: StackOwnershipArgs, report: bool) -> str:
        return render(
            "stack-ownership.sh",
            args.manager.docker_host,
            OWNER=args.owner,
            VOLUMES="\n".join(f"{key}={name}" for key, name in args.volumes.items()),
            NETWORK=args.network,
            SERVICES="\n".join(f"{key}={name}" for key, name in args.services.items()),
            CONTAINER=args.container,
            PORTS=" ".join(str(port) for port in args.ports),
            REPORT=str(report).lower(),
        )

    def _refuse_at_preview(self, args: StackOwnershipArgs) -> None:
        found = command.local.run(command=self._script(args, report=True), logging=command.local.Logging.STDERR)
        refusals = [line for line in (found.stdout or "").splitlines() if line.strip()]
        if refusals:
            listed = "".join(f"\n  - {line}" for line in refusals)
            raise pulumi.RunError(f"this stack would take what belongs to another stack on the same engine:{listed}")

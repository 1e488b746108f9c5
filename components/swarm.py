"""Swarm: `docker swarm init` on the first manager, every other host joins."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from .host_command import host_command
from .scripts import render
from .settings import Host, Settings


@dataclass
class SwarmArgs:
    settings: Settings
    # Firewalls that must be open before a host talks swarm, by host name.
    firewalls: dict[str, pulumi.Resource] = field(default_factory=dict)


class Swarm(pulumi.ComponentResource):
    """The swarm and its nodes.

    Join tokens are read only for the roles some host joins as, as secrets (secret
    stdout, stderr-only logging), and handed to the joining hosts on stdin; they are
    never component outputs. On destroy, hosts leave only when
    wipp:leaveSwarmOnDestroy is true: workers leave, other managers are demoted
    and leave, then the first manager removes their nodes and leaves.
    """

    manager_node_id: pulumi.Output[str]
    node_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: SwarmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wipp:swarm:Swarm", name, None, opts)
        self._settings = args.settings
        self._firewalls = args.firewalls
        manager = args.settings.first_manager

        init = host_command(
            f"{name}-init-{manager.name}",
            manager,
            args.settings,
            create=render("swarm-init.sh", args.settings.script_docker_host(manager), ADVERTISE_ADDR=manager.address),
            delete=self._leave_script(manager),
            opts=self._options(manager, depends_on=[]),
        )
        self.manager_node_id = init.stdout.apply(str.strip)
        joining = [host for host in args.settings.hosts if host is not manager]
        roles = sorted({host.role for host in joining})
        tokens = {role: self._token(name, manager, role, init) for role in roles}

        self.node_ids = {manager.name: self.manager_node_id}
        for host in joining:
            join = host_command(
                f"{name}-join-{host.name}",
                host,
                args.settings,
                create=render(
                    "swarm-join.sh",
                    args.settings.script_docker_host(host),
                    HOST_NAME=host.name,
                    ROLE=host.role,
                    MANAGER_ADDR=manager.address,
                    ADVERTISE_ADDR=host.address,
                ),
                delete=self._leave_script(host),
                stdin=pulumi.Output.secret(tokens[host.role].stdout),
                opts=self._options(host, depends_on=[tokens[host.role], *self._firewall_of(manager)]),
            )
            self.node_ids[host.name] = join.stdout.apply(str.strip)

        self.register_outputs({"managerNodeId": self.manager_node_id, "nodeIds": self.node_ids})

    def _token(self, name: str, manager: Host, role: str, init: pulumi.Resource) -> pulumi.CustomResource:
        return host_command(
            f"{name}-{role}-token",
            manager,
            self._settings,
            create=render("swarm-token.sh", self._settings.script_docker_host(manager), ROLE=role),
            secret_stdout=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[init]),
        )

    def _leave_script(self, host: Host) -> str:
        # The first manager's delete runs last (every join depends on its init): by then
        # the other hosts have left, and it removes their nodes before ending the swarm.
        first = host is self._settings.first_manager
        departed = [h.address for h in self._settings.hosts if h is not host] if first else []
        return render(
            "swarm-leave.sh",
            self._settings.script_docker_host(host),
            LEAVE=str(self._settings.leave_swarm_on_destroy).lower(),
            ROLE="first-manager" if first else host.role,
            DEPARTED=" ".join(departed),
        )

    def _firewall_of(self, host: Host) -> list[pulumi.Resource]:
        return [self._firewalls[host.name]] if host.name in self._firewalls else []

    def _options(self, host: Host, depends_on: list[pulumi.Resource]) -> pulumi.ResourceOptions:
        # A join or init is replaced by leaving first, then joining again.
        return pulumi.ResourceOptions(
            parent=self,
            depends_on=depends_on + self._firewall_of(host),
            delete_before_replace=True,
        )

"""Swarm: the Docker swarm over every host, as commands on the hosts.

Makes: `swarm-init-<first manager>` (scripts/swarm-init.sh), a secret join-token command per role
some host joins as (swarm-token.sh), `swarm-join-<host>` for every other host (swarm-join.sh,
token on stdin), and `swarm-roles` (swarm-roles.sh: each joined node gets the role its host has
in wipp:hosts). Their deletes (swarm-leave.sh) leave the swarm only with wipp:leaveSwarmOnDestroy.
Depends on: the preflight, and each host's firewall rules (the swarm ports open to the cluster).
The Docker provider, and so the network, storage and services, wait for the swarm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from .host_command import HostCommand, HostConnection, host_command
from .scripts import render

# How long a join may go on after Docker's own 20 s wait ran out (a second manager's join on a busy
# host took longer in CI), before the join is reported failed.
JOIN_WAIT_S = 180


@dataclass(frozen=True)
class SwarmMember:
    connection: HostConnection
    role: str  # "manager" or "worker"


@dataclass
class SwarmArgs:
    first_manager: HostConnection
    # Every other host, in the stack's order.
    joining: list[SwarmMember]
    leave_on_destroy: bool
    # A new swarm's address pool for overlay networks, NETWORK[:LENGTH]; "" for Docker's default.
    address_pool: str = ""
    # Firewalls that must be in place before a host talks swarm, by host name.
    firewalls: dict[str, pulumi.Resource] = field(default_factory=dict)
    # What must finish before the swarm is touched (the preflight). A component's depends_on
    # does not reach its children, so init takes it itself; every join waits for init.
    after: list[pulumi.Resource] = field(default_factory=list)


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
        self._args = args
        manager = args.first_manager

        init = host_command(
            f"{name}-init-{manager.host_name}",
            manager,
            create=render(
                "swarm-init.sh", manager.docker_host, ADVERTISE_ADDR=manager.address, ADDRESS_POOL=args.address_pool
            ),
            # The first manager's delete runs last (every join depends on its init): by then
            # the other hosts have left, and it removes their nodes before ending the swarm.
            delete=self._leave_script(manager, "first-manager", [m.connection.address for m in args.joining]),
            opts=self._options(manager, depends_on=list(args.after)),
        )
        self.manager_node_id = init.stdout.apply(str.strip)
        roles = sorted({member.role for member in args.joining})
        tokens = {role: self._token(name, role, init) for role in roles}

        self.node_ids = {manager.host_name: self.manager_node_id}
        joins = []
        for member in args.joining:
            host = member.connection
            join = host_command(
                f"{name}-join-{host.host_name}",
                host,
                create=render(
                    "swarm-join.sh",
                    host.docker_host,
                    HOST_NAME=host.host_name,
                    ROLE=member.role,
                    MANAGER_ADDR=manager.address,
                    ADVERTISE_ADDR=host.address,
                    JOIN_WAIT_S=str(JOIN_WAIT_S),
                ),
                delete=self._leave_script(host, member.role, []),
                stdin=pulumi.Output.secret(tokens[member.role].stdout),
                opts=self._options(host, depends_on=[tokens[member.role], *self._firewall_of(manager)]),
            )
            self.node_ids[host.host_name] = join.stdout.apply(str.strip)
            joins.append(join)
        if joins:
            self._roles(name, joins)

        self.register_outputs({"managerNodeId": self.manager_node_id, "nodeIds": self.node_ids})

    def _roles(self, name: str, joins: list[HostCommand]) -> HostCommand:
        """Each joined node gets the role its host has in wipp:hosts, set by the first manager.

        A join leaves a node already in this swarm as it is, and a worker cannot promote
        itself: without this, a host changed from worker to manager in the stack file would
        stay a worker while the stack reports it a manager.
        """
        manager = self._args.first_manager
        lines = [
            pulumi.Output.concat(self.node_ids[m.connection.host_name], f" {m.role} {m.connection.host_name}")
            for m in self._args.joining
        ]
        roles = pulumi.Output.all(*lines).apply("\n".join)
        return host_command(
            f"{name}-roles",
            manager,
            create=roles.apply(lambda text: render("swarm-roles.sh", manager.docker_host, ROLES=text)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=joins),
        )

    def _token(self, name: str, role: str, init: pulumi.Resource) -> HostCommand:
        manager = self._args.first_manager
        return host_command(
            f"{name}-{role}-token",
            manager,
            create=render("swarm-token.sh", manager.docker_host, ROLE=role),
            secret_stdout=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[init]),
        )

    def _leave_script(self, host: HostConnection, role: str, departed: list[str]) -> str:
        return render(
            "swarm-leave.sh",
            host.docker_host,
            LEAVE=str(self._args.leave_on_destroy).lower(),
            ROLE=role,
            DEPARTED=" ".join(departed),
        )

    def _firewall_of(self, host: HostConnection) -> list[pulumi.Resource]:
        firewall = self._args.firewalls.get(host.host_name)
        return [firewall] if firewall is not None else []

    def _options(self, host: HostConnection, depends_on: list[pulumi.Resource]) -> pulumi.ResourceOptions:
        # A join or init is replaced by leaving first, then joining again.
        return pulumi.ResourceOptions(
            parent=self,
            depends_on=depends_on + self._firewall_of(host),
            delete_before_replace=True,
        )

"""Swarm: the Docker swarm over every host, as commands on the hosts.

Makes: `swarm-init-<first manager>` (scripts/swarm-init.sh), a secret join-token command per role
some host joins as (swarm-token.sh), `swarm-join-<host>` for every other host (swarm-join.sh,
token on stdin), and `swarm-roles` (swarm-roles.sh: each joined node gets the role its host has
in wipp:hosts). Their deletes (swarm-leave.sh) leave the swarm only with wipp:leaveSwarmOnDestroy.
Depends on: the preflight, and each host's firewall rules (the swarm ports open to the cluster).
The Docker provider, and so the network, storage and services, wait for the swarm.

A lost first manager (README, "A lost first manager"): on a local first manager the program reads, at
every preview and `up`, which swarm node the host is (`observed_node_id`, scripts/swarm-state.sh) and
compares it with the node ID the stack's last outputs recorded (`nodes`). When that swarm is gone (no
swarm there, or another node ID), `swarm_generation` counts one more swarm generation, which goes into
swarm-init's script (so Pulumi runs it again and it makes a new swarm) and into the stack's output
`swarmGeneration` (so the next run computes the same value: nothing flips back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_command as command

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
    # How many times this stack made a new swarm after the one it recorded was gone (swarm_generation);
    # 0: never, and swarm-init's script is as it always was.
    generation: int = 0
    # The first manager's node ID the stack recorded, when the program found that swarm gone in this run.
    lost_node: str = ""
    # ... and the node ID it is now ("" in no swarm).
    observed_node: str = ""


def observed_node_id(manager: HostConnection) -> str | None:
    """The first manager's swarm node ID as its engine reports it now: "" when it is in no swarm; None when
    it cannot be known here (a remote first manager, an engine that does not answer, a swarm state in between).

    Read with pulumi-command's `local.run`, which runs whenever the program does (preview and `up`)."""
    if not manager.local:
        return None
    found = command.local.run(
        command=render("swarm-state.sh", manager.docker_host), logging=command.local.Logging.STDERR
    )
    words = (found.stdout or "").split()
    if words[:1] == ["inactive"]:
        return ""
    if words[:1] == ["active"] and len(words) == 2:
        return words[1]
    return None


def swarm_generation(previous: Mapping[str, Any] | None, manager_name: str, observed: str | None) -> tuple[int, str]:
    """This run's swarm generation, and the recorded node ID whose swarm is gone ("" when none is).

    `previous` is the stack's last outputs; the generation is the one they recorded (0 without one), one
    more when the first manager's recorded node ID is not the one `observed` now. Unknown (observed None,
    or no node recorded: a new stack, or the outputs could not be read) changes nothing. Once the new
    swarm is recorded (its node ID, this generation), the next run computes the same generation again.
    """
    recorded_generation = (previous or {}).get("swarmGeneration")
    generation = 0
    # A number comes back from the state as a float (protobuf's Value): 1.0 is generation 1.
    if isinstance(recorded_generation, int | float) and not isinstance(recorded_generation, bool):
        if recorded_generation > 0 and recorded_generation == int(recorded_generation):
            generation = int(recorded_generation)
    nodes = (previous or {}).get("nodes")
    recorded = next(
        (
            str(node.get("nodeId") or "")
            for node in (nodes if isinstance(nodes, list) else [])
            if isinstance(node, dict) and node.get("name") == manager_name
        ),
        "",
    )
    if observed is None or not recorded or observed == recorded:
        return generation, ""
    return generation + 1, recorded


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

        if args.lost_node:
            now = f"node {args.observed_node}" if args.observed_node else "in no swarm"
            pulumi.log.warn(
                f"swarm-init: {manager.host_name} ({manager.address}) is no longer the swarm node this stack "
                f"recorded ({args.lost_node}; it is {now} now): swarm-init runs again (swarm generation "
                f"{args.generation}) and makes a new swarm there, or keeps the one it is a manager of. The network, "
                "volumes and services the state records were on the old swarm, and a service that is gone cannot be "
                f"replaced: run `pulumi up --target '**swarm-init-{manager.host_name}'` first (it changes nothing "
                "else), then `pulumi up --refresh`, which forgets them and makes them again (README: A lost first "
                "manager).",
                resource=self,
            )
        generation = {"SWARM_GENERATION": str(args.generation)} if args.generation else {}
        init = host_command(
            f"{name}-init-{manager.host_name}",
            manager,
            create=render(
                "swarm-init.sh",
                manager.docker_host,
                ADVERTISE_ADDR=manager.address,
                ADDRESS_POOL=args.address_pool,
                **generation,
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

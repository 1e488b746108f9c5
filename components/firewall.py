"""HostFirewall: the firewall rules of one host, as two commands on that host.

Makes: a `<name>-swarm-ports` command (scripts/firewall-swarm-ports.sh: ufw rules that let only
the cluster's hosts and wipp:allowedSources reach the swarm ports) and, when the host publishes
WIPP's ports and wipp:allowedSources is set, a `<name>-published-ports` command
(scripts/firewall-published-ports.sh: rules in Docker's DOCKER-USER chain, since Docker's
published ports bypass ufw, and a systemd unit that puts them back after Docker restarts).
Depends on: the host's connection, and what must finish first (the preflight); the swarm's
init and joins wait for these rules. Made only with wipp:manageFirewall true.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pulumi

from .host_command import HostConnection, host_command
from .scripts import render, script_text

PERSIST_DIR = "/etc/wipp"
# How firewall-swarm-ports.sh writes its rules: part of their tag, so that a stack whose rules were
# written another way (one per port, before) gets them replaced, the old ones removed.
SWARM_RULE_FORM = "a rule per source and protocol"


def swarm_port_rules(is_manager: bool) -> list[str]:
    """The `port/proto` swarm ports a host listens on: 2377 on managers, gossip and VXLAN everywhere.

    Even a single host listens on them once it is a swarm manager, so every host gets them.
    """
    management = ["2377/tcp"] if is_manager else []
    return management + ["7946/tcp", "7946/udp", "4789/udp"]


def rule_tag(stack: str, kind: str, spec: list[str]) -> str:
    """The comment that marks this stack's rules of one kind and one rule set.

    `wipp:<stack>:<kind>:<hash>`: the hash changes with the rules, so while a
    changed rule set replaces the old one, the old delete finds only the old rules.
    """
    digest = hashlib.sha256("\n".join(spec).encode()).hexdigest()[:10]
    return f"{stack_tag(stack)}{kind}:{digest}"


def stack_tag(stack: str) -> str:
    """The prefix every rule this stack adds carries (':' cannot occur in a stack name)."""
    return f"wipp:{stack}:"


@dataclass
class HostFirewallArgs:
    connection: HostConnection
    stack: str
    is_manager: bool
    # Who may reach the swarm ports: the cluster's hosts and wipp:allowedSources.
    swarm_sources: list[str]
    # The WIPP ports this host publishes that only `published_sources` may reach (empty: none restricted).
    published_ports: list[int]
    published_sources: list[str]
    # What must finish first (the preflight). A component's depends_on does not reach its
    # children, so the commands take it themselves.
    after: list[pulumi.Resource] = field(default_factory=list)


class HostFirewall(pulumi.ComponentResource):
    """Limits who reaches one host: swarm ports to the cluster, WIPP's ports to wipp:allowedSources.

    Every rule is tagged with the stack; destroy removes only tagged rules. A change of
    rules replaces the command: the new rules go in first, then the old ones come out.
    """

    swarm_ports: list[str]

    def __init__(self, name: str, args: HostFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wipp:firewall:HostFirewall", name, None, opts)
        self._args = args
        self.swarm_ports = swarm_port_rules(args.is_manager)
        self._swarm_ports_command(name)
        if args.published_ports:
            self._published_ports_command(name)
        self.register_outputs(
            {
                "swarmPorts": self.swarm_ports,
                "swarmSources": args.swarm_sources,
                "publishedPorts": args.published_ports,
            }
        )

    def _swarm_ports_command(self, name: str) -> pulumi.CustomResource:
        ports, sources = " ".join(self.swarm_ports), " ".join(self._args.swarm_sources)
        tag = rule_tag(self._args.stack, "swarm", [ports, sources, SWARM_RULE_FORM])
        variables = {"PORTS": ports, "SOURCES": sources, "TAG": tag, "STACK_TAG": stack_tag(self._args.stack)}
        return self._command(f"{name}-swarm-ports", "firewall-swarm-ports.sh", tag, variables)

    def _published_ports_command(self, name: str) -> pulumi.CustomResource:
        ports = " ".join(str(p) for p in self._args.published_ports)
        sources = " ".join(self._args.published_sources)
        tag = rule_tag(self._args.stack, "published", [ports, sources])
        script = "firewall-published-ports.sh"
        # The script keeps a copy of itself for the systemd unit that re-applies the rules after a restart.
        variables = {
            "PORTS": ports,
            "SOURCES": sources,
            "TAG": tag,
            "PERSIST_DIR": PERSIST_DIR,
            "SCRIPT_BODY": script_text(script),
        }
        return self._command(f"{name}-published-ports", script, tag, variables)

    def _command(self, name: str, script: str, tag: str, variables: dict[str, str]) -> pulumi.CustomResource:
        # triggers: a new tag (new rules) replaces the command instead of re-running
        # create, so the old rules' delete runs; create-before-delete keeps the host
        # covered by one rule set or the other throughout.
        return host_command(
            name,
            self._args.connection,
            create=render(script, ACTION="apply", **variables),
            delete=render(script, ACTION="remove", **variables),
            triggers=[tag],
            opts=pulumi.ResourceOptions(parent=self, depends_on=self._args.after),
        )

"""HostFirewall: one host's swarm ports (ufw) and published WIPP ports (Docker's DOCKER-USER chain)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi

from .host_command import host_command
from .scripts import render, script_text
from .settings import Host, Settings

PERSIST_DIR = "/etc/wipp"


def swarm_port_rules(host: Host) -> list[str]:
    """The `port/proto` swarm ports `host` listens on: 2377 on managers, gossip and VXLAN everywhere.

    Even a single host listens on them once it is a swarm manager, so every host gets them.
    """
    management = ["2377/tcp"] if host.is_manager else []
    return management + ["7946/tcp", "7946/udp", "4789/udp"]


def swarm_port_sources(settings: Settings) -> list[str]:
    """Who may reach the swarm ports: the cluster's own hosts, plus wipp:allowedSources."""
    return [h.address for h in settings.hosts] + settings.allowed_sources


def publishes_wipp_ports(host: Host, settings: Settings) -> bool:
    """Whether `host` answers on the web and dashboard ports.

    In ingress mode every swarm node does (the routing mesh); in host mode only
    the first manager, where the wipp service is pinned.
    """
    return settings.publish_mode == "ingress" or host is settings.first_manager


def rule_tag(settings: Settings, kind: str, spec: list[str]) -> str:
    """The comment that marks this stack's rules of one kind and one rule set.

    `wipp:<stack>:<kind>:<hash>`: the hash changes with the rules, so while a
    changed rule set replaces the old one, the old delete finds only the old rules.
    """
    digest = hashlib.sha256("\n".join(spec).encode()).hexdigest()[:10]
    return f"{stack_tag(settings)}{kind}:{digest}"


def stack_tag(settings: Settings) -> str:
    """The prefix every rule this stack adds carries (':' cannot occur in a stack name)."""
    return f"wipp:{settings.stack}:"


@dataclass
class HostFirewallArgs:
    host: Host
    settings: Settings


class HostFirewall(pulumi.ComponentResource):
    """Limits who reaches one host: swarm ports to the cluster, WIPP's ports to wipp:allowedSources.

    Every rule is tagged with the stack; destroy removes only tagged rules. A change of
    rules replaces the command: the new rules go in first, then the old ones come out.
    """

    swarm_ports: list[str]
    swarm_sources: list[str]
    published_ports: list[str]
    commands: list[pulumi.CustomResource]

    def __init__(self, name: str, args: HostFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wipp:firewall:HostFirewall", name, None, opts)
        settings, host = args.settings, args.host
        self.swarm_ports = swarm_port_rules(host)
        self.swarm_sources = swarm_port_sources(settings)
        self.commands = [self._swarm_ports_command(name, host, settings)]
        self.published_ports = []
        if settings.allowed_sources and publishes_wipp_ports(host, settings):
            self.published_ports = [f"{settings.web_port}/tcp", f"{settings.dashboard_port}/tcp"]
            self.commands.append(self._published_ports_command(name, host, settings))
        self.register_outputs(
            {"swarmPorts": self.swarm_ports, "swarmSources": self.swarm_sources, "publishedPorts": self.published_ports}
        )

    def _swarm_ports_command(self, name: str, host: Host, settings: Settings) -> pulumi.CustomResource:
        ports, sources = " ".join(self.swarm_ports), " ".join(self.swarm_sources)
        tag = rule_tag(settings, "swarm", [ports, sources])
        variables = {"PORTS": ports, "SOURCES": sources, "TAG": tag, "STACK_TAG": stack_tag(settings)}
        return self._command(f"{name}-swarm-ports", host, settings, "firewall-swarm-ports.sh", tag, variables)

    def _published_ports_command(self, name: str, host: Host, settings: Settings) -> pulumi.CustomResource:
        ports = " ".join(str(p) for p in (settings.web_port, settings.dashboard_port))
        sources = " ".join(settings.allowed_sources)
        tag = rule_tag(settings, "published", [ports, sources])
        script = "firewall-published-ports.sh"
        # The script keeps a copy of itself for the systemd unit that re-applies the rules after a restart.
        variables = {
            "PORTS": ports,
            "SOURCES": sources,
            "TAG": tag,
            "PERSIST_DIR": PERSIST_DIR,
            "SCRIPT_BODY": script_text(script),
        }
        return self._command(f"{name}-published-ports", host, settings, script, tag, variables)

    def _command(
        self, name: str, host: Host, settings: Settings, script: str, tag: str, variables: dict[str, str]
    ) -> pulumi.CustomResource:
        # triggers: a new tag (new rules) replaces the command instead of re-running
        # create, so the old rules' delete runs; create-before-delete keeps the host
        # covered by one rule set or the other throughout.
        return host_command(
            name,
            host,
            settings,
            create=render(script, ACTION="apply", **variables),
            delete=render(script, ACTION="remove", **variables),
            triggers=[tag],
            opts=pulumi.ResourceOptions(parent=self),
        )

"""HostFirewall: WIPP's and Docker Swarm's ports opened with ufw on one host."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .config import Host, Settings
from .host_command import host_command
from .scripts import render


def firewall_rules(host: Host, settings: Settings) -> list[str]:
    """The `port/proto` rules `host` needs.

    A single host needs only WIPP's two ports, as NIST's single-host step 5 says.
    Several hosts also talk swarm: 2377/tcp to managers, 7946 tcp+udp and
    4789/udp between all of them.
    """
    rules = [f"{settings.web_port}/tcp", f"{settings.dashboard_port}/tcp"]
    if settings.multi_host:
        swarm = ["2377/tcp"] if host.is_manager else []
        rules = swarm + ["7946/tcp", "7946/udp", "4789/udp"] + rules
    return rules


@dataclass
class HostFirewallArgs:
    host: Host
    settings: Settings


class HostFirewall(pulumi.ComponentResource):
    """Opens the rules on `pulumi up`; removes exactly those rules on destroy."""

    rules: list[str]
    command: pulumi.CustomResource

    def __init__(self, name: str, args: HostFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wipp:firewall:HostFirewall", name, None, opts)
        settings, host = args.settings, args.host
        self.rules = firewall_rules(host, settings)
        variables = {
            "RULES": " ".join(self.rules),
            "SOURCES": " ".join(settings.allowed_sources) or "any",
        }
        self.command = host_command(
            f"{name}-ufw",
            host,
            settings,
            create=render("firewall.sh", ACTION="allow", **variables),
            delete=render("firewall.sh", ACTION="delete", **variables),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.register_outputs({"rules": self.rules})

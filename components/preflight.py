"""Preflight: every host checked before anything changes on any of them.

Makes: one `preflight-<host>` command per host (scripts/preflight.sh, in parallel): Docker
answers, the host is in no other swarm, the published ports are free, ufw is there when needed,
memory and disk against NIST's figures (a warning, or a stop with wipp:strictPreflight).
Depends on: each host's connection. The firewall and the swarm wait for it; `summary` (what each
host reported) is the stack output `preflight`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi

from .host_command import HostConnection, host_command
from .scripts import render

# NIST's figures: 16 GB for one host, 8 GB per host for several, 50 GB of disk. Memory is
# checked at 90 % of them: the kernel keeps part of the RAM, so a 16 GB machine shows ~15.6 GiB.
NIST_MEMORY_GB = {"single": 16, "per-host": 8}
NIST_DISK_GB = 50


@dataclass(frozen=True)
class HostCheck:
    connection: HostConnection
    first_manager: bool
    published_ports: list[int]  # checked free (or Docker's own)


@dataclass
class PreflightArgs:
    hosts: list[HostCheck]
    manager_address: str
    need_ufw: bool
    strict: bool
    publish_mode: str  # ingress (the routing mesh) needs the kernel's IPVS
    endpoint_mode: str  # vip (service virtual IPs) too
    shared_folders: list[str]  # bind mode: each host's folders should be on a mount of their own
    # The images the services run, as configured: a new one makes the preflight run again, and
    # each host compares its free disk with what their pulls need.
    images: list[str]


class Preflight(pulumi.ComponentResource):
    """Runs `preflight.sh` on each host, in parallel; `summary` is what each host reported."""

    summary: dict[str, pulumi.Output[Any]]

    def __init__(self, name: str, args: PreflightArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wipp:preflight:Preflight", name, None, opts)
        memory_gb = NIST_MEMORY_GB["single" if len(args.hosts) == 1 else "per-host"]
        self.summary = {}
        for check in args.hosts:
            host = check.connection
            command = host_command(
                f"{name}-{host.host_name}",
                host,
                create=render(
                    "preflight.sh",
                    host.docker_host,
                    HOST_NAME=host.host_name,
                    POSITION="first-manager" if check.first_manager else "joining",
                    MANAGER_ADDR=args.manager_address,
                    PORTS=" ".join(str(p) for p in check.published_ports),
                    NEED_UFW=str(args.need_ufw).lower(),
                    MIN_MEMORY_MB=str(int(memory_gb * 1024 * 0.9)),
                    MIN_DISK_GB=str(NIST_DISK_GB),
                    STRICT=str(args.strict).lower(),
                    IPVS_NEEDED_BY=_ipvs_needed_by(args),
                    SHARED_FOLDERS=" ".join(args.shared_folders),
                    IMAGES=" ".join(args.images),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.summary[host.host_name] = command.stdout.apply(_parsed)
        self.register_outputs({"summary": self.summary})


def _ipvs_needed_by(args: PreflightArgs) -> str:
    """The settings that need the kernel's IPVS, as the stop names them; "" when none does."""
    needing = [f"wipp:publishMode {args.publish_mode}"] if args.publish_mode == "ingress" else []
    needing += [f"wipp:endpointMode {args.endpoint_mode}"] if args.endpoint_mode == "vip" else []
    return " and ".join(needing)


def _parsed(stdout: str) -> Any:
    """The script's JSON line; during a preview of a new host there is none yet."""
    return json.loads(stdout) if stdout and stdout.strip() else {}

"""The private test engines that `.ci/run` starts, as the tests see them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from docker_api import Engine
from prerequisites import skip_or_fail


@dataclass(frozen=True)
class EngineHost:
    engine: Engine
    address: str  # its IPv4 address on the veth link between the namespaces


def host_from_environment(role: str) -> EngineHost:
    prefix = f"WIPP_TEST_{role.upper()}"
    docker_host = os.environ.get(f"{prefix}_HOST")
    if not docker_host:
        skip_or_fail(f"no private Docker Engine ({prefix}_HOST unset): run `bash .ci/run` as root to start one")
    return EngineHost(Engine(docker_host, os.environ.get(f"{prefix}_NETNS")), os.environ[f"{prefix}_ADDR"])


def engine_overrides(manager: EngineHost, **more: Any) -> dict[str, Any]:
    """The single stack, pointed at the private engine.

    Publish mode host and endpoint mode dnsrr: this kernel has no IPVS, so
    neither the ingress routing mesh nor service virtual IPs answer here.
    The firewall is tested on its own, in a namespace of its own.
    """
    return {
        "hosts": [{"name": "wipp-host", "address": manager.address, "role": "manager", "local": True}],
        "dockerHost": manager.engine.docker_host,
        "publishMode": "host",
        "endpointMode": "dnsrr",
        "manageFirewall": False,
        **more,
    }

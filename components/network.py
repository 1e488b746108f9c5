"""OverlayNetwork: the attachable overlay network the four services share."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker


@dataclass
class OverlayNetworkArgs:
    name: str


class OverlayNetwork(pulumi.ComponentResource):
    """`docker network create --driver overlay --attachable <name>`."""

    network_id: pulumi.Output[str]

    def __init__(self, name: str, args: OverlayNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wipp:network:OverlayNetwork", name, None, opts)
        network = docker.Network(
            f"{name}-overlay",
            name=args.name,
            driver="overlay",
            attachable=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.network_id = network.id
        self.register_outputs({"networkId": self.network_id})

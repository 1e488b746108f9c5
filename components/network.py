"""OverlayNetwork: the attachable overlay network (wipp:network, wippnet by default) the four
services share and find each other on by name.

Makes: one `docker:index:Network` through the Docker provider (on the first manager).
Depends on: the swarm (an overlay network needs one), through the provider's options.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from .wipp import STACK_LABEL


@dataclass
class OverlayNetworkArgs:
    name: str
    owner: str = ""  # the label value naming the stack that creates it


class OverlayNetwork(pulumi.ComponentResource):
    """`docker network create --driver overlay --attachable <name>`."""

    network_id: pulumi.Output[str]

    def __init__(self, name: str, args: OverlayNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wipp:network:OverlayNetwork", name, None, opts)
        # Named after the network, so that a new name is a new resource: Pulumi creates it, moves
        # the services over, and deletes the old network only at the end, once nothing uses it.
        # (As a replacement of one resource, the old network was deleted while services used it.)
        network = docker.Network(
            f"{name}-{args.name}",
            name=args.name,
            driver="overlay",
            attachable=True,
            labels=[docker.NetworkLabelArgs(label=STACK_LABEL, value=args.owner)],
            # Set when the network is made, never compared again: a network made before the program
            # labelled its networks is not replaced (which would stop every service) to get one.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["labels"]),
        )
        self.network_id = network.id
        self.register_outputs({"networkId": self.network_id})

"""WippServices: mongodb -> master -> wipp -> exec, each waiting for the one before."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi
import pulumi_docker as docker

from .durations import milliseconds
from .host_command import HostConnection, host_command
from .scripts import render
from .wipp import SERVICE_MOUNTS, SERVICE_NAMES

# How often the wait prints the newest task's state, and how many failed tasks in a row end it.
PROGRESS_EVERY_S = 30
FAILED_IN_A_ROW = 3
# How long a new task must run before the swarm counts an update of it as good; a task that
# fails sooner makes the swarm roll the service back on its own (Docker's default period).
UPDATE_MONITOR = "5s"

MountArgs = TypeVar("MountArgs", docker.ServiceTaskSpecContainerSpecMountArgs, docker.ContainerMountArgs)


@dataclass
class WippServicesArgs:
    # What each service runs: name:tag@sha256:… as the first manager's pull resolved it (or the tag).
    images: Mapping[str, pulumi.Input[str]]
    # Each service's arguments, placeholders already filled in.
    arguments: dict[str, list[str]]
    mount_targets: dict[str, str]
    container_ports: dict[str, int]  # web, dashboard: where the wipp container listens
    published_ports: dict[str, int]  # web, dashboard: what the swarm publishes
    publish_mode: str
    endpoint_mode: str
    converge_interval: str  # Go duration: how often to look whether a service runs
    converge_timeout: str  # Go duration: how long a service may take to run
    manager: HostConnection  # where the wait for each service runs (the first manager)
    network_id: pulumi.Input[str]
    mount_type: str  # "volume" or "bind"
    mount_sources: dict[str, pulumi.Input[str]]
    # In publish mode "host" the web service runs on this node, so the URL holds.
    pinned_node_id: pulumi.Input[str] | None = None
    # wipp:bindAddress: the web workload runs as a container whose ports listen on this address only
    # (a swarm service cannot publish on one address).
    bind_address: str | None = None
    # Each service's image pulls (ImagePulls.pulls): a service waits for its own image's pulls and
    # those of every service after it, so an upgrade pulls everything before it touches anything.
    image_pulls: dict[str, list[pulumi.Resource]] = field(default_factory=dict)


class WippServices(pulumi.ComponentResource):
    """The four swarm services of NIST's setup.sh, in its order.

    After each service comes `<service>-running`, a command on the first manager that waits
    until the service runs its task on the new image; the next service depends on it. It runs
    again whenever the service is created again or its spec changes, so an update waits too.
    A failed update is rolled back by the swarm itself (`failure_action: rollback`), and the
    wait then fails naming the service and the image, which stops the chain: the services
    after it keep running the version they had.
    """

    services: dict[str, docker.Service | docker.Container]

    def __init__(self, name: str, args: WippServicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wipp:services:WippServices", name, None, opts)
        self._args = args
        self.services = {}
        previous: list[pulumi.Resource] = []
        for position, service in enumerate(SERVICE_NAMES):  # the seed's start order
            pulled = [pull for later in SERVICE_NAMES[position:] for pull in args.image_pulls.get(later, [])]
            created = self._service(service, depends_on=previous + pulled)
            self.services[service] = created
            previous = [created if isinstance(created, docker.Container) else self._running(service, created)]
        self.register_outputs({key: svc.id for key, svc in self.services.items()})

    def _service(self, service: str, depends_on: list[pulumi.Resource]) -> docker.Service | docker.Container:
        args = self._args
        if service == "wipp" and args.bind_address:
            return self._bound_container(depends_on)
        # mongodb stops first: one writer on its database files. The others too, since in publish
        # mode host the new wipp task could not bind the ports the old one holds.
        update = {"order": "stop-first", "failure_action": "rollback", "monitor": UPDATE_MONITOR}
        return docker.Service(
            service,
            name=service,
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=args.images[service],
                    args=args.arguments[service] or None,
                    mounts=self._mounts(service, docker.ServiceTaskSpecContainerSpecMountArgs) or None,
                ),
                networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=self._args.network_id)],
                placement=self._placement(service),
            ),
            endpoint_spec=self._endpoint(service),
            update_config=docker.ServiceUpdateConfigArgs(**update),
            rollback_config=docker.ServiceRollbackConfigArgs(order="stop-first", monitor=UPDATE_MONITOR),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _running(self, service: str, created: docker.Service) -> pulumi.Resource:
        """The wait until `service` runs its image: a command whose script changes with the service."""
        args = self._args
        spec = pulumi.Output.all(
            args.arguments[service],
            [(args.mount_sources[key], args.mount_targets[key]) for key in SERVICE_MOUNTS[service]],
            args.network_id,
            args.pinned_node_id if service == "wipp" else None,
            args.publish_mode,
            args.endpoint_mode,
            args.published_ports if service == "wipp" else None,
        )

        def script(values: list[Any]) -> str:
            service_id, image, spec_values = values
            return render(
                "service-running.sh",
                args.manager.docker_host,
                SERVICE=service,
                IMAGE=image,
                TIMEOUT_S=str(max(1, round(milliseconds(args.converge_timeout) / 1000))),
                INTERVAL_S=f"{milliseconds(args.converge_interval) / 1000:g}",
                PROGRESS_S=str(PROGRESS_EVERY_S),
                FAILED_IN_A_ROW=str(FAILED_IN_A_ROW),
                SERVICE_ID=service_id,
                SPEC_DIGEST=hashlib.sha256(json.dumps([image, *spec_values], sort_keys=True).encode()).hexdigest()[:16],
            )

        return host_command(
            f"{service}-running",
            args.manager,
            create=pulumi.Output.all(created.id, args.images[service], spec).apply(script),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[created]),
        )

    def _bound_container(self, depends_on: list[pulumi.Resource]) -> docker.Container:
        """The wipp workload as a plain container on the attachable overlay, its ports on one address.

        Docker keeps it running (restart unless-stopped); `must_run` makes Pulumi see it running
        before exec, the next in the order, starts.
        """
        args = self._args
        return docker.Container(
            "wipp",
            name="wipp",
            image=args.images["wipp"],
            command=args.arguments["wipp"] or None,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.network_id)],
            ports=[
                docker.ContainerPortArgs(
                    internal=args.container_ports[key],
                    external=args.published_ports[key],
                    ip=args.bind_address,
                    protocol="tcp",
                )
                for key in ("web", "dashboard")
            ],
            mounts=self._mounts("wipp", docker.ContainerMountArgs),
            restart="unless-stopped",
            must_run=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _mounts(self, service: str, kind: Callable[..., MountArgs]) -> list[MountArgs]:
        """The storage places `service` mounts, as a service's or a container's mount arguments."""
        args = self._args
        return [
            kind(type=args.mount_type, source=args.mount_sources[key], target=args.mount_targets[key])
            for key in SERVICE_MOUNTS[service]
        ]

    def _endpoint(self, service: str) -> docker.ServiceEndpointSpecArgs:
        args = self._args
        if service != "wipp":
            return docker.ServiceEndpointSpecArgs(mode=args.endpoint_mode)
        return docker.ServiceEndpointSpecArgs(
            mode=args.endpoint_mode,
            ports=[
                docker.ServiceEndpointSpecPortArgs(
                    name=key,
                    protocol="tcp",
                    target_port=args.container_ports[key],
                    published_port=args.published_ports[key],
                    publish_mode=args.publish_mode,
                )
                for key in ("web", "dashboard")
            ],
        )

    def _placement(self, service: str) -> docker.ServiceTaskSpecPlacementArgs | None:
        if service != "wipp" or self._args.pinned_node_id is None:
            return None
        node_id = pulumi.Output.from_input(self._args.pinned_node_id)
        return docker.ServiceTaskSpecPlacementArgs(constraints=[node_id.apply(lambda n: f"node.id=={n}")])

"""WippServices: WIPP's four services, mongodb -> master -> wipp -> exec, each started only once
the one before runs.

Makes: a `docker:index:Service` per service (or, with wipp:bindAddress, a `docker:index:Container`
for wipp, since a swarm service cannot publish on one address) and after each service a
`<service>-running` command on the first manager (scripts/service-running.sh) that waits until
it runs its task; the next service depends on that wait.
Depends on: the overlay network's ID, the storage's mount sources (known only once the storage
is ready), the images and arguments from config, and the first manager's connection.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi
import pulumi_docker as docker

from .durations import milliseconds
from .host_command import STEP_BOUND_S, HostConnection, host_command
from .scripts import render
from .wipp import SERVICE_MOUNTS, SERVICE_NAMES, STACK_LABEL

# How often the wait prints the newest task's state, and how many failed tasks in a row end it.
PROGRESS_EVERY_S = 30
FAILED_IN_A_ROW = 3
# How long a new task must run before the swarm counts an update of it as good; a task that
# fails sooner makes the swarm roll the service back on its own (Docker's default period).
UPDATE_MONITOR = "5s"

# IPVS, between a service's virtual IP and its task (endpoint mode vip) and in the routing mesh,
# forgets a TCP connection idle for 900 s; the next packet on it goes nowhere and the client hangs
# (moby/moby#31208, #37466). Clients that turn TCP keepalive on (the MongoDB drivers do) send a
# probe after tcp_keepalive_time, which keeps the entry, but Linux's default is 7200 s, and a
# container's network namespace starts with that default whatever the host's sysctl says (since
# Linux 4.13): the sysctl is set in every task's own namespace.
KEEPALIVE_SYSCTLS = {"net.ipv4.tcp_keepalive_time": "600"}

# How long each service gets between SIGTERM and SIGKILL when the swarm stops a task (an update,
# a removal), instead of Docker's 10 s (`docker service create --stop-grace-period`). mongod shuts
# down cleanly on SIGTERM (it finishes its operations, writes a last WiredTiger checkpoint and closes
# its files); killed, it restarts with journal recovery, and MongoDB's own manual says never to
# SIGKILL a mongod ("Manage mongod Processes", Use kill). The checkpoint of a large dirty cache takes
# tens of seconds on a slow disk: two minutes, still bounded if it hangs. Tomcat (wipp) and
# HTCondor's daemons (master, exec: condor_master passes SIGTERM on as a graceful shutdown of its
# daemons) stop in seconds; 30 s and 1 min leave them room, exec's for its jobs to be vacated.
STOP_GRACE = {"mongodb": "2m", "master": "30s", "wipp": "30s", "exec": "1m"}  # as the provider reads them back

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
    mount_sources: Mapping[str, pulumi.Input[str]]  # Mapping: a dict of Outputs is one too
    # In publish mode "host" the web service runs on this node, so the URL holds.
    pinned_node_id: pulumi.Input[str] | None = None
    # wipp:bindAddress: the web workload runs as a container whose ports listen on this address only
    # (a swarm service cannot publish on one address).
    bind_address: str | None = None
    # What every service waits for before it is created or changed (the backup before an upgrade).
    after: list[pulumi.Resource] = field(default_factory=list)
    # Every service (and the wipp container) carries the label STACK_LABEL=<owner>: the stack it belongs to.
    owner: str = ""
    # Each service's name on the swarm (wipp:serviceNames); the wipp container takes wipp's.
    names: dict[str, str] = field(default_factory=lambda: {service: service for service in SERVICE_NAMES})
    # Where `web-answers` asks for the web and dashboard ports (on the first manager).
    web_address: str = "127.0.0.1"
    # Each service's image pulls (ImagePulls.pulls): a service waits for its own image's pulls and
    # those of every service after it, so an upgrade pulls everything before it touches anything.
    image_pulls: dict[str, list[pulumi.Resource]] = field(default_factory=dict)
    # The numeric user:group a service's container runs as (wipp:mongoUser for mongodb); absent or
    # empty: the image's own user.
    users: dict[str, str] = field(default_factory=dict)


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
        self._specs: dict[str, dict[str, Any]] = {}
        previous: list[pulumi.Resource] = []
        for position, service in enumerate(SERVICE_NAMES):  # the seed's start order
            pulled = [pull for later in SERVICE_NAMES[position:] for pull in args.image_pulls.get(later, [])]
            created = self._service(service, depends_on=[*args.after, *previous, *pulled])
            self.services[service] = created
            previous = [created if isinstance(created, docker.Container) else self._running(service, created)]
        self.web_answers = self._web_answers(depends_on=previous)
        self.register_outputs({key: svc.id for key, svc in self.services.items()})

    def _service(self, service: str, depends_on: list[pulumi.Resource]) -> docker.Service | docker.Container:
        args = self._args
        if service == "wipp":
            depends_on = [*depends_on, self._handover(depends_on)]
        if service == "wipp" and args.bind_address:
            return self._bound_container(depends_on)
        spec = self._service_spec(service)
        self._specs[service] = spec
        return docker.Service(service, **spec, opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on))

    def _service_spec(self, service: str) -> dict[str, Any]:
        """Every input of `service`'s docker.Service: the service is made from it, and its wait's digest covers it."""
        args = self._args
        # mongodb stops first: one writer on its database files. The others too, since in publish
        # mode host the new wipp task could not bind the ports the old one holds.
        return {
            "name": args.names[service],
            "labels": [docker.ServiceLabelArgs(label=STACK_LABEL, value=args.owner)],
            "task_spec": docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=args.images[service],
                    args=args.arguments[service] or None,
                    user=args.users.get(service) or None,
                    mounts=self._mounts(service, docker.ServiceTaskSpecContainerSpecMountArgs) or None,
                    sysctl=KEEPALIVE_SYSCTLS,
                    stop_grace_period=STOP_GRACE[service],
                ),
                networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=args.network_id)],
                placement=self._placement(service),
            ),
            "endpoint_spec": self._endpoint(service),
            "update_config": docker.ServiceUpdateConfigArgs(
                order="stop-first", failure_action="rollback", monitor=UPDATE_MONITOR
            ),
            "rollback_config": docker.ServiceRollbackConfigArgs(order="stop-first", monitor=UPDATE_MONITOR),
        }

    def _running(self, service: str, created: docker.Service) -> pulumi.Resource:
        """The wait until `service` runs its image: a command whose script changes with the service."""
        args = self._args

        def script(values: list[Any]) -> str:
            service_id, digest, image = values
            return render(
                "service-running.sh",
                args.manager.docker_host,
                SERVICE=args.names[service],
                IMAGE=image,
                TIMEOUT_S=self._timeout_s(),
                INTERVAL_S=f"{milliseconds(args.converge_interval) / 1000:g}",
                PROGRESS_S=str(PROGRESS_EVERY_S),
                FAILED_IN_A_ROW=str(FAILED_IN_A_ROW),
                SERVICE_ID=service_id,
                SPEC_DIGEST=digest,
            )

        return host_command(
            f"{service}-running",
            args.manager,
            create=pulumi.Output.all(created.id, self._spec_digest(service), args.images[service]).apply(script),
            bound_s=self._bound_s(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[created]),
        )

    def _handover(self, depends_on: list[pulumi.Resource]) -> pulumi.Resource:
        """Before wipp: frees its ports from the other form (container or service) when bindAddress
        switches, since Pulumi removes the old form only at the end of the `up`. Runs again on a switch."""
        args = self._args
        return host_command(
            "wipp-handover",
            args.manager,
            create=render(
                "wipp-handover.sh",
                args.manager.docker_host,
                FORM="container" if args.bind_address else "service",
                NAME=args.names["wipp"],
                OWNER=args.owner,
                TARGET_PORTS=" ".join(str(args.container_ports[key]) for key in ("web", "dashboard")),
                TIMEOUT_S=self._timeout_s(),
            ),
            bound_s=self._bound_s(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _spec_digest(self, service: str) -> pulumi.Output[str]:
        """A digest of everything the service is made from: any change of its spec changes it."""
        return pulumi.Output.from_input(self._specs[service]).apply(_digest)

    def _timeout_s(self) -> str:
        return str(max(1, round(milliseconds(self._args.converge_timeout) / 1000)))

    def _bound_s(self) -> int:
        """A wait's step bound: its own timeout (wipp:convergeTimeout) and ten minutes more, at least an hour."""
        return max(STEP_BOUND_S, int(self._timeout_s()) + 600)

    def _web_answers(self, depends_on: list[pulumi.Resource]) -> pulumi.Resource:
        """After exec: a wait on the first manager until WIPP's web port answers HTTP and its dashboard
        port accepts connections. It runs again whenever any service (or the wipp container) changes."""
        args = self._args
        changed = pulumi.Output.all(*[svc.id for svc in self.services.values()], *self._digests())

        def script(values: list[str]) -> str:
            return render(
                "web-answers.sh",
                args.manager.docker_host,
                ADDRESS=args.web_address,
                WEB_PORT=str(args.published_ports["web"]),
                DASHBOARD_PORT=str(args.published_ports["dashboard"]),
                TIMEOUT_S=self._timeout_s(),
                INTERVAL_S=f"{milliseconds(args.converge_interval) / 1000:g}",
                SERVICES_DIGEST=_digest(values),
            )

        return host_command(
            "web-answers",
            args.manager,
            create=changed.apply(script),
            bound_s=self._bound_s(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _digests(self) -> list[pulumi.Output[str]]:
        return [self._spec_digest(service) for service in self._specs]

    def _bound_container(self, depends_on: list[pulumi.Resource]) -> docker.Container:
        """The wipp workload as a plain container on the attachable overlay, its ports on one address.

        Docker keeps it running (restart unless-stopped); `must_run` makes Pulumi see it running
        before exec, the next in the order, starts.
        """
        args = self._args
        return docker.Container(
            "wipp",
            name=args.names["wipp"],
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
            sysctls=KEEPALIVE_SYSCTLS,
            labels=[docker.ContainerLabelArgs(label=STACK_LABEL, value=args.owner)],
            restart="unless-stopped",
            must_run=True,
            stop_timeout=round(milliseconds(STOP_GRACE["wipp"]) / 1000),
            # A replaced container is gone before the new one takes its name and ports.
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on, delete_before_replace=True),
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


def _digest(value: Any) -> str:
    """A short digest of a resolved value (input classes as their fields)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=vars).encode()).hexdigest()[:16]

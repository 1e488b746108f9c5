"""Deploys NIST's WIPP 2.2.0 on Docker Swarm: read config, build components, export.

This is the only place that reads the settings: each component gets just what it uses. The
order below is the order on the hosts: preflight, firewall, swarm, then (through the Docker
provider on the first manager) network, storage and the four services. See CONTRIBUTING.md.
"""

import pulumi
import pulumi_docker as docker

from components.backup import Backup, BackupArgs
from components.cancel import end_quietly_when_cancelled
from components.config import load_settings
from components.engine_check import refuse_a_silent_engine
from components.firewall import HostFirewall, HostFirewallArgs
from components.images import ImagePulls, ImagePullsArgs
from components.network import OverlayNetwork, OverlayNetworkArgs
from components.ownership import StackOwnership, StackOwnershipArgs
from components.preflight import HostCheck, Preflight, PreflightArgs
from components.services import WippServices, WippServicesArgs
from components.storage import WippStorage, WippStorageArgs, previous_outputs
from components.swarm import Swarm, SwarmArgs, SwarmMember, observed_node_id, swarm_generation
from components.wipp import SERVICE_NAMES

end_quietly_when_cancelled()  # a cancelled run ends without a KeyboardInterrupt traceback
settings = load_settings()
# Read before any resource is registered: the engine is not writing this stack's state yet.
last_outputs = previous_outputs()  # this stack's last outputs: its storage (to name a place that moves), its swarm
previous = last_outputs.get("storage")
owner = f"{pulumi.get_project()}/{settings.stack}"  # the label value on what this stack creates
manager = settings.first_manager
# A local first manager's engine answers, or the program says so before the Docker provider fails.
refuse_a_silent_engine(settings.docker_provider_host, set_by_key=bool(settings.docker_host), local=manager.local)
# A first manager whose recorded swarm is gone (a new host at its address) gets swarm-init again (local only).
observed_node = observed_node_id(settings.connection(manager))
generation, lost_node = swarm_generation(last_outputs, manager.name, observed_node)
others = [h for h in settings.hosts if h is not manager]

# Nothing this stack uses may belong to another stack on the same engine (refused at preview on a
# local first manager, else first at `up`, before anything changes).
ownership = StackOwnership(
    "ownership",
    StackOwnershipArgs(
        manager=settings.connection(manager),
        owner=owner,
        volumes=settings.storage.sources if settings.storage.mode == "volume" else {},
        network=settings.network_name,
        services=settings.swarm_service_names,
        container=settings.swarm_service_names["wipp"] if settings.bind_address else "",
        ports=[settings.web_port, settings.dashboard_port],
    ),
)
# Every host checked before anything changes on any of them.
preflight = Preflight(
    "preflight",
    PreflightArgs(
        hosts=[
            HostCheck(
                settings.connection(h),
                first_manager=h is manager,
                published_ports=[settings.web_port, settings.dashboard_port] if settings.publishes(h) else [],
            )
            for h in settings.hosts
        ],
        manager_address=manager.address,
        need_ufw=settings.manage_firewall,
        strict=settings.strict_preflight,
        publish_mode=settings.publish_mode,
        endpoint_mode=settings.endpoint_mode,
        shared_folders=list(settings.storage.sources.values()) if settings.storage.mode == "bind" else [],
        images=list(settings.images.values()),
    ),
)

# Every image on every host that may run it, from right after the preflight, beside the firewall and
# the swarm; the services run the digests the first manager's pulls resolved.
pinned_to_manager = {"wipp"} if settings.publish_mode == "host" or settings.bind_address else set()
images = ImagePulls(
    "images",
    ImagePullsArgs(
        images=settings.images,
        first_manager=settings.connection(manager),
        other_hosts={
            service: [] if service in pinned_to_manager else [settings.connection(h) for h in others]
            for service in SERVICE_NAMES
        },
        login=settings.registry_login,
        after=[preflight],
    ),
)

# Per host: the swarm ports open to the cluster only, WIPP's ports to wipp:allowedSources.
firewalls = {
    h.name: HostFirewall(
        f"firewall-{h.name}",
        HostFirewallArgs(
            connection=settings.connection(h),
            stack=settings.stack,
            is_manager=h.is_manager,
            swarm_sources=settings.swarm_sources,
            published_ports=settings.published_ports_on(h),
            published_sources=settings.allowed_sources,
            after=[preflight],
        ),
    )
    for h in (settings.hosts if settings.manage_firewall else [])
}
swarm = Swarm(
    "swarm",
    SwarmArgs(
        first_manager=settings.connection(manager),
        joining=[SwarmMember(settings.connection(h), h.role) for h in others],
        leave_on_destroy=settings.leave_swarm_on_destroy,
        address_pool=settings.swarm_address_pool,
        firewalls=dict(firewalls),
        after=[preflight],
        generation=generation,
        lost_node=lost_node,
        observed_node=observed_node or "",
    ),
)

# Everything after the swarm is made through Docker's API on the first manager.
docker_provider = docker.Provider(
    "swarm-manager",
    host=settings.docker_provider_host,
    ssh_opts=settings.docker_provider_ssh_opts,
    opts=pulumi.ResourceOptions(depends_on=[swarm, *ownership.checked]),
)
on_swarm = pulumi.ResourceOptions(providers=[docker_provider], depends_on=[swarm, *ownership.checked])

network = OverlayNetwork("network", OverlayNetworkArgs(settings.network_name, owner), opts=on_swarm)
storage = WippStorage(
    "storage",
    WippStorageArgs(
        mode=settings.storage.mode,
        sources=settings.storage.sources,
        stack=settings.stack,
        delete_data_on_destroy=settings.delete_data_on_destroy,
        prepared_on=settings.connection(manager),
        checked_on=[settings.connection(h) for h in others],
        owner=owner,
        previous=previous,
        mongo_user=settings.mongo_user,
        after=[preflight, *ownership.checked],
    ),
    opts=on_swarm,
)
# Before any service changes its image, once every pull is done: a backup of all four places (nothing on a
# first deploy).
backup = Backup(
    "backup",
    BackupArgs(
        stack=settings.stack,
        place=settings.backup_place,
        keep=settings.backup_keep,
        images=settings.images,
        mount_type=storage.mount_type,
        mount_sources=dict(storage.sources),
        wipp_container=bool(settings.bind_address),
        converge_interval=settings.converge_interval,
        converge_timeout=settings.converge_timeout,
        manager=settings.connection(manager),
        after=[pull for pulls in images.pulls.values() for pull in pulls],
    ),
    opts=on_swarm,
)
services = WippServices(
    "services",
    WippServicesArgs(
        images=images.pinned,
        arguments={service: settings.resolved_args(service) for service in SERVICE_NAMES},
        mount_targets=dict(settings.mount_targets),
        container_ports=dict(settings.container_ports),
        published_ports={"web": settings.web_port, "dashboard": settings.dashboard_port},
        publish_mode=settings.publish_mode,
        endpoint_mode=settings.endpoint_mode,
        converge_interval=settings.converge_interval,
        converge_timeout=settings.converge_timeout,
        manager=settings.connection(manager),
        network_id=network.network_id,
        mount_type=storage.mount_type,
        mount_sources=storage.sources,
        pinned_node_id=swarm.manager_node_id if settings.publish_mode == "host" else None,
        bind_address=settings.bind_address,
        after=[backup.command],
        owner=owner,
        names=settings.swarm_service_names,
        web_address=settings.bind_address or manager.address,
        image_pulls=images.pulls,
        users={"mongodb": settings.mongo_user},
    ),
    opts=pulumi.ResourceOptions(providers=[docker_provider], depends_on=[network, storage]),
)

pulumi.export("webUrl", f"http://{settings.web_host}:{settings.web_port}")
pulumi.export("dashboardUrl", f"https://{settings.web_host}:{settings.dashboard_port}")
pulumi.export("managerAddress", manager.address)
pulumi.export("services", {key: svc.name for key, svc in services.services.items()})
pulumi.export("images", images.pinned)
pulumi.export(
    "nodes",
    [{"name": h.name, "address": h.address, "role": h.role, "nodeId": swarm.node_ids[h.name]} for h in settings.hosts],
)
pulumi.export("storage", {"mode": storage.mount_type, "sources": storage.sources})
pulumi.export("preflight", preflight.summary)
if generation:
    pulumi.export("swarmGeneration", generation)

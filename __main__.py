"""Deploys NIST's WIPP 2.2.0 on Docker Swarm: read config, build components, export."""

import pulumi
import pulumi_docker as docker

from components.config import load_settings
from components.firewall import HostFirewall, HostFirewallArgs
from components.network import OverlayNetwork, OverlayNetworkArgs
from components.services import WippServices, WippServicesArgs
from components.storage import WippStorage, WippStorageArgs
from components.swarm import Swarm, SwarmArgs

settings = load_settings()

firewalls = (
    {h.name: HostFirewall(f"firewall-{h.name}", HostFirewallArgs(h, settings)) for h in settings.hosts}
    if settings.manage_firewall
    else {}
)
swarm = Swarm("swarm", SwarmArgs(settings, firewalls=dict(firewalls)))

docker_provider = docker.Provider(
    "swarm-manager",
    host=settings.docker_provider_host,
    ssh_opts=settings.docker_provider_ssh_opts,
    opts=pulumi.ResourceOptions(depends_on=[swarm]),
)
on_swarm = pulumi.ResourceOptions(providers=[docker_provider], depends_on=[swarm])

network = OverlayNetwork("network", OverlayNetworkArgs(settings.network_name), opts=on_swarm)
storage = WippStorage("storage", WippStorageArgs(settings), opts=on_swarm)
services = WippServices(
    "services",
    WippServicesArgs(
        settings,
        network_id=network.network_id,
        mount_type=storage.mount_type,
        mount_sources=storage.sources,
        pinned_node_id=swarm.manager_node_id if settings.publish_mode == "host" else None,
    ),
    opts=pulumi.ResourceOptions(providers=[docker_provider], depends_on=[network, storage]),
)

manager = settings.first_manager
pulumi.export("webUrl", f"http://{manager.address}:{settings.web_port}")
pulumi.export("dashboardUrl", f"https://{manager.address}:{settings.dashboard_port}")
pulumi.export("managerAddress", manager.address)
pulumi.export("services", {key: svc.name for key, svc in services.services.items()})
pulumi.export("images", settings.images)
pulumi.export(
    "nodes",
    [{"name": h.name, "address": h.address, "role": h.role, "nodeId": swarm.node_ids[h.name]} for h in settings.hosts],
)
pulumi.export("storage", {"mode": storage.mount_type, "sources": storage.sources})

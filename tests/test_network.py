"""OverlayNetwork: one attachable overlay network, created once the swarm exists."""

from __future__ import annotations

from harness import run_program


def test_overlay_network_is_attachable_and_named_from_config() -> None:
    deployment = run_program("single", {"network": "labnet"})
    network = deployment.named("network-labnet")  # named after the network: a rename is a new resource
    assert network.type == "docker:index/network:Network"
    assert network.inputs["name"] == "labnet"
    assert network.inputs["driver"] == "overlay"
    assert network.inputs["attachable"] is True
    assert network.provider.startswith(deployment.named("swarm-manager").urn)


def test_network_waits_for_the_swarm() -> None:
    deployment = run_program("multi")
    component = deployment.named("network")
    assert deployment.named("swarm-init-wipp-manager").urn in component.dependencies
    assert deployment.named("swarm-join-wipp-worker-2").urn in component.dependencies

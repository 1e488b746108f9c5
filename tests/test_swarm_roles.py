"""Swarm roles: the first manager gives every joined node the role wipp:hosts gives its host."""

from __future__ import annotations

from harness import Deployment, run_program


def test_the_first_manager_sets_each_joined_nodes_role_after_every_join() -> None:
    hosts = [
        {"name": "m1", "address": "10.20.0.10", "role": "manager"},
        {"name": "m2", "address": "10.20.0.11", "role": "manager"},
        {"name": "w1", "address": "10.20.0.12", "role": "worker"},
    ]
    deployment = run_program("multi", {"hosts": hosts})
    roles = deployment.named("swarm-roles")
    assert roles.type == "command:remote:Command"
    assert roles.inputs["connection"]["host"] == "10.20.0.10"
    assert "ROLES='node-swarm-join-m2 manager m2\nnode-swarm-join-w1 worker w1'\n" in roles.inputs["create"]
    joins = {deployment.named(f"swarm-join-{name}").urn for name in ("m2", "w1")}
    assert joins <= set(roles.dependencies)
    # The services start only once every node has its role (they wait for the whole swarm).
    assert roles.urn in _swarm_children(deployment)


def test_no_roles_command_without_joining_hosts() -> None:
    assert not [r for r in run_program("single").resources if r.name == "swarm-roles"]


def _swarm_children(deployment: Deployment) -> set[str]:
    swarm = next(r for r in deployment.resources if r.name == "swarm")
    return {r.urn for r in deployment.resources if r.parent == swarm.urn}

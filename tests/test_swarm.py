"""Swarm: init on the first manager, secret tokens, idempotent joins, leave only when asked."""

from __future__ import annotations

from typing import Any

import pytest
from harness import Deployment, fake_host_key, run_program, script_variables, ssh_options

from components.swarm import swarm_generation


def _urns(deployment: Deployment, *names: str) -> set[str]:
    return {deployment.named(n).urn for n in names}


def test_init_runs_on_the_first_manager_with_its_address() -> None:
    deployment = run_program("multi")
    init = deployment.named("swarm-init-wipp-manager")
    assert init.type == "command:remote:Command"
    assert init.inputs["connection"]["host"] == "10.20.0.10"
    assert init.inputs["connection"]["user"] == "ubuntu"
    assert script_variables(init.inputs["create"]) == {"ADVERTISE_ADDR": "10.20.0.10", "ADDRESS_POOL": ""}
    assert init.delete_before_replace
    # That init prints the node ID and no token is tested on the engine (test_swarm_scripts.py).


def test_single_stack_runs_locally_without_ssh() -> None:
    deployment = run_program("single")
    commands = [r for r in deployment.resources if r.type.startswith("command:")]
    assert commands and all(r.type == "command:local:Command" for r in commands)
    assert not [r for r in deployment.resources if r.name.startswith("swarm-join-")]


def test_tokens_are_read_only_for_roles_that_join() -> None:
    workers_only = run_program("multi")
    assert [r.name for r in workers_only.resources if r.name.endswith("-token")] == ["swarm-worker-token"]
    single = run_program("single")
    assert [r.name for r in single.resources if r.name.endswith("-token")] == []
    hosts = [
        {"name": "m1", "address": "10.20.0.1", "role": "manager"},
        {"name": "m2", "address": "10.20.0.2", "role": "manager"},
    ]
    managers_only = run_program("multi", {"hosts": hosts})
    assert [r.name for r in managers_only.resources if r.name.endswith("-token")] == ["swarm-manager-token"]


def test_tokens_are_secret_and_never_logged() -> None:
    hosts = [
        {"name": "m1", "address": "10.20.0.1", "role": "manager"},
        {"name": "m2", "address": "10.20.0.2", "role": "manager"},
        {"name": "w1", "address": "10.20.0.3", "role": "worker"},
    ]
    deployment = run_program("multi", {"hosts": hosts})
    for role in ("worker", "manager"):
        token = deployment.named(f"swarm-{role}-token")
        assert script_variables(token.inputs["create"]) == {"ROLE": role}
        assert "stdout" in token.additional_secret_outputs
        assert token.inputs["logging"] == "stderr"
        assert token.inputs["addPreviousOutputInEnv"] is False
        assert deployment.named("swarm-init-m1").urn in token.dependencies


def test_workers_join_with_the_worker_token_on_stdin_as_a_secret() -> None:
    deployment = run_program("multi")
    for worker, address in (("wipp-worker-1", "10.20.0.11"), ("wipp-worker-2", "10.20.0.12")):
        join = deployment.named(f"swarm-join-{worker}")
        assert join.inputs["connection"]["host"] == address
        assert join.inputs["stdin"] == "SWMTKN-1-test-worker-token"
        assert {"stdin", "connection"} <= join.secret_inputs()
        assert "SWMTKN" not in join.inputs["create"]
        assert script_variables(join.inputs["create"]) == {
            "HOST_NAME": worker,
            "ROLE": "worker",
            "MANAGER_ADDR": "10.20.0.10",
            "ADVERTISE_ADDR": address,
            "JOIN_WAIT_S": "180",
        }
        assert join.delete_before_replace
        # Joins wait for the token and for the firewalls of both ends.
        firewalls = ("firewall-wipp-manager-swarm-ports", f"firewall-{worker}-swarm-ports")
        assert _urns(deployment, "swarm-worker-token", *firewalls) <= set(join.dependencies)


def test_extra_managers_join_as_managers() -> None:
    hosts = [
        {"name": "m1", "address": "10.20.0.1", "role": "manager"},
        {"name": "m2", "address": "10.20.0.2", "role": "manager"},
        {"name": "w1", "address": "10.20.0.3", "role": "worker"},
    ]
    deployment = run_program("multi", {"hosts": hosts})
    assert [r.name for r in deployment.resources if r.name.startswith("swarm-init-")] == ["swarm-init-m1"]
    m2 = deployment.named("swarm-join-m2")
    assert m2.inputs["stdin"] == "SWMTKN-1-test-manager-token"
    assert script_variables(m2.inputs["create"])["ROLE"] == "manager"
    # A joined manager leaves as one (demoted first: tested on the engine), a worker as a worker.
    assert script_variables(m2.inputs["delete"]) == {"LEAVE": "false", "ROLE": "manager", "DEPARTED": ""}
    assert script_variables(deployment.named("swarm-join-w1").inputs["delete"])["ROLE"] == "worker"
    first = script_variables(deployment.named("swarm-init-m1").inputs["delete"])
    assert first == {"LEAVE": "false", "ROLE": "first-manager", "DEPARTED": "10.20.0.2 10.20.0.3"}


def test_destroy_keeps_the_swarm_unless_asked() -> None:
    kept = run_program("multi")
    for name in ("swarm-init-wipp-manager", "swarm-join-wipp-worker-1"):
        assert script_variables(kept.named(name).inputs["delete"])["LEAVE"] == "false"
    left = run_program("multi", {"leaveSwarmOnDestroy": True})
    for name in ("swarm-init-wipp-manager", "swarm-join-wipp-worker-1"):
        assert script_variables(left.named(name).inputs["delete"])["LEAVE"] == "true"


def test_node_ids_come_from_the_commands() -> None:
    nodes = run_program("multi").outputs["nodes"]
    assert [(n["name"], n["role"], n["nodeId"]) for n in nodes] == [
        ("wipp-manager", "manager", "node-swarm-init-wipp-manager"),
        ("wipp-worker-1", "worker", "node-swarm-join-wipp-worker-1"),
        ("wipp-worker-2", "worker", "node-swarm-join-wipp-worker-2"),
    ]


def test_local_scripts_use_the_configured_docker_host() -> None:
    deployment = run_program("single", {"dockerHost": "unix:///tmp/test/docker.sock"})
    init = deployment.named("swarm-init-wipp-host").inputs["create"]
    assert script_variables(init)["DOCKER_HOST"] == "unix:///tmp/test/docker.sock"
    remote = run_program("multi", {"dockerHost": "tcp://10.20.0.10:2376"}).named("swarm-join-wipp-worker-1")
    assert "DOCKER_HOST" not in script_variables(remote.inputs["create"])


def test_every_ssh_connection_checks_the_hosts_key() -> None:
    deployment = run_program("multi")
    remote = deployment.of_type("command:remote:Command")
    assert remote
    for command in remote:
        connection = command.inputs["connection"]
        assert connection["hostKey"] == fake_host_key(connection["host"])


def test_the_docker_provider_accepts_only_the_managers_key() -> None:
    provider = run_program("multi").named("swarm-manager")
    assert provider.inputs["host"] == "ssh://ubuntu@10.20.0.10:22"
    options = ssh_options(provider)
    assert options[options.index("StrictHostKeyChecking=yes") - 1] == "-o"
    assert "UserKnownHostsFile=/dev/null" in options and "GlobalKnownHostsFile=/dev/null" in options
    assert f"KnownHostsCommand=/bin/echo 10.20.0.10 {fake_host_key('10.20.0.10')}" in options
    on_port = run_program(
        "multi", {"hosts": [{"name": "m", "address": "10.20.0.10", "role": "manager", "sshPort": 2222}]}
    ).named("swarm-manager")
    assert f"KnownHostsCommand=/bin/echo [10.20.0.10]:2222 {fake_host_key('10.20.0.10')}" in ssh_options(on_port)
    local = run_program("single").named("swarm-manager")
    assert ssh_options(local) == []


# -- a lost first manager (README: A lost first manager) -------------------------------------------

RECORDED = {"nodes": [{"name": "wipp-host", "address": "10.0.0.5", "role": "manager", "nodeId": "node-old"}]}


def _init(deployment: Deployment) -> dict[str, str]:
    return script_variables(deployment.named("swarm-init-wipp-host").inputs["create"])


def test_a_first_manager_still_in_its_recorded_swarm_changes_nothing() -> None:
    deployment = run_program("single", previous=RECORDED, swarm_state="active node-old")
    assert "SWARM_GENERATION" not in _init(deployment)
    # The swarm state is read on the local first manager, at preview as at `up`, with swarm-state.sh.
    reads = [i for i in deployment.invokes if i.token == "command:local:run" and "Swarm.NodeID" in i.args["command"]]
    assert len(reads) == 1 and "DOCKER_HOST" not in reads[0].args["command"].split("\n", 1)[0]


def test_a_first_manager_in_no_swarm_gets_swarm_init_again() -> None:
    deployment = run_program("single", previous=RECORDED, swarm_state="inactive ")
    assert _init(deployment)["SWARM_GENERATION"] == "1"
    assert deployment.outputs["swarmGeneration"] == 1


@pytest.mark.parametrize(
    ("previous", "state", "generation"),
    [
        (RECORDED, "active node-new", 1),  # another swarm (made by hand, or a new host's own): a new generation
        ({**RECORDED, "swarmGeneration": 1}, "active node-old", 1),  # recorded after a rebuild: stays
        ({**RECORDED, "swarmGeneration": 2}, "inactive ", 3),  # lost again
        (RECORDED, "unknown", 0),  # the engine does not answer: nothing is guessed (the preflight stops the up)
        (RECORDED, "pending node-old", 0),  # a swarm state in between: nothing is guessed
        ({}, "inactive ", 0),  # a new stack: nothing recorded to lose
        ({"nodes": [{"name": "other-host", "nodeId": "node-old"}]}, "inactive ", 0),  # first manager not recorded
        ({**RECORDED, "swarmGeneration": "2"}, "active node-old", 0),  # not a generation: ignored
    ],
)
def test_the_swarm_generation_rises_only_when_the_recorded_swarm_is_gone(
    previous: dict[str, Any], state: str, generation: int
) -> None:
    deployment = run_program("single", previous=previous, swarm_state=state)
    assert _init(deployment).get("SWARM_GENERATION", "0") == str(generation)
    if generation:  # (the mocks' root resource keeps an earlier run's exports: only a present one is checked)
        assert deployment.outputs["swarmGeneration"] == generation


def test_after_the_rebuild_the_next_run_computes_the_same_script_so_nothing_flips_back() -> None:
    lost = run_program("single", previous=RECORDED, swarm_state="inactive ")
    # What that `up` records: the new node ID (swarm-init's stdout) and the generation.
    recorded = {"nodes": lost.outputs["nodes"], "swarmGeneration": lost.outputs["swarmGeneration"]}
    new_node = recorded["nodes"][0]["nodeId"]
    after = run_program("single", previous=recorded, swarm_state=f"active {new_node}")
    assert after.named("swarm-init-wipp-host").inputs["create"] == lost.named("swarm-init-wipp-host").inputs["create"]
    assert after.outputs["swarmGeneration"] == 1


def test_a_remote_first_manager_is_not_read_at_preview() -> None:
    previous = {"nodes": [{"name": "wipp-manager", "nodeId": "node-old"}]}
    deployment = run_program("multi", previous=previous, swarm_state="inactive ")
    assert "SWARM_GENERATION" not in _init_named(deployment, "swarm-init-wipp-manager")
    assert not [i for i in deployment.invokes if i.token == "command:local:run" and "Swarm.NodeID" in i.args["command"]]


def _init_named(deployment: Deployment, name: str) -> dict[str, str]:
    return script_variables(deployment.named(name).inputs["create"])


def test_the_decision_alone() -> None:
    assert swarm_generation(RECORDED, "wipp-host", "") == (1, "node-old")
    assert swarm_generation(RECORDED, "wipp-host", "node-old") == (0, "")
    assert swarm_generation(RECORDED, "wipp-host", None) == (0, "")
    assert swarm_generation(None, "wipp-host", "") == (0, "")
    assert swarm_generation({"nodes": "broken"}, "wipp-host", "") == (0, "")
    assert swarm_generation({**RECORDED, "swarmGeneration": 2.0}, "wipp-host", "node-old") == (2, "")

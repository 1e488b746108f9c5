"""The exact swarm init / token / join / leave text the program hands to pulumi-command,
run against real engines: the manager's and a worker's, in namespaces of their own."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from docker_api import run_script
from engine_hosts import EngineHost
from harness import Deployment, run_program
from program_commands import swarm_init

TOKEN = re.compile(r"^SWMTKN-1-[0-9a-z]+-[0-9a-z]+$")


def _two_host_program(manager: EngineHost, worker: EngineHost, leave: bool, role: str = "worker") -> Deployment:
    hosts = [
        {"name": "manager", "address": manager.address, "role": "manager"},
        {"name": "worker", "address": worker.address, "role": role},
    ]
    return run_program("multi", {"hosts": hosts, "allowedSources": [], "leaveSwarmOnDestroy": leave})


def _swarm_state(host: EngineHost) -> str:
    return str(host.engine.request("GET", "/info")["Swarm"]["LocalNodeState"])


def test_init_again_is_a_no_op_that_prints_the_same_node(manager: EngineHost, swarm: str) -> None:
    init = swarm_init(manager)["create"]
    node = run_script(init).stdout.strip()  # the swarm as it is now (another test may have made it anew)
    again = run_script(init)
    assert again.returncode == 0
    assert again.stdout.strip() == node
    assert "already in a swarm" in again.stderr
    info = manager.engine.request("GET", "/info")["Swarm"]
    assert info["NodeID"] == node and info["ControlAvailable"] is True
    assert info["NodeAddr"] == manager.address  # the advertise address the script was given


def test_token_commands_print_one_token_and_nothing_else(manager: EngineHost, swarm: str) -> None:
    # Tokens are read only for roles some host joins as: a second manager and a worker (never run here).
    hosts = [
        {"name": "wipp-host", "address": manager.address, "role": "manager", "local": True},
        {"name": "second-manager", "address": "10.20.0.20", "role": "manager"},
        {"name": "a-worker", "address": "10.20.0.21", "role": "worker"},
    ]
    deployment = run_program("multi", {"hosts": hosts, "dockerHost": manager.engine.docker_host})
    tokens = {}
    for role in ("worker", "manager"):
        result = run_script(deployment.named(f"swarm-{role}-token").inputs["create"])
        assert TOKEN.match(result.stdout.strip()), result.stdout
        assert result.stdout.count("\n") == 1
        tokens[role] = result.stdout.strip()
    assert tokens["worker"] != tokens["manager"]
    assert tokens["worker"] == manager.engine.request("GET", "/swarm")["JoinTokens"]["Worker"]


@pytest.fixture
def joined_worker(manager: EngineHost, worker: EngineHost, swarm: str) -> Iterator[EngineHost]:
    if _swarm_state(worker) != "inactive":  # whatever ran before: the worker starts out of any swarm
        worker.engine.cli("swarm", "leave", "--force")
    yield worker
    # Whatever the test did, leave the worker out of the swarm and the manager's node list.
    if _swarm_state(worker) != "inactive":
        worker.engine.cli("swarm", "leave", "--force", check=False)
    if _swarm_state(manager) != "active":  # a test ended the swarm: the other tests need it back
        run_script(swarm_init(manager)["create"])
    manager_id = manager.engine.request("GET", "/info")["Swarm"]["NodeID"]
    for node in manager.engine.request("GET", "/nodes"):
        if node["ID"] != manager_id:
            manager.engine.request("DELETE", f"/nodes/{node['ID']}", query={"force": "true"})


def test_join_and_leave_are_idempotent(manager: EngineHost, joined_worker: EngineHost, swarm: str) -> None:
    worker = joined_worker
    keep = _two_host_program(manager, worker, leave=False)
    leave = _two_host_program(manager, worker, leave=True)
    token = run_script(keep.named("swarm-worker-token").inputs["create"], manager.engine.docker_host).stdout.strip()
    join = keep.named("swarm-join-worker").inputs["create"]
    assert "SWMTKN" not in join  # the token travels on stdin only

    first = run_script(join, worker.engine.docker_host, stdin=token)
    assert _swarm_state(worker) == "active"
    node_id = first.stdout.strip()
    nodes = {n["ID"]: n for n in manager.engine.request("GET", "/nodes")}
    assert nodes[node_id]["Spec"]["Role"] == "worker"
    assert nodes[node_id]["Status"]["Addr"] == worker.address
    assert token not in first.stdout + first.stderr

    second = run_script(join, worker.engine.docker_host, stdin=token)
    assert second.stdout.strip() == node_id
    assert "already in this swarm" in second.stderr

    # Destroy with the default switch keeps the node in the swarm.
    kept = run_script(keep.named("swarm-join-worker").inputs["delete"], worker.engine.docker_host)
    assert "keeping this node" in kept.stderr and _swarm_state(worker) == "active"

    # With wipp:leaveSwarmOnDestroy true it leaves, and leaving again is a no-op.
    run_script(leave.named("swarm-join-worker").inputs["delete"], worker.engine.docker_host)
    assert _swarm_state(worker) == "inactive"
    again = run_script(leave.named("swarm-join-worker").inputs["delete"], worker.engine.docker_host)
    assert "not in a swarm" in again.stderr


def test_join_without_a_token_fails_clearly(manager: EngineHost, joined_worker: EngineHost, swarm: str) -> None:
    join = _two_host_program(manager, joined_worker, leave=False).named("swarm-join-worker").inputs["create"]
    result = run_script(join, joined_worker.engine.docker_host, stdin="", check=False)
    assert result.returncode != 0
    assert "no worker join token on stdin" in result.stderr
    assert _swarm_state(joined_worker) == "inactive"


def test_manager_destroy_keeps_the_swarm_by_default(manager: EngineHost, swarm: str) -> None:
    delete = swarm_init(manager)["delete"]
    result = run_script(delete)
    assert result.returncode == 0 and "keeping this node" in result.stderr
    assert _swarm_state(manager) == "active"


def test_a_node_in_another_swarm_is_refused_not_reported_joined(
    manager: EngineHost, joined_worker: EngineHost, swarm: str
) -> None:
    worker = joined_worker
    worker.engine.cli("swarm", "init", "--advertise-addr", worker.address)  # somebody else's swarm
    program = _two_host_program(manager, worker, leave=False)
    token = run_script(program.named("swarm-worker-token").inputs["create"], manager.engine.docker_host).stdout
    result = run_script(program.named("swarm-join-worker").inputs["create"], worker.engine.docker_host, token, False)
    assert result.returncode != 0 and result.stdout == ""  # no node ID: nothing reported as joined
    assert "worker is already in another swarm" in result.stderr and f"{worker.address}:2377" in result.stderr
    assert manager.engine.request("GET", "/info")["Swarm"]["Nodes"] == 1


def test_leaving_demotes_a_joined_manager_and_the_first_manager_removes_its_node(
    manager: EngineHost, joined_worker: EngineHost, swarm: str
) -> None:
    second = joined_worker
    program = _two_host_program(manager, second, leave=True, role="manager")
    token = run_script(program.named("swarm-manager-token").inputs["create"], manager.engine.docker_host).stdout
    node_id = run_script(program.named("swarm-join-worker").inputs["create"], second.engine.docker_host, token).stdout
    managers = [n for n in manager.engine.request("GET", "/nodes") if n["Spec"]["Role"] == "manager"]
    assert len(managers) == 2

    # Destroy runs the joined hosts' deletes first, then the first manager's.
    left = run_script(program.named("swarm-join-worker").inputs["delete"], second.engine.docker_host)
    assert _swarm_state(second) == "inactive"
    nodes = {n["ID"]: n for n in manager.engine.request("GET", "/nodes")}
    assert nodes[node_id.strip()]["Spec"]["Role"] == "worker", left.stderr  # demoted before it left
    assert manager.engine.request("GET", "/info")["Swarm"]["ControlAvailable"] is True  # quorum kept

    ended = run_script(program.named("swarm-init-manager").inputs["delete"], manager.engine.docker_host)
    assert f"{node_id.strip()}" in ended.stderr  # `docker node rm` names the node it removed
    assert _swarm_state(manager) == "inactive"


def test_a_new_swarm_takes_its_overlay_subnets_from_the_address_pool(joined_worker: EngineHost) -> None:
    """On the worker's engine, out of any swarm: the program's init with wipp:swarmAddressPool makes a
    swarm whose overlay networks are cut from that pool at that length; init again with
    another pool keeps the swarm's and warns; Docker itself refuses a length past 29, as config does."""
    worker = joined_worker
    hosts = [{"name": "solo", "address": worker.address, "role": "manager"}]

    def init(pool: str) -> dict[str, str]:
        overrides = {"hosts": hosts, "allowedSources": [], "swarmAddressPool": pool, "leaveSwarmOnDestroy": True}
        return run_program("multi", overrides).named("swarm-init-solo").inputs

    made = init("10.199.0.0/16:26")
    try:
        first = run_script(made["create"], worker.engine.docker_host)
        assert "address pool 10.199.0.0/16:26" in first.stderr, first.stderr
        cluster = worker.engine.request("GET", "/swarm")
        assert cluster["DefaultAddrPool"] == ["10.199.0.0/16"] and cluster["SubnetSize"] == 26
        worker.engine.cli("network", "create", "--driver", "overlay", "wipp-pool-probe")
        subnet = worker.engine.request("GET", "/networks/wipp-pool-probe")["IPAM"]["Config"][0]["Subnet"]
        assert subnet.startswith("10.199.") and subnet.endswith("/26"), subnet
        other = run_script(init("172.30.0.0/16")["create"], worker.engine.docker_host)
        assert other.stdout.strip() == first.stdout.strip()  # the same swarm, left as it is
        assert "this swarm's address pool is 10.199.0.0/16 26" in other.stderr, other.stderr
        assert "applies only to a new swarm" in other.stderr
        worker.engine.cli("network", "rm", "wipp-pool-probe")
    finally:
        run_script(made["delete"], worker.engine.docker_host)
    assert _swarm_state(worker) == "inactive"
    pool_flags = ("--default-addr-pool", "10.199.0.0/16", "--default-addr-pool-mask-length")
    refused = worker.engine.cli("swarm", "init", "--advertise-addr", worker.address, *pool_flags, "30", check=False)
    assert refused.returncode != 0 and _swarm_state(worker) == "inactive", refused.stdout
    print(f"swarm address pool: Docker refuses a length of 30: {refused.stderr.strip()}")

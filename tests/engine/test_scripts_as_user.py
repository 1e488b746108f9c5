"""The host scripts as the shipped multi stack runs them: as a non-root SSH user who is in the
docker group and may run, with `sudo -n`, exactly the commands README.md lists.

They run in a sandbox (sandbox.py): the user, its groups and its sudoers drop-in exist only in
the sandbox's own /etc; the private engines' sockets are bound into it. The firewall scripts
run as this user in test_firewall_netns.py and test_published_ports.py, the shared-folder
script in test_scripts.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_api import listener
from engine_hosts import EngineHost
from harness import Deployment, run_program
from sandbox import USER, Sandbox, docker_host, engine_sockets, readme_sudo_commands

WEB, DASHBOARD = 18191, 18192  # ports no other engine test uses


def _program(*hosts: tuple[str, EngineHost, str], **more: object) -> Deployment:
    """The multi stack (SSH hosts: scripts with no DOCKER_HOST of their own) over these engines."""
    listed = [{"name": name, "address": host.address, "role": role} for name, host, role in hosts]
    return run_program("multi", {"hosts": listed, "allowedSources": [], **more})


def _swarm_state(host: EngineHost) -> str:
    return str(host.engine.request("GET", "/info")["Swarm"]["LocalNodeState"])


@pytest.fixture
def user_box(manager: EngineHost, worker: EngineHost, tmp_path: Path) -> Iterator[Sandbox]:
    binds, docker_gid = engine_sockets({"manager": manager.engine.docker_host, "worker": worker.engine.docker_host})
    assert manager.engine.netns
    with Sandbox(
        tmp_path, sudo=readme_sudo_commands(), netns=manager.engine.netns, binds=binds, docker_gid=docker_gid
    ) as box:
        assert box.run("id -u", user=USER).stdout.strip() != "0"
        assert box.run("sudo -n -l", user=USER).returncode == 0
        yield box


@pytest.fixture
def worker_left_alone(manager: EngineHost, worker: EngineHost, swarm: str) -> Iterator[EngineHost]:
    """The worker out of any swarm before and after; the manager's node list as it was."""
    if _swarm_state(worker) != "inactive":
        worker.engine.cli("swarm", "leave", "--force")
    yield worker
    if _swarm_state(worker) != "inactive":
        worker.engine.cli("swarm", "leave", "--force", check=False)
    manager_id = manager.engine.request("GET", "/info")["Swarm"]["NodeID"]
    for node in manager.engine.request("GET", "/nodes"):
        if node["ID"] != manager_id:
            manager.engine.request("DELETE", f"/nodes/{node['ID']}", query={"force": "true"})


def test_swarm_scripts_run_as_a_docker_group_user(
    manager: EngineHost, worker_left_alone: EngineHost, user_box: Sandbox
) -> None:
    worker = worker_left_alone
    # Init and leave: the worker engine as a swarm's first manager of its own.
    solo = _program(("solo", worker, "manager"), leaveSwarmOnDestroy=True).named("swarm-init-solo").inputs
    init = user_box.run(solo["create"], user=USER, env=docker_host("worker"))
    assert init.returncode == 0, init.stderr
    assert init.stdout.strip() == worker.engine.request("GET", "/info")["Swarm"]["NodeID"]
    assert "SWMTKN" not in init.stdout + init.stderr  # init's own output, with a token, is kept out of the log
    ended = user_box.run(solo["delete"], user=USER, env=docker_host("worker"))
    assert ended.returncode == 0, ended.stderr
    assert _swarm_state(worker) == "inactive"

    # Token, join and leave: the worker joins the manager's swarm.
    program = _program(("manager", manager, "manager"), ("worker", worker, "worker"), leaveSwarmOnDestroy=True)
    token = user_box.run(program.named("swarm-worker-token").inputs["create"], user=USER, env=docker_host("manager"))
    assert token.returncode == 0 and token.stdout.startswith("SWMTKN-1-"), token.stderr
    join = program.named("swarm-join-worker").inputs
    joined = user_box.run(join["create"], user=USER, env=docker_host("worker"), stdin=token.stdout)
    assert joined.returncode == 0, joined.stderr
    nodes = {n["ID"]: n for n in manager.engine.request("GET", "/nodes")}
    assert nodes[joined.stdout.strip()]["Status"]["Addr"] == worker.address
    left = user_box.run(join["delete"], user=USER, env=docker_host("worker"))
    assert left.returncode == 0, left.stderr
    assert _swarm_state(worker) == "inactive"


def test_preflight_runs_as_a_docker_group_user(manager: EngineHost, swarm: str, user_box: Sandbox) -> None:
    no_ipvs = {"publishMode": "host", "endpointMode": "dnsrr"}  # this kernel has none
    program = _program(("manager", manager, "manager"), webPort=WEB, dashboardPort=DASHBOARD, **no_ipvs)
    check = program.named("preflight-manager").inputs["create"]
    result = user_box.run(check, user=USER, env=docker_host("manager"))
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["docker"] == manager.engine.request("GET", "/version")["Version"] and found["swarm"] == "this"

    # Somebody else's listener on the web port stops it, whatever this user may see of it.
    with listener(manager.engine, WEB):
        taken = user_box.run(check, user=USER, env=docker_host("manager"))
    assert taken.returncode == 1 and f"preflight: manager: port {WEB} is taken" in taken.stderr, taken.stderr

"""The multi stack through the real Pulumi engine, on three test hosts reached over SSH.

`multi_hosts` makes a manager and two workers, each with its own dockerd, sshd and ufw, and a
workstation namespace where Pulumi runs. The test sets the stack up as a user would: its own
ed25519 key stored with `pulumi config set --secret wipp:sshPrivateKey`, each host's hostKey read
from that host's sshd, the key in an ssh-agent for the Docker provider's `ssh://` connection.

The stand-in images (standin_images) are pushed into the test world's registry, connected to the
lan; every host's engine pulls them through its Docker Hub mirror, as a lab's servers would.
This kernel has no IPVS, so WIPP publishes in host mode with dnsrr endpoints.

What needs real servers runs on virtual machines instead (test_multi_on_vms.py: the defaults,
a reboot, a lost host). These hosts stay for what needs their speed: the `host`/`dnsrr` path,
a wrong host key, and the destroy/rebuild and promote/demote cycles, which take several `up`s
and `destroy`s each (seconds here, minutes each on the emulated VMs) and test the program's swarm
logic, which a real kernel does not change.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import multi_hosts
import pytest
from docker_api import wait_until
from harness import fake_host_key
from multi_hosts import Cluster, TestHost
from prerequisites import require_root, skip_or_fail
from pulumi_cli import PulumiHome, PulumiProject
from registry import Registry

SERVICES = ("mongodb", "master", "wipp", "exec")
STORAGE_KEYS = ("wippdb", "wippdata", "pegasusdb", "pegasusdata")
WEB_PORT = 18080
DASHBOARD_PORT = 15005
CONVERGE_SECONDS = 180


def _require_root_tools() -> None:
    require_root("three test hosts, each with its own dockerd and sshd,")
    tools = ("ip", "nsenter", "unshare", "dockerd", "ufw", "ssh", "ssh-agent", "apt-get", "dpkg")
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        skip_or_fail(f"three test hosts need {', '.join(missing)} (`bash .ci/run` installs them)")


def _machine_firewall() -> tuple[str, str]:
    """The machine's own iptables rules and /etc/ufw rules, which the tests must leave alone."""
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=True).stdout
    user_rules = Path("/etc/ufw/user.rules")
    return rules, user_rules.read_text() if user_rules.exists() else ""


@pytest.fixture(scope="module")
def machine_firewall() -> Iterator[tuple[str, str]]:
    """The machine's firewall before the hosts exist; checked again after they are gone."""
    before = _machine_firewall()
    yield before
    assert _machine_firewall() == before, "the machine's own firewall changed"


@pytest.fixture(scope="module")
def cluster(
    machine_firewall: tuple[str, str], registry: Registry, images: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """The three hosts, pulling the stand-ins (`images`, pushed) from the test world's registry."""
    _require_root_tools()
    with multi_hosts.cluster(tmp_path_factory.mktemp("multi-hosts"), registry) as made:
        yield made


def stack_config(cluster: Cluster, host_keys: dict[str, str] | None = None) -> dict[str, Any]:
    """The multi stack file for the three test hosts, as an administrator writes it."""
    keys = {h.name: h.host_key for h in cluster.hosts} | (host_keys or {})
    return {
        "hosts": [
            {
                "name": h.name,
                "address": h.address,
                "role": h.role,
                "sshUser": multi_hosts.SSH_USER,
                "hostKey": keys[h.name],
            }
            for h in cluster.hosts
        ],
        "storage": {"mode": "bind", "paths": {key: str(cluster.shared / f"{key}volume") for key in STORAGE_KEYS}},
        "allowedSources": [multi_hosts.SUBNET],
        "publishMode": "host",
        "endpointMode": "dnsrr",
        "leaveSwarmOnDestroy": True,
        "backupPlace": str(cluster.root / "backups"),  # on the first manager: the test's own folder
    }


@pytest.fixture(scope="module")
def stack(cluster: Cluster, pulumi_home: PulumiHome, tmp_path_factory: pytest.TempPathFactory) -> PulumiProject:
    project = PulumiProject(
        pulumi_home, tmp_path_factory.mktemp("multi-stack"), "multi", prefix=cluster.client_prefix()
    )
    project.set_config(stack_config(cluster))
    assert cluster.client_key is not None
    project.set_secret("sshPrivateKey", cluster.client_key.read_text())
    return project


@dataclass
class Deployed:
    stack: PulumiProject
    cluster: Cluster
    up_seconds: float
    up_output: str


@pytest.fixture(scope="module")
def deployed(stack: PulumiProject, cluster: Cluster) -> Deployed:
    """The stack after its first `pulumi up`, with the four services running."""
    up = stack.up()
    wait_until(lambda: _all_running(cluster), CONVERGE_SECONDS, 1, "four services running")
    return Deployed(stack, cluster, up.seconds, up.output)


# -- what the hosts show ------------------------------------------------------------------------
def _node_names(manager: TestHost) -> dict[str, str]:
    return {n["ID"]: n["Description"]["Hostname"] for n in manager.engine.request("GET", "/nodes")}


def placement(cluster: Cluster) -> dict[str, list[str]]:
    """Each service's running tasks, by the host they run on."""
    engine = cluster.manager.engine
    names = _node_names(cluster.manager)
    placed: dict[str, list[str]] = {service: [] for service in SERVICES}
    for task in engine.request("GET", "/tasks", query={"filters": json.dumps({"desired-state": ["running"]})}):
        service = engine.request("GET", f"/services/{task['ServiceID']}")["Spec"]["Name"]
        if task["Status"]["State"] == "running" and service in placed:
            placed[service].append(names.get(task.get("NodeID", ""), "?"))
    return placed


def _all_running(cluster: Cluster, avoid: str | None = None) -> bool:
    placed = placement(cluster)
    return all(len(nodes) == 1 and avoid not in nodes for nodes in placed.values())


def _swarm_tagged(rules: list[str]) -> list[str]:
    return [rule for rule in rules if " comment 'wipp:multi:swarm:" in rule]


# -- the tests --------------------------------------------------------------------------------------
def test_up_builds_the_swarm_over_ssh_and_runs_wipp_across_the_hosts(
    deployed: Deployed, machine_firewall: tuple[str, str], report_line: Callable[[str], None]
) -> None:
    cluster, stack = deployed.cluster, deployed.stack
    report_line(f"multi up: {deployed.up_seconds:.1f} s for three hosts")
    manager = cluster.manager

    # Images: every host that may run a service pulled it before it was created, by the digest the
    # manager resolved; wipp (host mode: pinned to the manager) only on the manager.
    assert cluster.registry is not None
    served = cluster.registry.bytes_served()
    report_line(
        "multi up: bytes each host pulled: " + ", ".join(f"{h.name} {served.get(h.address, 0)}" for h in cluster.hosts)
    )
    pinned = stack.outputs()["images"]
    for host in cluster.hosts:
        held = host.engine.cli("image", "ls", "--digests", "--format", "{{.Repository}}@{{.Digest}}").stdout.split()
        for service, image in pinned.items():
            name, digest = image.split(":", 1)[0], image.split("@", 1)[1]
            expected = service != "wipp" or host is manager
            assert (f"{name}@{digest}" in held) == expected, (host.name, service, held)

    # The swarm: initialized on the manager, both workers joined, each advertising its own address.
    swarm = manager.engine.request("GET", "/info")["Swarm"]
    assert swarm["ControlAvailable"] is True and swarm["NodeAddr"] == manager.address
    nodes = {n["Description"]["Hostname"]: n for n in manager.engine.request("GET", "/nodes")}
    assert {name: n["Spec"]["Role"] for name, n in nodes.items()} == {h.name: h.role for h in cluster.hosts}
    assert {name: n["Status"]["Addr"] for name, n in nodes.items()} == {h.name: h.address for h in cluster.hosts}
    outputs = stack.outputs()
    assert {n["name"]: n["nodeId"] for n in outputs["nodes"]} == {name: n["ID"] for name, n in nodes.items()}

    # Each host's firewall, in its own namespace and its own copy of /etc/ufw.
    sources = {h.address for h in cluster.hosts} | {multi_hosts.SUBNET}
    for host in cluster.hosts:
        ours = _swarm_tagged(host.ufw_added())
        denied = [rule.split(" comment ")[0].rsplit(" ", 1)[-1] for rule in ours if rule.startswith("deny ")]
        ports = {f"{port}/{d.split('/')[1]}" for d in denied for port in d.split("/")[0].split(",")}
        expected_ports = {"7946/tcp", "7946/udp", "4789/udp"} | ({"2377/tcp"} if host.role == "manager" else set())
        assert ports == expected_ports, host.name
        allowed = {rule.split()[2] for rule in ours if rule.startswith("allow from")}
        assert allowed == sources, host.name
        # ufw keeps each rule's comment hex-encoded in user.rules.
        copy = (host.etc_copy / "ufw" / "user.rules").read_text()
        assert b"wipp:multi:swarm:".hex() in copy, f"{host.name}'s rules are in its own /etc/ufw"
    assert _machine_firewall() == machine_firewall, "the machine's own firewall changed"
    # Published ports: only the manager publishes (host mode), only the test subnet may reach them.
    docker_user = manager.run(["iptables", "-S", "DOCKER-USER"]).stdout
    assert f"-s {multi_hosts.SUBNET} -p tcp -m conntrack --ctorigdstport {WEB_PORT}" in docker_user
    for worker in cluster.workers:
        assert "wipp:multi:" not in worker.run(["iptables", "-S", "DOCKER-USER"]).stdout

    # The shared folders: made once (on the manager), owned by UID 1000, read and execute for all,
    # each with the one stamp the workers' checks found (they share the folder). mongo's image,
    # started as root, has given its database folder to its own user (999) since, as the real one does.
    stamps = set()
    for key in STORAGE_KEYS:
        folder = cluster.shared / f"{key}volume"
        owner = 999 if key == "wippdb" else 1000
        assert folder.stat().st_uid == owner and folder.stat().st_mode & 0o055 == 0o055, folder
        assert (folder / ".wipp-created-by").read_text() == "wipp:multi\n"
        stamps.add((folder / ".wipp-shared-stamp").read_text())
    assert len(stamps) == 1 and re.fullmatch(r"wipp:multi:[0-9a-f]{32}\n", stamps.pop()), stamps
    commands = stack.resources()
    assert [name for name in commands if name.startswith("storage-folders-")] == ["storage-folders-wipp-manager"]
    assert sorted(name for name in commands if name.startswith("storage-check-")) == [
        "storage-check-wipp-worker-1",
        "storage-check-wipp-worker-2",
    ]

    # The services: wipp pinned to the manager, the others placed by the swarm, some on workers.
    placed = placement(cluster)
    report_line(f"multi placement: {', '.join(f'{s} on {nodes[0]}' for s, nodes in placed.items())}")
    assert placed["wipp"] == [manager.name]
    on_workers = [s for s, hosts in placed.items() if hosts[0] != manager.name]
    assert on_workers, f"no task on a worker: {placed}"

    # The web port answers on the manager's address, the stand-in having reached master and mongodb
    # over the overlay network, wherever they run.
    assert "WIPP stand-in 2.2.0" in (cluster.http_get(manager.address, WEB_PORT) or "")
    report = cluster.http_get(manager.address, WEB_PORT, "/report.txt") or ""
    assert "reached=master:9618 mongodb:27017" in report
    assert outputs["webUrl"] == f"http://{manager.address}:{WEB_PORT}"

    # Pulumi sees no drift, neither from the program nor from the hosts.
    stack.preview("--expect-no-changes")
    stack.refresh("--expect-no-changes")

    # The Docker provider reached the manager as a user's would: ssh:// with the agent's key and
    # only the manager's host key accepted.
    provider = commands["swarm-manager"]["inputs"]
    assert provider["host"] == f"ssh://{multi_hosts.SSH_USER}@{manager.address}:{multi_hosts.SSH_PORT}"
    options = json.loads(provider["sshOpts"]) if isinstance(provider["sshOpts"], str) else provider["sshOpts"]
    assert "StrictHostKeyChecking=yes" in options
    assert f"KnownHostsCommand=/bin/echo {manager.address} {manager.host_key}" in options

    # No secret in plain text: not the key, not a join token, in state, outputs, stack file or the up's log.
    assert cluster.client_key is not None
    key_body = cluster.client_key.read_text().splitlines()[1]
    for text in (stack.export(), json.dumps(outputs), stack.stack_file.read_text(), deployed.up_output):
        assert key_body not in text
        assert "SWMTKN-" not in text


def test_a_wrong_host_key_stops_before_anything_runs_on_that_host(deployed: Deployed) -> None:
    cluster, stack = deployed.cluster, deployed.stack
    worker = cluster.host("wipp-worker-2")
    rules_before, swarm_before = worker.ufw_added(), worker.swarm_state()
    sessions_before = cluster.sshd_log(worker).count("Accepted publickey")
    assert sessions_before > 0, "sshd logs each session it lets in"
    stack.set_config(stack_config(cluster, {worker.name: fake_host_key("an impostor")}))
    try:
        failed = stack.up(check=False)
        assert failed.returncode != 0
        # The error names the command, and so the host: preflight-<host>, the first step on every host.
        assert re.search(rf"\(preflight-{worker.name}\):\s+error: .*ssh: host key mismatch", failed.output)
        # pulumi-command's check stopped every connection before a session began on that host.
        assert cluster.sshd_log(worker).count("Accepted publickey") == sessions_before
        assert worker.ufw_added() == rules_before and worker.swarm_state() == swarm_before
    finally:
        stack.set_config(stack_config(cluster))
    stack.up()
    stack.preview("--expect-no-changes")


# -- the shared data ----------------------------------------------------------------------------
def shared_files(cluster: Cluster) -> dict[str, bytes]:
    """Every file in the shared folders, by path, with its content."""
    files = sorted(path for path in cluster.shared.rglob("*") if path.is_file())
    return {str(path.relative_to(cluster.shared)): path.read_bytes() for path in files}


def assert_nothing_lost(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """Every file is still there and still holds what it held (a log may have grown); the stamps
    are there too, but a new `up` of the folders writes new ones."""
    for path, content in before.items():
        assert path in after, f"{path} is gone"
        if path.endswith("/.wipp-shared-stamp"):
            continue
        assert after[path].startswith(content), f"{path} lost content"


# -- leaving and joining again ---------------------------------------------------------------------
def _ours(rules: list[str]) -> list[str]:
    return [rule for rule in rules if "wipp:multi:" in rule]


def _removed_by_first_manager(output: str, manager: TestHost, node_id: str) -> bool:
    """Whether the first manager's delete printed `docker node rm`'s answer: the node's ID."""
    return re.search(rf"swarm-init-{manager.name} deleting \(\d+s\) {node_id}$", output, re.MULTILINE) is not None


def test_destroy_leaves_the_swarm_keeps_the_data_and_up_rebuilds_it(deployed: Deployed) -> None:
    cluster, stack = deployed.cluster, deployed.stack
    manager, worker = cluster.manager, cluster.host("wipp-worker-2")
    wait_until(lambda: _all_running(cluster), CONVERGE_SECONDS, 1, "four services running")
    worker_ids = {n["name"]: n["nodeId"] for n in stack.outputs()["nodes"] if n["role"] == "worker"}
    files = shared_files(cluster)

    destroyed = stack.destroy()
    assert all(host.swarm_state() == "inactive" for host in cluster.hosts)
    for name, node_id in worker_ids.items():
        assert _removed_by_first_manager(destroyed.output, manager, node_id), f"{name} was not removed"
    for host in cluster.hosts:
        assert _ours(host.ufw_added()) == [], host.name
        assert host.ufw_added() == [f"allow from {multi_hosts.SUBNET} to any port 22 proto tcp"]  # the admin's
        assert "wipp:multi:" not in host.run(["iptables", "-S", "DOCKER-USER"], check=False).stdout
    assert shared_files(cluster) == files, "destroy kept the data folders as they were"

    # A host already in another swarm is refused, named, before anything changes anywhere.
    worker.run(["docker", "swarm", "init", "--advertise-addr", worker.address])
    try:
        refused = stack.up(check=False)
        assert refused.returncode != 0
        assert f"{worker.name}: it is already in another swarm" in refused.output
        assert manager.swarm_state() == "inactive" and cluster.host("wipp-worker-1").swarm_state() == "inactive"
        assert all(_ours(host.ufw_added()) == [] for host in cluster.hosts)
    finally:
        worker.run(["docker", "swarm", "leave", "--force"], check=False)

    stack.up()
    wait_until(lambda: _all_running(cluster), CONVERGE_SECONDS, 1, "four services running again")
    assert "reached=master:9618 mongodb:27017" in (cluster.http_get(manager.address, WEB_PORT, "/report.txt") or "")
    assert_nothing_lost(files, shared_files(cluster))
    stamps = [path for path in files if path.endswith("/.wipp-shared-stamp")]
    assert len(stamps) == 4 and all(shared_files(cluster)[p] != files[p] for p in stamps), "the same stamp again"
    mongod_log = (cluster.shared / "wippdbvolume" / "standin-mongod.log").read_text()
    assert mongod_log.count("start ") >= 2, "mongodb started again on the same database folder"
    stack.preview("--expect-no-changes")


HANG_CHECK_ROUNDS = 20


def test_a_worker_that_left_another_swarm_by_force_never_hangs_the_up(
    deployed: Deployed, report_line: Callable[[str], None]
) -> None:
    """CI once hung here: right after wipp-worker-2 had made a swarm of its own and left it by force,
    `up` printed `preflight-wipp-worker-2 creating` and then nothing for 900 s. The same sequence,
    over and over: every `up` (the preflight on every host, the worker's run afresh each time) ends,
    passed or failed, and a failure names the host."""
    cluster, stack = deployed.cluster, deployed.stack
    worker = cluster.host("wipp-worker-2")
    stack.destroy()
    took: list[float] = []
    try:
        for round_ in range(HANG_CHECK_ROUNDS):
            worker.run(["docker", "swarm", "init", "--advertise-addr", worker.address])
            worker.run(["docker", "swarm", "leave", "--force"])
            started = time.monotonic()
            up = stack.on_stack(
                "up", "--yes", "--skip-preview", "--target", "**::preflight*",
                "--replace", "**::preflight-wipp-worker-2", check=False, timeout=600,
            )  # fmt: skip
            took.append(time.monotonic() - started)
            text = up.stdout + up.stderr
            assert up.returncode == 0 or "wipp-worker-2" in text, f"round {round_ + 1}:\n{text[-3000:]}"
            assert "preflight: wipp-worker-2: Docker" in text, f"round {round_ + 1}: the worker's preflight did not run"
    finally:
        report_line(f"hang check: {len(took)} of {HANG_CHECK_ROUNDS} ups ended (longest {max(took, default=0):.1f} s)")
    stack.up()
    wait_until(lambda: _all_running(cluster), CONVERGE_SECONDS, 1, "four services running again")


def test_a_second_manager_is_demoted_before_it_leaves(deployed: Deployed) -> None:
    cluster, stack = deployed.cluster, deployed.stack
    manager, second = cluster.manager, cluster.host("wipp-worker-1")
    two_managers = stack_config(cluster)
    two_managers["hosts"][1]["role"] = "manager"
    stack.set_config(two_managers)
    try:
        # A role changed in the stack file: the node is already in the swarm, so the first manager promotes it.
        promoted = stack.up()
        assert f"swarm-roles: {second.name} was a worker, now a manager" in promoted.output
        nodes = {n["Description"]["Hostname"]: n for n in manager.engine.request("GET", "/nodes")}
        assert nodes[second.name]["Spec"]["Role"] == "manager"
        wait_until(lambda: second.engine.request("GET", "/info")["Swarm"]["ControlAvailable"], 30, 0.5, "promoted")
        second_id = nodes[second.name]["ID"]
        destroyed = stack.destroy()
        assert all(host.swarm_state() == "inactive" for host in cluster.hosts)
        assert re.search(rf"swarm-join-{second.name} deleting .*demoted", destroyed.output)
        assert _removed_by_first_manager(destroyed.output, manager, second_id)
    finally:
        stack.set_config(stack_config(cluster))
    stack.up()
    wait_until(lambda: _all_running(cluster), CONVERGE_SECONDS, 1, "four services running again")
    stack.preview("--expect-no-changes")

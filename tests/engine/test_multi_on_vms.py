"""The shipped multi stack, with its defaults, on three virtual machines: real servers in CI.

`vm_hosts` boots a manager and two workers (Debian 12, systemd, Debian's Docker Engine, sshd
with keys each VM made itself, ufw enabled with an SSH rule) on a bridge in a namespace of the
test's own, where Pulumi runs as on a workstation. The stack file is the shipped
`Pulumi.multi.yaml` with only what a lab fills in: the addresses, each `hostKey` (read from each
VM's own console, printed there from its /etc/ssh), `sshUser` (a non-root user in the docker
group allowed `sudo -n` for exactly the README's list) and `allowedSources`. Everything else is
the default: `publishMode: ingress`, `endpointMode: vip` (IPVS and the routing mesh on real
kernels). The shared folders are on NFS as the README sets it up: the manager exports them
with `root_squash` (root on the workers is nobody there), the workers mount them, and the stack
sets `mongoUser: 1000:1000`, which the README asks for on such storage.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import vm_hosts
from docker_api import wait_until
from prerequisites import require_root, skip_or_fail
from pulumi_cli import PulumiHome, PulumiProject
from registry import Registry
from single_stack import stack_file_config
from vm_hosts import Vm, VmCluster

SERVICES = ("mongodb", "master", "wipp", "exec")
WEB_PORT = 18080
CONVERGE_SECONDS = 300
# Each pulumi command on the VMs: the `up` takes 6 to 7 minutes on a quiet 2-core machine, about
# twice that beside the other workers' tests (CI runs modules side by side).
PULUMI_SECONDS = 2400


@pytest.fixture(scope="module")
def vms(registry: Registry, images: list[str]) -> Iterator[VmCluster]:
    """The three VMs, pulling the stand-ins (`images`, pushed) from the test world's registry."""
    require_root("virtual machines in a network namespace of the test's own")
    missing = [
        tool for tool in ("qemu-system-x86_64", "qemu-img", "mmdebstrap", "ssh", "ssh-agent") if not shutil.which(tool)
    ]
    if missing:
        skip_or_fail(f"the VM hosts need {', '.join(missing)} (`bash .ci/run` installs them)")
    with vm_hosts.vm_cluster(registry) as cluster:
        vm_hosts.share_storage(cluster)
        yield cluster


def stack_config(cluster: VmCluster) -> dict[str, Any]:
    """The shipped multi stack file with what a lab fills in, and nothing else changed."""
    config = stack_file_config("multi")
    shipped = config["hosts"]
    config["hosts"] = [
        {**entry, "name": vm.name, "address": vm.address, "sshUser": vm_hosts.USER, "hostKey": vm.host_key}
        for entry, vm in zip(shipped, cluster.vms, strict=True)
    ]
    config["allowedSources"] = [f"{vm_hosts.CLIENT_ADDRESS}/32"]
    config["mongoUser"] = "1000:1000"  # the README's setting for shared folders on NFS with root_squash
    return config


@dataclass
class Deployed:
    stack: PulumiProject
    cluster: VmCluster
    up_seconds: float
    slowest: str  # the up's slowest steps, for the report


@pytest.fixture(scope="module")
def deployed(vms: VmCluster, pulumi_home: PulumiHome, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    project = PulumiProject(
        pulumi_home, tmp_path_factory.mktemp("vm-stack"), "multi", prefix=vms.client_prefix(), timeout=PULUMI_SECONDS
    )
    config = stack_config(vms)
    assert "publishMode" not in config and "endpointMode" not in config, "the shipped defaults, not set"
    project.set_config(config)
    project.set_secret("sshPrivateKey", vms.client_key.read_text())
    up = project.up()
    wait_until(lambda: _all_running(vms), CONVERGE_SECONDS, 1, "four services running")
    steps = sorted(up.steps().items(), key=lambda item: item[1][1] - item[1][2])[:6]
    slowest = ", ".join(f"{name} {end - start:.0f} s" for name, (_, start, end) in steps)
    return Deployed(project, vms, up.seconds, slowest)


# -- what the VMs show --------------------------------------------------------------------------------
def placement(cluster: VmCluster) -> dict[str, list[str]]:
    """Each service's running tasks, by the node they run on (from the manager's `docker service ps`)."""
    placed: dict[str, list[str]] = {service: [] for service in SERVICES}
    for service in SERVICES:
        tasks = cluster.manager.docker_json("service", "ps", service, "--filter", "desired-state=running")
        for task in tasks:
            if task["CurrentState"].startswith("Running"):
                placed[service].append(task["Node"])
    return placed


def _all_running(cluster: VmCluster, avoid: str | None = None) -> bool:
    try:
        placed = placement(cluster)
    except RuntimeError:  # the manager is still starting
        return False
    return all(len(nodes) == 1 and avoid not in nodes for nodes in placed.values())


def _answers(cluster: VmCluster, vm: Vm, source: str = vm_hosts.CLIENT_ADDRESS) -> bool:
    return "WIPP stand-in 2.2.0" in (cluster.http_get(vm.address, WEB_PORT, source=source) or "")


def _docker_user(vm: Vm) -> str:
    return vm.ssh("iptables -S DOCKER-USER").stdout


def shared_files(cluster: VmCluster, vm: Vm | None = None) -> dict[str, str]:
    """Every file in the shared folders, as one VM sees it: path -> sha256 (the stamps left out:
    a new `up` of the folders writes new ones)."""
    seen = (vm or cluster.manager).ssh(
        f"cd {vm_hosts.SHARED} && find . -type f ! -name .wipp-shared-stamp -print0 | sort -z | xargs -0r sha256sum"
    )
    return {line.split(None, 1)[1]: line.split(None, 1)[0] for line in seen.stdout.splitlines()}


def assert_nothing_lost(before: dict[str, str], after: dict[str, str]) -> None:
    """Every file is still there; those no service appends to hold what they held."""
    gone = sorted(set(before) - set(after))
    assert not gone, f"files lost: {gone}"
    for path, digest in before.items():
        if not path.endswith(".log"):
            assert after[path] == digest, f"{path} changed"


# -- the tests ---------------------------------------------------------------------------------------
def test_the_default_path_runs_on_three_vms_through_the_routing_mesh(
    deployed: Deployed, report_line: Callable[[str], None]
) -> None:
    cluster, stack = deployed.cluster, deployed.stack
    built = cluster.image.built_seconds
    image = "image cached" if built is None else f"image built in {built:.0f} s"
    how = "restored from snapshots" if cluster.restored else "cold boot, snapshots saved"
    report_line(f"vm hosts: {len(cluster.vms)} booted in {cluster.boot_seconds:.1f} s ({image}; {how})")
    # The swarm: three real hosts, each with its own kernel, each advertising its own address.
    nodes = cluster.manager.docker_json("node", "ls")
    assert sorted(n["Hostname"] for n in nodes) == sorted(v.name for v in cluster.vms)

    # The defaults for real: VIP endpoints (a virtual IP per service on the overlay network) ...
    for service in ("mongodb", "master"):
        spec = json.loads(cluster.manager.ssh(f"docker service inspect {service}").stdout)[0]
        assert spec["Spec"]["EndpointSpec"]["Mode"] == "vip", service
        assert spec["Endpoint"].get("VirtualIPs"), f"{service} has no virtual IP"
    # ... and the routing mesh: the web port answers on every node, wherever wipp's task runs.
    answered = [vm.name for vm in cluster.vms if _answers(cluster, vm)]
    report_line(
        f"default path (ingress, vip): multi up {deployed.up_seconds:.1f} s; "
        f"web answered on {len(answered)} of {len(cluster.vms)} nodes"
    )
    report_line(f"default path on VMs, slowest steps of the up: {deployed.slowest}")
    assert answered == [vm.name for vm in cluster.vms]
    # root_squash for real: root on a worker may neither write nor change owners in the shared folders ...
    worker = cluster.workers[0]
    folder = stack_file_config("multi")["storage"]["paths"]["wippdata"]
    wrote = worker.ssh(f"touch {folder}/by-root", check=False)
    chowned = worker.ssh(f"chown 1000 {folder}", check=False)
    assert wrote.returncode != 0 and "Permission denied" in wrote.stderr, wrote.stderr
    assert chowned.returncode != 0 and "Operation not permitted" in chowned.stderr, chowned.stderr
    # ... and WIPP's data, written once by UID 1000 wherever its task runs, is the same on every node.
    files = {vm.name: shared_files(cluster, vm) for vm in cluster.vms}
    written = files[cluster.manager.name]
    assert any(p.endswith("standin-mongod.log") for p in written) and any(
        p.endswith("standin-executor.txt") for p in written
    ), written
    seen = [name for name, found in files.items() if found.keys() == written.keys()]
    report_line(
        f"nfs (root_squash): bind storage up {deployed.up_seconds:.1f} s; "
        f"data seen on {len(seen)} of {len(cluster.vms)} nodes"
    )
    assert seen == [vm.name for vm in cluster.vms], files
    report = cluster.http_get(cluster.manager.address, WEB_PORT, "/report.txt") or ""
    assert "reached=master:9618 mongodb:27017" in report, report

    # allowedSources: the workstation is let in, another address on the same bridge kept out, on every node.
    for vm in cluster.vms:
        assert not _answers(cluster, vm, source=vm_hosts.OUTSIDER_ADDRESS), f"{vm.name} let the outsider in"
        rules = _docker_user(vm)
        assert f"-s {vm_hosts.CLIENT_ADDRESS}/32 -p tcp -m conntrack --ctorigdstport {WEB_PORT}" in rules, vm.name
    # The program's unit that puts them back at boot is installed and enabled on every node.
    for vm in cluster.vms:
        units = vm.ssh("systemctl list-unit-files 'wipp-published-ports-*' --no-legend").stdout
        assert "enabled" in units, f"{vm.name}: {units}"

    # The non-root sshUser did it all: the swarm commands ran as that user, root only through sudo -n.
    assert cluster.manager.ssh("id -u", user=vm_hosts.USER).stdout.strip() != "0"
    stack.preview("--expect-no-changes")


def test_the_manager_comes_back_from_a_reboot_without_pulumi(
    deployed: Deployed, report_line: Callable[[str], None]
) -> None:
    cluster, stack = deployed.cluster, deployed.stack
    manager = cluster.manager
    wait_until(lambda: _all_running(cluster), CONVERGE_SECONDS, 1, "four services running")
    files = shared_files(cluster)
    assert files, "the services wrote nothing to the shared folders"
    boots = len(manager.boot_ids())

    rebooted = time.monotonic()
    manager.ssh("systemctl reboot", check=False, timeout=30)
    manager.wait_booted(boots)  # the same host key, read from the console again
    wait_until(lambda: _answers(cluster, manager), CONVERGE_SECONDS, 1, "WIPP answers on the rebooted manager")
    seconds = time.monotonic() - rebooted
    rules = _docker_user(manager)
    back = f"-s {vm_hosts.CLIENT_ADDRESS}/32 -p tcp -m conntrack --ctorigdstport {WEB_PORT}" in rules
    report_line(
        f"reboot: WIPP answered again {seconds:.1f} s after the manager rebooted; "
        f"DOCKER-USER rules back: {'yes' if back else 'no'}"
    )
    assert back, f"the manager's DOCKER-USER chain after the reboot:\n{rules}"
    assert not _answers(cluster, manager, source=vm_hosts.OUTSIDER_ADDRESS), "the outsider got in after the reboot"
    wait_until(lambda: _all_running(cluster), CONVERGE_SECONDS, 1, "four services running after the reboot")
    assert_nothing_lost(files, shared_files(cluster))
    stack.preview("--expect-no-changes")


def _busiest_worker(cluster: VmCluster) -> Vm:
    placed = placement(cluster)
    return max(cluster.workers, key=lambda w: sum(nodes.count(w.name) for nodes in placed.values()))


def _node_ready(cluster: VmCluster, vm: Vm) -> bool:
    nodes = cluster.manager.docker_json("node", "ls")
    return any(n["Hostname"] == vm.name and n["Status"] == "Ready" for n in nodes)


MOUNT_UNIT = "mnt-wipp\\x2dshared.mount"  # systemd's unit for vm_hosts.SHARED
MOUNT_SECONDS = 240  # how long the test waits for a mount to end once the storage answers again


def _docker_state(vm: Vm) -> str:
    return vm.ssh("systemctl is-active docker.service", check=False).stdout.strip()


def _mounted_over_nfs(vm: Vm) -> bool:
    return vm.ssh(f"findmnt -n -o FSTYPE {vm_hosts.SHARED}", check=False).stdout.strip().startswith("nfs")


def _mount_failed(vm: Vm) -> bool:
    return vm.ssh(f"systemctl is-failed '{MOUNT_UNIT}'", check=False).stdout.strip() == "failed"


def test_a_lost_worker_s_tasks_run_elsewhere_and_when_it_boots_with_its_storage_late_docker_waits_for_the_mount(
    deployed: Deployed, report_line: Callable[[str], None]
) -> None:
    """A worker loses its power: its tasks run again on the other nodes, nothing is lost. It boots
    again (cold, from its own disk) while the storage server (the manager) drops its NFS packets:
    the program's drop-in keeps Docker from starting on the empty local folder under the mount;
    once the storage answers, Docker starts with the mount (by itself while systemd still tries
    the mount; after systemd gave it up, the next `systemctl start docker`, as the README says).
    Then the node is back and `up` finds nothing to change. One boot shows both: a host that comes
    back after a power loss is when its mount may come late."""
    cluster, stack = deployed.cluster, deployed.stack
    wait_until(lambda: _all_running(cluster), CONVERGE_SECONDS, 1, "four services running")
    lost = _busiest_worker(cluster)
    moving = [service for service, nodes in placement(cluster).items() if lost.name in nodes]
    assert moving, f"no task on either worker: {placement(cluster)}"
    requires = lost.ssh("systemctl show -p RequiresMountsFor --value docker.service").stdout
    assert vm_hosts.SHARED in requires, f"no drop-in makes Docker wait for the mounts on {lost.name}: {requires}"
    files = shared_files(cluster)

    powered_off = time.monotonic()
    lost.power_off()
    wait_until(
        lambda: _all_running(cluster, avoid=lost.name),
        CONVERGE_SECONDS,
        1,
        f"{', '.join(moving)} running again without {lost.name}",
    )
    seconds = time.monotonic() - powered_off
    report_line(f"host lost: tasks running again after {seconds:.1f} s ({', '.join(moving)} left {lost.name})")
    assert _answers(cluster, cluster.manager)
    assert_nothing_lost(files, shared_files(cluster))

    # Power back on, a cold boot from its own disk, while its storage does not answer.
    block = f"INPUT -s {lost.address} -p tcp --dport 2049 -j DROP"
    cluster.manager.ssh(f"iptables -I {block}")
    try:
        lost.console_log.rename(lost.console_log.with_suffix(f".before-loss.{int(time.time())}"))
        lost.start(restore=False)
        lost.wait_booted(0)
        answered = time.monotonic()
        # SSH answers (it needs no remote storage), the storage does not: Docker must not run.
        time.sleep(10)
        state = _docker_state(lost)
        underneath = lost.ssh(f"findmnt -n {vm_hosts.SHARED}; ls -A {vm_hosts.SHARED}", check=False).stdout
        assert state != "active", f"Docker started on {lost.name} without its shared storage"
        assert underneath.strip() == "", f"{vm_hosts.SHARED} on {lost.name} while the storage is away: {underneath}"
        jobs = lost.ssh("systemctl list-jobs --no-legend", check=False).stdout
    finally:
        cluster.manager.ssh(f"iptables -D {block}", check=False)
    waited = time.monotonic() - answered

    def docker_back_or_mount_given_up() -> bool:
        return _docker_state(lost) == "active" or _mount_failed(lost)

    wait_until(docker_back_or_mount_given_up, MOUNT_SECONDS, 2, f"{lost.name}'s mount ends")
    by_hand = _docker_state(lost) != "active"
    if by_hand:  # systemd gave the mount up first: Docker's start failed on it, named
        status = lost.ssh("systemctl status docker.service --no-pager", check=False).stdout
        assert MOUNT_UNIT in status or "Dependency failed" in status, status
        lost.ssh("systemctl start docker.service", timeout=300)
    assert _mounted_over_nfs(lost), f"Docker runs on {lost.name} without the NFS mount"
    how = (
        "started by hand after systemd gave the mount up" if by_hand else "started by itself once the storage answered"
    )
    report_line(
        f"nfs late mount: docker on {lost.name} stayed {state} while its storage was away "
        f"({waited:.0f} s after SSH answered; jobs waiting: {'docker.service' in jobs}); {how}"
    )
    wait_until(lambda: _node_ready(cluster, lost), 180, 1, f"{lost.name} ready again")
    wait_until(lambda: _all_running(cluster), CONVERGE_SECONDS, 1, "four services running")
    assert_nothing_lost(files, shared_files(cluster, lost))
    again = stack.up()
    assert set(again.operations().values()) == {"same"}, again.operations()
    stack.preview("--expect-no-changes")

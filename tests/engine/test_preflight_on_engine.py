"""The preflight script, as the program renders it, on the private engines in their namespaces."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import standin_images
from docker_api import listener
from engine_hosts import EngineHost
from harness import assert_mentions, run_program, script_variables
from program_commands import single_stack_command

WEB, DASHBOARD = 18181, 18182  # ports no other engine test publishes


def _run(host: EngineHost, script: str) -> subprocess.CompletedProcess[str]:
    """As pulumi-command runs it on that host: `/bin/sh -c`, in the host's network namespace."""
    env = {"PATH": os.environ["PATH"], "DOCKER_HOST": host.engine.docker_host}
    return host.engine.in_namespace(["/bin/sh", "-c", script], env=env, check=False)


def _first_manager_check(manager: EngineHost, **more: object) -> str:
    return single_stack_command(manager, "preflight-wipp-host", webPort=WEB, dashboardPort=DASHBOARD, **more)["create"]


def _joining_check(manager: EngineHost, worker: EngineHost) -> str:
    hosts = [
        {"name": "manager", "address": manager.address, "role": "manager", "local": True},
        {"name": "lab-worker", "address": worker.address, "role": "worker"},
    ]
    overrides = {
        "hosts": hosts,
        "allowedSources": [],
        "manageFirewall": False,
        "dockerHost": manager.engine.docker_host,
    }
    return str(run_program("multi", overrides).named("preflight-lab-worker").inputs["create"])


def test_a_ready_manager_reports_its_engine_swarm_memory_and_disk(manager: EngineHost, swarm: str) -> None:
    result = _run(manager, _first_manager_check(manager))
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["docker"] == manager.engine.request("GET", "/version")["Version"]
    assert found["swarm"] == "this"
    with open("/proc/meminfo") as meminfo:
        total_kb = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1])
    assert found["memoryMb"] == total_kb // 1024
    # The space left for Docker's data (df's "Available" at its data root), not the disk's size or its use.
    disk = os.statvfs(manager.engine.request("GET", "/info")["DockerRootDir"])
    available_gb = disk.f_bavail * disk.f_frsize // 2**30
    assert abs(found["diskFreeGb"] - available_gb) <= 1, (found, available_gb)
    assert "preflight: wipp-host: Docker" in result.stderr


def test_below_nists_figures_is_a_warning_or_with_strict_a_stop(manager: EngineHost, swarm: str) -> None:
    for strict in (False, True):
        script = _first_manager_check(manager, strictPreflight=strict)
        assert "\nMIN_DISK_GB=50\n" in script
        script = script.replace("\nMIN_DISK_GB=50\n", "\nMIN_DISK_GB=999999\n")  # more disk than any test machine
        assert script_variables(script)["MIN_DISK_GB"] == "999999"
        result = _run(manager, script)
        if strict:
            assert result.returncode == 1
            assert "free disk" in result.stderr and "wipp:strictPreflight is true" in result.stderr
            assert result.stdout == ""
        else:
            assert result.returncode == 0, result.stderr
            assert "below the 999999 GB NIST asks for" in json.loads(result.stdout)["warnings"]


def _kernel_has_ipvs() -> bool:
    """Read here, apart from the script: IPVS loaded, or its module installed for this kernel."""
    modules = Path("/lib/modules", os.uname().release)
    listed = [modules / "modules.builtin", modules / "modules.dep"]
    return Path("/proc/net/ip_vs").exists() or any(p.exists() and "/ip_vs.ko" in p.read_text() for p in listed)


def test_the_routing_mesh_or_virtual_ips_on_a_kernel_without_ipvs_stop_it_naming_the_host(
    manager: EngineHost, swarm: str
) -> None:
    """CI's kernel has no IPVS (so the engine tests run host and dnsrr): the default ingress and vip
    stop here, by name, while host and dnsrr (the checks above) pass on the same kernel. On a kernel
    with IPVS the same checks pass (the VM tests run them so)."""
    has_ipvs = _kernel_has_ipvs()
    print(f"preflight: this kernel has IPVS: {'yes' if has_ipvs else 'no'}")
    for publish, endpoint, needed in (
        ("ingress", "vip", "wipp:publishMode ingress and wipp:endpointMode vip"),
        ("host", "vip", "wipp:endpointMode vip"),
    ):
        result = _run(manager, _first_manager_check(manager, publishMode=publish, endpointMode=endpoint))
        if has_ipvs:
            assert result.returncode == 0 and json.loads(result.stdout)["docker"], result.stderr
            continue
        assert result.returncode == 1 and result.stdout == "", result.stderr
        assert_mentions(result.stderr, [f"preflight: wipp-host: the kernel ({os.uname().release}) has no IPVS", needed])
        assert "wipp:publishMode host and wipp:endpointMode dnsrr" in result.stderr


def test_shared_folders_on_the_root_file_system_are_a_warning_or_with_strict_a_stop(
    manager: EngineHost, swarm: str, tmp_path: Path
) -> None:
    """Folders on the root file system have no mount Docker could wait for; on a mount of their own
    (a tmpfs mounted over their parent, in a private mount namespace) they pass."""
    shared = tmp_path / "shared"
    shared.mkdir()
    assert os.stat(shared).st_dev == os.stat("/").st_dev, "the test's temp folder is not on the root file system"
    paths = {key: f"{shared}/{key}" for key in ("wippdb", "wippdata", "pegasusdb", "pegasusdata")}
    warning = f"the shared folders {' '.join(paths.values())} are on the root file system"
    for strict in (False, True):
        script = _first_manager_check(manager, storage={"mode": "bind", "paths": paths}, strictPreflight=strict)
        result = _run(manager, script)
        if strict:
            assert result.returncode == 1 and warning in result.stderr and result.stdout == "", result.stderr
            assert "wipp:strictPreflight is true" in result.stderr
        else:
            assert result.returncode == 0 and warning in json.loads(result.stdout)["warnings"], result.stderr
        mounted = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c"]
        mounted += ['mount -t tmpfs wipp-preflight-test "$1" && exec /bin/sh -c "$2"', "sh", str(shared), script]
        env = {"PATH": os.environ["PATH"], "DOCKER_HOST": manager.engine.docker_host}
        on_a_mount = manager.engine.in_namespace(mounted, env=env, check=False)
        assert on_a_mount.returncode == 0 and "shared folders" not in on_a_mount.stdout, on_a_mount.stderr


@pytest.fixture
def port_taken(manager: EngineHost) -> Iterator[None]:
    """A listener of somebody else's on the web port, in the manager's namespace."""
    with listener(manager.engine, WEB):
        yield


def test_a_published_port_taken_by_something_else_stops_it(manager: EngineHost, swarm: str, port_taken: None) -> None:
    result = _run(manager, _first_manager_check(manager))
    assert result.returncode == 1
    assert f"preflight: wipp-host: port {WEB} is taken by python" in result.stderr
    assert "wipp:webPort" in result.stderr


@pytest.fixture
def worker_in_another_swarm(worker: EngineHost) -> Iterator[EngineHost]:
    if worker.engine.request("GET", "/info")["Swarm"]["LocalNodeState"] != "inactive":
        worker.engine.cli("swarm", "leave", "--force")  # whatever ran before: start from no swarm
    worker.engine.cli("swarm", "init", "--advertise-addr", worker.address)
    try:
        yield worker
    finally:
        worker.engine.cli("swarm", "leave", "--force", check=False)


def test_a_host_in_another_swarm_stops_it_before_anything_changes(
    manager: EngineHost, swarm: str, worker_in_another_swarm: EngineHost
) -> None:
    worker = worker_in_another_swarm
    result = _run(worker, _joining_check(manager, worker))
    assert result.returncode == 1
    assert "preflight: lab-worker: it is already in another swarm" in result.stderr
    assert f"{worker.address}:2377" in result.stderr


def test_a_host_without_a_running_engine_says_so(manager: EngineHost, worker: EngineHost, swarm: str) -> None:
    script = _joining_check(manager, worker)
    missing = EngineHost(type(worker.engine)("unix:///nonexistent/docker.sock", worker.engine.netns), worker.address)
    result = _run(missing, script)
    assert result.returncode == 1
    assert "preflight: lab-worker: Docker Engine does not answer here (docker info: " in result.stderr
    assert "/nonexistent/docker.sock" in result.stderr  # docker's own reason, with the endpoint it tried
    assert "systemctl status docker" in result.stderr and "may use it" in result.stderr


def test_the_pulls_need_the_size_of_the_version_held_and_less_free_disk_is_a_warning_or_with_strict_a_stop(
    manager: EngineHost, swarm: str, tmp_path: Path
) -> None:
    """An image the host does not hold needs about the size of the one of the same name it holds
    (the version before an upgrade); one it holds needs nothing. With less free disk than that
    (Docker's data folder seen through a 1 MB tmpfs, in a private mount namespace), a warning, or a stop."""
    layer = standin_images.padding_layer(tmp_path, "preflight-probe", 6_000_000)
    manager.engine.cli("import", str(layer), "wipp/preflight-probe:1")
    try:
        held = int(manager.engine.cli("image", "inspect", "--format", "{{.Size}}", "wipp/preflight-probe:1").stdout)
        script = _first_manager_check(manager)
        images = script_variables(script)["IMAGES"]
        assert images.split() == ["mongo:3.4", "wipp/wipp_master:2.2.0", "wipp/wipp:2.2.0", "wipp/wipp_executor:2.2.0"]
        probe = script.replace(f"\nIMAGES='{images}'\n", "\nIMAGES='wipp/preflight-probe:2 wipp/preflight-probe:1'\n")
        assert probe != script
        result = _run(manager, probe)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["pullsNeedMb"] == held // 2**20 > 0  # :1 is held, :2 as large as it
        assert f"the pulls need about {held // 2**20} MB" in result.stderr
        root_dir = manager.engine.request("GET", "/info")["DockerRootDir"]
        env = {"PATH": os.environ["PATH"], "DOCKER_HOST": manager.engine.docker_host}
        shortfall = f"is less than the about {held // 2**20} MB the new images need"
        for strict in (False, True):
            checked = probe.replace("\nSTRICT=false\n", f"\nSTRICT={str(strict).lower()}\n")
            small = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c"]
            small += ['mount -t tmpfs -o size=1m wipp-preflight-test "$1" && exec /bin/sh -c "$2"', "sh", root_dir]
            found = manager.engine.in_namespace([*small, checked], env=env, check=False)
            if strict:
                assert found.returncode == 1 and shortfall in found.stderr and found.stdout == "", found.stderr
            else:
                assert found.returncode == 0 and shortfall in json.loads(found.stdout)["warnings"], found.stderr
    finally:
        manager.engine.cli("image", "rm", "wipp/preflight-probe:1")

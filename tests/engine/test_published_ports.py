"""Published ports restricted for real: DOCKER-USER rules on the private engine's own namespace.

A swarm service publishes a port in host mode on the manager engine (this kernel has no
IPVS for ingress mode; the rules match the port the client asked for, which is the same in
both modes). Clients connect from the worker's namespace, from its own address and from a
second address this test adds, so one source can be allowed and the other not. The rules
live in the manager namespace's iptables: the machine's own firewall is checked unchanged.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_api import wait_until
from engine_hosts import EngineHost, engine_overrides
from harness import run_program

PORT = 18080
SERVICE = "published-ports-probe"
OTHER_ADDRESS = "10.231.0.3"  # a second source on the worker's link, added and removed by this test


def _answers(client: EngineHost, source: str, server: str) -> bool:
    """Whether an HTTP GET from `source` (an address in the client's namespace) gets an answer."""
    fetch = (
        "import http.client, sys;"
        "c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=2, source_address=(sys.argv[3], 0));"
        "c.request('GET', '/'); sys.stdout.write(c.getresponse().read().decode())"
    )
    result = client.engine.in_namespace([sys.executable, "-c", fetch, server, str(PORT), source], check=False)
    return result.returncode == 0 and "probe" in result.stdout


def _docker_user(manager: EngineHost) -> list[str]:
    return manager.engine.in_namespace(["iptables", "-w", "-S", "DOCKER-USER"]).stdout.splitlines()


def _root_iptables() -> str:
    return subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True, check=True).stdout


def _published_ports_command(manager: EngineHost, sources: list[str]) -> dict[str, str]:
    overrides = engine_overrides(manager, allowedSources=sources, manageFirewall=True)
    return run_program("single", overrides).named("firewall-wipp-host-published-ports").inputs


@pytest.fixture
def published_service(manager: EngineHost, worker: EngineHost, swarm: str, images: list[str]) -> Iterator[None]:
    """A service answering on PORT in host mode, and a second client address on the worker."""
    root_before = _root_iptables()
    link = worker.engine.in_namespace(["ip", "-o", "-4", "addr", "show"]).stdout
    device = next(line.split()[1] for line in link.splitlines() if f" {worker.address}/" in line)
    worker.engine.in_namespace(["ip", "addr", "add", f"{OTHER_ADDRESS}/24", "dev", device])
    manager.engine.cli(
        "service", "create", "--detach", "--name", SERVICE,
        "--publish", f"mode=host,published={PORT},target=8080",
        "--entrypoint", "/bin/sh",
        "wipp/wipp_master:2.2.0",
        "-c", "mkdir -p /tmp/www && echo probe > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www",
    )  # fmt: skip
    try:
        wait_until(lambda: _answers(worker, worker.address, manager.address), 60, 0.5, "the probe service answers")
        yield
    finally:
        manager.engine.cli("service", "rm", SERVICE, check=False)
        worker.engine.in_namespace(["ip", "addr", "del", f"{OTHER_ADDRESS}/24", "dev", device], check=False)
    assert _root_iptables() == root_before, "the machine's own iptables rules changed"


def test_only_allowed_sources_reach_published_ports(
    manager: EngineHost, worker: EngineHost, published_service: None
) -> None:
    assert _answers(worker, OTHER_ADDRESS, manager.address), "before any rule, every source gets an answer"
    # An administrator's own rule, identical to one of ours but untagged: it must survive everything below.
    admin_rule = ["-s", f"{worker.address}/32", "-p", "tcp", "-m", "conntrack", "--ctorigdstport", str(PORT)]
    admin_rule += ["--ctdir", "ORIGINAL", "-j", "RETURN"]
    manager.engine.in_namespace(["iptables", "-w", "-I", "DOCKER-USER", "1", *admin_rule])
    admin_line = f"-A DOCKER-USER {' '.join(admin_rule)}"
    assert admin_line in _docker_user(manager)

    first = _published_ports_command(manager, [f"{worker.address}/32"])
    manager.engine.in_namespace(["/bin/sh", "-c", first["create"]])
    applied = _docker_user(manager)
    manager.engine.in_namespace(["/bin/sh", "-c", first["create"]])
    assert _docker_user(manager) == applied, "a second apply adds nothing"
    tagged = [line for line in applied if "wipp:" in line]
    assert len(tagged) == 4  # a DROP for each of the two ports, a RETURN for the one source on each
    assert _answers(worker, worker.address, manager.address)
    assert not _answers(worker, OTHER_ADDRESS, manager.address)

    # A changed source list, applied as Pulumi replaces the command: new create first, then the old delete.
    second = _published_ports_command(manager, [f"{OTHER_ADDRESS}/32"])
    manager.engine.in_namespace(["/bin/sh", "-c", second["create"]])
    manager.engine.in_namespace(["/bin/sh", "-c", first["delete"]])
    rules = _docker_user(manager)
    first_tag = first["create"].split("\nTAG=")[1].split("\n")[0]
    second_tag = second["create"].split("\nTAG=")[1].split("\n")[0]
    assert first_tag != second_tag
    assert not [line for line in rules if first_tag in line]
    assert len([line for line in rules if second_tag in line]) == 4
    assert _answers(worker, OTHER_ADDRESS, manager.address)
    # The new rules sit above the administrator's: the worker's address is no longer let through.
    assert not _answers(worker, worker.address, manager.address)
    assert admin_line in rules

    manager.engine.in_namespace(["/bin/sh", "-c", second["delete"]])
    after = _docker_user(manager)
    assert not [line for line in after if "wipp:" in line], json.dumps(after)
    assert admin_line in after
    assert _answers(worker, OTHER_ADDRESS, manager.address)
    manager.engine.in_namespace(["iptables", "-w", "-D", "DOCKER-USER", *admin_rule])


def test_no_docker_user_chain_is_a_clear_error(manager: EngineHost, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Where Docker does not run its iptables firewall, the rules cannot be placed: say so, change nothing."""
    name = f"wippnochain-{tmp_path_factory.getbasetemp().name}"[:15]
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        create = _published_ports_command(manager, ["10.0.0.0/24"])["create"]
        result = subprocess.run(
            ["ip", "netns", "exec", name, "/bin/sh", "-c", create], capture_output=True, text=True, timeout=60
        )
        assert result.returncode != 0
        assert "no DOCKER-USER chain" in result.stderr and "wipp:allowedSources" in result.stderr
        listed = subprocess.run(["ip", "netns", "exec", name, "iptables", "-w", "-S"], capture_output=True, text=True)
        assert "wipp:" not in listed.stdout
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_rules_come_back_after_a_restart_through_the_systemd_unit(
    manager: EngineHost, worker: EngineHost, published_service: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The persistence path, with a private systemd layout: a unit folder bound over /etc/systemd/system
    and a `systemctl` that records its calls, inside a mount namespace of the test's own.
    The unit's ExecStart is then run as systemd would after Docker starts."""
    work = tmp_path_factory.mktemp("persist")
    units, persist, bin_dir = work / "units", work / "wipp", work / "bin"
    for folder in (units, bin_dir):
        folder.mkdir()
    calls = work / "systemctl.calls"
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    systemctl.chmod(0o755)
    command = _published_ports_command(manager, [f"{worker.address}/32"])
    create, delete = (
        command[k].replace("PERSIST_DIR=/etc/wipp\n", f"PERSIST_DIR={persist}\n") for k in ("create", "delete")
    )

    def with_systemd(script: str) -> None:
        inside = (
            "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && "
            f'mount --bind {units} /etc/systemd/system && PATH={bin_dir}:$PATH && eval "$SCRIPT"'
        )
        environment = {**os.environ, "SCRIPT": script}
        assert manager.engine.netns
        subprocess.run(
            ["nsenter", f"--net={manager.engine.netns}", "unshare", "--mount", "--propagation", "private",
             "sh", "-c", inside],
            check=True, capture_output=True, text=True, timeout=60, env=environment,
        )  # fmt: skip

    with_systemd(create)
    applied = [line for line in _docker_user(manager) if "wipp:" in line]
    unit_files = list(units.glob("wipp-published-ports-*.service"))
    assert len(unit_files) == 1
    unit = unit_files[0].read_text()
    assert "After=docker.service" in unit and "WantedBy=docker.service" in unit
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    copy = Path(exec_start.split(" ", 1)[1])
    assert copy.parent == persist and copy.exists()
    assert calls.read_text().splitlines() == ["daemon-reload", f"enable {unit_files[0].name}"]

    # A restart: Docker comes back with DOCKER-USER holding none of our rules ...
    for line in applied:
        manager.engine.in_namespace(["iptables", "-w", "-D", *shlex.split(line)[1:]])
    assert _answers(worker, OTHER_ADDRESS, manager.address)
    # ... and the unit's ExecStart puts back exactly the same rules.
    manager.engine.in_namespace(["/bin/sh", str(copy)])
    assert [line for line in _docker_user(manager) if "wipp:" in line] == applied
    assert not _answers(worker, OTHER_ADDRESS, manager.address)
    assert _answers(worker, worker.address, manager.address)

    with_systemd(delete)
    assert not list(units.iterdir()) and not copy.exists()
    assert f"disable {unit_files[0].name}" in calls.read_text()
    assert not [line for line in _docker_user(manager) if "wipp:" in line]

"""Published ports restricted for real: DOCKER-USER rules on the private engine's own namespace.

A swarm service publishes a port in host mode on the manager engine (this kernel has no
IPVS for ingress mode; the rules match the port the client asked for, which is the same in
both modes). Clients connect from the worker's namespace, from its own address and from a
second address this test adds, so one source can be allowed and the other not. The rules
live in the manager namespace's iptables: the machine's own firewall is checked unchanged.
The script runs in a sandbox (sandbox.py) in that namespace, as a user who may run, with
`sudo -n`, exactly the commands README.md lists: its /etc (where the systemd unit and the
copy of the rules go) is the sandbox's own, never the machine's.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_api import machine_iptables, wait_until
from engine_hosts import EngineHost
from harness import script_variables
from program_commands import single_stack_command
from sandbox import USER, Sandbox, readme_sudo_commands

PORT = 18080
SERVICE = "published-ports-probe"
OTHER_ADDRESS = "10.231.0.3"  # a second source on the worker's link, added and removed by this test


def _answers(client: EngineHost, source: str, server: str) -> bool:
    """Whether an HTTP GET from `source` (an address in the client's namespace) gets an answer."""
    return "probe" in (client.engine.http_get(PORT, "/", server, source=source) or "")


def _docker_user(manager: EngineHost) -> list[str]:
    return manager.engine.in_namespace(["iptables", "-w", "-S", "DOCKER-USER"]).stdout.splitlines()


def _ours(manager: EngineHost) -> list[str]:
    return [line for line in _docker_user(manager) if "wipp:" in line]


@pytest.fixture
def user_box(manager: EngineHost, tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox in the manager's network namespace, with systemd's marks: a /run/systemd/system
    and a `systemctl` that records its calls in /run/systemctl.calls."""
    assert manager.engine.netns
    with Sandbox(tmp_path, sudo=readme_sudo_commands(), netns=manager.engine.netns, fake_systemd=True) as box:
        yield box


def _run(box: Sandbox, script: str, user: str = USER) -> None:
    result = box.run(script, user=user)
    assert result.returncode == 0, result.stderr


def _published_ports_command(manager: EngineHost, sources: list[str]) -> dict[str, str]:
    name = "firewall-wipp-host-published-ports"
    return single_stack_command(manager, name, allowedSources=sources, manageFirewall=True)


@pytest.fixture
def published_service(manager: EngineHost, worker: EngineHost, swarm: str, images: list[str]) -> Iterator[None]:
    """A service answering on PORT in host mode, and a second client address on the worker."""
    root_before = machine_iptables()
    link = worker.engine.in_namespace(["ip", "-o", "-4", "addr", "show"]).stdout
    device = next(line.split()[1] for line in link.splitlines() if f" {worker.address}/" in line)
    worker.engine.in_namespace(["ip", "addr", "replace", f"{OTHER_ADDRESS}/24", "dev", device])
    manager.engine.cli("service", "rm", SERVICE, check=False)  # one an interrupted run left
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
    assert machine_iptables() == root_before, "the machine's own iptables rules changed"


def test_only_allowed_sources_reach_published_ports(
    manager: EngineHost, worker: EngineHost, published_service: None, user_box: Sandbox
) -> None:
    assert _answers(worker, OTHER_ADDRESS, manager.address), "before any rule, every source gets an answer"
    # An administrator's own rule, identical to one of ours but untagged: it must survive everything below.
    admin_rule = ["-s", f"{worker.address}/32", "-p", "tcp", "-m", "conntrack", "--ctorigdstport", str(PORT)]
    admin_rule += ["--ctdir", "ORIGINAL", "-j", "RETURN"]
    manager.engine.in_namespace(["iptables", "-w", "-I", "DOCKER-USER", "1", *admin_rule])
    admin_line = f"-A DOCKER-USER {' '.join(admin_rule)}"
    assert admin_line in _docker_user(manager)

    first = _published_ports_command(manager, [f"{worker.address}/32"])
    _run(user_box, first["create"])
    applied = _docker_user(manager)
    _run(user_box, first["create"])
    assert _docker_user(manager) == applied, "a second apply adds nothing"
    tagged = [line for line in applied if "wipp:" in line]
    assert len(tagged) == 4  # a DROP for each of the two ports, a RETURN for the one source on each
    assert _answers(worker, worker.address, manager.address)
    assert not _answers(worker, OTHER_ADDRESS, manager.address)

    # A changed source list, applied as Pulumi replaces the command: new create first, then the old delete.
    second = _published_ports_command(manager, [f"{OTHER_ADDRESS}/32"])
    _run(user_box, second["create"])
    _run(user_box, first["delete"])
    rules = _docker_user(manager)
    first_tag, second_tag = (script_variables(c["create"])["TAG"] for c in (first, second))
    assert first_tag != second_tag
    assert not [line for line in rules if first_tag in line]
    assert len([line for line in rules if second_tag in line]) == 4
    assert _answers(worker, OTHER_ADDRESS, manager.address)
    # The new rules sit above the administrator's: the worker's address is no longer let through.
    assert not _answers(worker, worker.address, manager.address)
    assert admin_line in rules

    _run(user_box, second["delete"])
    after = _docker_user(manager)
    assert not [line for line in after if "wipp:" in line], json.dumps(after)
    assert admin_line in after
    assert _answers(worker, OTHER_ADDRESS, manager.address)
    manager.engine.in_namespace(["iptables", "-w", "-D", "DOCKER-USER", *admin_rule])


def test_no_docker_user_chain_is_a_clear_error(manager: EngineHost, tmp_path: Path) -> None:
    """Where Docker does not run its iptables firewall, the rules cannot be placed: say so, change nothing."""
    with Sandbox(tmp_path, new_netns=True, fake_systemd=True) as box:
        result = box.run(_published_ports_command(manager, ["10.0.0.0/24"])["create"])
        assert result.returncode != 0
        assert "no DOCKER-USER chain" in result.stderr and "wipp:allowedSources" in result.stderr
        assert "wipp:" not in box.run("iptables -w -S").stdout
        left = box.run("ls -A /etc/systemd/system; ls -A /etc/wipp; cat /run/systemctl.calls 2>/dev/null").stdout
        assert "wipp-published-ports" not in left


def test_rules_come_back_after_a_restart_through_the_systemd_unit(
    manager: EngineHost, worker: EngineHost, published_service: None, user_box: Sandbox
) -> None:
    """The persistence path, in the sandbox's own /etc with systemd's marks; the unit's ExecStart is
    then run as systemd would (as root) after Docker starts."""
    command = _published_ports_command(manager, [f"{worker.address}/32"])
    _run(user_box, command["create"])
    applied = _ours(manager)
    units = user_box.run("ls /etc/systemd/system | grep '^wipp-published-ports-'").stdout.split()
    assert len(units) == 1
    unit = user_box.run(f"cat /etc/systemd/system/{units[0]}").stdout
    assert "After=docker.service" in unit and "WantedBy=docker.service" in unit
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    copy = exec_start.split(" ", 1)[1]
    assert Path(copy).parent == Path("/etc/wipp") and user_box.run(f"test -f {copy}").returncode == 0
    assert not Path(copy).exists()  # in the sandbox's /etc, not the machine's
    assert user_box.run("cat /run/systemctl.calls").stdout.splitlines() == ["daemon-reload", f"enable {units[0]}"]

    # A restart: Docker comes back with DOCKER-USER holding none of our rules ...
    for line in applied:
        manager.engine.in_namespace(["iptables", "-w", "-D", *shlex.split(line)[1:]])
    assert _answers(worker, OTHER_ADDRESS, manager.address)
    # ... and the unit's ExecStart puts back exactly the same rules.
    _run(user_box, f"/bin/sh {copy}", user="root")
    assert _ours(manager) == applied
    assert not _answers(worker, OTHER_ADDRESS, manager.address)
    assert _answers(worker, worker.address, manager.address)

    _run(user_box, command["delete"])
    assert user_box.run("ls -A /etc/systemd/system | grep wipp; ls -A /etc/wipp").stdout == ""
    assert f"disable {units[0]}" in user_box.run("cat /run/systemctl.calls").stdout
    assert not _ours(manager)


@pytest.mark.parametrize("removed", ["iptables", "ip6tables", "tee", "mkdir", "systemctl", "rm"])
def test_a_user_without_one_of_the_readmes_sudo_commands_fails(
    manager: EngineHost, swarm: str, tmp_path: Path, removed: str
) -> None:
    sudo = [name for name in readme_sudo_commands() if name != removed]
    assert len(sudo) == len(readme_sudo_commands()) - 1, f"{removed} is not in the README's list"
    command = _published_ports_command(manager, ["172.16.100.0/24"])
    assert manager.engine.netns
    with Sandbox(tmp_path, sudo=sudo, netns=manager.engine.netns, fake_systemd=True) as box:
        try:
            results = [box.run(command[step], user=USER) for step in ("create", "delete")]
        finally:
            box.run(command["delete"])  # as root: whatever the user's run left
    failed = [r for r in results if r.returncode != 0]
    assert failed and "sudo" in failed[0].stderr, [r.stderr for r in results]
    assert not _ours(manager)

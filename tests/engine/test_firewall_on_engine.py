"""The firewall through the real Pulumi engine: a change of allowedSources and port, then destroy.

Pulumi runs as if on the manager host: in the manager's network namespace (so ufw and the
DOCKER-USER rules land in that namespace's own iptables) with a private copy of /etc (so ufw
keeps its rules, and the published-ports script its copy, there). ufw is enabled there first,
as the README asks of an administrator. The machine's own firewall and /etc are never touched:
the test checks the machine's iptables are unchanged at the end.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from docker_api import machine_iptables, wait_until
from engine_hosts import EngineHost
from pulumi_cli import PulumiHome, PulumiProject
from single_stack import VOLUMES, new_project, on_private_engine, remove_volumes

OTHER_SOURCE = "10.231.0.4"  # a second client address on the worker's link, added and removed here
FIRST_PORT, SECOND_PORT = 18080, 18090


def _in_sandbox(project: PulumiProject, *command: str) -> str:
    """A command where pulumi runs: the manager's namespace, with the project's private /etc."""
    return subprocess.run(
        [*(project.prefix or []), *command], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def _answers(client: EngineHost, source: str, server: str, port: int) -> bool:
    """Whether the web port answers a client at `source` (an address in the client's namespace)."""
    return "WIPP stand-in" in (client.engine.http_get(port, "/", server, source=source) or "")


@pytest.fixture
def firewalled(
    pulumi_home: PulumiHome,
    manager: EngineHost,
    worker: EngineHost,
    images: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PulumiProject]:
    root_before = machine_iptables()
    link = worker.engine.in_namespace(["ip", "-o", "-4", "addr", "show"]).stdout
    device = next(line.split()[1] for line in link.splitlines() if f" {worker.address}/" in line)
    worker.engine.in_namespace(["ip", "addr", "add", f"{OTHER_SOURCE}/24", "dev", device])
    project = new_project(pulumi_home, tmp_path_factory.mktemp("firewall"), manager)
    _in_sandbox(project, "ufw", "--force", "enable")
    try:
        yield project
    finally:
        project.destroy(check=False)
        remove_volumes(manager, VOLUMES)
        _in_sandbox(project, "ufw", "--force", "disable")
        worker.engine.in_namespace(["ip", "addr", "del", f"{OTHER_SOURCE}/24", "dev", device], check=False)
    assert machine_iptables() == root_before, "the machine's own iptables rules changed"


def _stack_rules(project: PulumiProject, manager: EngineHost) -> tuple[list[str], list[str]]:
    """This stack's ufw rules (as `ufw show added` prints them) and its DOCKER-USER rules."""
    ufw = [line for line in _in_sandbox(project, "ufw", "show", "added").splitlines() if "wipp:single:" in line]
    docker_user = manager.engine.in_namespace(["iptables", "-w", "-S", "DOCKER-USER"]).stdout.splitlines()
    return ufw, [line for line in docker_user if "wipp:single:" in line]


def test_a_changed_source_and_port_leave_only_the_new_rules_and_destroy_leaves_none(
    firewalled: PulumiProject, manager: EngineHost, worker: EngineHost
) -> None:
    first = on_private_engine(manager, allowedSources=[f"{worker.address}/32"], webPort=FIRST_PORT)
    firewalled.set_config(first)
    firewalled.up()
    wait_until(lambda: _answers(worker, worker.address, manager.address, FIRST_PORT), 60, 0.5, "allowed source")
    assert not _answers(worker, OTHER_SOURCE, manager.address, FIRST_PORT)
    ufw, docker_user = _stack_rules(firewalled, manager)
    assert any(f"from {worker.address}" in rule and "port 2377" in rule for rule in ufw), ufw
    assert any(f"-s {worker.address}/32" in r and f"--ctorigdstport {FIRST_PORT}" in r for r in docker_user)

    second = {**first, "allowedSources": [f"{OTHER_SOURCE}/32"], "webPort": SECOND_PORT}
    firewalled.set_config(second)
    firewalled.up()
    wait_until(lambda: _answers(worker, OTHER_SOURCE, manager.address, SECOND_PORT), 60, 0.5, "the new source")
    assert not _answers(worker, worker.address, manager.address, SECOND_PORT)
    ufw, docker_user = _stack_rules(firewalled, manager)
    # Only the new rule set is left: no rule names the old source or the old port any more.
    assert ufw and docker_user
    assert not [rule for rule in ufw if f"from {worker.address} " in rule], ufw
    assert not [rule for rule in docker_user if worker.address in rule or str(FIRST_PORT) in rule], docker_user
    assert any(f"from {OTHER_SOURCE}" in rule for rule in ufw)
    assert any(f"-s {OTHER_SOURCE}/32" in r and f"--ctorigdstport {SECOND_PORT}" in r for r in docker_user)
    assert len({rule.rsplit("wipp:single:", 1)[1].split(":")[1][:10] for rule in docker_user}) == 1  # one tag

    firewalled.destroy()
    assert _stack_rules(firewalled, manager) == ([], [])

"""The personal stack through the real Pulumi engine: WIPP answers on 127.0.0.1 and nowhere else.

The shipped `Pulumi.personal.yaml` as it is (host 127.0.0.1, bindAddress 127.0.0.1, no firewall),
with only what this machine needs changed: the private engine's socket, publish mode host and
endpoint mode dnsrr (no IPVS here), stand-in images, and ports and volume names of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from docker_api import wait_until
from engine_hosts import EngineHost
from pulumi_cli import PulumiHome, PulumiProject
from single_stack import BACKUPS, new_project, remove_volumes, stack_file_config

WEB, DASHBOARD = 18281, 18282  # apart from the other engine tests' ports
NAMES = {key: f"personal-{key}" for key in ("wippdb", "wippdata", "pegasusdb", "pegasusdata")}


@pytest.fixture
def personal(
    pulumi_home: PulumiHome, manager: EngineHost, images: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PulumiProject]:
    project = new_project(pulumi_home, tmp_path_factory.mktemp("personal"), manager, stack="personal")
    project.set_config(_personal_config(manager))
    yield project
    project.destroy(check=False)
    remove_volumes(manager, list(NAMES.values()))
    # The personal stack's one host is 127.0.0.1, so a swarm it made is advertised there; the other
    # tests expect the engine in no swarm or in one at its own address: leave the loopback one.
    if manager.engine.request("GET", "/info")["Swarm"].get("NodeAddr") == "127.0.0.1":
        manager.engine.cli("swarm", "leave", "--force")


def _personal_config(manager: EngineHost, **overrides: object) -> dict[str, object]:
    """The shipped personal stack with what this machine needs changed (see the module docstring)."""
    config = stack_file_config("personal")
    config.update(
        dockerHost=manager.engine.docker_host,
        publishMode="host",
        endpointMode="dnsrr",
        webPort=WEB,
        dashboardPort=DASHBOARD,
        storage={"mode": "volume", "names": NAMES},
        backupPlace=str(BACKUPS / "personal"),  # the test run's own, not the machine's /var/backups
    )
    return {**config, **overrides}


def _answers_from(client: EngineHost, address: str) -> bool:
    """Whether the web port at `address` answers a client in `client`'s network namespace."""
    return client.engine.http_get(WEB, "/", address) is not None


def test_the_personal_stack_answers_on_localhost_only(
    personal: PulumiProject, manager: EngineHost, worker: EngineHost
) -> None:
    personal.up()
    assert personal.outputs()["webUrl"] == f"http://localhost:{WEB}"
    wait_until(lambda: _answers_from(manager, "127.0.0.1"), 60, 0.5, "wipp on 127.0.0.1")
    # The web container resolved and reached master and mongodb over the attachable overlay.
    report = manager.engine.http_get(WEB, "/report.txt") or ""
    assert "master=master" in report and "mongodb=mongodb" in report
    assert not _answers_from(manager, manager.address)  # the host's own network address
    assert not _answers_from(worker, manager.address)  # another machine on the network
    container = manager.engine.request("GET", "/containers/wipp/json")
    bindings = container["HostConfig"]["PortBindings"]
    assert {b["HostIp"] for ports in bindings.values() for b in ports} == {"127.0.0.1"}
    personal.preview("--expect-no-changes")

    personal.destroy()
    running = {c["Names"][0].strip("/") for c in manager.engine.request("GET", "/containers/json")}
    assert "wipp" not in running
    assert not {"mongodb", "master", "exec"} & set(manager.engine.services())


def _wipp_forms(manager: EngineHost) -> tuple[bool, bool]:
    """Whether wipp runs as a container, and whether as a swarm service."""
    containers = {c["Names"][0].strip("/") for c in manager.engine.request("GET", "/containers/json")}
    return "wipp" in containers, "wipp" in manager.engine.services()


def test_switching_the_bind_address_to_every_address_and_back_takes_one_up_each(
    personal: PulumiProject, manager: EngineHost, report_line: Callable[[str], None]
) -> None:
    personal.up()
    assert _answers_from(manager, "127.0.0.1") and _wipp_forms(manager) == (True, False)

    for bind_address, form in (("", (False, True)), ("127.0.0.1", (True, False))):
        personal.set_config(_personal_config(manager, bindAddress=bind_address))
        up = personal.up()  # one up: the old form frees the ports before the new one binds them
        report_line(f"bindAddress switch to {bind_address!r}: one up in {up.seconds:.1f} s")
        assert "wipp-handover" in up.operations()
        assert _answers_from(manager, "127.0.0.1"), f"WIPP does not answer after the switch to {bind_address!r}"
        assert _wipp_forms(manager) == form, bind_address
    assert not _answers_from(manager, manager.address)  # back on 127.0.0.1 only
    personal.preview("--expect-no-changes")

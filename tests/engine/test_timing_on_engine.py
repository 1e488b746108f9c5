"""Bring-up and upgrade times of the program against NIST's own way, in one run. Reported, never asserted.

Both start from an engine in no swarm, with no volumes, the stand-in images already loaded:
- the program: `pulumi up` of the single stack at 2.1.0, then the upgrade to 2.2.0 (`pulumi up`);
- NIST's way, as the seed's setup.sh does it: `docker swarm init`, the overlay network, then each
  service created and `docker service ls` polled every 5 s until it shows 1/1; the upgrade as
  NIST's page says: `docker service rm` of the four services, then the same deployment again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from docker_api import wait_until
from engine_hosts import EngineHost
from harness import Deployment, run_program
from pulumi_cli import PulumiHome, PulumiProject, Timed
from single_stack import (
    VOLUMES,
    SilenceMeter,
    all_running,
    engine_time,
    new_project,
    on_private_engine,
    remove_volumes,
    wait_for_web,
)

from components.wipp import SERVICE_NAMES

SEED_POLL = 5.0  # the seed's setup script polled `docker service ls` every 5 s
PROVIDER_READ_BACK = 2.0  # kreuzwerker's fixed wait before reading a created service or network back


def _leave_swarm(manager: EngineHost) -> None:
    manager.engine.cli("swarm", "leave", "--force", check=False)
    wait_until(
        lambda: manager.engine.request("GET", "/info")["Swarm"]["LocalNodeState"] == "inactive", 60, 0.2, "swarm left"
    )


@pytest.fixture(scope="module")
def timed_project(
    pulumi_home: PulumiHome, manager: EngineHost, images: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PulumiProject]:
    project = new_project(pulumi_home, tmp_path_factory.mktemp("timing"), manager)
    yield project
    project.destroy(check=False)
    remove_volumes(manager, VOLUMES)
    manager.engine.cli("swarm", "init", "--advertise-addr", manager.address, check=False)


def _seed_deploy(manager: EngineHost, deployment: Deployment) -> None:
    """setup.sh's way: `docker service create` one by one, `docker service ls` every 5 s until 1/1."""
    for name in SERVICE_NAMES:
        inputs = deployment.named(name).inputs
        container = inputs["taskSpec"]["containerSpec"]
        flags = ["--detach", "--no-resolve-image", "--name", name, "--network", "wippnet"]
        flags += ["--endpoint-mode", inputs["endpointSpec"]["mode"]]
        for mount in container.get("mounts", []):
            flags += ["--mount", f"type={mount['type']},source={mount['source']},target={mount['target']}"]
        for port in inputs["endpointSpec"].get("ports", []):
            published, target = int(port["publishedPort"]), int(port["targetPort"])  # Pulumi numbers are floats
            flags += ["--publish", f"mode={port['publishMode']},published={published},target={target}"]
        manager.engine.cli("service", "create", *flags, container["image"], *container.get("args", []))
        for _ in range(120):  # bounded: 10 minutes at 5 s
            replicas = manager.engine.cli("service", "ls", "--filter", f"name={name}", "--format", "{{.Replicas}}")
            if replicas.stdout.strip() == "1/1":
                break
            time.sleep(SEED_POLL)
        else:
            raise TimeoutError(f"seed way: {name} not 1/1 after 10 minutes")


def _seed_remove(manager: EngineHost) -> None:
    manager.engine.cli("service", "rm", *SERVICE_NAMES, check=False)


def _task_start_seconds(manager: EngineHost, service: str) -> float:
    """From the service's creation to its task running, by the engine's own clock."""
    created = engine_time(manager.engine.services()[service]["CreatedAt"])
    tasks = manager.engine.request("GET", "/tasks", query={"filters": json.dumps({"service": [service]})})
    running = min(engine_time(t["Status"]["Timestamp"]) for t in tasks if t["Status"]["State"] == "running")
    return (running - created).total_seconds()


def _provider_floor(manager: EngineHost) -> float:
    """The least any `pulumi up` of this chain can take: the network's read-back, then for each
    service in turn its read-back or its task's start, whichever is longer."""
    return PROVIDER_READ_BACK + sum(max(PROVIDER_READ_BACK, _task_start_seconds(manager, s)) for s in SERVICE_NAMES)


def test_bring_up_and_upgrade_against_nists_way(
    timed_project: PulumiProject, manager: EngineHost, report_line: Callable[[str], None]
) -> None:
    config = on_private_engine(manager, version="2.1.0", leaveSwarmOnDestroy=True)
    timed_project.set_config(config)
    timed_project.destroy()
    remove_volumes(manager, VOLUMES)
    _leave_swarm(manager)

    # The program: bring-up at 2.1.0, then the upgrade to 2.2.0.
    up: Timed = timed_project.up()
    wait_for_web(manager, "version=2.1.0")
    floor = _provider_floor(manager)
    timed_project.set_config({**config, "version": "2.2.0"})
    with SilenceMeter(manager) as program_upgrade:
        upgrade = timed_project.up()
    wait_for_web(manager, "version=2.2.0")
    timed_project.destroy()  # leaves the swarm (leaveSwarmOnDestroy)
    remove_volumes(manager, VOLUMES)
    assert manager.engine.request("GET", "/info")["Swarm"]["LocalNodeState"] == "inactive"

    # NIST's way, from the same starting point.
    try:
        started = time.monotonic()
        manager.engine.cli("swarm", "init", "--advertise-addr", manager.address, "--listen-addr", manager.address)
        manager.engine.cli("network", "create", "--driver", "overlay", "--attachable", "wippnet")
        _seed_deploy(manager, run_program("single", config))
        seed_seconds = time.monotonic() - started
        wait_for_web(manager, "version=2.1.0")
        with SilenceMeter(manager) as seed_upgrade:
            seed_upgrade_started = time.monotonic()
            _seed_remove(manager)
            _seed_deploy(manager, run_program("single", {**config, "version": "2.2.0"}))
            wait_for_web(manager, "version=2.2.0")
            seed_upgrade_seconds = time.monotonic() - seed_upgrade_started
        assert all_running(manager)
    finally:
        _seed_remove(manager)
        wait_until(lambda: not manager.engine.request("GET", "/containers/json"), 60, 0.2, "seed containers gone")
        manager.engine.cli("network", "rm", "wippnet", check=False)
        _leave_swarm(manager)
        remove_volumes(manager, VOLUMES)

    # Both really ran: the program's web service answered at each version, and so did NIST's way.
    assert program_upgrade.answers and seed_upgrade.answers
    report_line(
        f"pulumi up: {up.seconds:.1f} s; setup.sh-style baseline: {seed_seconds:.1f} s; "
        f"ratio {up.seconds / seed_seconds:.2f}; provider floor: {floor:.1f} s"
    )
    report_line(
        f"upgrade downtime: {program_upgrade.silent_seconds:.1f} s; "
        f"seed procedure: {seed_upgrade.silent_seconds:.1f} s "
        f"(whole upgrade: pulumi up {upgrade.seconds:.1f} s, seed procedure {seed_upgrade_seconds:.1f} s)"
    )
    steps = ", ".join(f"{name} {op} {start:.1f}-{end:.1f}" for name, (op, start, end) in up.steps().items())
    report_line(f"pulumi up timeline (s since the CLI started): {steps}")

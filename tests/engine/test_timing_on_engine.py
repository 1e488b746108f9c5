"""Bring-up and upgrade times of the program against NIST's own way, in one run. Reported, never asserted.

Both start from an engine in no swarm, with no volumes:
- the program: `pulumi up` of the single stack at 2.1.0, then the upgrade to 2.2.0 (`pulumi up`);
- NIST's way, as the seed's setup.sh does it: `docker swarm init`, the overlay network, then each
  service created and `docker service ls` polled every 5 s until it shows 1/1; the upgrade as
  NIST's page says: `docker service rm` of the four services, then the same deployment again.

Twice: without pulls (the small stand-ins pulled onto the engine beforehand), and with pulls:
padded stand-ins (wipp/wipp about 420 MB, the others about 106 MB, incompressible, different per
image and version) that only the registry has, its side of the link shaped to 100 Mbit/s, so
each bring-up and upgrade pulls over the link as a lab's hosts pull from Docker Hub or a mirror.
The padded images carry tags of their own (`2.1.0-padded`, `2.2.0-padded`, `mongo:3.4-padded`):
the other engine tests keep the small stand-ins under the real tags in the same registry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import standin_images
from docker_api import wait_until
from engine_hosts import EngineHost
from harness import Deployment, run_program
from pulumi_cli import PulumiHome, PulumiProject, Timed
from registry import Registry
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
LINK_RATE = "100mbit"  # the registry's side of its link, for the timings with pulls
MB = 1_000_000
WIPP_SIZE, OTHER_SIZE = 420 * MB, 106 * MB  # the padded stand-ins (issue 19: 420.6 MB and 106 MB)
PADDED_VERSIONS = ("2.1.0-padded", "2.2.0-padded")
PADDED_MONGO = "mongo:3.4-padded"


def _leave_swarm(manager: EngineHost) -> None:
    manager.engine.cli("swarm", "leave", "--force", check=False)
    wait_until(
        lambda: manager.engine.request("GET", "/info")["Swarm"]["LocalNodeState"] == "inactive", 60, 0.2, "swarm left"
    )


@pytest.fixture(scope="module")
def padded_images(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """The padded stand-ins, pushed into the registry only; each tag with its own bytes (its padding layer)."""
    wanted = {PADDED_MONGO: ("mongodb.sh", PADDED_MONGO.rsplit(":", 1)[1], OTHER_SIZE)}
    for version in PADDED_VERSIONS:
        for repository, script in standin_images.ENTRYPOINTS.items():
            wanted[f"{repository}:{version}"] = (
                script,
                version,
                WIPP_SIZE if repository == "wipp/wipp" else OTHER_SIZE,
            )
    started = time.monotonic()
    sizes = standin_images.push_padded(registry, tmp_path_factory.mktemp("padded"), wanted)
    print(f"padded stand-ins pushed in {time.monotonic() - started:.1f} s: {sum(sizes.values()) / MB:.0f} MB")
    return sizes


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
        # The image as configured: under mocks the program's digest is a stand-in, and setup.sh names tags.
        image = container["image"].split("@", 1)[0]
        manager.engine.cli("service", "create", *flags, image, *container.get("args", []))
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


@dataclass
class Run:
    """One program run and one NIST-way run from the same starting point, with what the registry sent."""

    up: Timed
    upgrade: Timed
    program_silent: float
    floor: float
    seed_seconds: float
    seed_upgrade_seconds: float
    seed_silent: float
    pulled: dict[str, dict[str, int]]  # phase -> client address -> bytes
    task_starts: dict[str, float]  # bring-up: each service's creation to its task running (pull included)


def _images_of(versions: tuple[str, ...], mongo_image: str) -> list[str]:
    return list(standin_images.wanted(versions, mongo_image))


def _served(registry: Registry | None) -> dict[str, int]:
    return registry.bytes_served() if registry is not None else {}


def _difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {client: sent - before.get(client, 0) for client, sent in after.items() if sent > before.get(client, 0)}


def _run_both(
    project: PulumiProject,
    manager: EngineHost,
    versions: tuple[str, str],
    mongo_image: str,
    registry: Registry | None = None,
) -> Run:
    """The program's bring-up at versions[0] and upgrade to versions[1], then NIST's way, each from
    an engine in no swarm; with `registry`, the images are removed from the engine before each."""
    old, new = versions
    config = on_private_engine(manager, version=old, mongoImage=mongo_image, leaveSwarmOnDestroy=True)
    project.set_config(config)
    project.destroy()
    remove_volumes(manager, VOLUMES)
    _leave_swarm(manager)
    pulled: dict[str, dict[str, int]] = {}
    if registry is not None:
        standin_images.remove_local(manager.engine, _images_of(versions, mongo_image), registry)

    # The program: bring-up at the old version, then the upgrade.
    before = _served(registry)
    up: Timed = project.up()
    wait_for_web(manager, f"version={old}")
    pulled["pulumi up"], before = _difference(_served(registry), before), _served(registry)
    floor = _provider_floor(manager)
    task_starts = {service: _task_start_seconds(manager, service) for service in SERVICE_NAMES}
    project.set_config({**config, "version": new})
    with SilenceMeter(manager) as program_upgrade:
        upgrade = project.up()
        wait_for_web(manager, f"version={new}")
    pulled["pulumi up (upgrade)"] = _difference(_served(registry), before)
    project.destroy()  # leaves the swarm (leaveSwarmOnDestroy)
    remove_volumes(manager, VOLUMES)
    assert manager.engine.request("GET", "/info")["Swarm"]["LocalNodeState"] == "inactive"
    if registry is not None:
        wait_until(lambda: not manager.engine.request("GET", "/containers/json?all=1"), 60, 0.2, "containers gone")
        standin_images.remove_local(manager.engine, _images_of(versions, mongo_image), registry)

    # NIST's way, from the same starting point.
    try:
        before = _served(registry)
        started = time.monotonic()
        manager.engine.cli("swarm", "init", "--advertise-addr", manager.address, "--listen-addr", manager.address)
        manager.engine.cli("network", "create", "--driver", "overlay", "--attachable", "wippnet")
        _seed_deploy(manager, run_program("single", config))
        seed_seconds = time.monotonic() - started
        wait_for_web(manager, f"version={old}")
        pulled["setup.sh-style"], before = _difference(_served(registry), before), _served(registry)
        with SilenceMeter(manager) as seed_upgrade:
            seed_upgrade_started = time.monotonic()
            _seed_remove(manager)
            _seed_deploy(manager, run_program("single", {**config, "version": new}))
            wait_for_web(manager, f"version={new}")
            seed_upgrade_seconds = time.monotonic() - seed_upgrade_started
        pulled["setup.sh-style (upgrade)"] = _difference(_served(registry), before)
        assert all_running(manager)
    finally:
        _seed_remove(manager)
        wait_until(lambda: not manager.engine.request("GET", "/containers/json?all=1"), 60, 0.2, "seed containers gone")
        manager.engine.cli("network", "rm", "wippnet", check=False)
        _leave_swarm(manager)
        remove_volumes(manager, VOLUMES)

    # Both really ran: the program's web service answered at each version, and so did NIST's way.
    assert program_upgrade.answers and seed_upgrade.answers
    return Run(
        up,
        upgrade,
        program_upgrade.silent_seconds,
        floor,
        seed_seconds,
        seed_upgrade_seconds,
        seed_upgrade.silent_seconds,
        pulled,
        task_starts,
    )


def _timeline(timed: Timed) -> str:
    return ", ".join(f"{name} {op} {start:.1f}-{end:.1f}" for name, (op, start, end) in timed.steps().items())


def test_bring_up_and_upgrade_against_nists_way(
    timed_project: PulumiProject, manager: EngineHost, images: list[str], report_line: Callable[[str], None]
) -> None:
    """Without pulls: the small stand-ins are on the engine before each run (pulled beforehand)."""
    for image in _images_of(("2.1.0", "2.2.0"), "mongo:3.4"):
        manager.engine.cli("pull", image)
    run = _run_both(timed_project, manager, ("2.1.0", "2.2.0"), "mongo:3.4")
    report_line(
        f"pulumi up: {run.up.seconds:.1f} s; setup.sh-style baseline: {run.seed_seconds:.1f} s; "
        f"ratio {run.up.seconds / run.seed_seconds:.2f}; provider floor: {run.floor:.1f} s"
    )
    report_line(
        f"upgrade downtime: {run.program_silent:.1f} s; "
        f"seed procedure: {run.seed_silent:.1f} s "
        f"(whole upgrade: pulumi up {run.upgrade.seconds:.1f} s, seed procedure {run.seed_upgrade_seconds:.1f} s)"
    )
    report_line(f"pulumi up timeline (s since the CLI started): {_timeline(run.up)}")


def test_bring_up_and_upgrade_with_pulls_over_a_100_mbit_link(
    timed_project: PulumiProject,
    manager: EngineHost,
    registry: Registry,
    padded_images: dict[str, int],
    report_line: Callable[[str], None],
) -> None:
    """With pulls: padded images only in the registry, removed from the engine before each run."""
    link = registry.links[0]
    qdisc = link.shape(LINK_RATE)
    try:
        run = _run_both(timed_project, manager, PADDED_VERSIONS, PADDED_MONGO, registry)
    finally:
        link.unshape()
        standin_images.remove_local(manager.engine, list(padded_images), registry)
    old_images = _images_of(PADDED_VERSIONS[:1], PADDED_MONGO)
    new_images = [tag for tag in _images_of(PADDED_VERSIONS[1:], PADDED_MONGO) if tag not in old_images]
    old_bytes = sum(padded_images[tag] for tag in old_images)
    new_bytes = sum(padded_images[tag] for tag in new_images)
    report_line(
        f"registry link shaped: {qdisc}; the images' own layers: {old_bytes / MB:.0f} MB at "
        f"{PADDED_VERSIONS[0]}, {new_bytes / MB:.0f} MB more at {PADDED_VERSIONS[1]}"
    )
    report_line(
        f"bring-up with pulls: pulumi up {run.up.seconds:.1f} s; setup.sh-style {run.seed_seconds:.1f} s; "
        f"ratio {run.up.seconds / run.seed_seconds:.2f}"
    )
    report_line(
        f"upgrade with pulls: web silent {run.program_silent:.1f} s; "
        f"setup.sh-style procedure silent {run.seed_silent:.1f} s; pulumi up {run.upgrade.seconds:.1f} s "
        f"(setup.sh-style procedure {run.seed_upgrade_seconds:.1f} s)"
    )
    names = {manager.address: "manager"}
    pulled = "; ".join(
        f"{phase}: "
        + ", ".join(f"{names.get(client, client)} {sent / MB:.1f} MB" for client, sent in sorted(clients.items()))
        for phase, clients in run.pulled.items()
    )
    report_line(f"bytes each host pulled from the registry: {pulled}")
    report_line(f"bring-up with pulls, pulumi up timeline (s since the CLI started): {_timeline(run.up)}")
    starts = ", ".join(f"{service} {seconds:.1f} s" for service, seconds in run.task_starts.items())
    report_line(f"bring-up with pulls, from each service's creation to its task running (its pull): {starts}")
    # Every run pulled what it runs from the registry onto the manager (the single stack's one host):
    # at least each image's own layer (the 2 MB base layer all stand-ins share may be there already).
    for phase, expected in (("pulumi up", old_bytes), ("setup.sh-style", old_bytes)):
        assert run.pulled[phase].get(manager.address, 0) >= expected, (phase, run.pulled[phase])
    for phase in ("pulumi up (upgrade)", "setup.sh-style (upgrade)"):
        assert run.pulled[phase].get(manager.address, 0) >= new_bytes, (phase, run.pulled[phase])

"""The `single` stack through the real Pulumi engine and providers, on the private manager engine.

Each test starts from the state it needs (`deployed` brings the stack to its base config, or
`fresh` takes it all down), so any test passes when run alone.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docker_api import wait_until
from engine_hosts import EngineHost
from harness import run_program
from pulumi_cli import PulumiHome, PulumiProject, planned_operations
from single_stack import (
    DASHBOARD_PORT,
    VOLUMES,
    WEB_PORT,
    SilenceMeter,
    all_running,
    engine_time,
    new_project,
    on_private_engine,
    overlay_address,
    remove_volumes,
    running_since,
    task_sysctl,
    volume_file,
    volume_names,
    wait_for_web,
    write_markers,
)

from components.wipp import SEED_VOLUME_NAMES, SERVICE_NAMES

BASE: dict[str, Any] = {"version": "2.2.0", "memory": "4G"}
UPGRADED = {
    name: "update"
    for service in ("master", "wipp", "exec")
    for name in (f"images-{service}-wipp-host", service, f"{service}-running")
}
UPGRADED["backup-before-upgrade"] = "update"  # the backup before the first service changes
UPGRADED["web-answers"] = "update"  # the wait until WIPP answers runs again after every change of a service
UPGRADED["preflight-wipp-host"] = "update"  # new images: the free disk compared with what they need


@pytest.fixture(scope="module")
def project(
    pulumi_home: PulumiHome, manager: EngineHost, images: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PulumiProject]:
    made = new_project(pulumi_home, tmp_path_factory.mktemp("single"), manager)
    made.set_config(on_private_engine(manager, **BASE))
    yield made
    made.destroy(check=False)
    remove_volumes(manager, VOLUMES)


def deploy(project: PulumiProject, manager: EngineHost, **overrides: Any) -> None:
    project.set_config(on_private_engine(manager, **{**BASE, **overrides}))
    project.up()


@pytest.fixture
def deployed(project: PulumiProject, manager: EngineHost) -> PulumiProject:
    """The stack up with its base config (a no-op `up` when it already is)."""
    deploy(project, manager)
    wait_until(lambda: all_running(manager), 60, 0.2, "the four services running")
    return project


@pytest.fixture
def fresh(project: PulumiProject, manager: EngineHost) -> PulumiProject:
    """Nothing deployed and no volumes: a new user's first `pulumi up`."""
    project.set_config(on_private_engine(manager, **BASE))
    project.destroy()
    remove_volumes(manager, VOLUMES)
    return project


def test_a_new_stack_previews_exactly_its_creates_then_comes_up_in_order(
    fresh: PulumiProject, manager: EngineHost
) -> None:
    # Preview: one create for every resource the program declares (read from the program under
    # mocks), and nothing else.
    declared = {r.name for r in run_program("single", on_private_engine(manager, **BASE)).resources}
    planned = planned_operations(fresh.preview("--json").stdout)
    assert set(planned.values()) == {"create"}
    assert set(planned) - {"wipp-single"} == declared

    up = fresh.up()
    assert set(up.operations().values()) == {"create"}

    # Each service was created only after the one before was running, by the engine's own clock.
    services = manager.engine.services()
    for before, after in zip(SERVICE_NAMES, SERVICE_NAMES[1:], strict=False):
        assert engine_time(services[after]["CreatedAt"]) > running_since(manager, before), (before, after)

    # WIPP answers on the host's address; the stand-in web service reached master and mongodb by name.
    report = dict(line.split("=", 1) for line in wait_for_web(manager).splitlines())
    assert report["args"] == "master mongodb" and report["version"] == "2.2.0"
    assert report["reached"] == "master:9618 mongodb:27017"
    for name in ("master", "mongodb"):  # each name resolved to that service's own task on wippnet
        assert report[name] == f"{name} {overlay_address(manager, name, 'wippnet')}"
    assert manager.engine.http_get(DASHBOARD_PORT, "/", manager.address) is not None
    # Every task keeps idle TCP connections alive below IPVS's 900 s, in its own network namespace.
    for name in SERVICE_NAMES:
        assert task_sysctl(manager, name, "net.ipv4.tcp_keepalive_time") == "600", name

    outputs = fresh.outputs()
    node_id = manager.engine.request("GET", "/info")["Swarm"]["NodeID"]
    assert outputs["webUrl"] == f"http://{manager.address}:{WEB_PORT}"
    assert outputs["dashboardUrl"] == f"https://{manager.address}:{DASHBOARD_PORT}"
    assert outputs["services"] == {name: name for name in SERVICE_NAMES}
    assert outputs["nodes"] == [{"name": "wipp-host", "address": manager.address, "role": "manager", "nodeId": node_id}]
    assert outputs["storage"] == {"mode": "volume", "sources": SEED_VOLUME_NAMES}
    assert outputs["preflight"]["wipp-host"]["swarm"] in ("none", "this")
    # Each service runs what its pull resolved (name:tag@digest from a registry, the tag for an imported image).
    assert outputs["images"] == {
        name: services[name]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] for name in SERVICE_NAMES
    }
    assert outputs["images"]["exec"].startswith("wipp/wipp_executor:2.2.0")

    fresh.preview("--expect-no-changes")
    fresh.refresh("--expect-no-changes")

    assert up.steps()["exec-running"][2] > up.steps()["mongodb"][1]  # the engine's own events, in order


def test_upgrade_from_2_1_0_updates_three_services_in_place_and_keeps_the_data(
    project: PulumiProject, manager: EngineHost
) -> None:
    deploy(project, manager, version="2.1.0")
    wait_for_web(manager, "version=2.1.0")
    before = {name: service["ID"] for name, service in manager.engine.services().items()}
    markers = write_markers(manager, VOLUMES, "upgrade-marker")

    project.set_config(on_private_engine(manager, **{**BASE, "version": "2.2.0"}))
    # Updates only: the three WIPP services, and the wait after each, which runs again for the new image.
    planned = planned_operations(project.preview("--json", "--diff").stdout)
    assert {name: op for name, op in planned.items() if op != "same"} == UPGRADED

    with SilenceMeter(manager) as meter:
        up = project.up()
    assert {name: op for name, op in up.operations().items() if op != "same"} == UPGRADED
    assert {name: service["ID"] for name, service in manager.engine.services().items()} == before
    wait_for_web(manager, "version=2.2.0")
    for volume, text in markers.items():
        assert volume_file(manager, volume, "upgrade-marker").read_text() == text
    assert meter.answers, "the web port never answered during the upgrade"


def test_more_memory_updates_only_exec(deployed: PulumiProject, manager: EngineHost) -> None:
    deployed.set_config(on_private_engine(manager, **{**BASE, "memory": "8G"}))
    planned = planned_operations(deployed.preview("--json").stdout)
    only_exec = {"exec": "update", "exec-running": "update", "web-answers": "update"}
    assert {name: op for name, op in planned.items() if op != "same"} == only_exec
    up = deployed.up()
    assert {name: op for name, op in up.operations().items() if op != "same"} == only_exec
    spec = manager.engine.services()["exec"]["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert spec["Args"] == ["-e", "master", "8G"]
    wait_until(
        lambda: "memory=8G" in volume_file(manager, "wippdatavolume", "standin-executor.txt").read_text(),
        60,
        0.2,
        "exec restarted with 8G",
    )


def test_destroy_keeps_volumes_and_the_next_up_reads_them_back(deployed: PulumiProject, manager: EngineHost) -> None:
    mongod_starts = volume_file(manager, "wippdbvolume", "standin-mongod.log").read_text().count("start")
    markers = write_markers(manager, VOLUMES, "destroy-marker")

    destroyed = deployed.destroy()
    deleted = {name for name, op in destroyed.operations().items() if op == "delete"}
    assert {*SERVICE_NAMES, "network-wippnet"} <= deleted
    assert not set(SERVICE_NAMES) & set(manager.engine.services())
    assert set(VOLUMES) <= volume_names(manager)

    deployed.up()  # at once, as `pulumi destroy && pulumi up` would
    wait_until(lambda: all_running(manager), 60, 0.2, "the four services after the second up")
    for volume, text in markers.items():
        assert volume_file(manager, volume, "destroy-marker").read_text() == text
    # mongodb's own files are the same ones: one more start logged on the kept volume.
    log = volume_file(manager, "wippdbvolume", "standin-mongod.log").read_text()
    assert log.count("start") == mongod_starts + 1


def test_volumes_go_only_when_delete_data_on_destroy_is_true(
    deployed: PulumiProject, manager: EngineHost, images: list[str]
) -> None:
    deployed.destroy()
    names = {key: f"ask-delete-{key}" for key in ("wippdb", "wippdata", "pegasusdb", "pegasusdata")}
    deployed.set_config(
        on_private_engine(manager, **BASE, deleteDataOnDestroy=True, storage={"mode": "volume", "names": names})
    )
    try:
        deployed.up()
        assert set(names.values()) <= volume_names(manager)
        deployed.destroy()
        remaining = volume_names(manager)
        assert not set(names.values()) & remaining
        assert set(VOLUMES) <= remaining  # the stack's usual volumes were never touched
    finally:
        deployed.destroy(check=False)
        remove_volumes(manager, list(names.values()))


def test_bad_config_stops_preview_with_the_programs_message_and_creates_nothing(
    fresh: PulumiProject, manager: EngineHost, swarm: str
) -> None:
    # `swarm`: the engine is a swarm manager, so that it can answer which services there are.
    config = on_private_engine(manager, **{**BASE, "memory": "4 gigabytes", "webPort": 80800})
    # A local host at an address the manager's namespace, where pulumi runs, does not have (a typo).
    config["hosts"] = [{**config["hosts"][0], "address": "10.123.45.67"}]
    fresh.set_config(config)
    # The version as a user might type it, unquoted: YAML's number 2.1, which the CLI hands on as "2.1".
    stack_file = fresh.stack_file.read_text()
    assert "wipp:version: 2.2.0\n" in stack_file
    fresh.stack_file.write_text(stack_file.replace("wipp:version: 2.2.0\n", "wipp:version: 2.10\n"))
    preview = fresh.preview(check=False)
    assert preview.returncode != 0
    text = preview.stdout + preview.stderr
    assert "4 mistakes in the stack's wipp:* config:" in text
    assert "wipp:memory" in text and "4 gigabytes" in text and "size[g|G|m|M|k|K]" in text
    assert "wipp:webPort" in text and "80800" in text
    assert "config wipp:version = 2.1 is invalid: expected the value in quotes, wipp:version: '2.10'" in text
    assert "config wipp:hosts[0].address = '10.123.45.67' is invalid: expected an address of this machine" in text
    up = fresh.up(check=False)
    assert up.returncode != 0
    assert not set(SERVICE_NAMES) & set(manager.engine.services())
    in_state = json.loads(fresh.export())["deployment"].get("resources") or []
    assert {r["type"] for r in in_state} <= {"pulumi:pulumi:Stack"}


def test_an_engine_that_does_not_answer_stops_preview_and_up_with_the_programs_message(
    fresh: PulumiProject, manager: EngineHost, tmp_path: Path, report_line: Callable[[str], None]
) -> None:
    # A wrong wipp:dockerHost (no socket there), and a socket nothing listens on (an engine that died).
    missing = tmp_path / "no-such-folder" / "docker.sock"
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bound:
        bound.bind(str(stale))  # the file stays after close; a connection to it is refused
    timings = []
    for endpoint, reason in ((missing, f"there is no socket at {missing}"), (stale, "Cannot connect")):
        fresh.set_config(on_private_engine(manager, **{**BASE, "dockerHost": f"unix://{endpoint}"}))
        for verb in ("preview", "up"):
            started = time.monotonic()
            if verb == "preview":
                previewed = fresh.preview(check=False)
                returncode, text = previewed.returncode, previewed.stdout + previewed.stderr
            else:
                upped = fresh.up(check=False)
                returncode, text = upped.returncode, upped.output
            timings.append(time.monotonic() - started)
            assert returncode != 0
            assert (
                f"the Docker Engine of the first manager does not answer at unix://{endpoint} (wipp:dockerHost)" in text
            )
            assert reason in text and "systemctl status docker" in text and "Nothing was changed" in text, text
            assert "failed to connect to any docker daemon" not in text  # the provider never got that far
    assert not set(SERVICE_NAMES) & set(manager.engine.services())
    in_state = json.loads(fresh.export())["deployment"].get("resources") or []
    # The program's invokes (its last outputs, the engine check) record their default providers, nothing else.
    assert {r["type"] for r in in_state} <= {
        "pulumi:pulumi:Stack",
        "pulumi:providers:pulumi",
        "pulumi:providers:command",
    }
    report_line(f"engine not answering: preview and up refused in {min(timings):.1f}-{max(timings):.1f} s")


def test_wrong_types_come_in_the_programs_one_report_with_every_other_mistake(
    fresh: PulumiProject, manager: EngineHost, swarm: str
) -> None:
    # A word where Pulumi.yaml's default is a number, a number where it is a boolean, and a mistake
    # of another kind. Were a type declared in Pulumi.yaml, the CLI would stop first, on one key.
    wrong = {"webPort": "http", "manageFirewall": 3, "memory": "4 gigabytes"}
    fresh.set_config(on_private_engine(manager, **{**BASE, **wrong}))
    preview = fresh.preview(check=False)
    assert preview.returncode != 0
    text = preview.stdout + preview.stderr
    assert "must be of type" not in text  # the CLI's own check, which names one key and no value
    assert "3 mistakes in the stack's wipp:* config:" in text
    for mistake in (
        "config wipp:webPort = 'http' is invalid: expected a TCP port number from 1 to 65535",
        "config wipp:manageFirewall = '3' is invalid: expected true or false",
        "config wipp:memory = '4 gigabytes' is invalid: expected a whole positive size with a unit",
    ):
        assert text.count(mistake) >= 1, f"{mistake!r} not in the report:\n{text}"
    assert not set(SERVICE_NAMES) & set(manager.engine.services())
    in_state = json.loads(fresh.export())["deployment"].get("resources") or []
    assert {r["type"] for r in in_state} <= {"pulumi:pulumi:Stack"}


def test_a_service_removed_by_hand_is_reported_by_refresh_and_recreated_by_up(
    deployed: PulumiProject, manager: EngineHost
) -> None:
    manager.engine.request("DELETE", "/services/exec")
    drift = deployed.refresh("--expect-no-changes", check=False)
    assert drift.returncode != 0
    assert "exec" in drift.stdout + drift.stderr
    deployed.refresh()
    assert "exec" not in deployed.resources()
    up = deployed.up()
    # exec is created again, and its wait runs again for the new service.
    assert {name: op for name, op in up.operations().items() if op != "same"} == {
        "exec": "create",
        "exec-running": "update",
        "web-answers": "update",
    }
    wait_until(lambda: manager.engine.running_tasks("exec") == 1, 60, 0.2, "exec running again")


def test_renaming_the_network_moves_every_service_in_one_up(deployed: PulumiProject, manager: EngineHost) -> None:
    try:
        deploy(deployed, manager, network="wippnet2")
        networks = {name: s["Spec"]["TaskTemplate"]["Networks"] for name, s in manager.engine.services().items()}
        new_id = manager.engine.request("GET", "/networks/wippnet2")["Id"]
        assert all([n["Target"] for n in nets] == [new_id] for nets in networks.values()), networks
        assert not manager.engine.network_exists("wippnet")
        wait_for_web(manager)
    finally:
        deploy(deployed, manager)
    assert not manager.engine.network_exists("wippnet2")


def test_an_upgrade_to_a_missing_image_stops_at_its_pull_before_any_service_changes(
    deployed: PulumiProject, manager: EngineHost
) -> None:
    before = {name: service["Version"]["Index"] for name, service in manager.engine.services().items()}
    deployed.set_config(on_private_engine(manager, **{**BASE, "version": "9.9.9-missing"}))
    with SilenceMeter(manager) as meter:
        failed = deployed.up(check=False)
    assert failed.returncode != 0
    # The pull names the host, the image and the registry's (here: the engine's) reason; no service was touched.
    assert "pull: wipp-host: cannot pull wipp/wipp_master:9.9.9-missing: " in failed.output, failed.output
    assert "no service was changed" in failed.output
    # One screen: the command pulumi-command quotes is the one-line runner, not the ~5 KB script.
    assert "image_canonical()" not in failed.output and "set -eu" not in failed.output
    quoted = [line for line in failed.output.splitlines() if "error: exit status 1: running" in line]
    assert quoted and all(len(line) < 240 for line in quoted), quoted
    assert {name: service["Version"]["Index"] for name, service in manager.engine.services().items()} == before
    assert not {op for name, op in failed.operations().items() if name in SERVICE_NAMES} - {"same"}
    assert meter.polls > 10 and meter.silent_seconds == 0.0
    deploy(deployed, manager)
    deployed.preview("--expect-no-changes")


def test_an_update_whose_task_dies_rolls_back_and_says_which_service(
    deployed: PulumiProject, manager: EngineHost
) -> None:
    before = manager.engine.services()["master"]["Spec"]["TaskTemplate"]["ContainerSpec"]
    # The master stand-in exits at once on any argument but -m: the new task dies, the swarm rolls back.
    deployed.set_config(on_private_engine(manager, **{**BASE, "serviceArgs": {"master": ["--not-m"]}}))
    with SilenceMeter(manager) as meter:
        failed = deployed.up(check=False)
    assert failed.returncode != 0
    assert "service master: the update to wipp/wipp_master:2.2.0" in failed.output, failed.output
    assert "so the swarm rolled it back" in failed.output and "the services after it were not updated" in failed.output
    spec = manager.engine.services()["master"]["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert spec.get("Args") == before.get("Args") == ["-m"]
    assert meter.polls > 10 and meter.silent_seconds == 0.0
    wait_until(lambda: manager.engine.running_tasks("master") == 1, 60, 0.2, "master running after the rollback")
    deploy(deployed, manager)
    deployed.preview("--expect-no-changes")


HOLD_PORT = """
import socket, sys, time
deadline = time.monotonic() + 30
while True:  # the old wipp task's port goes a moment after the service does
    try:
        held = socket.create_server(("0.0.0.0", int(sys.argv[1])))
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.2)
print("held", flush=True)
time.sleep(300)
"""


def test_a_task_that_can_never_start_ends_the_wait_with_its_error(deployed: PulumiProject, manager: EngineHost) -> None:
    # wipp created again while another program holds its web port: each task fails to bind it.
    manager.engine.request("DELETE", "/services/wipp")
    deployed.refresh()
    prefix = ["nsenter", f"--net={manager.engine.netns}"] if manager.engine.netns else []
    holder = subprocess.Popen(
        [*prefix, sys.executable, "-c", HOLD_PORT, str(WEB_PORT)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        failed = deployed.up(check=False)
        took = time.monotonic() - started
        print(f"a task that can never start: up failed after {took:.1f} s (wipp:convergeTimeout 20m)")
        assert failed.returncode != 0
        assert "service wipp: its task on wipp/wipp:2.2.0" in failed.output, failed.output
        assert "failed 3 times in a row, the last with: " in failed.output
        assert "address already in use" in failed.output
        assert "wipp:convergeTimeout" not in failed.output  # the fast end, not the timeout
        assert "exec" not in {n for n, op in failed.operations().items() if op != "same"}
    finally:
        holder.kill()
        holder.wait(timeout=30)
    deploy(deployed, manager)  # the port free again: the same up brings wipp back
    wait_for_web(manager)

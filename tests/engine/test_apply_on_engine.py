"""The single stack's resource specs applied for real, through the provider stand-in.

One flow, in order: bring-up, destroy and bring-up again with nothing lost, an
upgrade in place, then the timing against a setup.sh-style baseline.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from docker_api import wait_until
from engine_hosts import EngineHost, engine_overrides
from harness import Deployment, run_program
from provider_standin import ProviderStandIn

ORDER = ["mongodb", "master", "wipp", "exec"]
VOLUMES = ["wippdbvolume", "wippdatavolume", "pegasusdbvolume", "pegasusdatavolume"]
WEB_PORT = 18080
BASELINE_POLL = 5.0  # the seed's setup script polled `docker service ls` every 5 s


def _program(manager: EngineHost, version: str = "2.2.0", memory: str = "6G") -> Deployment:
    return run_program("single", engine_overrides(manager, version=version, memory=memory))


def _volume_file(manager: EngineHost, volume: str, name: str) -> Path:
    return Path(manager.engine.volume_mountpoint(volume)) / name


def _engine_time(stamp: str) -> datetime:
    """An Engine API timestamp (RFC 3339, nanoseconds) as a datetime (microseconds)."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}+00:00")


def _running_since(manager: EngineHost, service: str) -> datetime:
    tasks = manager.engine.request("GET", "/tasks", query={"filters": json.dumps({"service": [service]})})
    running = [t for t in tasks if t["Status"]["State"] == "running"]
    assert len(running) == 1, f"{service}: {len(running)} running tasks"
    return _engine_time(running[0]["Status"]["Timestamp"])


def _all_up(manager: EngineHost) -> bool:
    services = manager.engine.services()
    return (
        all(name in services and manager.engine.running_tasks(name) == 1 for name in ORDER)
        and manager.engine.http_get(WEB_PORT) is not None
    )


class BringUpClock:
    """Time from start until the four services run and the web port answers, polled every 0.1 s."""

    def __init__(self, manager: EngineHost) -> None:
        self._manager = manager
        self._stop = threading.Event()
        self.seconds: float | None = None

    def __enter__(self) -> BringUpClock:
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        deadline = self._start + 600
        while not self._stop.is_set() and time.monotonic() < deadline:
            if _all_up(self._manager):
                self.seconds = time.monotonic() - self._start
                return
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=120)
        self._stop.set()


@pytest.fixture(scope="module")
def standin(manager: EngineHost, swarm: str, images: list[str]) -> Iterator[ProviderStandIn]:
    applier = ProviderStandIn(manager.engine)
    yield applier
    if applier.state:
        applier.destroy()


def test_bring_up_in_order_with_the_configured_contract(manager: EngineHost, standin: ProviderStandIn) -> None:
    standin.up(_program(manager))

    # Each service was created only after the one before ran 1/1: by the stand-in's clock,
    # and by the engine's own timestamps.
    timings = standin.timings
    services = manager.engine.services()
    for before, after in zip(ORDER, ORDER[1:], strict=False):
        assert timings[before].running_at < timings[after].created_at, (before, after)
        assert _engine_time(services[after]["CreatedAt"]) > _running_since(manager, before), (before, after)
    assert all(manager.engine.running_tasks(name) == 1 for name in ORDER)

    # The web port answers, and wipp resolved both names it was given on the overlay network.
    assert manager.engine.http_get(WEB_PORT) is not None
    report = dict(line.split("=", 1) for line in (manager.engine.http_get(WEB_PORT, "/report.txt") or "").splitlines())
    assert report["args"] == "master mongodb"
    assert report["version"] == "2.2.0"
    for name in ("master", "mongodb"):
        resolved_name, resolved_ip = report[name].split()
        assert resolved_name == name and resolved_ip.startswith("10.")
    assert report["reached"] == "master:9618 mongodb:27017"  # both answer on their ports
    assert manager.engine.http_get(15005) is not None  # the dashboard port too

    # exec got `-e master <memory>` and reached the master.
    executor = _volume_file(manager, "wippdatavolume", "standin-executor.txt").read_text()
    assert "master=master" in executor and "reached" in executor and "memory=6G" in executor
    exec_spec = manager.engine.services()["exec"]["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert exec_spec["Args"] == ["-e", "master", "6G"]

    # Volumes carry the configured names and are mounted where the config says.
    volumes = {v["Name"] for v in manager.engine.request("GET", "/volumes")["Volumes"]}
    assert set(VOLUMES) <= volumes
    mongo_mounts = manager.engine.services()["mongodb"]["Spec"]["TaskTemplate"]["ContainerSpec"]["Mounts"]
    assert [(m["Source"], m["Target"]) for m in mongo_mounts] == [("wippdbvolume", "/data/db")]
    assert "start" in _volume_file(manager, "wippdbvolume", "standin-mongod.log").read_text()

    # The swarm-init command really ran (as a no-op on this swarm) and its node pins wipp.
    wipp_constraints = manager.engine.services()["wipp"]["Spec"]["TaskTemplate"]["Placement"]["Constraints"]
    assert wipp_constraints == [f"node.id=={manager.engine.request('GET', '/info')['Swarm']['NodeID']}"]


def test_destroy_keeps_data_and_the_next_up_finds_it(manager: EngineHost, standin: ProviderStandIn) -> None:
    mongod_starts = _volume_file(manager, "wippdbvolume", "standin-mongod.log").read_text().count("start")
    markers = {volume: f"marker {volume} {time.time()}" for volume in VOLUMES}
    for volume, text in markers.items():
        _volume_file(manager, volume, "marker.txt").write_text(text)

    standin.destroy()
    assert not set(ORDER) & set(manager.engine.services())
    assert "wippnet" not in {n["Name"] for n in manager.engine.request("GET", "/networks")}
    assert set(VOLUMES) <= {v["Name"] for v in manager.engine.request("GET", "/volumes")["Volumes"]}

    standin.up(_program(manager))
    wait_until(lambda: _all_up(manager), timeout=60, interval=0.5, what="services after the second up")
    for volume, text in markers.items():
        assert _volume_file(manager, volume, "marker.txt").read_text() == text
    # mongodb's own files survived too: one more start, logged on the same volume.
    assert _volume_file(manager, "wippdbvolume", "standin-mongod.log").read_text().count("start") == mongod_starts + 1


def test_upgrade_from_2_1_0_updates_in_place_and_keeps_data(manager: EngineHost, standin: ProviderStandIn) -> None:
    standin.destroy()
    standin.up(_program(manager, version="2.1.0"))
    before = {name: service["ID"] for name, service in manager.engine.services().items()}
    assert manager.engine.services()["wipp"]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "wipp/wipp:2.1.0"
    marker = f"upgrade marker {time.time()}"
    for volume in VOLUMES:
        _volume_file(manager, volume, "upgrade.txt").write_text(marker)

    standin.up(_program(manager, version="2.2.0"))
    after = manager.engine.services()
    assert {name: service["ID"] for name, service in after.items()} == before  # same services, updated
    images = {name: after[name]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] for name in ORDER}
    assert images == {
        "mongodb": "mongo:3.4",
        "master": "wipp/wipp_master:2.2.0",
        "wipp": "wipp/wipp:2.2.0",
        "exec": "wipp/wipp_executor:2.2.0",
    }
    wait_until(
        lambda: "version=2.2.0" in (manager.engine.http_get(WEB_PORT, "/report.txt") or ""),
        timeout=60,
        interval=0.5,
        what="the upgraded web service",
    )
    for volume in VOLUMES:
        assert _volume_file(manager, volume, "upgrade.txt").read_text() == marker


def _setup_sh_style(manager: EngineHost, deployment: Deployment) -> None:
    """The seed's way: `docker service create` one by one, `docker service ls` every 5 s until 1/1."""
    for name in ORDER:
        inputs = deployment.named(name).inputs
        container = inputs["taskSpec"]["containerSpec"]
        flags = [
            "--detach",
            "--no-resolve-image",
            "--name",
            name,
            "--network",
            "wippnet",
            "--endpoint-mode",
            inputs["endpointSpec"]["mode"],
        ]
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
            time.sleep(BASELINE_POLL)
        else:
            raise TimeoutError(f"baseline: {name} not 1/1 after 10 minutes")


def test_bring_up_time_against_a_setup_sh_style_baseline(
    manager: EngineHost, standin: ProviderStandIn, report_line: Callable[[str], None]
) -> None:
    deployment = _program(manager, memory="4G")
    standin.destroy()
    with BringUpClock(manager) as program_clock:
        standin.up(deployment)
    standin.destroy()

    manager.engine.request(
        "POST", "/networks/create", {"Name": "wippnet", "Driver": "overlay", "Attachable": True, "CheckDuplicate": True}
    )
    try:
        with BringUpClock(manager) as baseline_clock:
            _setup_sh_style(manager, deployment)
    finally:
        for name in reversed(ORDER):
            manager.engine.cli("service", "rm", name, check=False)
        wait_until(lambda: not manager.engine.request("GET", "/containers/json"), 60, 0.2, "baseline containers gone")
        manager.engine.request("DELETE", "/networks/wippnet")
        # The next test creates wippnet again: the name must be free first.
        wait_until(lambda: not manager.engine.network_exists("wippnet"), 60, 0.2, "wippnet removed")

    assert program_clock.seconds is not None and baseline_clock.seconds is not None
    ratio = program_clock.seconds / baseline_clock.seconds
    line = (
        f"bring-up: {program_clock.seconds:.1f} s; "
        f"setup.sh-style baseline: {baseline_clock.seconds:.1f} s; ratio {ratio:.2f}"
    )
    report_line(line)
    waits = ", ".join(f"{name} {t.running_at - t.created_at:.1f} s" for name, t in standin.timings.items())
    report_line(f"program: create -> seen running per service: {waits}")
    # Timings are reported, never asserted: CI machines are too noisy for that.


def test_volumes_are_deleted_only_when_asked(manager: EngineHost, standin: ProviderStandIn) -> None:
    standin.destroy()
    names = {key: f"ask-delete-{key}" for key in ("wippdb", "wippdata", "pegasusdb", "pegasusdata")}
    asked = run_program(
        "single",
        engine_overrides(manager, deleteDataOnDestroy=True, storage={"mode": "volume", "names": names}),
    )
    standin.up(asked)
    existing = {v["Name"] for v in manager.engine.request("GET", "/volumes")["Volumes"]}
    assert set(names.values()) <= existing
    standin.destroy()
    remaining = {v["Name"] for v in manager.engine.request("GET", "/volumes")["Volumes"]}
    assert not set(names.values()) & remaining
    assert set(VOLUMES) <= remaining  # the stack's usual volumes were never touched

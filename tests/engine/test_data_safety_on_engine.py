"""Each stack's data is its own, and `up` ends when WIPP answers: the real engine, on the private manager.

Every stack here has volume names, a network, service names and ports of its own (apart from the
other engine tests'), and is destroyed, its volumes removed, at the end of its test.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_proxy import HoldingProxy, holding_proxy
from docker_api import EngineError, wait_until
from engine_hosts import EngineHost
from harness import REPO
from pulumi_cli import PulumiHome, PulumiProject
from single_stack import new_project, on_private_engine, remove_volumes, volume_file, volume_names, write_markers

from components.wipp import SERVICE_NAMES, STORAGE_KEYS


def _names(prefix: str) -> dict[str, Any]:
    """A stack's own names: volumes, network, services; and its ports (`prefix` is e.g. 'dsa')."""
    return {
        "storage": {"mode": "volume", "names": {key: f"{prefix}-{key}" for key in STORAGE_KEYS}},
        "network": f"{prefix}net",
        "serviceNames": {service: f"{prefix}-{service}" for service in SERVICE_NAMES},
    }


def _volumes(config: dict[str, Any]) -> list[str]:
    return list(config["storage"]["names"].values())


class Stacks:
    """The test's stacks; each is destroyed and its volumes removed at the end."""

    def __init__(self, home: PulumiHome, manager: EngineHost, workdir: Path) -> None:
        self.home, self.manager, self.workdir = home, manager, workdir
        self.made: list[tuple[PulumiProject, list[str]]] = []

    def new(self, stack: str, **config: Any) -> PulumiProject:
        (self.workdir / stack).mkdir()
        project = new_project(self.home, self.workdir / stack, self.manager, stack=stack)
        project.set_config(on_private_engine(self.manager, **config))
        self.made.append((project, _volumes(config)))
        return project

    def clean_up(self) -> None:
        """Every stack destroyed first, then the volumes: a stack's config may name another's volumes."""
        for project, _ in reversed(self.made):
            destroyed = project.destroy(check=False)
            if destroyed.returncode != 0:
                print(f"clean-up: destroy of {project.stack} failed:\n{destroyed.output[-3000:]}")
        remove_volumes(self.manager, sorted({v for _, volumes in self.made for v in volumes}))


@pytest.fixture
def stacks(pulumi_home: PulumiHome, manager: EngineHost, images: list[str], tmp_path: Path) -> Iterator[Stacks]:
    made = Stacks(pulumi_home, manager, tmp_path)
    yield made
    made.clean_up()


def _answers(manager: EngineHost, port: int, path: str = "/") -> str | None:
    return manager.engine.http_get(port, path, manager.address)


def _service_exists(manager: EngineHost, name: str) -> bool:
    """Whether the swarm has service `name` (no swarm yet: not)."""
    try:
        return name in manager.engine.services()
    except EngineError as error:
        if ": 503 " in str(error):  # not a swarm manager yet
            return False
        raise


def _service_ids(manager: EngineHost, names: dict[str, str]) -> dict[str, str]:
    services = manager.engine.services()
    return {name: services[name]["ID"] for name in names.values()}


def test_a_second_stack_is_refused_at_preview_and_with_its_own_names_both_run(
    stacks: Stacks, manager: EngineHost
) -> None:
    first_config = {**_names("dsa"), "webPort": 18380, "dashboardPort": 18381}
    first = stacks.new("single", **first_config)
    first.up()
    markers = write_markers(manager, _volumes(first_config), "first-stack")
    before = _service_ids(manager, first_config["serviceNames"])
    labels = {v: manager.engine.request("GET", f"/volumes/{v}")["Labels"] for v in _volumes(first_config)}
    assert labels == dict.fromkeys(_volumes(first_config), {"wipp.stack": "wipp/single"})

    # A second stack with the same names: refused at preview, naming the first stack and the keys.
    second = stacks.new("second", **first_config)
    refused = second.preview(check=False)
    text = refused.stdout + refused.stderr
    assert refused.returncode != 0
    for expected in (
        "this stack would take what belongs to another stack on the same engine",
        "volume dsa-wippdb (wipp:storage.names.wippdb) belongs to stack wipp/single",
        "network dsanet (wipp:network) belongs to stack wipp/single: set wipp:network",
        "service dsa-mongodb (wipp:serviceNames.mongodb) belongs to stack wipp/single",
        "port 18380 (wipp:webPort or wipp:dashboardPort) is published by dsa-wipp of stack wipp/single",
    ):
        assert expected in text, (expected, text[-3000:])
    up = second.up(check=False)
    assert up.returncode != 0 and "belongs to stack wipp/single" in up.output
    in_state = {r["type"] for r in json.loads(second.export())["deployment"].get("resources") or []}
    assert not {t for t in in_state if t.startswith(("docker:index", "command:local:", "command:remote:"))}, in_state
    # Nothing of the first was touched.
    assert _service_ids(manager, first_config["serviceNames"]) == before
    for volume, text_ in markers.items():
        assert volume_file(manager, volume, "first-stack").read_text() == text_

    # A volume of the first stack's, under another name in the second stack's config: still refused.
    borrowed = _names("dsb")
    borrowed["storage"]["names"]["wippdata"] = "dsa-wippdata"
    second.set_config(on_private_engine(manager, **borrowed, webPort=18390, dashboardPort=18391))
    again = second.preview(check=False)
    assert again.returncode != 0
    assert (
        "volume dsa-wippdata (wipp:storage.names.wippdata) belongs to stack wipp/single" in again.stdout + again.stderr
    )

    # With names and ports of its own, both run; destroying the second with deleteDataOnDestroy leaves
    # the first's data and services as they were.
    second_config = {**_names("dsb"), "webPort": 18390, "dashboardPort": 18391, "deleteDataOnDestroy": True}
    second.set_config(on_private_engine(manager, **second_config))
    second.up()
    assert _answers(manager, 18380) is not None and _answers(manager, 18390) is not None
    assert set(_volumes(second_config)) <= volume_names(manager)
    second.destroy()
    assert not set(_volumes(second_config)) & volume_names(manager)
    for volume, text_ in markers.items():
        assert volume_file(manager, volume, "first-stack").read_text() == text_
    assert _service_ids(manager, first_config["serviceNames"]) == before
    assert _answers(manager, 18380) is not None


def test_adopted_setup_sh_volumes_survive_delete_data_on_destroy_and_the_stacks_own_do_not(
    stacks: Stacks, manager: EngineHost
) -> None:
    config = {**_names("dsc"), "webPort": 18480, "dashboardPort": 18481, "deleteDataOnDestroy": True}
    adopted = ["dsc-wippdb", "dsc-wippdata"]  # made as NIST's setup.sh makes them: no label
    for volume in adopted:
        manager.engine.cli("volume", "create", volume)
    markers = write_markers(manager, adopted, "setup-sh-data")
    # WIPP's data as setup.sh's WIPP leaves it: its folder is UID 1000's, who runs WIPP's images.
    os.chown(volume_file(manager, "dsc-wippdata", "setup-sh-data").parent, 1000, 1000)
    project = stacks.new("single", **config)
    up = project.up()
    assert "dsc-wippdb was already there, unlabelled: using it, and it stays on destroy" in up.output
    project.preview("--expect-no-changes")  # the missing label of an adopted volume is no drift
    own = [v for v in _volumes(config) if v not in adopted]
    # mongodb started on the adopted volume: its files are next to the setup.sh data.
    assert volume_file(manager, "dsc-wippdb", "standin-mongod.log").exists()

    destroyed = project.destroy()
    remaining = volume_names(manager)
    assert set(adopted) <= remaining and not set(own) & remaining
    for volume, text in markers.items():
        assert volume_file(manager, volume, "setup-sh-data").read_text() == text
    assert "kept dsc-wippdb: this stack did not create it" in destroyed.output
    assert "deleted dsc-pegasusdb (wipp:deleteDataOnDestroy is true)" in destroyed.output


def test_up_returns_only_once_a_slow_wipp_answers_and_fails_naming_the_port_when_it_never_does(
    stacks: Stacks, manager: EngineHost, report_line: Callable[[str], None]
) -> None:
    slow = {**_names("dsd"), "webPort": 18580, "dashboardPort": 18581}
    slow["serviceArgs"] = {"wipp": ["{master}", "{mongodb}", "answer-after=10"]}
    project = stacks.new("single", **slow)
    up = project.up()
    returned = time.time()
    body = _answers(manager, 18580, "/report.txt")
    assert body is not None, "the web port did not answer right after up returned"
    report = dict(line.split("=", 1) for line in body.splitlines())
    assert int(report["answering"]) - int(report["started"]) >= 10  # the stand-in did wait
    assert int(report["answering"]) <= returned
    wait = up.steps()["web-answers"]
    report_line(
        f"slow wipp (answers 10 s after its start): web-answers waited {wait[2] - wait[1]:.1f} s; up {up.seconds:.1f} s"
    )

    never = {**slow, "serviceArgs": {"wipp": ["{master}", "{mongodb}", "never-answer"]}, "convergeTimeout": "30s"}
    project.set_config(on_private_engine(manager, **never))
    started = time.monotonic()
    failed = project.up(check=False)
    report_line(f"never-answering wipp: up failed after {time.monotonic() - started:.1f} s (convergeTimeout 30s)")
    assert failed.returncode != 0
    assert (
        f"web-answers: WIPP does not answer on {manager.address}: the web port 18580 (HTTP) and the dashboard port"
        " 18581 did not answer within 30 s (wipp:convergeTimeout)"
    ) in failed.output, failed.output[-3000:]
    wait_until(lambda: manager.engine.running_tasks("dsd-exec") == 1, 60, 0.5, "exec running (the chain got there)")


def _readme_recovery() -> list[list[str]]:
    """The commands of the README's *An interrupted `up`*, as words."""
    section = (REPO / "README.md").read_text().split("### An interrupted `up`", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line) for line in block.splitlines() if line.strip()]


@pytest.fixture
def held_master_create(manager: EngineHost) -> Iterator[HoldingProxy]:
    """The engine's API through a proxy that holds its answer to the create of `dse-master`
    (api_proxy.py): Ctrl-C then lands while that step still runs, on any machine's speed."""
    folder = Path(tempfile.mkdtemp(prefix="wipp-proxy.", dir="/tmp"))  # a short path: a socket's is at most 107
    try:
        with holding_proxy(folder / "docker.sock", manager.engine.docker_host, "dse-master") as proxy:
            yield proxy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_ctrl_c_twice_while_master_converges_then_the_readmes_recovery_brings_wipp_up(
    held_master_create: HoldingProxy, stacks: Stacks, manager: EngineHost
) -> None:
    proxy = held_master_create
    config = {**_names("dse"), "webPort": 18680, "dashboardPort": 18681, "dockerHost": proxy.docker_host}
    project = stacks.new("single", **config)
    try:
        interrupted = project.interrupted_up(lambda: proxy.held.is_set() and _service_exists(manager, "dse-master"))
    finally:
        proxy.release()
    assert proxy.held.is_set(), "the create of dse-master never reached the engine"
    assert interrupted.returncode != 0 and "update cancelled" in interrupted.stdout, interrupted.stdout[-2000:]
    pending = json.loads(project.export())["deployment"].get("pending_operations") or []
    assert [p["resource"]["urn"].rsplit("::", 1)[-1] for p in pending] == ["master"], pending

    # The symptom the README describes.
    stuck = project.up(check=False)
    assert stuck.returncode != 0
    assert "service dse-master already exists" in stuck.output and "1 pending operations" in stuck.output

    # The README's recovery, word for word but for this stack's names.
    commands = _readme_recovery()
    assert [c[:2] for c in commands] == [["pulumi", "refresh"], ["docker", "service"], ["pulumi", "up"]], commands
    refresh = [w for w in commands[0][1:] if w not in ("--stack", "single")]
    assert "--clear-pending-creates" in refresh
    project.on_stack(*refresh)
    manager.engine.cli(*[f"dse-{w}" if w == "master" else w for w in commands[1][1:]])
    project.up()
    assert _answers(manager, 18680) is not None
    project.preview("--expect-no-changes")

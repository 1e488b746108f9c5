"""The backup before an upgrade, the by-hand backup and the restore, through the real engine.

The stand-in `mongo` answers `mongodump --archive` and `mongorestore --archive` over the overlay
network only (`standins/mongodb.sh`), and logs each dump and restore it serves in its own files:
a backup that went around the database would neither find its documents nor show in that log.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docker_api import wait_until
from engine_hosts import EngineHost
from pulumi_cli import PulumiHome, PulumiProject
from single_stack import (
    VOLUMES,
    SilenceMeter,
    all_running,
    new_project,
    on_private_engine,
    remove_volumes,
    volume_file,
    wait_for_web,
    write_markers,
)

FILE_VOLUMES = [v for v in VOLUMES if v != "wippdbvolume"]  # wippdb is mongodb's: written through it
STACK = "single"


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("backups")


@pytest.fixture(scope="module")
def project(
    pulumi_home: PulumiHome,
    manager: EngineHost,
    images: list[str],
    place: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PulumiProject]:
    made = new_project(pulumi_home, tmp_path_factory.mktemp("backup-stack"), manager)
    made.set_config(on_private_engine(manager, version="2.1.0", backupPlace=str(place)))
    made.destroy(check=False)
    remove_volumes(manager, VOLUMES)
    yield made
    made.destroy(check=False)
    remove_volumes(manager, VOLUMES)


def deploy(project: PulumiProject, manager: EngineHost, place: Path, **overrides: Any) -> None:
    config: dict[str, Any] = {"version": "2.1.0", "backupPlace": str(place), **overrides}
    project.set_config(on_private_engine(manager, **config))
    project.up()
    wait_until(lambda: all_running(manager), 60, 0.2, "the four services running")


def mongo(manager: EngineHost, *args: str) -> str:
    """The stand-in's client on the overlay network, as WIPP reaches mongodb."""
    return manager.engine.cli("run", "--rm", "--network", "wippnet", "mongo:3.4", *args).stdout


def backups(place: Path) -> list[str]:
    return sorted(p.name for p in place.glob(f"wipp-{STACK}-*") if p.is_dir())


def checksums_verify(folder: Path) -> bool:
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    sums: dict[str, str] = {}
    for line in lines:
        digest, name = line.split(maxsplit=1)
        sums[name] = digest
    assert {"MANIFEST", "wippdb.archive", "wippdata.tar.gz", "pegasusdb.tar.gz", "pegasusdata.tar.gz"} == set(sums)
    return all(hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest for name, digest in sums.items())


def run_tool(project: PulumiProject, place: Path, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    """An installed tool, run as the README says, on the first manager (the host's sandbox)."""
    return subprocess.run(
        [*(project.prefix or []), str(place / f"wipp-{STACK}-{tool}"), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_an_upgrade_backs_up_first_and_the_restore_puts_all_four_back(
    project: PulumiProject, manager: EngineHost, place: Path, report_line: Callable[[str], None]
) -> None:
    # A first deploy: nothing to back up, and the output says so.
    project.set_config(on_private_engine(manager, version="2.1.0", backupPlace=str(place)))
    first = project.up()
    assert "no backup: WIPP is not deployed yet" in first.output
    assert backups(place) == []
    wait_until(lambda: all_running(manager), 60, 0.2, "the four services running")
    wait_for_web(manager, "version=2.1.0")

    markers = write_markers(manager, FILE_VOLUMES, "backup-marker")
    volume_file(manager, "wippdatavolume", "images.bin").write_bytes(os.urandom(8 * 1024 * 1024))  # as images: dense
    document = f"before the upgrade {time.time_ns()}"
    mongo(manager, "standin-insert", "--host", "mongodb", "markers/upgrade", document)

    project.set_config(on_private_engine(manager, version="2.2.0", backupPlace=str(place)))
    up = project.up()
    steps = up.steps()
    taken = [name for name in backups(place) if name.endswith("-2.1.0-to-2.2.0")]
    assert len(taken) == 1, backups(place)
    backup = place / taken[0]
    # The backup ended before the first service began to change (the engine's own event log).
    assert steps["backup-before-upgrade"][0] == "update"
    first_change = min(
        start
        for name, (op, start, _) in steps.items()
        if name in ("mongodb", "master", "wipp", "exec") and op == "update"
    )
    assert steps["backup-before-upgrade"][2] < first_change
    assert checksums_verify(backup)
    manifest = (backup / "MANIFEST").read_text()
    assert (
        "stack=single" in manifest and "from.wipp=wipp/wipp:2.1.0" in manifest and "to.wipp=wipp/wipp:2.2.0" in manifest
    )
    # The dump went through the mongodb service: its own log shows it served one.
    assert " served to " in volume_file(manager, "wippdbvolume", "standin-mongod.log").read_text()
    wait_for_web(manager, "version=2.2.0")
    backup_seconds = steps["backup-before-upgrade"][2] - steps["backup-before-upgrade"][1]
    backup_mb = sum(f.stat().st_size for f in backup.iterdir()) / 1e6

    # New data after the upgrade, then the version set back (which backs up again) and the restore.
    write_markers(manager, FILE_VOLUMES, "backup-marker")
    volume_file(manager, "pegasusdatavolume", "after-the-upgrade").write_text("new")
    mongo(manager, "standin-insert", "--host", "mongodb", "markers/upgrade", "after the upgrade")
    mongo(manager, "standin-insert", "--host", "mongodb", "markers/later", "a later document")
    deploy(project, manager, place, version="2.1.0")
    assert len(backups(place)) == 2

    refused = run_tool(project, place, "restore")
    assert refused.returncode != 0 and taken[0] in refused.stdout.split()  # without a name: lists them
    started = time.monotonic()
    restored = run_tool(project, place, "restore", taken[0])
    restore_seconds = time.monotonic() - started
    assert restored.returncode == 0, restored.stderr
    assert "checksums verified" in restored.stderr

    for volume, text in markers.items():
        assert volume_file(manager, volume, "backup-marker").read_text() == text
    assert not volume_file(manager, "pegasusdatavolume", "after-the-upgrade").exists()
    assert mongo(manager, "standin-find", "--host", "mongodb", "markers/upgrade") == document
    found_later = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "wippnet",
            "mongo:3.4",
            "standin-find",
            "--host",
            "mongodb",
            "markers/later",
        ],
        env={"DOCKER_HOST": manager.engine.docker_host, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found_later.returncode != 0  # --drop: the collection is as it was in the backup
    served = volume_file(manager, "wippdbvolume", "standin-mongod.log").read_text().splitlines()
    assert [line for line in served if line.startswith("restore ") and "query=drop=1" in line]
    # Started again in WIPP's order, each once the one before ran; WIPP answers on the version of the data.
    order = [
        line.split(" runs again")[0].removeprefix("restore: ")
        for line in restored.stderr.splitlines()
        if " runs again" in line
    ]
    assert order == ["mongodb", "master", "wipp", "exec"]
    assert all_running(manager)
    wait_for_web(manager, "version=2.1.0")
    project.preview("--expect-no-changes")
    report_line(
        f"backup before upgrade: {backup_mb:.1f} MB in {backup_seconds:.1f} s; restore: {restore_seconds:.1f} s"
    )


def test_a_backup_that_cannot_be_written_stops_the_upgrade_before_anything_changes(
    project: PulumiProject, manager: EngineHost, place: Path, tmp_path: Path
) -> None:
    deploy(project, manager, place)
    wait_for_web(manager, "version=2.1.0")
    before = {
        name: s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] for name, s in manager.engine.services().items()
    }
    read_only = tmp_path / "read-only-backups"
    read_only.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", f"wipp-test-{read_only.name}", str(read_only)], check=True
    )
    try:
        project.set_config(on_private_engine(manager, version="2.2.0", backupPlace=str(read_only)))
        with SilenceMeter(manager, "/report.txt") as meter:
            failed = project.up(check=False)
        assert failed.returncode != 0
        assert "cannot write into the backup folder" in failed.output and "wipp:backupPlace" in failed.output
        assert not {"mongodb", "master", "wipp", "exec"} & set(failed.operations())  # no service was touched
        after = {
            name: s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] for name, s in manager.engine.services().items()
        }
        assert after == before
        assert meter.polls > 10 and meter.silent_seconds == 0.0
        assert meter.answers and all("version=2.1.0" in body for body in meter.answers)
    finally:
        subprocess.run(["umount", str(read_only)], check=True)
    deploy(project, manager, place)
    project.preview("--expect-no-changes")


def test_keeping_the_last_n_deletes_only_this_stacks_oldest(
    project: PulumiProject, manager: EngineHost, place: Path
) -> None:
    deploy(project, manager, place, backupKeep=2)
    others = {
        "wipp-single2-20200101T000000Z-2.1.0-manual": "stack=single2\n",  # another stack's backup
        "wipp-single-20200101T000000Z-notes": "",  # not one of the program's backups
    }
    for name, manifest in others.items():
        (place / name).mkdir()
        (place / name / "MANIFEST").write_text(manifest)
    before = [name for name in backups(place) if name not in others]
    taken = []
    for _ in range(3):
        result = run_tool(project, place, "backup")
        assert result.returncode == 0, result.stderr
        taken.append(result.stdout.strip())
        time.sleep(1)  # one backup's name per second (the time in the name)
    assert all(name.endswith("-2.1.0-manual") for name in taken)
    remaining = backups(place)
    assert [name for name in remaining if name not in others] == taken[-2:]
    assert set(others) <= {p.name for p in place.iterdir()} and not set(before) & set(remaining)
    for name in taken[-2:]:
        assert checksums_verify(place / name)

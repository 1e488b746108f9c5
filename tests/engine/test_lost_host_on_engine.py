"""A lost first manager: a new host at the same address, the state and the backup place kept.

The test owns the host (`isolated_engine.replaceable_engine`: a dockerd in a namespace of its own,
which it stops and starts again on a new, empty data-root at the same address and socket: the new
host's engine, in no swarm, with no volume and no image). The README's commands, read from README.md,
bring WIPP back with every document and file the backup holds.

DIFFERENCES from a user's new host: the host reaches no registry (isolated_engine), so the images are
`docker load`ed on it before the README's commands, as README's *Air-gapped hosts* says; the backup
place is a folder of the test's own (`/var/backups/wipp` in the README's commands is replaced by it);
`pulumi up` runs with `--yes --skip-preview` (non-interactive), as every engine test's does.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import standin_images
from docker_api import wait_until
from engine_hosts import EngineHost
from harness import REPO
from isolated_engine import replaceable_engine
from pulumi_cli import PulumiHome, PulumiProject
from single_stack import VOLUMES, all_running, new_project, on_private_engine, volume_file, wait_for_web, write_markers

FILE_VOLUMES = [v for v in VOLUMES if v != "wippdbvolume"]  # wippdb is mongodb's: written through it
README_PLACE = "/var/backups/wipp"


def readme_commands(which: str) -> list[list[str]]:
    """The commands of README's *A lost first manager* for `which` ("kept" or "lost"), as words."""
    section = (REPO / "README.md").read_text().split("### A lost first manager", 1)[1].split("\n## ", 1)[0]
    blocks = [part.split("```", 1)[0] for part in section.split("```bash\n")[1:]]
    block = blocks[0 if which == "kept" else 1]
    return [shlex.split(line.split("#", 1)[0]) for line in block.splitlines() if line.strip()]


def mongo(host: EngineHost, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The stand-in's client on the overlay network, as WIPP reaches mongodb."""
    return host.engine.cli("run", "--rm", "--network", "wippnet", "mongo:3.4", *args, check=check)


def run_as_written(project: PulumiProject, place: Path, words: list[str]) -> None:
    """One README command on the host: `pulumi …` through the test's CLI, a tool of the backup place as it is."""
    if words[0] == "pulumi":
        args = [w for w in words[1:] if w not in ("--stack", project.stack)]
        if args[0] == "up":
            project.up(*args[1:])
        else:
            project.cli(*args)
        return
    assert words[0].startswith(README_PLACE + "/"), words
    tool = place / words[0].removeprefix(README_PLACE + "/")
    result = subprocess.run(
        [*(project.prefix or []), str(tool), *words[1:]], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_new_host_at_the_first_managers_address_comes_back_with_the_readmes_commands(
    pulumi_home: PulumiHome,
    manager: EngineHost,
    images: list[str],
    tmp_path: Path,
    report_line: Callable[[str], None],
) -> None:
    archive = tmp_path / "wipp-images.tar"
    standin_images.save_for_air_gap(manager.engine, images, archive)
    place = tmp_path / "backups"
    commands = readme_commands("kept")
    assert [c[:2] for c in commands] == [
        ["pulumi", "up"],
        ["pulumi", "up"],
        [f"{README_PLACE}/wipp-single-restore", "latest"],
    ]

    with replaceable_engine() as host_engine:
        host = host_engine.host
        host.engine.cli("load", "--input", str(archive))
        (tmp_path / "stack").mkdir()
        project = new_project(pulumi_home, tmp_path / "stack", host)
        project.set_config(on_private_engine(host, version="2.2.0", backupPlace=str(place)))
        try:
            project.up()
            wait_until(lambda: all_running(host), 60, 0.2, "the four services running")
            wait_for_web(host)
            old_node = project.outputs()["nodes"][0]["nodeId"]

            files = write_markers(host, FILE_VOLUMES, "lost-host-marker")
            documents = {f"markers/doc{i}": f"document {i} {time.time_ns()}" for i in range(3)}
            for key, text in documents.items():
                mongo(host, "standin-insert", "--host", "mongodb", key, text)
            taken = subprocess.run(
                [*(project.prefix or []), str(place / "wipp-single-backup")],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert taken.returncode == 0, taken.stderr[-3000:]

            # The disk dies; a new host takes the address: its engine in no swarm, with no volume and no image.
            host_engine.new_disk()
            info = host.engine.request("GET", "/info")
            assert (
                info["Swarm"]["LocalNodeState"] == "inactive" and not host.engine.request("GET", "/volumes")["Volumes"]
            )
            # The symptom without this program's recovery: a refresh cannot read the services here.
            stuck = project.refresh(check=False)
            assert stuck.returncode != 0 and "not a swarm manager" in stuck.stdout + stuck.stderr

            host.engine.cli("load", "--input", str(archive))  # DIFFERENCE: an air-gapped host
            started = time.monotonic()
            for words in commands:
                run_as_written(project, place, words)
            wait_for_web(host)
            seconds = time.monotonic() - started

            for volume, text in files.items():
                assert volume_file(host, volume, "lost-host-marker").read_text() == text
            for key, text in documents.items():
                assert mongo(host, "standin-find", "--host", "mongodb", key).stdout == text
            outputs = project.outputs()
            assert outputs["nodes"][0]["nodeId"] != old_node and outputs["swarmGeneration"] == 1
            assert all_running(host)
            project.preview("--expect-no-changes")
            report_line(f"new host, state kept: WIPP answered with every document after {seconds:.1f} s")
        finally:
            project.destroy(check=False)

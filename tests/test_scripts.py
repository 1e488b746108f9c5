"""Host scripts: valid POSIX shell, strict mode, and safely quoted inputs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from components.scripts import SCRIPTS_DIR, render

SCRIPTS = sorted(p.name for p in SCRIPTS_DIR.glob("*.sh"))


def test_every_script_is_shipped() -> None:
    assert SCRIPTS == [
        "firewall-published-ports.sh",
        "firewall-swarm-ports.sh",
        "preflight.sh",
        "shared-folders.sh",
        "swarm-init.sh",
        "swarm-join.sh",
        "swarm-leave.sh",
        "swarm-roles.sh",
        "swarm-token.sh",
    ]


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse_and_run_in_strict_mode(script: str) -> None:
    text = (SCRIPTS_DIR / script).read_text()
    assert "\nset -eu\n" in text
    parsed = subprocess.run(["sh", "-n", "-c", render(script, X="1")], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr


def test_values_reach_the_script_exactly_as_given() -> None:
    tricky = "a b'c\"d $(touch /tmp/wipp-should-not-exist) `x` ;|&"
    script = render("swarm-token.sh", ROLE=tricky, docker_host="unix:///tmp/x y.sock")
    prefix = script[: script.index("#!/bin/sh")]
    shown = subprocess.run(
        ["sh", "-c", prefix + 'printf "%s|%s" "$ROLE" "$DOCKER_HOST"'], capture_output=True, text=True, check=True
    )
    assert shown.stdout == f"{tricky}|unix:///tmp/x y.sock"


def _folders(mode: str, folders: list[str], delete_data: bool = False, owner: str = "wipp:test") -> CompletedProcess:
    script = render(
        "shared-folders.sh",
        MODE=mode,
        FOLDERS="\n".join(folders),
        DELETE_DATA=str(delete_data).lower(),
        OWNER=owner,
    )
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)


def _needs_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("WIPP_REQUIRE_ENGINE") == "1":
            pytest.fail("folders owned by UID 1000 need root; .ci/run runs as root")
        pytest.skip("creating folders owned by UID 1000 needs root")


def test_shared_folders_refuses_a_relative_path() -> None:
    result = _folders("check", ["relative/db"])
    assert result.returncode != 0 and "not an absolute path" in result.stderr


def test_shared_folders_create_check_keep_and_delete_what_it_made(tmp_path: Path) -> None:
    _needs_root()
    folders = [str(tmp_path / "db"), str(tmp_path / "data")]
    create = _folders("create", folders)
    assert create.returncode == 0, create.stderr
    for name in ("db", "data"):
        stat = (tmp_path / name).stat()
        assert stat.st_uid == 1000 and stat.st_mode & 0o055 == 0o055
        assert (tmp_path / name / ".wipp-created-by").read_text() == "wipp:test\n"
    assert _folders("create", folders).returncode == 0  # again: nothing changes
    assert _folders("check", folders).returncode == 0
    keep = _folders("delete", folders)
    assert keep.returncode == 0 and (tmp_path / "db").is_dir() and "kept" in keep.stderr
    other_stack = _folders("delete", folders, delete_data=True, owner="wipp:other")
    assert other_stack.returncode == 0 and (tmp_path / "db").is_dir()
    assert "did not create it" in other_stack.stderr
    gone = _folders("delete", folders, delete_data=True)
    assert gone.returncode == 0, gone.stderr
    assert not (tmp_path / "db").exists() and not (tmp_path / "data").exists()
    missing = _folders("check", folders)
    assert missing.returncode != 0 and "mount the shared storage first" in missing.stderr


def test_shared_folders_never_deletes_a_folder_it_did_not_create(tmp_path: Path) -> None:
    _needs_root()
    earlier = tmp_path / "earlier-deployment"
    earlier.mkdir()
    (earlier / "images.tif").write_text("lab data")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / ".wipp-created-by").write_text("wipp:test\n")  # a marker, but reached through a link
    link = tmp_path / "link"
    link.symlink_to(target)
    assert _folders("create", [str(earlier)]).returncode == 0
    assert not (earlier / ".wipp-created-by").exists()
    result = _folders("delete", [str(earlier), str(link)], delete_data=True)
    assert result.returncode == 0, result.stderr
    assert (earlier / "images.tif").read_text() == "lab data"
    assert link.is_symlink() and (target / ".wipp-created-by").exists()


@pytest.mark.parametrize(
    "hostile",
    ["space folder", "star*", "q'uote", "semi;colon", "dollar$(id)", "../escape", "new\nline", "tab\tname"],
)
def test_shared_folders_refuses_hostile_names_before_touching_anything(tmp_path: Path, hostile: str) -> None:
    _needs_root()
    decoy = tmp_path / "star-decoy"  # what an unquoted glob `star*` would have matched
    decoy.mkdir()
    (decoy / "keep").write_text("x")
    good = tmp_path / "good"
    folders = [str(good), f"{tmp_path}/{hostile}"]
    for mode in ("create", "delete"):
        result = _folders(mode, folders, delete_data=True)
        assert result.returncode != 0
        assert "refusing" in result.stderr
    assert not good.exists()  # refused as a whole: not even the good folder was made
    assert (decoy / "keep").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["star-decoy"]


@pytest.mark.parametrize("system", ["/", "/etc", "/home", "/usr", "/var", "/usr/local/lib", "/etc/wipp"])
def test_shared_folders_refuses_system_folders(system: str) -> None:
    for mode in ("create", "delete"):
        result = _folders(mode, [system], delete_data=True)
        assert result.returncode != 0 and "refusing" in result.stderr and "system folder" in result.stderr

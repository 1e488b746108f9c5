"""Host scripts: valid POSIX shell, strict mode, and safely quoted inputs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.scripts import SCRIPTS_DIR, render

SCRIPTS = sorted(p.name for p in SCRIPTS_DIR.glob("*.sh"))


def test_every_script_is_shipped() -> None:
    assert SCRIPTS == [
        "firewall.sh",
        "shared-folders.sh",
        "swarm-init.sh",
        "swarm-join.sh",
        "swarm-leave.sh",
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


def test_shared_folders_refuses_a_relative_path() -> None:
    script = render("shared-folders.sh", MODE="check", FOLDERS="relative/db", DELETE_DATA="false")
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True)
    assert result.returncode != 0 and "not an absolute path" in result.stderr


def test_shared_folders_create_check_and_keep(tmp_path: Path) -> None:
    base = tmp_path
    folders = f"{base}/db {base}/data"
    create = subprocess.run(
        ["sh", "-c", render("shared-folders.sh", MODE="create", FOLDERS=folders, DELETE_DATA="false")],
        capture_output=True,
        text=True,
    )
    if create.returncode != 0 and "sudo" in create.stderr:
        pytest.skip("creating folders owned by UID 1000 needs root or passwordless sudo")
    assert create.returncode == 0, create.stderr
    for name in ("db", "data"):
        stat = (base / name).stat()
        assert stat.st_uid == 1000 and stat.st_mode & 0o055 == 0o055
    check = subprocess.run(
        ["sh", "-c", render("shared-folders.sh", MODE="check", FOLDERS=folders, DELETE_DATA="false")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0
    keep = subprocess.run(
        ["sh", "-c", render("shared-folders.sh", MODE="delete", FOLDERS=folders, DELETE_DATA="false")],
        capture_output=True,
        text=True,
    )
    assert keep.returncode == 0 and (base / "db").is_dir() and "kept" in keep.stderr
    gone = subprocess.run(
        ["sh", "-c", render("shared-folders.sh", MODE="delete", FOLDERS=folders, DELETE_DATA="true")],
        capture_output=True,
        text=True,
    )
    assert gone.returncode == 0 and not (base / "db").exists()
    missing = subprocess.run(
        ["sh", "-c", render("shared-folders.sh", MODE="check", FOLDERS=folders, DELETE_DATA="false")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "mount the shared storage first" in missing.stderr

"""Backup: its config keys, its place in the resource graph, and what its script decides (docker stubbed)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pytest
from harness import run_program, script_variables

from components.wipp import SERVICE_NAMES

MULTI_DATA = "/mnt/wipp-shared/wippdatavolume"  # one of Pulumi.multi.yaml's folders
SYSTEM = "a folder of its own for backups, not a system folder such as /, /etc, /home or /var"
FORM = "an absolute folder path on the first manager of letters, digits, '.', '_', '-', such as /var/backups/wipp"
APART = "a folder apart from the data it backs up"
KEEP = "a whole number of backups from 1 to 1000"

REFUSED: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("place-etc", "single", {"backupPlace": "/etc/wipp"}, ["wipp:backupPlace = '/etc/wipp'", SYSTEM]),
    ("place-root", "single", {"backupPlace": "/"}, ["wipp:backupPlace = '/'", FORM]),
    ("place-var", "single", {"backupPlace": "/var"}, ["wipp:backupPlace = '/var'", SYSTEM]),
    ("place-in-usr", "single", {"backupPlace": "/usr/local/wipp"}, ["wipp:backupPlace = '/usr/local/wipp'", SYSTEM]),
    ("place-in-proc", "single", {"backupPlace": "/proc/x"}, ["wipp:backupPlace = '/proc/x'", SYSTEM]),
    (
        "place-in-docker",
        "single",
        {"backupPlace": "/var/lib/docker/volumes/b"},
        ["wipp:backupPlace = '/var/lib/docker/volumes/b'", APART, "/var/lib/docker"],
    ),
    (
        "place-in-data",
        "multi",
        {"backupPlace": f"{MULTI_DATA}/backups"},
        [f"wipp:backupPlace = '{MULTI_DATA}/backups'", APART, MULTI_DATA],
    ),
    ("place-is-data", "multi", {"backupPlace": MULTI_DATA}, [f"wipp:backupPlace = '{MULTI_DATA}'", APART]),
    (
        "place-holds-data",
        "multi",
        {"backupPlace": "/mnt/wipp-shared"},
        ["wipp:backupPlace = '/mnt/wipp-shared'", APART, "holds /mnt/wipp-shared/wippdbvolume"],
    ),
    ("place-relative", "single", {"backupPlace": "backups"}, ["wipp:backupPlace = 'backups'", FORM]),
    ("place-space", "single", {"backupPlace": "/srv/my backups"}, ["wipp:backupPlace = '/srv/my backups'", FORM]),
    ("place-dotdot", "single", {"backupPlace": "/srv/../etc"}, ["wipp:backupPlace = '/srv/../etc'", FORM]),
    ("place-empty", "single", {"backupPlace": ""}, ["wipp:backupPlace = ''", FORM]),
    ("keep-zero", "single", {"backupKeep": 0}, ["wipp:backupKeep = '0'", KEEP]),
    ("keep-word", "single", {"backupKeep": "three"}, ["wipp:backupKeep = 'three'", KEEP]),
    ("keep-negative", "single", {"backupKeep": -1}, ["wipp:backupKeep = '-1'", KEEP]),
    ("keep-too-many", "single", {"backupKeep": 1001}, ["wipp:backupKeep = '1001'", KEEP]),
    ("keep-bool", "single", {"backupKeep": True}, ["wipp:backupKeep = 'true'", KEEP]),
]


@pytest.mark.parametrize("stack, overrides, expected", [pytest.param(s, o, e, id=i) for i, s, o, e in REFUSED])
def test_a_bad_backup_key_is_refused_with_key_value_and_form(
    stack: str, overrides: dict[str, Any], expected: list[str]
) -> None:
    with pytest.raises(pulumi.RunError) as error:
        run_program(stack, overrides)
    for text in expected:
        assert text in str(error.value), str(error.value)


def _backup(stack: str = "single", overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    return run_program(stack, overrides).named("backup-before-upgrade").inputs


def test_defaults_and_a_good_place_reach_the_script() -> None:
    variables = script_variables(_backup()["create"])
    assert variables["PLACE"] == "/var/backups/wipp" and variables["KEEP"] == "3" and variables["MODE"] == "auto"
    variables = script_variables(_backup("multi", {"backupPlace": "/srv/wipp-backups", "backupKeep": 7})["create"])
    assert variables["PLACE"] == "/srv/wipp-backups" and variables["KEEP"] == "7"
    assert variables["STORAGE_TYPE"] == "bind"
    assert variables["SOURCES"].splitlines() == [
        f"{key} /mnt/wipp-shared/{key}volume" for key in ("wippdata", "pegasusdb", "pegasusdata")
    ]


@pytest.mark.parametrize("stack, overrides", [("single", {}), ("multi", {}), ("personal", {})])
def test_every_service_depends_on_the_backup(stack: str, overrides: dict[str, Any]) -> None:
    deployment = run_program(stack, overrides)
    backup = deployment.named("backup-before-upgrade")
    for service in SERVICE_NAMES:  # personal: wipp is a container
        assert backup.urn in deployment.named(service).dependencies, service
    assert backup.parent == deployment.named("backup").urn


@pytest.mark.parametrize("stack", ["single", "multi"])
def test_the_backup_waits_for_every_image_pull(stack: str) -> None:
    """A failed pull then leaves no backup, and the backup is taken once the pulls (minutes) are done."""
    deployment = run_program(stack)
    backup = deployment.named("backup-before-upgrade")
    pulls = [r for r in deployment.resources if r.name.startswith("images-") and r.type.startswith("command:")]
    assert len(pulls) >= len(SERVICE_NAMES), [r.name for r in deployment.resources]
    for pull in pulls:
        assert pull.urn in backup.dependencies, pull.name


def test_the_backup_runs_on_the_first_manager() -> None:
    deployment = run_program("multi")
    backup = deployment.named("backup-before-upgrade")
    assert backup.type == "command:remote:Command"
    assert backup.inputs["connection"]["host"] == deployment.outputs["managerAddress"]
    assert "PRIVATE KEY" not in backup.inputs["create"]  # the key travels in the connection only
    assert run_program("single").named("backup-before-upgrade").type == "command:local:Command"


def test_the_backup_command_changes_only_when_an_image_or_its_own_settings_do() -> None:
    base = _backup()["create"]
    for same in ({"memory": "8G"}, {"webPort": 18081}, {"allowedSources": ["10.0.0.0/24"]}):
        assert _backup("single", same)["create"] == base, same
    for changed in ({"version": "2.1.0"}, {"mongoImage": "mongo:3.6"}, {"backupPlace": "/srv/b"}):
        assert _backup("single", changed)["create"] != base, changed
    targets = script_variables(_backup("single", {"version": "2.1.0"})["create"])["TARGET_IMAGES"]
    assert targets.splitlines() == [
        "mongodb mongo:3.4",
        "master wipp/wipp_master:2.1.0",
        "wipp wipp/wipp:2.1.0",
        "exec wipp/wipp_executor:2.1.0",
    ]


# -- the script's own decision, with docker stubbed --------------------------------------------
DOCKER_STUB = """#!/bin/sh
printf 'docker %s\\n' "$*" >> "$STUB_LOG"
case "$1 $2" in
    "service inspect")
        for last; do :; done
        [ -n "$DEPLOYED" ] || exit 1
        printf '%s\\n' "$DEPLOYED" | awk -v s="$last" '$1 == s { print $2; found = 1 } END { exit !found }'
        exit ;;
    "service ls") [ -z "$DOCKER_DOWN" ] || exit 1; printf '%s\n' "$DEPLOYED" | awk 'NF { print $1 }' ;;
    "container ls") ;;
    "container inspect") exit 1 ;;
    "run --rm") [ -z "$RUN_FAILS" ] || exit 1; cat >/dev/null 2>&1 || true ;;
esac
"""
SUDO_STUB = '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n'  # as_root, for a user without root


def _run_backup(
    tmp_path: Path, deployed: str, version: str = "2.2.0", run_fails: str = "", docker_down: str = ""
) -> tuple[int, str, str]:
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    (stubs / "docker").write_text(DOCKER_STUB)
    (stubs / "sudo").write_text(SUDO_STUB)
    for stub in ("docker", "sudo"):
        (stubs / stub).chmod(0o755)
    place = tmp_path / "backups"
    create = _backup("single", {"version": version, "backupPlace": str(place)})["create"]
    log = tmp_path / "docker.log"
    log.write_text("")
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "STUB_LOG": str(log), "DEPLOYED": deployed, "RUN_FAILS": run_fails}
    env["DOCKER_DOWN"] = docker_down
    result = subprocess.run(["sh", "-c", create], capture_output=True, text=True, env=env, timeout=60, input="")
    return result.returncode, result.stderr, log.read_text()


def _deployed(version: str) -> str:
    return "\n".join(
        [
            "mongodb mongo:3.4",
            f"master wipp/wipp_master:{version}",
            f"wipp wipp/wipp:{version}",
            f"exec wipp/wipp_executor:{version}",
        ]
    )


def test_the_script_backs_up_only_when_a_deployed_image_changes(tmp_path: Path) -> None:
    code, stderr, calls = _run_backup(tmp_path, deployed="")
    assert code == 0 and "no backup: WIPP is not deployed yet" in stderr and "docker run" not in calls
    code, stderr, calls = _run_backup(tmp_path, deployed=_deployed("2.2.0"))
    assert code == 0 and "no backup: no service changes its image" in stderr and "docker run" not in calls
    # Both tools are installed in the place, whatever the decision.
    tools = sorted(p.name for p in (tmp_path / "backups").iterdir())
    assert tools == ["wipp-single-backup", "wipp-single-restore"]
    assert (tmp_path / "backups" / "wipp-single-restore").read_text().startswith("#!/bin/sh\n")
    code, stderr, calls = _run_backup(tmp_path, deployed=_deployed("2.1.0"))
    dump = [c for c in calls.splitlines() if " mongodump " in c]
    assert len(dump) == 1 and "--network" in dump[0] and "--host mongodb --port 27017 --archive=/backup/" in dump[0]
    assert shlex.split(dump[0])[-1].endswith("-2.1.0-to-2.2.0.partial/wippdb.archive")
    assert "taking wipp-single-" in stderr and "before the image changes of master wipp exec" in stderr
    # A step that fails stops the script with an error.
    code, stderr, calls = _run_backup(tmp_path, deployed=_deployed("2.1.0"), run_fails="yes")
    assert code != 0 and "cannot write into the backup folder" in stderr and "wipp:backupPlace" in stderr
    # An engine that does not answer is an error, never "nothing deployed".
    code, stderr, calls = _run_backup(tmp_path, deployed=_deployed("2.1.0"), docker_down="yes")
    assert code != 0 and "cannot list the swarm's services" in stderr and "docker run" not in calls

"""Host scripts: valid POSIX shell, strict mode that stops them, safely quoted inputs, and the
shared-folder script run for real, as root and as a user with sudo -n, inside a sandbox
(sandbox.py) where a broken guard could not reach the machine's folders."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import run_program
from prerequisites import require_root
from sandbox import SYSTEM_FOLDERS, USER, Sandbox, readme_sudo_commands

from components.scripts import SCRIPTS_DIR, render

SCRIPTS = sorted(p.name for p in SCRIPTS_DIR.glob("*.sh"))
SHARED = "/srv/wipp-shared"  # on the sandbox's tmpfs


def test_every_script_is_shipped() -> None:
    assert SCRIPTS == [
        "firewall-published-ports.sh",
        "firewall-swarm-ports.sh",
        "image-pull.sh",
        "preflight.sh",
        "service-running.sh",
        "shared-folders.sh",
        "swarm-init.sh",
        "swarm-join.sh",
        "swarm-leave.sh",
        "swarm-roles.sh",
        "swarm-token.sh",
    ]


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse(script: str) -> None:
    parsed = subprocess.run(["sh", "-n", "-c", render(script, X="1")], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr


# -- strict mode, run for real --------------------------------------------------------------
# Stand-ins for every command that changes something: each records its arguments and changes
# nothing. `docker info` answers as STUB_STATE says; iptables has no rule yet.
STUB = """#!/bin/sh
printf '%s %s\\n' "${0##*/}" "$*" >> "$STUB_LOG"
case "${0##*/} $*" in
    "docker info --format {{.Swarm.LocalNodeState}}") echo "$STUB_STATE" ;;
    "docker info --format {{.Swarm.ControlAvailable}}") echo true ;;
    "docker info"*) echo stub ;;
    tee*) cat >/dev/null ;;
    "iptables -w -C"* | "ip6tables -w -C"*) exit 1 ;;  # no such rule yet
esac
"""
STUBBED = ("docker", "ufw", "iptables", "ip6tables", "ss", "systemctl", "mkdir", "tee", "chown", "chmod", "rm")

# script -> (where the program renders it, the variable left unset, docker's swarm state,
#            what the script does without `set -u`: a command that changes something, or "exit 0")
UNSET = {
    "firewall-published-ports.sh": ("firewall-wipp-host-published-ports", "SOURCES", "active", "iptables -w -I"),
    "firewall-swarm-ports.sh": ("firewall-wipp-host-swarm-ports", "SOURCES", "active", "ufw deny"),
    "image-pull.sh": ("images-wipp-wipp-host", "IMAGE", "active", "docker pull"),
    "preflight.sh": ("preflight-wipp-host", "MIN_DISK_GB", "inactive", "exit 0"),
    "service-running.sh": ("mongodb-running", "SERVICE", "active", ""),  # changes nothing, either way
    "shared-folders.sh": ("", "OWNER", "active", "rm -rf --"),
    "swarm-init.sh": ("swarm-init-wipp-host", "ADVERTISE_ADDR", "inactive", ""),
    "swarm-join.sh": ("swarm-join-worker", "MANAGER_ADDR", "inactive", "docker swarm join --token"),
    "swarm-leave.sh": ("swarm-join-worker", "LEAVE", "active", "exit 0"),
    "swarm-roles.sh": ("swarm-roles", "ROLES", "active", "exit 0"),
    "swarm-token.sh": ("swarm-worker-token", "ROLE", "active", "docker swarm join-token --quiet"),
}
CHANGES = (
    "iptables -w -I",
    "iptables -w -D",
    "ufw ",
    "mkdir",
    "tee",
    "chown",
    "chmod",
    "rm ",
    "docker swarm",
    "docker pull",
)


def _rendered_without(script: str, tmp_path: Path) -> tuple[str, str]:
    """The script as the program renders it, with one of its variables left unset; that variable."""
    resource, unset, _, _ = UNSET[script]
    if script == "shared-folders.sh":  # a folder with an empty marker: OWNER unset would match it
        folder = tmp_path / "data"
        folder.mkdir()
        (folder / ".wipp-created-by").write_text("")
        text = render(script, MODE="delete", FOLDERS=str(folder), DELETE_DATA="true", OWNER="wipp:test")
    else:
        hosts = [
            {"name": "wipp-host", "address": "10.20.0.10", "role": "manager", "local": True},
            {"name": "worker", "address": "10.20.0.11", "role": "worker"},
        ]
        stack = "multi" if "worker" in resource or resource == "swarm-roles" else "single"
        overrides = {"allowedSources": ["10.0.0.0/24"], "leaveSwarmOnDestroy": True}
        if stack == "multi":
            overrides |= {"hosts": hosts, "manageFirewall": False, "allowedSources": []}
        inputs = run_program(stack, overrides).named(resource).inputs
        text = inputs["delete"] if script == "swarm-leave.sh" else inputs["create"]
    lines = text.split("\n")
    kept = [line for line in lines if not line.startswith(f"{unset}=")]
    assert len(kept) == len(lines) - 1, f"{unset} is not set in {script}"
    return "\n".join(kept), unset


def _run_with_stubs(text: str, script: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    for name in STUBBED:
        (stubs / name).write_text(STUB)
        (stubs / name).chmod(0o755)
    log = tmp_path / "calls.log"
    log.write_text("")
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "STUB_LOG": str(log), "STUB_STATE": UNSET[script][2]}
    result = subprocess.run(
        ["sh", "-c", text], input="SWMTKN-1-stub\n", capture_output=True, text=True, env=env, timeout=60
    )
    return result, log.read_text().splitlines()


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_unset_variable_stops_the_script_before_it_changes_anything(script: str, tmp_path: Path) -> None:
    assert "\nset -eu\n" in (SCRIPTS_DIR / script).read_text()
    text, unset = _rendered_without(script, tmp_path)
    result, calls = _run_with_stubs(text, script, tmp_path)
    assert result.returncode != 0 and f"{unset}: parameter not set" in result.stderr, result.stderr
    assert not [call for call in calls if call.startswith(CHANGES)], calls
    assert result.stdout == ""


@pytest.mark.parametrize("script", [s for s in SCRIPTS if UNSET[s][3]])
def test_without_strict_mode_the_same_script_would_go_on(script: str, tmp_path: Path) -> None:
    """The control for the test above: the strict mode is what stops these scripts."""
    text, _ = _rendered_without(script, tmp_path)
    variables_and_library, _, body = text.rpartition("\nset -eu\n")  # the script's own (SCRIPT_BODY has one too)
    result, calls = _run_with_stubs(f"{variables_and_library}\nset -e\n{body}", script, tmp_path)
    went_on = UNSET[script][3]
    if went_on == "exit 0":
        assert result.returncode == 0, result.stderr
    else:
        assert [call for call in calls if call.startswith(went_on)], calls


def test_values_reach_the_script_exactly_as_given(tmp_path: Path) -> None:
    canary = tmp_path / "should-not-exist"
    tricky = f"a b'c\"d $(touch {canary}) `touch {canary}` ;|&"
    script = render("swarm-token.sh", ROLE=tricky, docker_host="unix:///tmp/x y.sock")
    prefix = script[: script.index("#!/bin/sh")]
    shown = subprocess.run(
        ["sh", "-c", prefix + 'printf "%s|%s" "$ROLE" "$DOCKER_HOST"'], capture_output=True, text=True, check=True
    )
    assert shown.stdout == f"{tricky}|unix:///tmp/x y.sock"
    assert not canary.exists()


# -- the shared-folder script, in the sandbox --------------------------------------------------
def _folders(
    mode: str, folders: list[str], delete_data: bool = False, owner: str = "wipp:test", stamp: str | None = None
) -> str:
    extra = {"STAMP": stamp} if stamp is not None else {}
    return render(
        "shared-folders.sh",
        MODE=mode,
        FOLDERS="\n".join(folders),
        DELETE_DATA=str(delete_data).lower(),
        OWNER=owner,
        **extra,
    )


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox whose system folders and SHARED are its own; USER may sudo -n what the README lists."""
    with Sandbox(tmp_path, sudo=readme_sudo_commands(), guarded=[*SYSTEM_FOLDERS, SHARED]) as sandbox:
        assert sandbox.run(f"mkdir -p {SHARED}").returncode == 0
        yield sandbox


def _stat(box: Sandbox, path: str) -> str:
    """'uid mode' of a path in the sandbox, '' when it is not there."""
    return box.run(f"stat -c '%u %a' '{path}' 2>/dev/null || true").stdout.strip()


def test_the_sandbox_refuses_to_start_unless_the_folders_are_its_own(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    for guarded, binds in ((["/proc/sys"], {}), (["/srv/outside"], {"/srv/outside": str(outside)})):
        with pytest.raises(AssertionError, match="sandbox not in place"):
            with Sandbox(tmp_path / "box", guarded=guarded, binds=binds):
                pass
    with Sandbox(tmp_path / "box", guarded=SYSTEM_FOLDERS) as box:
        assert {box.facts[f] for f in SYSTEM_FOLDERS} <= {"tmpfs", "overlay"}
        made = box.run("echo sandbox > /etc/wipp-sandbox-check && cat /etc/wipp-sandbox-check")
        assert made.stdout == "sandbox\n" and not Path("/etc/wipp-sandbox-check").exists()


def test_shared_folders_refuses_a_relative_path(box: Sandbox) -> None:
    result = box.run(f"cd {SHARED} && {{ {_folders('create', ['relative/db'])}\n}}")
    assert result.returncode != 0 and "not an absolute path" in result.stderr
    assert box.run(f"ls -A {SHARED}").stdout == ""


@pytest.mark.parametrize("user", ["root", USER])
def test_shared_folders_create_check_keep_and_delete_what_it_made(box: Sandbox, user: str) -> None:
    paths = [f"{SHARED}/db", f"{SHARED}/data"]

    def folders(
        mode: str, delete_data: bool = False, owner: str = "wipp:test", stamp: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return box.run(_folders(mode, paths, delete_data, owner, stamp), user=user)

    create = folders("create")
    assert create.returncode == 0, create.stderr
    stamp = create.stdout.strip()
    assert re.fullmatch(r"wipp:test:[0-9a-f]{32}", stamp), create.stdout  # the only line on stdout
    for folder in paths:
        uid, mode = _stat(box, folder).split()
        assert uid == "1000" and int(mode, 8) & 0o055 == 0o055
        assert box.run(f"cat {folder}/.wipp-created-by").stdout == "wipp:test\n"
        assert box.run(f"cat {folder}/.wipp-shared-stamp", user=USER).stdout == f"{stamp}\n"  # readable by all
    again = folders("create")  # again: the folders stay, the stamp is new
    assert again.returncode == 0 and again.stdout.strip() != stamp
    stamp = again.stdout.strip()
    assert folders("check", stamp=stamp).returncode == 0
    keep = folders("delete")
    assert keep.returncode == 0 and _stat(box, paths[0]) and "kept" in keep.stderr
    other_stack = folders("delete", delete_data=True, owner="wipp:other")
    assert other_stack.returncode == 0 and _stat(box, paths[0])
    assert "did not create it" in other_stack.stderr
    gone = folders("delete", delete_data=True)
    assert gone.returncode == 0, gone.stderr
    assert not _stat(box, paths[0]) and not _stat(box, paths[1])
    missing = folders("check", stamp=stamp)
    assert missing.returncode != 0 and "mount the shared storage first" in missing.stderr


def test_shared_folders_check_fails_on_a_local_folder_at_the_same_path(tmp_path: Path) -> None:
    """Two hosts that do not share the storage: two sandboxes, each with its own SHARED (its own
    tmpfs). The check passes where the manager's `create` wrote its stamp, and fails on the other
    host's local folder, whether it has no stamp or an earlier run's."""
    require_root("two sandboxes")
    paths = [f"{SHARED}/db", f"{SHARED}/data"]
    with (
        Sandbox(tmp_path / "manager", guarded=[SHARED]) as manager,
        Sandbox(tmp_path / "other", guarded=[SHARED]) as other,
    ):
        for box in (manager, other):
            assert box.run(f"mkdir -p {paths[0]} {paths[1]}").returncode == 0  # the same paths on both hosts
        created = manager.run(_folders("create", paths))
        assert created.returncode == 0, created.stderr
        stamp = created.stdout.strip()
        same = manager.run(_folders("check", paths, stamp=stamp))
        assert same.returncode == 0, same.stderr
        local = other.run(_folders("check", paths, stamp=stamp))
        assert local.returncode != 0 and local.stdout == ""
        assert f"{paths[0]} on " in local.stderr and "has no .wipp-shared-stamp" in local.stderr
        assert "the shared storage seems not to be mounted there" in local.stderr
        earlier = other.run(_folders("create", paths)).stdout.strip()  # a stamp, but another run's
        assert earlier and earlier != stamp
        stale = other.run(_folders("check", paths, stamp=stamp))
        assert stale.returncode != 0 and "is not this run's" in stale.stderr
        assert manager.run(_folders("check", paths, stamp="")).returncode != 0  # an empty stamp matches nothing


def test_shared_folders_never_writes_the_stamp_through_a_link(box: Sandbox) -> None:
    folder, target = f"{SHARED}/db", "/etc/wipp-stamp-target"
    box.run(f"mkdir {folder} && echo 'keep' > {target} && ln -s {target} {folder}/.wipp-shared-stamp")
    result = box.run(_folders("create", [folder]))
    assert result.returncode != 0 and "is not a plain file" in result.stderr and result.stdout == ""
    assert box.run(f"cat {target}").stdout == "keep\n"


def test_shared_folders_never_deletes_a_folder_it_did_not_create(box: Sandbox) -> None:
    earlier, target, link = f"{SHARED}/earlier-deployment", f"{SHARED}/elsewhere", f"{SHARED}/link"
    box.run(f"mkdir {earlier} {target} && echo 'lab data' > {earlier}/images.tif")
    box.run(f"echo wipp:test > {target}/.wipp-created-by && ln -s {target} {link}")  # a marker, behind a link
    assert box.run(_folders("create", [earlier])).returncode == 0
    assert not _stat(box, f"{earlier}/.wipp-created-by")
    result = box.run(_folders("delete", [earlier, link], delete_data=True))
    assert result.returncode == 0, result.stderr
    assert box.run(f"cat {earlier}/images.tif").stdout == "lab data\n"
    assert box.run(f"test -L {link} && cat {target}/.wipp-created-by").stdout == "wipp:test\n"


@pytest.mark.parametrize(
    "hostile",
    ["space folder", "star*", "q'uote", "semi;colon", "dollar$(id)", "../escape", "new\nline", "tab\tname"],
)
def test_shared_folders_refuses_hostile_names_before_touching_anything(box: Sandbox, hostile: str) -> None:
    box.run(f"mkdir {SHARED}/star-decoy && echo x > {SHARED}/star-decoy/keep")  # what `star*` would match
    folders = [f"{SHARED}/good", f"{SHARED}/{hostile}"]
    for mode in ("create", "delete"):
        result = box.run(_folders(mode, folders, delete_data=True))
        assert result.returncode != 0
        assert "refusing" in result.stderr
    assert box.run(f"ls -A {SHARED}").stdout == "star-decoy\n"  # refused as a whole: not even `good` was made
    assert box.run(f"cat {SHARED}/star-decoy/keep").stdout == "x\n"


@pytest.mark.parametrize("system", SYSTEM_FOLDERS)
def test_shared_folders_refuses_system_folders(box: Sandbox, system: str) -> None:
    box.run(f"mkdir -p {system} && touch {system}/.still-here")
    before = _stat(box, system)
    for mode in ("create", "delete"):
        result = box.run(_folders(mode, [system], delete_data=True, owner=""))
        assert result.returncode != 0 and "refusing" in result.stderr and "system folder" in result.stderr
    assert _stat(box, system) == before and _stat(box, f"{system}/.still-here")


@pytest.mark.parametrize("removed", ["mkdir", "tee", "chown", "chmod", "rm"])
def test_shared_folders_fail_for_a_user_without_one_of_the_readmes_sudo_commands(tmp_path: Path, removed: str) -> None:
    """The README's list is what the script needs: without any one entry, create or delete fails."""
    require_root("a sandbox")
    sudo = [name for name in readme_sudo_commands() if name != removed]
    assert len(sudo) == len(readme_sudo_commands()) - 1, f"{removed} is not in the README's list"
    with Sandbox(tmp_path, sudo=sudo, guarded=[SHARED]) as sandbox:
        sandbox.run(f"mkdir -p {SHARED}")
        folder = [f"{SHARED}/db"]
        create = sandbox.run(_folders("create", folder), user=USER)
        delete = sandbox.run(_folders("delete", folder, delete_data=True), user=USER)
    failed = [r for r in (create, delete) if r.returncode != 0]
    assert failed and "sudo: a password is required" in failed[0].stderr, (create.stderr, delete.stderr)

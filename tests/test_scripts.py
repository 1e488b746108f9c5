"""Host scripts: valid POSIX shell, strict mode that stops them, safely quoted inputs, and the
shared-folder script run for real, as root and as a user with sudo -n, inside a sandbox
(sandbox.py) where a broken guard could not reach the machine's folders."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import run_program
from prerequisites import require_root
from sandbox import SYSTEM_FOLDERS, USER, Sandbox, readme_sudo_commands

from components.scripts import SCRIPTS_DIR, render

SCRIPTS = sorted(p.name for p in SCRIPTS_DIR.glob("*.sh"))
SHARED = "/srv/wipp-shared"  # on the sandbox's tmpfs


def test_every_script_is_shipped() -> None:
    assert SCRIPTS == [
        "backup.sh",
        "docker-waits-for-mounts.sh",
        "engine-answers.sh",
        "firewall-published-ports.sh",
        "firewall-swarm-ports.sh",
        "image-pull.sh",
        "preflight.sh",
        "restore.sh",
        "service-running.sh",
        "shared-folders.sh",
        "stack-ownership.sh",
        "stack-volumes.sh",
        "swarm-init.sh",
        "swarm-join.sh",
        "swarm-leave.sh",
        "swarm-roles.sh",
        "swarm-state.sh",
        "swarm-token.sh",
        "web-answers.sh",
        "wipp-handover.sh",
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
    "backup.sh": ("backup-before-upgrade", "PLACE", "active", "mkdir"),
    "docker-waits-for-mounts.sh": ("storage-mounts-worker", "TAG", "active", ""),  # this machine may lack systemd
    "engine-answers.sh": ("", "ENDPOINT", "active", ""),  # an invoke, not a resource; changes nothing, either way
    "firewall-published-ports.sh": ("firewall-wipp-host-published-ports", "SOURCES", "active", "iptables -w -I"),
    "firewall-swarm-ports.sh": ("firewall-wipp-host-swarm-ports", "SOURCES", "active", "ufw deny"),
    "image-pull.sh": ("images-wipp-wipp-host", "IMAGE", "active", "docker pull"),
    "preflight.sh": ("preflight-wipp-host", "MIN_DISK_GB", "inactive", "exit 0"),
    "restore.sh": ("backup-before-upgrade", "PLACE", "active", ""),  # installed by backup.sh; lists, then stops
    "service-running.sh": ("mongodb-running", "SERVICE", "active", ""),  # changes nothing, either way
    "shared-folders.sh": ("", "OWNER", "active", "rm -rf --"),
    "stack-ownership.sh": ("ownership-wipp-host", "OWNER", "active", ""),  # changes nothing, either way
    "stack-volumes.sh": ("storage-volumes", "OWNER", "active", ""),
    "swarm-init.sh": ("swarm-init-wipp-host", "ADVERTISE_ADDR", "inactive", ""),
    "swarm-join.sh": ("swarm-join-worker", "MANAGER_ADDR", "inactive", "docker swarm join --token"),
    "swarm-leave.sh": ("swarm-join-worker", "LEAVE", "active", "exit 0"),
    "swarm-roles.sh": ("swarm-roles", "ROLES", "active", "exit 0"),
    "swarm-token.sh": ("swarm-worker-token", "ROLE", "active", "docker swarm join-token --quiet"),
    "web-answers.sh": ("web-answers", "ADDRESS", "active", ""),  # changes nothing, either way
    "wipp-handover.sh": ("wipp-handover", "OWNER", "active", ""),
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
    elif script == "engine-answers.sh":  # the program's invoke, as engine_check renders it
        text = render(script, ENDPOINT=f"unix://{tmp_path}/docker.sock", WAIT_S="2")
    else:
        hosts: list[dict[str, Any]] = [
            {"name": "wipp-host", "address": "10.20.0.10", "role": "manager", "local": True},
            {"name": "worker", "address": "10.20.0.11", "role": "worker"},
        ]
        stack = "multi" if "worker" in resource or resource == "swarm-roles" else "single"
        if resource == "ownership-wipp-host":  # a command only on a remote first manager
            hosts[0] = {**hosts[0], "local": False}
        overrides: dict[str, Any] = {"allowedSources": ["10.0.0.0/24"], "leaveSwarmOnDestroy": True}
        overrides |= {"publishMode": "host", "endpointMode": "dnsrr"}  # no IPVS here: preflight would stop on it
        if stack == "multi":
            overrides |= {"hosts": hosts, "manageFirewall": False, "allowedSources": []}
        if resource == "ownership-wipp-host":
            overrides = {"hosts": hosts[:1], "sshPrivateKey": "key"}
        inputs = run_program(stack, overrides).named(resource).inputs
        text = inputs["delete"] if script == "swarm-leave.sh" else inputs["create"]
        if script == "restore.sh":  # the tool backup.sh installs, as the program renders it
            lexer = shlex.shlex(text.rsplit("\nRESTORE_TOOL=", 1)[1], posix=True)
            lexer.whitespace_split = True
            text = lexer.get_token() or ""
    lines = text.split("\n")
    # The script's own line: the first (a tool that backup.sh installs has its own, inside a value).
    setting = [i for i, line in enumerate(lines) if line.startswith(f"{unset}=")]
    assert setting, f"{unset} is not set in {script}"
    return "\n".join(lines[: setting[0]] + lines[setting[0] + 1 :]), unset


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


# Scripts with no input variable (only DOCKER_HOST, when set), which change nothing: no unset case.
WITHOUT_INPUTS = {"swarm-state.sh"}


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s not in WITHOUT_INPUTS])
def test_an_unset_variable_stops_the_script_before_it_changes_anything(script: str, tmp_path: Path) -> None:
    assert "\nset -eu\n" in (SCRIPTS_DIR / script).read_text()
    text, unset = _rendered_without(script, tmp_path)
    result, calls = _run_with_stubs(text, script, tmp_path)
    assert result.returncode != 0 and f"{unset}: parameter not set" in result.stderr, result.stderr
    assert not [call for call in calls if call.startswith(CHANGES)], calls
    assert result.stdout == ""


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s not in WITHOUT_INPUTS and UNSET[s][3]])
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


@pytest.mark.parametrize(
    ("docker_says", "printed"),
    [
        ("echo 'active abc123'", "active abc123"),
        ("echo 'inactive '", "inactive"),
        ("echo 'Cannot connect to the Docker daemon' >&2; exit 1", "unknown"),
    ],
)
def test_swarm_state_prints_the_state_and_node_or_unknown(docker_says: str, printed: str, tmp_path: Path) -> None:
    """What `observed_node_id` reads (components/swarm.py); strict mode, and nothing but `docker info` run."""
    assert "\nset -eu\n" in (SCRIPTS_DIR / "swarm-state.sh").read_text()
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    log = tmp_path / "calls.log"
    (stubs / "docker").write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\n{docker_says}\n')
    (stubs / "docker").chmod(0o755)
    result = subprocess.run(
        ["sh", "-c", render("swarm-state.sh", "unix:///tmp/x.sock")],
        capture_output=True,
        text=True,
        env={"PATH": f"{stubs}:/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == printed
    assert log.read_text().splitlines() == ["info --format {{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}"]


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
    mode: str,
    folders: list[str],
    delete_data: bool = False,
    owner: str = "wipp:test",
    stamp: str | None = None,
    mongo_user: str = "",
) -> str:
    """The script as the program renders it; the first folder is mongodb's."""
    extra = {"STAMP": stamp, "SETTLE_S": "0"} if stamp is not None else {}
    return render(
        "shared-folders.sh",
        MODE=mode,
        FOLDERS="\n".join(folders),
        DELETE_DATA=str(delete_data).lower(),
        OWNER=owner,
        MONGO_FOLDER=folders[0],
        MONGO_USER=mongo_user,
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


def test_shared_folders_check_waits_for_the_shared_storage_to_show_the_stamp(tmp_path: Path) -> None:
    """An NFS client that looked for the folders before the first manager made them (the preflight
    does) may show them late: the check looks again for at most SETTLE_S, and passes once the stamp
    shows; with nothing to wait for it fails as before, after SETTLE_S."""
    require_root("a sandbox")
    paths = [f"{SHARED}/db"]
    with Sandbox(tmp_path / "host", guarded=[SHARED]) as box:
        created = box.run(_folders("create", paths))
        assert created.returncode == 0, created.stderr
        stamp = created.stdout.strip()
        hidden = f"{SHARED}/stamp-shows-later"
        assert box.run(f"mv {paths[0]}/.wipp-shared-stamp {hidden}").returncode == 0
        check = _folders("check", paths, stamp=stamp).replace("\nSETTLE_S=0\n", "\nSETTLE_S=20\n")
        assert "SETTLE_S=20" in check
        late = box.run(f"(sleep 3; mv {hidden} {paths[0]}/.wipp-shared-stamp) &\n{check}")
        assert late.returncode == 0, late.stderr
        assert "waited" in late.stderr and "to show this run's stamp" in late.stderr
        assert box.run(f"rm {paths[0]}/.wipp-shared-stamp").returncode == 0
        never = box.run(check.replace("SETTLE_S=20", "SETTLE_S=4"))
        assert never.returncode != 0 and "waited 4 s" in never.stderr and "has no .wipp-shared-stamp" in never.stderr


@pytest.mark.parametrize("user", ["root", USER])
def test_shared_folders_on_root_squashed_storage_leave_uid_1000_s_folders_alone(box: Sandbox, user: str) -> None:
    """As on NFS with root_squash: root may not chown, chmod or write in the folders the server gave
    to UID 1000 (`squash`), so the script leaves a folder already right alone, makes a new one as
    UID 1000 (its parent is UID 1000's) and writes the stamp as UID 1000."""
    given, new = f"{SHARED}/db", f"{SHARED}/data"
    box.run(f"mkdir {given} && chown 1000 {SHARED} {given} && chmod 755 {SHARED} {given}")
    cannot = box.run(f"chown 1000 {given}; chmod 755 {given}; echo x > {given}/by-root", squash=True)
    assert cannot.stderr.count("Operation not permitted") == 2 and "Permission denied" in cannot.stderr
    create = box.run(_folders("create", [given, new], mongo_user="1000:1000"), user=user, squash=True)
    assert create.returncode == 0, create.stderr
    stamp = create.stdout.strip()
    for folder in (given, new):
        assert _stat(box, folder) == "1000 755"
        assert box.run(f"stat -c %u {folder}/.wipp-shared-stamp && cat {folder}/.wipp-shared-stamp").stdout == (
            f"1000\n{stamp}\n"
        )
    assert not _stat(box, f"{given}/.wipp-created-by")  # there before: no marker, kept on destroy
    assert box.run(f"stat -c %u {new}/.wipp-created-by && cat {new}/.wipp-created-by").stdout == "1000\nwipp:test\n"
    checked = box.run(_folders("check", [given, new], stamp=stamp, mongo_user="1000:1000"), user=user, squash=True)
    assert checked.returncode == 0, checked.stderr
    # the stamp replaced, by its owner
    again = box.run(_folders("create", [given, new], mongo_user="1000:1000"), user=user, squash=True)
    assert again.returncode == 0 and again.stdout.strip() != stamp, again.stderr
    gone = box.run(_folders("delete", [given, new], delete_data=True), user=user, squash=True)
    assert gone.returncode == 0, gone.stderr
    assert _stat(box, given) and not _stat(box, new)


@pytest.mark.parametrize("user", ["root", USER])
def test_on_root_squashed_storage_mongodb_needs_mongo_user_and_the_script_says_so(box: Sandbox, user: str) -> None:
    """mongo's image, started as root, runs `chown -R mongodb` on its database folder at every start
    and stops when root may not (as on NFS with root_squash): without wipp:mongoUser, create and
    check fail naming the key, the folder and the host; where root may chown, they pass without it."""
    db, data = f"{SHARED}/db", f"{SHARED}/data"
    box.run(f"mkdir {db} {data} && chown 1000 {SHARED} {db} {data} && chmod 755 {SHARED} {db} {data}")
    as_mongo_does = box.run(f"chown -R 999 {db}", squash=True)
    assert as_mongo_does.returncode != 0 and "Operation not permitted" in as_mongo_does.stderr
    for mode, stamp in (("create", None), ("check", "wipp:test:stamp")):
        if stamp:
            box.run(f"for f in {db} {data}; do echo {stamp} > $f/.wipp-shared-stamp; done")
        refused = box.run(_folders(mode, [db, data], stamp=stamp), user=user, squash=True)
        assert refused.returncode != 0 and refused.stdout == "", (mode, refused.stderr)
        assert f"root may not change owners in {db} on " in refused.stderr, refused.stderr
        assert "Set wipp:mongoUser to 1000:1000" in refused.stderr
    assert _stat(box, db) == "1000 755"  # the probe changed nothing
    where_root_may = box.run(_folders("check", [db, data], stamp="wipp:test:stamp"), user=user)
    assert where_root_may.returncode == 0, where_root_may.stderr


def test_shared_folders_delete_what_uid_1000_may_not_as_root_where_root_may(box: Sandbox) -> None:
    """A folder under UID 1000's parent holding another user's files (mongod's): removed all the same."""
    folder = f"{SHARED}/db"
    box.run(f"chown 1000 {SHARED}")
    assert box.run(_folders("create", [folder])).returncode == 0
    box.run(f"mkdir {folder}/journal && touch {folder}/journal/j1 && chown -R 999 {folder}/journal")
    gone = box.run(_folders("delete", [folder], delete_data=True))
    assert gone.returncode == 0 and not _stat(box, folder), gone.stderr


def test_shared_folders_on_root_squashed_storage_name_a_folder_root_may_not_give_away(box: Sandbox) -> None:
    folder = f"{SHARED}/db"
    box.run(f"mkdir {folder} && chmod 777 {folder}")  # root's, as root made it before the export squashed it
    result = box.run(_folders("create", [folder]), squash=True)
    assert result.returncode != 0 and result.stdout == ""
    assert f"root may not give {folder} to UID 1000" in result.stderr and "root_squash" in result.stderr
    assert _stat(box, folder) == "0 777"


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


# removed -> what makes the script need it: a command run first, and whether root is squashed
NEEDS = {
    "mkdir": ("", False),
    "tee": ("", False),
    "chown": ("", False),
    "chmod": (f"mkdir -p {SHARED}/db && chmod 700 {SHARED}/db", False),  # a folder without group and others
    "rm": ("", False),
    "setpriv": (f"chown 1000 {SHARED}", True),  # root_squash: UID 1000 makes what root may not
}


@pytest.mark.parametrize("removed", NEEDS)
def test_shared_folders_fail_for_a_user_without_one_of_the_readmes_sudo_commands(tmp_path: Path, removed: str) -> None:
    """The README's list is what the script needs: without any one entry, create or delete fails."""
    require_root("a sandbox")
    sudo = [name for name in readme_sudo_commands() if name != removed]
    assert len(sudo) == len(readme_sudo_commands()) - 1, f"{removed} is not in the README's list"
    setup, squash = NEEDS[removed]
    with Sandbox(tmp_path, sudo=sudo, guarded=[SHARED]) as sandbox:
        sandbox.run(f"mkdir -p {SHARED} && {setup or 'true'}")
        folder = [f"{SHARED}/db"]
        create = sandbox.run(_folders("create", folder), user=USER, squash=squash)
        delete = sandbox.run(_folders("delete", folder, delete_data=True), user=USER, squash=squash)
    failed = [r for r in (create, delete) if r.returncode != 0]
    assert failed and "sudo: a password is required" in failed[0].stderr, (create.stderr, delete.stderr)


# -- Docker's wait for the shared folders' mounts, in the sandbox (its /etc, a recording systemctl) --
DROPIN = "/etc/systemd/system/docker.service.d/wipp-test-mounts.conf"


def _mount_wait(action: str, folders: list[str]) -> str:
    return render(
        "docker-waits-for-mounts.sh", ACTION=action, FOLDERS="\n".join(folders), DROPIN=DROPIN, TAG="wipp:test"
    )


@pytest.mark.parametrize("user", ["root", USER])
def test_docker_waits_for_the_folders_mounts_and_remove_takes_only_its_drop_in(tmp_path: Path, user: str) -> None:
    folders = [f"{SHARED}/db", f"{SHARED}/data"]
    with Sandbox(tmp_path, sudo=readme_sudo_commands(), guarded=["/etc"], fake_systemd=True) as box:
        admins = "/etc/systemd/system/docker.service.d/override.conf"  # an administrator's own
        box.run(f"mkdir -p {admins.rsplit('/', 1)[0]} && printf '[Service]\\nLimitNOFILE=4096\\n' > {admins}")
        applied = box.run(_mount_wait("apply", folders), user=user)
        assert applied.returncode == 0, applied.stderr
        text = box.run(f"cat {DROPIN}").stdout
        assert f"[Unit]\nRequiresMountsFor={SHARED}/db {SHARED}/data\n" in text and "wipp:test" in text
        assert box.run("cat /run/systemctl.calls").stdout == "daemon-reload\n"
        again = box.run(_mount_wait("apply", folders), user=user)  # nothing changed: no reload
        assert again.returncode == 0 and "already in place" in again.stderr
        assert box.run("cat /run/systemctl.calls").stdout == "daemon-reload\n"
        moved = box.run(_mount_wait("apply", [f"{SHARED}/db"]), user=user)  # other folders: the drop-in follows
        assert moved.returncode == 0 and box.run(f"grep RequiresMountsFor {DROPIN}").stdout.split("=")[1] == (
            f"{SHARED}/db\n"
        )
        removed = box.run(_mount_wait("remove", folders), user=user)
        assert removed.returncode == 0, removed.stderr
        assert not _stat(box, DROPIN) and _stat(box, admins)
        assert box.run("cat /run/systemctl.calls").stdout == "daemon-reload\n" * 3
        assert box.run(_mount_wait("remove", folders), user=user).returncode == 0  # already gone: fine
        assert box.run("cat /run/systemctl.calls").stdout == "daemon-reload\n" * 3


def test_without_systemd_nothing_makes_docker_wait_and_it_says_so(box: Sandbox) -> None:
    result = box.run(_mount_wait("apply", [f"{SHARED}/db"]))
    assert result.returncode == 0 and "does not run systemd" in result.stderr
    assert not _stat(box, DROPIN)


@pytest.mark.parametrize("hostile", ["relative/db", f"{SHARED}/space folder", f"{SHARED}/$(id)"])
def test_docker_waits_for_mounts_refuses_what_systemd_would_split(box: Sandbox, hostile: str) -> None:
    result = box.run(_mount_wait("apply", [f"{SHARED}/db", hostile]))
    assert result.returncode != 0 and "refusing" in result.stderr and not _stat(box, DROPIN)
    outside = render("docker-waits-for-mounts.sh", ACTION="remove", FOLDERS=SHARED, DROPIN="/etc/fstab", TAG="x")
    refused = box.run(outside)
    assert refused.returncode != 0 and "refusing drop-in path" in refused.stderr and _stat(box, "/etc/fstab")


@pytest.mark.parametrize("removed", ["mkdir", "tee", "systemctl", "rm"])
def test_docker_waits_for_mounts_fails_for_a_user_without_one_of_the_readmes_sudo_commands(
    tmp_path: Path, removed: str
) -> None:
    sudo = [name for name in readme_sudo_commands() if name != removed]
    assert len(sudo) == len(readme_sudo_commands()) - 1, f"{removed} is not in the README's list"
    with Sandbox(tmp_path, sudo=sudo, guarded=["/etc"], fake_systemd=True) as box:
        results = [box.run(_mount_wait(action, [f"{SHARED}/db"]), user=USER) for action in ("apply", "remove")]
    failed = [r for r in results if r.returncode != 0]
    assert failed and "sudo: a password is required" in failed[0].stderr, [r.stderr for r in results]

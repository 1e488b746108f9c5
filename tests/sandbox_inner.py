"""The inside of a test sandbox (see sandbox.py): run as root by `unshare --mount`, never by pytest.

It builds a root file system on a tmpfs of its own: /etc a copy of the machine's, /usr an
overlay whose writes land on that tmpfs, everything else empty. It mounts it only in this
private mount namespace, checks that the sandbox is in place (a probe file made in its /etc
is not in the machine's /etc; every folder it was asked to guard is on the sandbox's tmpfs
or overlay, per /proc/self/mountinfo), and only then chroots and answers requests, one
JSON line each on stdin: a script to run as root or as the sandbox's unprivileged user.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

TMPFS_SOURCE = "wipp-sandbox"
OVERLAY_SOURCE = "wipp-sandbox-usr"
SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
USER_PATH = "/usr/local/bin:/usr/bin:/bin"  # a Debian user's default PATH: no sbin
MAX_REQUESTS = 500
DEVICES = {"null": (1, 3), "zero": (1, 5), "random": (1, 8), "urandom": (1, 9)}
FAKE_SYSTEMCTL = '#!/bin/sh\nprintf "%s\\n" "$*" >> /run/systemctl.calls\n'
# Root as NFS with root_squash (the export's default) leaves it: it may not chown, chmod another
# user's file, or write where only its owner may; it may still become another user (setpriv).
SQUASHED_ROOT = "--bounding-set=-chown,-fowner,-dac_override,-dac_read_search"


def _sh(*command: str) -> None:
    subprocess.run(command, check=True, timeout=60)


def _mounts() -> list[tuple[str, str, str]]:
    """(mount point, file system type, source) of every mount this process sees."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        after = fields[fields.index("-") + 1 :]
        found.append((fields[4], after[0], after[1]))
    return found


def _covering(path: str, mounts: list[tuple[str, str, str]]) -> tuple[str, str, str]:
    """The mount a path is on: the deepest mount point that is the path or one of its parents."""
    candidates = [m for m in mounts if path == m[0] or path.startswith(m[0].rstrip("/") + "/")]
    return max(candidates, key=lambda m: len(m[0]))


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def build(config: dict[str, Any]) -> Path:
    root = Path(config["root"])
    _sh("mount", "-t", "tmpfs", "-o", "mode=755", TMPFS_SOURCE, str(root))
    for folder in ("usr", "home", "root", "run", "tmp", "proc", "dev", "srv", "mnt", "var/lib", "var/log", "var/tmp"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "var/tmp").chmod(0o1777)
    (root / "var/run").symlink_to("../run")
    for link in ("bin", "sbin", "lib", "lib64"):
        target = os.readlink(f"/{link}") if os.path.islink(f"/{link}") else f"usr/{link}"
        (root / link).symlink_to(target)
    upper, work = root / ".sandbox" / "usr-upper", root / ".sandbox" / "usr-work"
    upper.mkdir(parents=True)
    work.mkdir(parents=True)
    _sh("mount", "-t", "overlay", "-o", f"lowerdir=/usr,upperdir={upper},workdir={work}", OVERLAY_SOURCE, f"{root}/usr")
    _sh("cp", "-a", "/etc/.", f"{root}/etc/")
    for name, (major, minor) in DEVICES.items():
        os.mknod(root / "dev" / name, 0o20666, os.makedev(major, minor))
        (root / "dev" / name).chmod(0o666)
    _sh("mount", "-t", "proc", "proc", f"{root}/proc")
    _add_user(root, config)
    if config.get("fake_systemd"):
        (root / "run/systemd/system").mkdir(parents=True)
        _write(root / "usr/local/sbin/systemctl", FAKE_SYSTEMCTL, 0o755)
    for target, source in config.get("binds", {}).items():
        place = root / target.lstrip("/")
        if os.path.isdir(source):
            place.mkdir(parents=True, exist_ok=True)
        else:
            place.parent.mkdir(parents=True, exist_ok=True)
            place.touch()
        _sh("mount", "--bind", source, str(place))
    return root


def _add_user(root: Path, config: dict[str, Any]) -> None:
    """The unprivileged user in the sandbox's own passwd and group (copies), in the docker group."""
    user, uid, docker_gid = config["user"], config["uid"], config["docker_gid"]
    etc = root / "etc"
    with (etc / "passwd").open("a") as passwd:
        passwd.write(f"{user}:x:{uid}:{uid}:sandbox user:/home/{user}:/bin/sh\n")
    with (etc / "shadow").open("a") as shadow:
        shadow.write(f"{user}:*:19000:0:99999:7:::\n")
    groups = [
        line
        for line in (etc / "group").read_text().splitlines()
        if line.split(":")[0] != "docker" and line.split(":")[2] != str(docker_gid)
    ]
    groups += [f"{user}:x:{uid}:", f"docker:x:{docker_gid}:{user}"]
    (etc / "group").write_text("\n".join(groups) + "\n")
    home = root / "home" / user
    home.mkdir(parents=True)
    os.chown(home, uid, uid)
    shutil.rmtree(etc / "sudoers.d", ignore_errors=True)
    (etc / "sudoers.d").mkdir(mode=0o755)
    _write(
        etc / "sudoers",
        f'Defaults env_reset\nDefaults secure_path="{SECURE_PATH}"\nDefaults !syslog\n'
        "root ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n",
        0o440,
    )


def allow_sudo(config: dict[str, Any]) -> list[str]:
    """Inside the chroot: the drop-in that lets the user run exactly these commands with sudo -n."""
    paths = []
    for name in config["sudo"]:
        path = shutil.which(name, path=SECURE_PATH)
        if path is None:
            raise RuntimeError(f"sandbox: {name} is not installed")
        paths.append(path)
    if paths:
        _write(Path("/etc/sudoers.d/wipp-test"), f"{config['user']} ALL=(root) NOPASSWD: {', '.join(paths)}\n", 0o440)
    return paths


def check(root: Path, guarded: list[str]) -> dict[str, str]:
    """Refuses to go on unless the sandbox is in place; returns what each guarded folder is on."""
    probe = f".wipp-sandbox-probe-{secrets.token_hex(8)}"
    (root / "etc" / probe).write_text("sandbox\n")
    if os.path.exists(f"/etc/{probe}"):
        raise RuntimeError("sandbox: a file made in the sandbox's /etc shows in the machine's /etc")
    os.chroot(root)
    os.chdir("/")
    if not os.path.exists(f"/etc/{probe}"):
        raise RuntimeError("sandbox: the chroot is not the sandbox's root")
    mounts = _mounts()
    found = {}
    for path in ["/", "/etc", *guarded]:
        point, fstype, source = _covering(path, mounts)
        if (fstype, source) not in (("tmpfs", TMPFS_SOURCE), ("overlay", OVERLAY_SOURCE)):
            raise RuntimeError(f"sandbox: {path} is on {fstype} {source} at {point}, not on the sandbox's own")
        found[path] = fstype
    found["probe"] = probe
    return found


def serve(config: dict[str, Any]) -> None:
    user_env = {"PATH": USER_PATH, "HOME": f"/home/{config['user']}", "USER": config["user"]}
    user_env["LOGNAME"] = config["user"]
    root_env = {"PATH": SECURE_PATH, "HOME": "/root"}
    for _ in range(MAX_REQUESTS):
        line = sys.stdin.readline()
        if not line:
            return
        request = json.loads(line)
        as_user = request["user"] != "root"
        env = {**(user_env if as_user else root_env), **request.get("env", {})}
        ids: dict[str, Any] = {}
        command = ["/bin/sh", "-c", request["script"]]
        if as_user and request.get("squash"):  # the user's ids set after the bounding set is cut
            uid, gid = config["uid"], config["docker_gid"]
            command = ["setpriv", f"--reuid={uid}", f"--regid={uid}", f"--groups={gid}", "--", *command]
        elif as_user:
            ids = {"user": config["uid"], "group": config["uid"], "extra_groups": [config["docker_gid"]]}
        if request.get("squash"):
            command = ["setpriv", SQUASHED_ROOT, "--", *command]
        try:
            done = subprocess.run(
                command,
                input=request.get("stdin", "").encode(),
                capture_output=True,
                env=env,
                cwd="/",
                timeout=request.get("timeout", 60),
                **ids,
            )
            reply = {"returncode": done.returncode, "stdout": done.stdout.decode(), "stderr": done.stderr.decode()}
        except subprocess.TimeoutExpired:
            reply = {"returncode": -9, "stdout": "", "stderr": "sandbox: timed out"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def main() -> None:
    config = json.loads(sys.argv[1])
    try:
        root = build(config)
        found = check(root, config.get("guarded", []))
        found["sudo"] = " ".join(allow_sudo(config))
    except Exception as error:  # reported to the test, which fails on it
        sys.stdout.write(json.dumps({"ready": False, "error": f"{type(error).__name__}: {error}"}) + "\n")
        sys.stdout.flush()
        sys.exit(1)
    sys.stdout.write(json.dumps({"ready": True, **found}) + "\n")
    sys.stdout.flush()
    serve(config)


if __name__ == "__main__":
    main()

"""A sandbox for host scripts: a chroot on a tmpfs of its own, in a private mount namespace.

Scripts that may change system folders (create, chown, delete), /etc or the sudo setup run
here instead of on the machine: the sandbox's /, /etc, /home, /var, /srv are a tmpfs that
vanishes with it, its /usr an overlay whose writes land on that tmpfs. Before any script
runs, `sandbox_inner.py` checks that this holds and the test checks again from outside
(`Sandbox.__enter__`). Scripts run as root or as an unprivileged user (`USER`) who is in the
docker group and may run, with `sudo -n`, exactly the commands given (a sudoers drop-in in
the sandbox's own /etc).
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from prerequisites import require_root, skip_or_fail

REPO = Path(__file__).resolve().parents[1]
INNER = Path(__file__).with_name("sandbox_inner.py")
USER, UID = "wippci", 64101
SYSTEM_FOLDERS = ["/", "/etc", "/home", "/usr", "/var", "/usr/local/lib", "/etc/wipp"]


def readme_sudo_commands() -> list[str]:
    """The commands README.md says a non-root user must be able to run with `sudo -n`, in its order."""
    text = " ".join(REPO.joinpath("README.md").read_text().split())
    start = text.index("through `sudo -n` without a password:")
    sentence = re.split(r"\.\s", text[start:], maxsplit=1)[0]
    names = re.findall(r"`([A-Za-z0-9_.-]+)`", sentence)
    return list(dict.fromkeys(names))


def docker_group_id(socket_path: str | None = None) -> int:
    """The group that may use the engine's socket (dockerd gives its socket to the docker group)."""
    if socket_path:
        return os.stat(socket_path).st_gid
    for line in Path("/etc/group").read_text().splitlines():
        if line.startswith("docker:"):
            return int(line.split(":")[2])
    return 64102


def engine_sockets(sockets: dict[str, str]) -> tuple[dict[str, str], int]:
    """Binds for the engines' sockets (name -> unix://path) at /run/docker-<name>.sock in a sandbox,
    and the group they belong to, which the sandbox's user joins as its docker group."""
    paths = {name: socket.removeprefix("unix://") for name, socket in sockets.items()}
    groups = {os.stat(path).st_gid for path in paths.values()}
    assert len(groups) == 1 and 0 not in groups, f"the engines' sockets are not owned by one docker group: {groups}"
    return {f"/run/docker-{name}.sock": path for name, path in paths.items()}, groups.pop()


def docker_host(name: str) -> dict[str, str]:
    """The environment that points a script in the sandbox at the engine bound as `name`."""
    return {"DOCKER_HOST": f"unix:///run/docker-{name}.sock"}


class Sandbox:
    """`with Sandbox(tmp_path) as box: box.run(script, user=USER)`; see the module's doc."""

    def __init__(
        self,
        workdir: Path,
        *,
        sudo: list[str] | None = None,
        guarded: list[str] | None = None,
        netns: str | None = None,
        new_netns: bool = False,
        binds: dict[str, str] | None = None,
        docker_gid: int | None = None,
        fake_systemd: bool = False,
    ) -> None:
        require_root("a sandbox (mount namespace, chroot)")
        if sudo and not shutil.which("sudo"):
            skip_or_fail("sudo is not installed (.ci/run installs it)")
        self.root = workdir / "sandbox-root"
        self.root.mkdir(parents=True, exist_ok=True)
        self.config = {
            "root": str(self.root),
            "user": USER,
            "uid": UID,
            "docker_gid": docker_gid if docker_gid is not None else docker_group_id(),
            "sudo": sudo or [],
            "guarded": guarded or [],
            "binds": binds or {},
            "fake_systemd": fake_systemd,
        }
        self._netns, self._new_netns = netns, new_netns
        self.facts: dict[str, str] = {}

    def __enter__(self) -> Sandbox:
        command = ["unshare", "--mount", "--propagation", "private"]
        if self._new_netns:
            command.append("--net")
        if self._netns:
            command = ["nsenter", f"--net={self._netns}", *command]
        command += [sys.executable, "-I", str(INNER), json.dumps(self.config)]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = json.loads(self._reply(60) or '{"ready": false, "error": "no answer"}')
        if not ready.pop("ready"):
            self.__exit__(None, None, None)
            raise AssertionError(f"sandbox not in place: {ready['error']}")
        # From outside too: the probe made in the sandbox's /etc is not in the machine's.
        assert not Path("/etc", ready["probe"]).exists(), "the sandbox's /etc is the machine's"
        assert not any(self.root.iterdir()), "the sandbox's tmpfs shows outside its mount namespace"
        self.facts = ready
        return self

    def _reply(self, timeout: float) -> str:
        assert self._process.stdout is not None
        deadline = time.monotonic() + timeout
        ready, _, _ = select.select([self._process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError(f"the sandbox did not answer within {timeout} s")
        return self._process.stdout.readline()

    def run(
        self,
        script: str,
        user: str = "root",
        env: dict[str, str] | None = None,
        stdin: str = "",
        timeout: float = 60,
        squash: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """`/bin/sh -c script` in the sandbox, as root or as USER (with a Debian user's PATH).

        With `squash`, root (and USER's sudo) is as NFS's root_squash leaves it: no chown, no chmod
        of another user's file, no write where only the owner may (its bounding set cut).
        Hidden from pytest's tracebacks (they print a frame's arguments): `stdin` may be a join token."""
        __tracebackhide__ = True
        assert self._process.stdin is not None
        request = {"script": script, "user": user, "env": env or {}, "stdin": stdin, "timeout": timeout}
        request["squash"] = squash
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        line = self._reply(timeout + 10)
        if not line:
            raise RuntimeError(f"the sandbox ended (exit {self._process.wait(timeout=10)})")
        reply = json.loads(line)
        return subprocess.CompletedProcess(["sh", "-c", script], reply["returncode"], reply["stdout"], reply["stderr"])

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)

"""An air-gapped test host: a private Docker Engine that reaches no registry.

A network namespace of its own (unique name) with loopback and one interface holding ADDRESS
(what the single stack's host address and the swarm's advertise address are): a veth pair with
both ends in the namespace (this kernel has no dummy interfaces). No link to any other
namespace, so no registry, mirror or Docker Hub is in reach and every pull fails at once.
Images get there as the README's air-gapped procedure says: `docker save` where they can be
pulled, `docker load` here. Its dockerd has its own data-root, exec-root, pidfile and socket in
a temp folder; it is stopped by PID, and what it left (containerd, shims, mounts) is ended and
unmounted, then the namespace and the folder are removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from docker_api import Engine, wait_until
from engine_hosts import EngineHost
from registry import PATH, unique_suffix

ADDRESS = "10.233.0.1"  # a subnet of its own: not .ci/run's, not the multi-host test's


def _answers(engine: Engine, dockerd: subprocess.Popen[bytes], log: Path) -> bool:
    if dockerd.poll() is not None:
        raise RuntimeError(f"the air-gapped dockerd exited: {log.read_text(errors='replace')[-2000:]}")
    try:
        engine.request("GET", "/_ping")
    except (OSError, RuntimeError):
        return False
    return True


class IsolatedEngine:
    """The air-gapped host's dockerd, which a test may also stop and start again on a new, empty
    data-root (`new_disk`): the same address and socket, as a new host that took a lost one's place."""

    def __init__(self, root: Path, netns: str) -> None:
        self.root, self.netns = root, netns
        self.engine = Engine(f"unix://{root / 'docker.sock'}", f"/run/netns/{netns}")
        self.host = EngineHost(self.engine, ADDRESS)
        self.disks = 0
        self.dockerd: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.disks += 1
        log = self.root / "dockerd.log"
        # nsenter execs dockerd: the PID is its own.
        self.dockerd = subprocess.Popen(
            [
                *("nsenter", f"--net=/run/netns/{self.netns}", "dockerd"),
                *(f"--data-root={self.root / f'data-{self.disks}'}", f"--exec-root={self.root / 'exec'}"),
                *(f"--pidfile={self.root / 'docker.pid'}", f"--host={self.engine.docker_host}", "--log-level=warn"),
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            env={"PATH": PATH},
        )
        started = self.dockerd
        wait_until(lambda: _answers(self.engine, started, log), 60, 0.5, "the air-gapped dockerd answers")

    def stop(self) -> None:
        """dockerd stopped by its PID, what it left ended by PID, its mounts unmounted (its data-root stays)."""
        if self.dockerd is not None and self.dockerd.poll() is None:
            self.dockerd.send_signal(signal.SIGTERM)
            try:
                self.dockerd.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.dockerd.kill()
                self.dockerd.wait(timeout=10)
        _end_leftovers(self.root)
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(str(self.root))), reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True, timeout=30)

    def new_disk(self) -> None:
        """The host's disk lost: dockerd stopped, then started on a new, empty data-root (no swarm, no
        volumes, no images), at the same address and socket."""
        self.stop()
        (self.root / "docker.sock").unlink(missing_ok=True)
        self.start()


@contextmanager
def isolated_engine() -> Iterator[EngineHost]:
    """The air-gapped host for the block; all of it gone after (also when start-up fails)."""
    with replaceable_engine() as made:
        yield made.host


@contextmanager
def replaceable_engine() -> Iterator[IsolatedEngine]:
    """The air-gapped host, with its dockerd's control (`new_disk`); all of it gone after."""
    # A short folder: the socket's path must fit in a unix socket address.
    root = Path(tempfile.mkdtemp(prefix="wipp-airgap.", dir="/tmp"))
    netns = f"wair-{unique_suffix()}"
    made = IsolatedEngine(root, netns)
    try:
        subprocess.run(["ip", "netns", "add", netns], check=True, timeout=30)
        for command in (
            ["link", "set", "lo", "up"],
            ["link", "add", "eth0", "type", "veth", "peer", "name", "eth0-end"],  # both ends here: no way out
            ["addr", "add", f"{ADDRESS}/24", "dev", "eth0"],
            ["link", "set", "eth0-end", "up"],
            ["link", "set", "eth0", "up"],
        ):
            subprocess.run(["ip", "-n", netns, *command], check=True, capture_output=True, timeout=30)
        made.start()
        yield made
    finally:
        made.stop()
        subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def _end_leftovers(root: Path) -> None:
    """containerd and shims this dockerd started name its folder on their command lines: end those, by PID."""
    marker = str(root).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue

"""An SSH server of the test's own on a test host: Debian's sshd, unpacked, never installed.

`apt-get download` and `dpkg -x` give the sshd binary without installing the package (which
would start a machine-wide sshd). It runs inside the host's network namespace and a private
mount namespace of its own, where a copy of /etc/passwd adds the privilege-separation user and
a tmpfs holds /run/sshd: the machine's /etc and /run are not touched. It listens only on the
host's test address, with a host key and authorized key made by the test.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from docker_api import wait_until

PACKAGES = ("openssh-server", "libwrap0")
LIBRARY_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu")


@dataclass
class SshHost:
    address: str
    port: int
    host_key: str  # "ssh-ed25519 AAAA...", as ssh-keyscan prints it
    client_key: Path  # the private key allowed to log in as root
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def unpacked_sshd(workdir: Path) -> Path:
    """The root of the unpacked packages (sshd at usr/sbin/sshd)."""
    root = workdir / "openssh-root"
    if (root / "usr/sbin/sshd").exists():
        return root
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=workdir, check=True, capture_output=True, timeout=300)
    for package in PACKAGES:
        deb = next(workdir.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True, timeout=60)
    return root


def start(netns: str, address: str, port: int, workdir: Path) -> SshHost:
    """sshd in `netns`, listening on address:port only; stopped with `SshHost.stop`."""
    root = unpacked_sshd(workdir.parent / "openssh")
    workdir.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(workdir / name)], check=True)
    (workdir / "authorized_keys").write_text((workdir / "client_key.pub").read_text())
    passwd = Path("/etc/passwd").read_text()
    (workdir / "passwd").write_text(passwd + "sshd:x:64999:65534:sshd privilege separation:/run/sshd:/bin/false\n")
    config = workdir / "sshd_config"
    config.write_text(
        f"ListenAddress {address}:{port}\n"
        f"HostKey {workdir / 'host_key'}\n"
        f"AuthorizedKeysFile {workdir / 'authorized_keys'}\n"
        f"PidFile {workdir / 'sshd.pid'}\n"
        "UsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
    )
    libraries = ":".join(str(root / d) for d in LIBRARY_DIRS)
    inside = (
        f"mount --bind {shlex.quote(str(workdir / 'passwd'))} /etc/passwd && "
        "mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && "
        f"LD_LIBRARY_PATH={shlex.quote(libraries)} "
        f"exec {shlex.quote(str(root / 'usr/sbin/sshd'))} -D -e -f {shlex.quote(str(config))}"
    )
    log = (workdir / "sshd.log").open("wb")
    # nsenter and unshare exec without forking, and sh execs sshd: the PID is sshd's own.
    process = subprocess.Popen(
        ["nsenter", f"--net={netns}", "unshare", "--mount", "--propagation", "private", "sh", "-c", inside],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    host_key = " ".join((workdir / "host_key.pub").read_text().split()[:2])
    host = SshHost(address, port, host_key, workdir / "client_key", process)

    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited: {(workdir / 'sshd.log').read_text()}")
        return "Server listening" in (workdir / "sshd.log").read_text()

    try:
        wait_until(listening, 20, 0.2, "sshd listens")
    except BaseException:
        host.stop()
        raise
    return host

"""Three virtual machines as test hosts: real kernels, systemd, Debian's Docker Engine, sshd, ufw.

The image: Debian 12 from Debian's packages (`vm_image/packages.txt`) with `mmdebstrap`, plus the
files in `vm_image/rootfs/` (a oneshot unit that sets the address, name and registry mirror from
the kernel command line; an `ssh.service` drop-in that makes the host keys at first boot; a unit
that prints the ed25519 host key and boot ID on the serial console), a non-root user in the
`docker` group allowed `sudo -n` for exactly the README's list, and the test's login key
(`vm_image/build-image.sh`). It is cached in /var/tmp/wipp-vm-image-<hash>, the hash of all of
that (script, package list, added files, the user and the sudo list); a key made for the cache
is its login key (a throwaway test key, readable by root only).

Each VM boots the base through a copy-on-write overlay of its own, with QEMU's emulator
(`-accel tcg,thread=multi`: KVM guests hang on this kind of machine), started inside a network
namespace of the test's own: a bridge there with one tap per VM and the "workstation" address
where Pulumi runs. No link leaves the namespace: nothing outside it is reached. Every QEMU is
started by `nsenter ... qemu-system-x86_64` (nsenter execs, so the PID is QEMU's) and stopped
by that PID.

Host keys: each VM makes its own at first boot and prints the public ed25519 key on its serial
console, a file QEMU writes on this machine; the test reads it there (out of band, as an
administrator reads it on the server's screen) and every SSH connection of the test and of
Pulumi checks it.

Snapshots: the first time an image is used, each VM boots cold, its ufw gets the SSH rule and is
enabled (as an administrator prepares a server), then QEMU's `savevm` stores the running VM in
its overlay, which is kept in the image's cache with the VM's host key. Later runs copy that
overlay and start with `-loadvm`, then set the guest clock (it comes back as it was at the
snapshot) before anything else runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docker_api import wait_until
from registry import Link, Registry
from sandbox import readme_sudo_commands

IMAGE_SOURCES = Path(__file__).parent / "vm_image"
CACHE_ROOT = Path("/var/tmp")
USER = "wippadmin"  # the non-root sshUser (UID 1001; WIPP's containers run as 1000)
SUBNET = "10.233.0.0/24"
CLIENT_ADDRESS = "10.233.0.1"  # the workstation, where Pulumi runs
MIRROR_ADDRESS = "10.233.0.2"  # the registry's address on the bridge
MIRROR_PORT = 5000
OUTSIDER_ADDRESS = "10.233.0.3"  # a second source on the bridge, not in allowedSources
HOSTS = (
    ("vm-manager", "manager", "10.233.0.10"),
    ("vm-worker-1", "worker", "10.233.0.11"),
    ("vm-worker-2", "worker", "10.233.0.12"),
)
MEMORY_MB = 1536
CPUS = 2
SNAPSHOT = "booted"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# As an administrator prepares a server before the program runs: SSH allowed from the lan, ufw enabled.
PREPARE = f"ufw allow from {SUBNET} to any port 22 proto tcp >/dev/null && ufw --force enable >/dev/null"
BOOT_SECONDS = 600  # a cold boot of three emulated VMs on a busy 2-core machine: well under this


def _run(command: list[str], timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout, **kwargs)


# -- the image ------------------------------------------------------------------------------------
def image_inputs() -> dict[str, bytes]:
    """Everything that goes into the image, by name: the build script, the package list, the
    files added, and the user with its sudo list."""
    inputs = {
        str(p.relative_to(IMAGE_SOURCES)): p.read_bytes() for p in sorted(IMAGE_SOURCES.rglob("*")) if p.is_file()
    }
    inputs["user"] = USER.encode()
    inputs["sudo"] = ",".join(readme_sudo_commands()).encode()
    return inputs


def image_hash() -> str:
    digest = hashlib.sha256()
    for name, content in image_inputs().items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Image:
    folder: Path  # base.qcow2, vmlinuz, initrd.img, client_key, and the VMs' snapshots
    built_seconds: float | None  # None: found in the cache

    @property
    def client_key(self) -> Path:
        return self.folder / "client_key"


def image() -> Image:
    """The cached image, built first when missing (one build at a time on the machine)."""
    folder = CACHE_ROOT / f"wipp-vm-image-{image_hash()}"
    lock_path = CACHE_ROOT / f"wipp-vm-image-{image_hash()}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "base.qcow2").exists():
            return Image(folder, None)
        started = time.monotonic()
        building = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=CACHE_ROOT))
        try:
            key = building / "client_key"
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "wipp-vm-test", "-f", str(key)])
            out = building / "image"
            out.mkdir()
            log = building / "build.log"
            with log.open("w") as written:
                subprocess.run(
                    [
                        "sh",
                        str(IMAGE_SOURCES / "build-image.sh"),
                        str(out),
                        f"{key}.pub",
                        USER,
                        ",".join(readme_sudo_commands()),
                    ],
                    check=True,
                    stdout=written,
                    stderr=subprocess.STDOUT,
                    timeout=1800,
                    env={"PATH": PATH, "LC_ALL": "C"},
                )
            for made in out.iterdir():
                made.rename(building / made.name)
            out.rmdir()
            building.rename(folder)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        return Image(folder, time.monotonic() - started)


# -- one VM ---------------------------------------------------------------------------------------
@dataclass
class Vm:
    """One server: its name, role, address, overlay disk, console log and QEMU process."""

    name: str
    role: str
    address: str
    index: int
    folder: Path
    cluster: VmCluster
    process: subprocess.Popen[bytes] | None = None
    host_key: str = ""  # "ssh-ed25519 AAAA...", as its console printed it

    @property
    def disk(self) -> Path:
        return self.folder / "disk.qcow2"

    @property
    def console_log(self) -> Path:
        return self.folder / "console.log"

    @property
    def monitor_socket(self) -> Path:
        return self.folder / "monitor.sock"

    @property
    def tap(self) -> str:
        return f"tap{self.index}"

    @property
    def mac(self) -> str:
        return f"52:54:00:e9:00:{self.index + 10:02x}"

    def kernel_line(self) -> str:
        return " ".join(
            [
                "root=/dev/vda rw console=ttyS0 apparmor=0 net.ifnames=0 quiet",
                f"wipp.address={self.address}/24 wipp.hostname={self.name}",
                f"wipp.mirror=http://{MIRROR_ADDRESS}:{MIRROR_PORT}",
            ]
        )

    # -- QEMU --------------------------------------------------------------------------------
    def start(self, restore: bool) -> None:
        """QEMU inside the cluster's namespace; `restore`: from the overlay's snapshot."""
        assert self.process is None or self.process.poll() is not None, f"{self.name} runs already"
        image = self.cluster.image.folder
        command = [
            *["nsenter", f"--net=/run/netns/{self.cluster.netns}", "qemu-system-x86_64"],
            *["-accel", "tcg,thread=multi", "-m", str(MEMORY_MB), "-smp", str(CPUS), "-name", self.name],
            *["-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img"), "-append", self.kernel_line()],
            *["-drive", f"file={self.disk},if=virtio,format=qcow2"],
            *["-netdev", f"tap,id=net0,ifname={self.tap},script=no,downscript=no"],
            *["-device", f"virtio-net-pci,netdev=net0,mac={self.mac}"],
            *["-serial", f"file:{self.console_log}", "-display", "none", "-vga", "none", "-no-user-config"],
            *["-monitor", f"unix:{self.monitor_socket},server,nowait"],
            *(["-loadvm", SNAPSHOT] if restore else []),
        ]
        log = (self.folder / "qemu.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def monitor(self, command: str, timeout: float = 120) -> str:
        """One command on QEMU's monitor; its answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(str(self.monitor_socket))
            answer = self._read_prompt(connection)
            connection.sendall(command.encode() + b"\n")
            answer = self._read_prompt(connection)
        return answer

    @staticmethod
    def _read_prompt(connection: socket.socket) -> str:
        data = b""
        while not data.endswith(b"(qemu) "):
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")

    def power_off(self) -> None:
        """The power cord: SIGKILL to this VM's QEMU, by its PID."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM to QEMU's PID (it exits at once, the guest with it), then SIGKILL after 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    # -- what the console shows ----------------------------------------------------------------
    def console(self) -> str:
        return self.console_log.read_text(errors="replace") if self.console_log.exists() else ""

    def boot_ids(self) -> list[str]:
        return re.findall(r"wipp-test: booted ([0-9a-f-]+)", self.console())

    def console_host_key(self) -> str | None:
        keys = re.findall(r"wipp-test: host-key (ssh-ed25519 [A-Za-z0-9+/=]+)", self.console())
        return keys[-1] if keys else None

    def wait_booted(self, boots_before: int, timeout: float = BOOT_SECONDS) -> None:
        """Until the console shows a boot after the first `boots_before` and SSH answers."""

        def announced() -> bool:
            if not self.running():
                raise RuntimeError(f"{self.name}'s QEMU exited: {(self.folder / 'qemu.log').read_text()[-2000:]}")
            return len(self.boot_ids()) > boots_before

        wait_until(announced, timeout, 1, f"{self.name} booted (its console announces it)")
        key = self.console_host_key()
        assert key is not None, f"{self.name}'s console shows no host key"
        if self.host_key:
            assert key == self.host_key, f"{self.name}'s host key changed: {key}"
        self.host_key = key
        self.cluster.write_known_hosts()
        wait_until(self.answers, 120, 1, f"{self.name} answers SSH")

    def answers(self) -> bool:
        if not self.running():
            raise RuntimeError(f"{self.name}'s QEMU exited")
        return self.ssh("true", check=False, timeout=15).returncode == 0

    # -- commands on the VM --------------------------------------------------------------------
    def ssh(
        self, command: str, user: str = "root", check: bool = True, timeout: float = 120, stdin: bytes | str = ""
    ) -> subprocess.CompletedProcess[str]:
        """A command on the VM over SSH from the workstation, the host key checked."""
        result = subprocess.run(
            [*self.cluster.ssh_command(user, self.address), command],
            input=stdin.encode() if isinstance(stdin, str) else stdin,
            capture_output=True,
            timeout=timeout,
        )
        done = subprocess.CompletedProcess(
            result.args,
            result.returncode,
            result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace"),
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{self.name}: {command!r} exited {done.returncode}: {done.stderr[-2000:]}")
        return done

    def docker_json(self, *args: str) -> list[dict[str, Any]]:
        """`docker ARGS --format '{{json .}}'` as root on the VM, one JSON object per line."""
        out = self.ssh(" ".join(["docker", *args, "--format", "'{{json .}}'"])).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def docker_answers(self) -> bool:
        return self.ssh("docker info >/dev/null", check=False).returncode == 0

    def set_clock(self) -> None:
        """The guest clock to this machine's (a restored snapshot's clock is the snapshot's)."""
        self.ssh(f"date -u -s @{time.time():.3f} >/dev/null")


# -- the cluster ----------------------------------------------------------------------------------
@dataclass
class VmCluster:
    """Three VMs on a bridge in a namespace of the test's own; the workstation's key and agent."""

    root: Path
    suffix: str
    image: Image
    registry: Registry
    registry_link: Link | None = None
    vms: list[Vm] = field(default_factory=list)
    agent: subprocess.Popen[bytes] | None = None
    restored: bool = False
    boot_seconds: float = 0.0
    _netns_made: bool = False

    @property
    def netns(self) -> str:
        return f"wvm-{self.suffix}"

    @property
    def client_key(self) -> Path:
        return self.image.client_key

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def agent_socket(self) -> Path:
        return self.root / "agent.sock"

    @property
    def manager(self) -> Vm:
        return self.vms[0]

    @property
    def workers(self) -> list[Vm]:
        return self.vms[1:]

    def vm(self, name: str) -> Vm:
        return next(v for v in self.vms if v.name == name)

    def write_known_hosts(self) -> None:
        self.known_hosts.write_text("".join(f"{v.address} {v.host_key}\n" for v in self.vms if v.host_key))

    def ssh_command(self, user: str, address: str) -> list[str]:
        return [
            *["nsenter", f"--net=/run/netns/{self.netns}", "ssh", "-i", str(self.client_key)],
            *["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"],
            *["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts}"],
            *["-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"],
            f"{user}@{address}",
        ]

    def client_prefix(self) -> list[str]:
        """Runs a command (Pulumi) on the workstation: the namespace, the agent in reach, and a
        private copy of /etc over /etc, as every engine test runs pulumi."""
        return [
            *["nsenter", f"--net=/run/netns/{self.netns}", "unshare", "--mount", "--propagation", "private", "--"],
            *["sh", "-c", 'mount --bind "$0" /etc && exec "$@"', str(self.root / "workstation-etc")],
            *["env", f"SSH_AUTH_SOCK={self.agent_socket}"],
        ]

    def http_get(self, address: str, port: int, path: str = "/", source: str = CLIENT_ADDRESS) -> str | None:
        """GET from `source` (an address of the workstation); None when nothing answers within 3 s."""
        fetch = (
            "import sys, http.client\n"
            "c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=3,"
            " source_address=(sys.argv[4], 0))\n"
            "c.request('GET', sys.argv[3]); r = c.getresponse(); sys.stdout.write(r.read().decode())\n"
        )
        result = subprocess.run(
            [
                *["nsenter", f"--net=/run/netns/{self.netns}", sys.executable, "-c", fetch],
                *[address, str(port), path, source],
            ],
            capture_output=True,
            text=True,
            timeout=15,
        )
        return result.stdout if result.returncode == 0 else None

    # -- bring-up ----------------------------------------------------------------------------
    def start(self) -> None:
        started = time.monotonic()
        self._make_network()
        self.registry_link = self.registry.connect(self.netns, MIRROR_ADDRESS, bridge="br0")
        _run(["cp", "-a", "/etc", str(self.root / "workstation-etc")], timeout=120)
        for index, (name, role, address) in enumerate(HOSTS):
            folder = self.root / name
            folder.mkdir()
            self.vms.append(Vm(name, role, address, index, folder, self))
        snapshots = [self._snapshot(vm) for vm in self.vms]
        self.restored = all(disk.exists() and key.exists() for disk, key in snapshots)
        for vm, (disk, key) in zip(self.vms, snapshots, strict=True):
            if self.restored:
                shutil.copyfile(disk, vm.disk)
                vm.host_key = key.read_text().strip()
            else:
                _run(
                    ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(self.image.folder / "base.qcow2")]
                    + ["-F", "qcow2", str(vm.disk)]
                )
            vm.start(restore=self.restored)
        if self.restored:
            self.write_known_hosts()
            for vm in self.vms:
                wait_until(vm.answers, 120, 0.5, f"{vm.name} answers SSH after its restore")
                vm.set_clock()
        else:
            for vm in self.vms:
                vm.wait_booted(0)
            for vm in self.vms:
                self._prepare(vm)
            self._save_snapshots(snapshots)
        for vm in self.vms:
            wait_until(vm.docker_answers, 120, 1, f"{vm.name}'s Docker answers")
        self.boot_seconds = time.monotonic() - started
        self._start_agent()

    def _make_network(self) -> None:
        _run(["ip", "netns", "add", self.netns])
        self._netns_made = True
        _run(["ip", "-n", self.netns, "link", "set", "lo", "up"])
        _run(["ip", "-n", self.netns, "link", "add", "br0", "type", "bridge"])
        for address in (CLIENT_ADDRESS, OUTSIDER_ADDRESS):
            _run(["ip", "-n", self.netns, "addr", "add", f"{address}/24", "dev", "br0"])
        _run(["ip", "-n", self.netns, "link", "set", "br0", "up"])
        for index in range(len(HOSTS)):
            _run(["ip", "-n", self.netns, "tuntap", "add", f"tap{index}", "mode", "tap"])
            _run(["ip", "-n", self.netns, "link", "set", f"tap{index}", "master", "br0", "up"])

    def _snapshot(self, vm: Vm) -> tuple[Path, Path]:
        """Where the image's cache keeps this VM's booted overlay and its host key: named by a hash
        of what the snapshot depends on besides the image (QEMU's machine, the kernel line, the
        preparation), so a change there boots cold and saves a new one."""
        identity = json.dumps([vm.name, vm.kernel_line(), vm.mac, MEMORY_MB, CPUS, PREPARE])
        name = f"{vm.name}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"
        return self.image.folder / f"{name}.qcow2", self.image.folder / f"{name}.host-key"

    def _prepare(self, vm: Vm) -> None:
        """As an administrator prepares a server: SSH allowed from the lan, then ufw enabled
        (the program never enables ufw; README, Prerequisites)."""
        vm.ssh(PREPARE)
        wait_until(vm.docker_answers, 120, 1, f"{vm.name}'s Docker answers")

    def _save_snapshots(self, snapshots: list[tuple[Path, Path]]) -> None:
        """Each VM saved as it runs (`savevm`), its overlay and host key kept in the image's cache,
        then started again from that snapshot: every run, this one too, uses the same state."""
        for vm in self.vms:
            answer = vm.monitor(f"savevm {SNAPSHOT}", timeout=300)
            assert "Error" not in answer, f"{vm.name}: savevm: {answer}"
            vm.stop()
        for vm, (disk, key) in zip(self.vms, snapshots, strict=True):
            keep = disk.with_suffix(f".tmp{self.suffix}")
            shutil.copyfile(vm.disk, keep)
            keep.rename(disk)
            key.write_text(vm.host_key + "\n")
        for vm in self.vms:
            vm.start(restore=True)
        for vm in self.vms:
            wait_until(vm.answers, 120, 0.5, f"{vm.name} answers SSH after its restore")
            vm.set_clock()

    def _start_agent(self) -> None:
        """The user's ssh-agent with the key loaded, as the README asks (the Docker provider's ssh uses it)."""
        self.agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(self.agent_socket)], stdout=subprocess.DEVNULL)
        wait_until(self.agent_socket.exists, 10, 0.1, "ssh-agent listens")
        _run(["ssh-add", "-q", str(self.client_key)], env={"SSH_AUTH_SOCK": str(self.agent_socket), "PATH": PATH})

    # -- tear-down ---------------------------------------------------------------------------
    def stop(self) -> None:
        for vm in self.vms:
            vm.stop()
        if self.agent is not None and self.agent.poll() is None:
            self.agent.terminate()
            self.agent.wait(timeout=10)
        if self.registry_link is not None:
            self.registry.disconnect(self.registry_link)
        if self._netns_made:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


SHARED = "/mnt/wipp-shared"  # where every VM mounts the shared storage (the shipped stack's folders)
EXPORT = "/srv/wipp-export"  # the manager's exported folder


def share_storage(cluster: VmCluster, options: str = "rw,sync,no_subtree_check,root_squash") -> None:
    """NFS as the README says a lab sets it up: the manager exports EXPORT (Debian's
    nfs-kernel-server) with the default root_squash (root on the other hosts is nobody there),
    given to UID 1000, and sees it at SHARED by a bind mount; the workers mount the export at
    SHARED (NFS 4.2, `hard,_netdev`). All in /etc/fstab and enabled, so a reboot brings them
    back; ufw lets NFS in from the lan."""
    manager = cluster.manager
    manager.ssh(
        # NFS 4 needs only 2049/tcp; ufw is enabled, and the program opens only the swarm's ports.
        f"ufw allow from {SUBNET} to any port 2049 proto tcp >/dev/null && "
        f"mkdir -p {EXPORT} {SHARED} && chown 1000 {EXPORT} && chmod 755 {EXPORT} && "
        f"echo '{EXPORT} {SUBNET}({options})' > /etc/exports && "
        "systemctl enable --now nfs-server >/dev/null 2>&1 && exportfs -ra && "
        f"echo '{EXPORT} {SHARED} none bind 0 0' >> /etc/fstab && mount {SHARED}"
    )
    for worker in cluster.workers:
        worker.ssh(
            f"mkdir -p {SHARED} && "
            f"echo '{manager.address}:{EXPORT} {SHARED} nfs rw,hard,vers=4.2,_netdev 0 0' >> /etc/fstab && "
            f"mount {SHARED}"
        )


@contextlib.contextmanager
def vm_cluster(registry: Registry) -> Iterator[VmCluster]:
    """Three VMs up for the block, pulling from `registry` (their Docker Hub mirror, on their
    bridge), all of them stopped after (also when bring-up fails half-way)."""
    folder = Path(tempfile.mkdtemp(prefix="wipp-vms.", dir="/tmp"))
    made = VmCluster(folder, f"{os.getpid() % 100000}", image(), registry)
    try:
        made.start()
        yield made
    finally:
        made.stop()


if __name__ == "__main__":
    serving = Registry.start(Path(tempfile.mkdtemp(prefix="wipp-vm-registry.", dir="/tmp")))
    try:
        with vm_cluster(serving) as cluster:
            print(f"booted in {cluster.boot_seconds:.1f} s, restored={cluster.restored}", file=sys.stderr)
            for vm in cluster.vms:
                print(vm.name, vm.host_key, vm.ssh("uname -r; id -u", user=USER).stdout)
    finally:
        serving.stop()

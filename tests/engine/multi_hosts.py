"""Three test hosts on one machine: a manager and two workers, each with its own dockerd and sshd.

Each host is a network namespace with a mount and UTS namespace of its own, held open by an
"anchor" process: `nsenter --net` into the host's network namespace, then `unshare --mount
--propagation private --uts`, where a copy of the machine's /etc kept in the host's own temp
folder is bind-mounted over /etc. So each host has its own /etc (its /etc/ufw, its /etc/passwd
with sshd's privilege-separation user), a sysfs of its network namespace on /sys (as `ip netns
exec` mounts one) and a tmpfs on /run (sshd's /run/sshd, iptables' lock). Its sshd joins the
anchor's namespaces with `nsenter`, so the commands Pulumi runs over SSH see that private /etc
too: ufw's rules and anything written under /etc land in the host's copy. The machine's own
/etc is never written: not even /etc/netns (`ip netns exec` is not used), which `Cluster.stop`
checks.

The namespaces are joined by a bridge inside a "lan" namespace of the test's own, which also
has an address on the test subnet: Pulumi runs there (`Cluster.client_prefix`), so its SSH
and the Docker provider's `ssh` reach the hosts the way a workstation reaches three servers.
Nothing is created in the machine's own network namespace.

The hosts' engines pull the images from the test world's registry (tests/engine/registry.py),
connected to the lan's bridge at REGISTRY_ADDRESS and set as each dockerd's Docker Hub mirror;
a cluster started without a registry has the stand-ins imported into every engine instead.

The shared storage is one folder under the cluster's temp folder; every host sees it at the
same path because all of them share the machine's file system (as an NFS or GlusterFS mount
would be shared). Everything is stopped by PID and removed by `Cluster.stop`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ssh_host
import standin_images
from docker_api import Engine, wait_until
from registry import Link, Registry

# A private subnet of the test's own: not .ci/run's 10.231.0.0/24, not the machine's.
SUBNET = "10.232.0.0/24"
CLIENT_ADDRESS = "10.232.0.1"
REGISTRY_ADDRESS = "10.232.0.5"  # the registry's end of its link onto the lan's bridge
HOSTS = (
    ("wipp-manager", "manager", "10.232.0.10"),
    ("wipp-worker-1", "worker", "10.232.0.11"),
    ("wipp-worker-2", "worker", "10.232.0.12"),
)
SSH_PORT = 22
SSH_USER = "root"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ANCHOR_SECONDS = 3 * 3600  # the anchor outlives any test run, but not forever
VERSIONS = ("2.2.0",)
MONGO_IMAGE = "mongo:3.4"


def _run(command: list[str], timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout, **kwargs)


def stop_process(process: subprocess.Popen[bytes], grace: float = 30) -> None:
    """SIGTERM to this one PID, then SIGKILL after `grace` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class TestHost:
    """One server: its names, address, folders and the processes that make it up."""

    __test__ = False  # a test host, not a test class for pytest to collect
    name: str
    role: str
    address: str
    netns: str  # the name under /run/netns
    folder: Path
    anchor: subprocess.Popen[bytes] | None = None
    dockerd: subprocess.Popen[bytes] | None = None
    sshd: subprocess.Popen[bytes] | None = None
    host_key: str = ""  # "ssh-ed25519 AAAA...", the sshd's public host key

    @property
    def socket(self) -> Path:
        return self.folder / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def engine(self) -> Engine:
        return Engine(self.docker_host, f"/run/netns/{self.netns}")

    @property
    def etc_copy(self) -> Path:
        """The host's own /etc: a copy in its temp folder, bound over /etc in its mount namespace."""
        return self.folder / "etc"

    def enter(self) -> list[str]:
        """The prefix that runs a command on this host: its network, mount and UTS namespaces.

        The mount namespace is the anchor's: `etc_copy` over /etc, a tmpfs on /run.
        """
        assert self.anchor is not None, f"{self.name} is not started"
        return ["nsenter", f"--target={self.anchor.pid}", "--mount", "--uts", "--net"]

    def run(
        self, command: list[str], check: bool = True, timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """A command on this host, as root, with DOCKER_HOST set to its engine."""
        return subprocess.run(
            [*self.enter(), *command],
            env={"PATH": PATH, "DOCKER_HOST": self.docker_host},
            input=stdin or "",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def swarm_state(self) -> str:
        return str(self.engine.request("GET", "/info")["Swarm"]["LocalNodeState"])

    def ufw_added(self) -> list[str]:
        """`ufw show added` on this host: its own rules, from its own /etc/ufw."""
        lines = self.run(["ufw", "show", "added"]).stdout.splitlines()[1:]
        return [line.removeprefix("ufw ") for line in lines if line != "(None)"]

    # -- dockerd ---------------------------------------------------------------------------
    def start_dockerd(self, mirror: Link | None = None) -> None:
        """dockerd with its own data-root, exec-root, pidfile and socket, inside the host; pulling
        Docker Hub names through `mirror` when given."""
        assert self.anchor is not None, f"{self.name} is not started"
        log = (self.folder / "dockerd.log").open("ab")
        # The host's network and name, but the machine's mounts: the anchor's mount namespace has
        # a sysfs of the network namespace's own, without the cgroup hierarchies dockerd needs (as
        # .ci/run's engines, it runs with nsenter --net). nsenter execs dockerd: the PID is its own.
        self.dockerd = subprocess.Popen(
            [
                "nsenter",
                f"--target={self.anchor.pid}",
                "--uts",
                "--net",
                "dockerd",
                f"--data-root={self.folder / 'data'}",
                f"--exec-root={self.folder / 'exec'}",
                f"--pidfile={self.folder / 'docker.pid'}",
                f"--host={self.docker_host}",
                "--log-level=warn",
                *([f"--registry-mirror={mirror.url}", f"--insecure-registry={mirror.host}"] if mirror else []),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": PATH},
        )
        wait_until(self._engine_answers, 60, 0.5, f"{self.name}'s dockerd answers")

    def _engine_answers(self) -> bool:
        if self.dockerd is not None and self.dockerd.poll() is not None:
            raise RuntimeError(f"{self.name}'s dockerd exited: {(self.folder / 'dockerd.log').read_text()[-2000:]}")
        if not self.socket.exists():
            return False
        try:
            self.engine.request("GET", "/_ping")
        except (OSError, RuntimeError):
            return False
        return True

    def stop_dockerd(self) -> None:
        if self.dockerd is not None:
            stop_process(self.dockerd)


@dataclass
class Cluster:
    """The three hosts, the lan they share, the shared folder and the user's SSH key and agent."""

    root: Path
    suffix: str
    registry: Registry | None = None
    registry_link: Link | None = None
    hosts: list[TestHost] = field(default_factory=list)
    agent: subprocess.Popen[bytes] | None = None
    client_key: Path | None = None
    _lan_made: bool = False
    # The machine's /etc/netns as `start` found it, checked again by `stop`.
    _etc_netns_before: object = None

    def namespaces(self) -> list[str]:
        """The network namespaces this cluster makes (its hosts' and the lan)."""
        return [*(self._netns_of(name) for name, _, _ in HOSTS), self.lan]

    def _netns_of(self, host_name: str) -> str:
        return f"wmh-{host_name.removeprefix('wipp-')}-{self.suffix}"

    @property
    def lan(self) -> str:
        return f"wmh-lan-{self.suffix}"

    @property
    def shared(self) -> Path:
        return self.root / "shared"

    @property
    def agent_socket(self) -> Path:
        return self.root / "agent.sock"

    @property
    def manager(self) -> TestHost:
        return self.hosts[0]

    @property
    def workers(self) -> list[TestHost]:
        return self.hosts[1:]

    def host(self, name: str) -> TestHost:
        return next(h for h in self.hosts if h.name == name)

    def client_prefix(self) -> list[str]:
        """Runs a command (Pulumi) on the test's workstation: the lan namespace, the agent in reach,
        and a private copy of /etc over /etc (as every engine test runs pulumi), made by `start`."""
        return [
            *["nsenter", f"--net=/run/netns/{self.lan}", "unshare", "--mount", "--propagation", "private", "--"],
            *["sh", "-c", 'mount --bind "$0" /etc && exec "$@"', str(self.root / "workstation-etc")],
            *["env", f"SSH_AUTH_SOCK={self.agent_socket}"],
        ]

    def http_get(self, address: str, port: int, path: str = "/") -> str | None:
        """GET from the workstation; None when nothing answers within 2 s."""
        fetch = (
            "import sys, urllib.request;"
            "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())"
        )
        result = subprocess.run(
            ["nsenter", f"--net=/run/netns/{self.lan}", sys.executable, "-c", fetch, f"http://{address}:{port}{path}"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return result.stdout if result.returncode == 0 else None

    # -- bring-up ----------------------------------------------------------------------------
    def start(self, workdir: Path) -> None:
        self._etc_netns_before = etc_netns_state(self.namespaces())
        self._make_lan()
        if self.registry is not None:
            self.registry_link = self.registry.connect(self.lan, REGISTRY_ADDRESS, bridge="br0")
        _run(["cp", "-a", "/etc", str(self.root / "workstation-etc")], timeout=120)
        self.shared.mkdir()
        self._make_client_key()
        openssh = ssh_host.unpacked_sshd(workdir / "openssh")
        for name, role, address in HOSTS:
            host = TestHost(name, role, address, self._netns_of(name), self.root / name)
            self.hosts.append(host)
            self._make_host(host, openssh)
        self._start_agent()
        if self.registry is None:
            # No registry: every host's engine gets the stand-in images, as a registry would serve them.
            for host in self.hosts:
                standin_images.build(host.engine, workdir / "standins", VERSIONS, MONGO_IMAGE)

    def _make_lan(self) -> None:
        _run(["ip", "netns", "add", self.lan])
        self._lan_made = True
        _run(["ip", "-n", self.lan, "link", "set", "lo", "up"])  # Pulumi's engine and plugins talk over loopback
        _run(["ip", "-n", self.lan, "link", "add", "br0", "type", "bridge"])
        _run(["ip", "-n", self.lan, "addr", "add", f"{CLIENT_ADDRESS}/24", "dev", "br0"])
        _run(["ip", "-n", self.lan, "link", "set", "br0", "up"])

    def _make_host(self, host: TestHost, openssh: Path) -> None:
        host.folder.mkdir()
        _run(["ip", "netns", "add", host.netns])
        port = f"p-{host.name.removeprefix('wipp-')}"
        # The veth pair is made inside the lan namespace, its far end sent straight into the host's.
        _run(["ip", "-n", self.lan, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", host.netns])
        _run(["ip", "-n", self.lan, "link", "set", port, "master", "br0", "up"])
        _run(["ip", "-n", host.netns, "link", "set", "lo", "up"])
        _run(["ip", "-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0"])
        _run(["ip", "-n", host.netns, "link", "set", "eth0", "up"])
        self._make_etc(host)
        self._start_anchor(host)
        self._enable_firewall(host)
        host.start_dockerd(self.registry_link)
        self._start_sshd(host, openssh)

    def _make_etc(self, host: TestHost) -> None:
        """The host's own /etc, in its temp folder: a copy of the machine's, with ufw setting no
        kernel values and passwd holding sshd's privilege-separation user."""
        etc = host.etc_copy
        _run(["cp", "-a", "/etc", str(etc)], timeout=120)
        (etc / "ufw" / "sysctl.conf").write_text("")  # no kernel settings from the tests
        passwd = Path("/etc/passwd").read_text()
        (etc / "passwd").write_text(passwd + "sshd:x:64999:65534:sshd privilege separation:/run/sshd:/bin/false\n")

    def _start_anchor(self, host: TestHost) -> None:
        # The host's network namespace; a private mount namespace (nothing mounted in it reaches
        # the machine's) with the host's /etc copy over /etc and, as `ip netns exec` would, a sysfs
        # of that network namespace on /sys; a UTS namespace for the host's name; a tmpfs on /run
        # for sshd's privilege-separation folder.
        inside = (
            'mount --bind "$0" /etc && umount -l /sys && mount -t sysfs sysfs /sys && '
            f"hostname {host.name} && mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd && "
            f"exec sleep {ANCHOR_SECONDS}"
        )
        host.anchor = subprocess.Popen(
            [
                *["nsenter", f"--net=/run/netns/{host.netns}"],
                *["unshare", "--mount", "--propagation", "private", "--uts", "--"],
                *["sh", "-c", inside, str(host.etc_copy)],
            ]
        )

        def ready() -> bool:
            assert host.anchor is not None
            if host.anchor.poll() is not None:
                raise RuntimeError(f"{host.name}'s anchor exited {host.anchor.returncode}")
            hostname = subprocess.run(
                ["nsenter", f"--target={host.anchor.pid}", "--uts", "--mount", "sh", "-c", "hostname; ls -d /run/sshd"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            return hostname.returncode == 0 and hostname.stdout.startswith(host.name)

        wait_until(ready, 20, 0.1, f"{host.name}'s namespaces are ready")
        self._check_etc_sandbox(host)

    def _check_etc_sandbox(self, host: TestHost) -> None:
        """A file made in the host's /etc lands in its copy, never in the machine's /etc."""
        probe = f"wipp-host-probe-{host.netns}"
        made = host.run(["sh", "-c", f'echo "$(hostname)" > /etc/{probe} && cat /etc/{probe}'])
        assert made.stdout == f"{host.name}\n", made
        assert not Path("/etc", probe).exists(), f"{host.name}'s /etc is the machine's"
        assert (host.etc_copy / probe).read_text() == f"{host.name}\n", f"{host.name}'s /etc is not its copy"
        (host.etc_copy / probe).unlink()

    def _enable_firewall(self, host: TestHost) -> None:
        # As an administrator prepares a server: SSH allowed from the lan, then ufw enabled
        # (the program never enables ufw; README, Prerequisites).
        host.run(["ufw", "allow", "from", SUBNET, "to", "any", "port", str(SSH_PORT), "proto", "tcp"])
        host.run(["ufw", "--force", "enable"])

    def _start_sshd(self, host: TestHost, openssh: Path) -> None:
        folder = host.folder / "sshd"
        folder.mkdir()
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.name, "-f", str(folder / "host_key")])
        assert self.client_key is not None
        (folder / "authorized_keys").write_text(self.client_key.with_suffix(".pub").read_text())
        config = folder / "sshd_config"
        config.write_text(
            f"ListenAddress {host.address}:{SSH_PORT}\n"
            f"HostKey {folder / 'host_key'}\n"
            f"AuthorizedKeysFile {folder / 'authorized_keys'}\n"
            f"PidFile {folder / 'sshd.pid'}\n"
            "UsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\n"
            # The commands Pulumi runs, and the Docker provider's `docker system dial-stdio`, reach
            # this host's own engine: a server whose dockerd listens on /var/run/docker.sock needs
            # no such line (see README, Multi-host setup).
            f"SetEnv DOCKER_HOST={host.docker_host} PATH={PATH}\n"
        )
        libraries = ":".join(str(openssh / d) for d in ssh_host.LIBRARY_DIRS)
        log = (folder / "sshd.log").open("ab")
        # nsenter execs sshd: the PID is sshd's own.
        host.sshd = subprocess.Popen(
            [*host.enter(), str(openssh / "usr/sbin/sshd"), "-D", "-e", "-f", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": PATH, "LD_LIBRARY_PATH": libraries},
        )
        host.host_key = " ".join((folder / "host_key.pub").read_text().split()[:2])

        def listening() -> bool:
            if host.sshd is not None and host.sshd.poll() is not None:
                raise RuntimeError(f"{host.name}'s sshd exited: {(folder / 'sshd.log').read_text()}")
            return "Server listening" in (folder / "sshd.log").read_text()

        wait_until(listening, 20, 0.2, f"{host.name}'s sshd listens")

    def sshd_log(self, host: TestHost) -> str:
        return (host.folder / "sshd" / "sshd.log").read_text(errors="replace")

    def _make_client_key(self) -> None:
        """The user's key: made by the test, never the machine's."""
        self.client_key = self.root / "id_ed25519"
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "wipp-test-user", "-f", str(self.client_key)])

    def _start_agent(self) -> None:
        """The user's ssh-agent with the key loaded, as the README asks (the Docker provider's ssh uses it)."""
        assert self.client_key is not None
        # -D: in the foreground, so the PID is the agent's own and it is stopped by that PID.
        self.agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(self.agent_socket)], stdout=subprocess.DEVNULL)
        wait_until(self.agent_socket.exists, 10, 0.1, "ssh-agent listens")
        _run(["ssh-add", "-q", str(self.client_key)], env={"SSH_AUTH_SOCK": str(self.agent_socket), "PATH": PATH})

    # -- tear-down ---------------------------------------------------------------------------
    def stop(self) -> None:
        """Stops every process by PID, then removes the namespaces and the folder (with the hosts'
        /etc copies); then checks that the machine's /etc/netns is as it was."""
        for host in self.hosts:
            if host.sshd is not None:
                stop_process(host.sshd, grace=10)
        for host in self.hosts:
            host.stop_dockerd()
        self._end_leftovers()
        for host in self.hosts:
            if host.anchor is not None:
                stop_process(host.anchor, grace=10)
        if self.agent is not None:
            stop_process(self.agent, grace=10)
        for host in self.hosts:
            subprocess.run(["ip", "netns", "del", host.netns], capture_output=True, timeout=30)
        if self.registry is not None and self.registry_link is not None:
            self.registry.disconnect(self.registry_link)
        if self._lan_made:
            subprocess.run(["ip", "netns", "del", self.lan], capture_output=True, timeout=30)
        self._unmount_leftovers()
        shutil.rmtree(self.root, ignore_errors=True)
        after = etc_netns_state(self.namespaces())
        assert after == self._etc_netns_before, f"the test created or changed /etc/netns: {after}"

    def _end_leftovers(self) -> None:
        """containerd and shims our engines started name our folder on their command lines: end those, by PID."""
        root = str(self.root).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if root in (entry / "cmdline").read_bytes():
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                continue

    def _unmount_leftovers(self) -> None:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(str(self.root))), reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True, timeout=30)


def etc_netns_state(namespaces: list[str]) -> object:
    """What the machine's /etc/netns (where `ip netns exec` finds its bind mounts) holds for these
    namespaces: None when /etc/netns is absent, else every path under /etc/netns/<namespace> with
    its type, size and modification time (nothing, when the test made none). Only these names:
    another test run on the machine (an older checkout) may use /etc/netns for its own meanwhile."""
    top = Path("/etc/netns")
    if not top.exists():
        return None
    paths = [p for name in namespaces if (top / name).exists() for p in [top / name, *sorted((top / name).rglob("*"))]]
    return [(str(p), p.lstat().st_mode, p.lstat().st_size, p.lstat().st_mtime_ns) for p in paths]


@contextmanager
def cluster(workdir: Path, registry: Registry | None = None) -> Iterator[Cluster]:
    """Three hosts up for the block, all of it gone after (also when bring-up fails half-way).

    With `registry` (its images pushed), the hosts pull from it; without, the stand-ins are imported.
    """
    # A short folder: the docker and agent sockets' paths must fit in a unix socket address.
    made = Cluster(Path(tempfile.mkdtemp(prefix="wipp-multi.", dir="/tmp")), f"{os.getpid() % 100000}", registry)
    try:
        made.start(workdir)
        yield made
    finally:
        made.stop()

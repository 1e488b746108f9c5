"""An image registry for the test world: Debian's `docker-registry` (distribution 2.8), never installed.

The package is fetched with `apt-get download` and unpacked with `dpkg -x` into
/var/tmp/wipp-docker-registry-<hash of the .deb> (its maintainer scripts would write /etc and
start it as a service on the machine: they never run). Each `Registry` runs that binary with a
config file and a storage folder in a temp folder of its own, inside a network namespace of its
own (unique name), and is stopped by its PID.

Other namespaces reach it through `Registry.connect`: a veth pair from the registry's namespace
into a given network namespace (optionally onto a bridge there), with an address on each side.
`Link.shape` limits the registry's side of a link (`tc qdisc ... tbf`), so pulls over it take
the time they would on a real link. `Registry.bytes_served` counts what the registry sent to
each client address, from its own JSON log (one "response completed" entry per request).

Images are pushed from inside the registry's namespace over its loopback (this file, run as a
script there, is the client): pushes cross no link and count for no client. A registry started
with `credentials` requires a login (htpasswd, bcrypt); plain HTTP is enough for the engine when
the address is an `--insecure-registry`.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = "docker-registry"
PORT = 5000
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"  # uncompressed: the padding is incompressible anyway
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_counter = 0


def _run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout)


def unique_suffix() -> str:
    """The PID and a counter: names no other run on the machine (or registry in this run) uses."""
    global _counter
    _counter += 1
    return f"{os.getpid() % 100000}{_counter}"


def registry_binary() -> Path:
    """The unpacked `docker-registry` binary, cached under /var/tmp by the hash of its .deb."""
    with tempfile.TemporaryDirectory(prefix="wipp-registry-deb.") as download:
        subprocess.run(["apt-get", "download", PACKAGE], cwd=download, check=True, capture_output=True, timeout=300)
        deb = next(Path(download).glob(f"{PACKAGE}_*.deb"))
        digest = hashlib.sha256(deb.read_bytes()).hexdigest()[:16]
        cache = Path("/var/tmp") / f"wipp-docker-registry-{digest}"
        binary = cache / "usr" / "bin" / "docker-registry"
        if not binary.exists():
            unpacking = Path(tempfile.mkdtemp(prefix=f"{cache.name}.", dir="/var/tmp"))
            _run(["dpkg", "-x", str(deb), str(unpacking)])
            try:
                unpacking.rename(cache)  # whole or not at all, also with another run unpacking at once
            except OSError:
                shutil.rmtree(unpacking, ignore_errors=True)
    return binary


def bcrypt_hash(password: str) -> str:
    import bcrypt  # requirements.txt; only the login-requiring registry needs it

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def mac_of(address: str) -> str:
    """A locally administered MAC address made from an IPv4 address, the same at every start.

    Each pytest session (and each test `.ci/standalone` runs alone) starts its own registry at
    the same address. With a new MAC each time, an engine whose neighbour entry for the address
    is still marked reachable from the previous session sends its packets to the old MAC for up
    to ~30 s: the likely cause of a CI run where every pull of a test run alone fell back to
    Docker Hub (unreachable here) 15 s into its `up`.
    """
    return "02:77:" + ":".join(f"{int(part):02x}" for part in address.split("."))


@dataclass
class Link:
    """A veth pair from the registry's namespace into `namespace` (onto `bridge` if given)."""

    registry: Registry
    registry_end: str  # the veth in the registry's namespace
    other_end: str  # its peer, in `namespace`
    namespace: str
    registry_address: str
    other_address: str | None
    bridge: str | None
    rate: str | None = None  # the tbf rate on the registry's side, when shaped

    @property
    def url(self) -> str:
        """What an engine on this link sets as --registry-mirror."""
        return f"http://{self.registry_address}:{PORT}"

    @property
    def host(self) -> str:
        """What an engine on this link sets as --insecure-registry, and the prefix of image names."""
        return f"{self.registry_address}:{PORT}"

    def shape(self, rate: str = "100mbit") -> str:
        """Limits what the registry sends over this link to `rate` (tc tbf); returns the qdisc as tc shows it."""
        burst = "256kb"  # what one timer tick at 100 Mbit/s needs, not a head start for the pulls
        _run(
            [
                *("tc", "-n", self.registry.netns, "qdisc", "replace", "dev", self.registry_end),
                *("root", "tbf", "rate", rate, "burst", burst, "latency", "50ms"),
            ]
        )
        self.rate = rate
        return _run(["tc", "-n", self.registry.netns, "qdisc", "show", "dev", self.registry_end]).stdout.strip()

    def unshape(self) -> None:
        if self.rate is not None:
            subprocess.run(
                ["tc", "-n", self.registry.netns, "qdisc", "del", "dev", self.registry_end, "root"],
                capture_output=True,
                timeout=30,
            )
            self.rate = None

    def bytes_sent(self) -> int:
        """Bytes the registry's side of this link has sent (the veth's own counter)."""
        path = ["ip", "-n", self.registry.netns, "-j", "-s", "link", "show", self.registry_end]
        return int(json.loads(_run(path).stdout)[0]["stats64"]["tx"]["bytes"])


@dataclass
class Registry:
    """One registry process in a network namespace of its own, with its folder, links and log."""

    root: Path
    netns: str
    credentials: tuple[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    links: list[Link] = field(default_factory=list)
    _namespace_made: bool = False

    @classmethod
    def start(cls, root: Path, credentials: tuple[str, str] | None = None) -> Registry:
        """A registry in a new namespace, storing under `root`; requires a login when `credentials` is given."""
        made = cls(root, f"wreg-{unique_suffix()}", credentials)
        try:
            made._make_namespace()
            made._write_config()
            made.serve()
        except BaseException:
            made.stop()
            raise
        return made

    # -- folders and config ------------------------------------------------------------
    @property
    def storage(self) -> Path:
        return self.root / "storage"

    @property
    def log(self) -> Path:
        return self.root / "registry.log"

    @property
    def config(self) -> Path:
        return self.root / "config.yml"

    def _make_namespace(self) -> None:
        _run(["ip", "netns", "add", self.netns])
        self._namespace_made = True
        _run(["ip", "-n", self.netns, "link", "set", "lo", "up"])

    def _write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.storage.mkdir(exist_ok=True)
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "json", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"0.0.0.0:{PORT}", "secret": secrets.token_hex(16)},
        }
        if self.credentials is not None:
            user, password = self.credentials
            htpasswd = self.root / "htpasswd"
            htpasswd.write_text(f"{user}:{bcrypt_hash(password)}\n")
            htpasswd.chmod(0o600)
            config["auth"] = {"htpasswd": {"realm": "wipp-test-registry", "path": str(htpasswd)}}
        self.config.write_text(json.dumps(config, indent=2))  # JSON is YAML
        self.config.chmod(0o600)

    # -- the process -------------------------------------------------------------------
    def serve(self) -> None:
        """Starts the registry process (again, after `stop_serving`: same storage, same links)."""
        assert self.process is None or self.process.poll() is not None, "already serving"
        log = self.log.open("ab")
        # nsenter execs the registry: the PID is the registry's own.
        self.process = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.netns}", str(registry_binary()), "serve", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": PATH},
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the registry exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
            status = self._client("ping", check=False)
            if status.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the registry did not answer within 30 s: {status.stderr}")
            time.sleep(0.2)

    def stop_serving(self) -> None:
        """Stops the registry process by its PID (the namespace, links and storage stay)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def stop(self) -> None:
        """The process by PID, then the links and the namespace (a veth goes with its namespace)."""
        self.stop_serving()
        for link in list(self.links):
            self.disconnect(link)
        if self._namespace_made:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, timeout=30)
            self._namespace_made = False

    # -- links ---------------------------------------------------------------------------
    def connect(
        self,
        namespace: str,
        registry_address: str,
        other_address: str | None = None,
        bridge: str | None = None,
        prefix_length: int = 24,
    ) -> Link:
        """A veth pair from the registry's namespace into `namespace` (a name under /run/netns).

        `registry_address` goes on the registry's end; `other_address` (if given) on the far end,
        which is put on `bridge` (if given: the far side then usually has its address on the
        bridge already). Both ends are up when this returns. The registry's end has the MAC
        address `mac_of(registry_address)`: a registry started again at an address keeps the
        one the neighbours already hold for it.
        """
        index = len(self.links)
        suffix = self.netns.removeprefix("wreg-")
        mine, theirs = f"wr{index}r{suffix}"[:15], f"wr{index}o{suffix}"[:15]
        _run(["ip", "-n", self.netns, "link", "add", mine, "type", "veth", "peer", "name", theirs, "netns", namespace])
        _run(["ip", "-n", self.netns, "addr", "add", f"{registry_address}/{prefix_length}", "dev", mine])
        _run(["ip", "-n", self.netns, "link", "set", mine, "address", mac_of(registry_address), "up"])
        if bridge is not None:
            _run(["ip", "-n", namespace, "link", "set", theirs, "master", bridge])
        if other_address is not None:
            _run(["ip", "-n", namespace, "addr", "add", f"{other_address}/{prefix_length}", "dev", theirs])
        _run(["ip", "-n", namespace, "link", "set", theirs, "up"])
        link = Link(self, mine, theirs, namespace, registry_address, other_address, bridge)
        self.links.append(link)
        return link

    def disconnect(self, link: Link) -> None:
        """Removes the link's veth pair (deleting one end removes both)."""
        subprocess.run(["ip", "-n", self.netns, "link", "del", link.registry_end], capture_output=True, timeout=30)
        self.links.remove(link)

    def link_into(self, namespace: str) -> Link:
        """The link this registry has into `namespace`."""
        return next(link for link in self.links if link.namespace == namespace)

    # -- what it served --------------------------------------------------------------------
    def bytes_served(self) -> dict[str, int]:
        """Bytes of response bodies the registry sent for GETs (manifests, blobs), by client address,
        since it first started. Take it before and after what you measure."""
        served: dict[str, int] = {}
        for line in self.log.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            if entry.get("msg") != "response completed" or entry.get("http.request.method") != "GET":
                continue
            client = str(entry.get("http.request.remoteaddr", "")).rsplit(":", 1)[0]
            served[client] = served.get(client, 0) + int(entry.get("http.response.written", 0))
        return served

    def requests(self) -> list[dict[str, Any]]:
        """Every request the registry answered (its log's "response completed" entries)."""
        entries = (json.loads(line) for line in self.log.read_text(errors="replace").splitlines() if line[:1] == "{")
        return [entry for entry in entries if entry.get("msg") == "response completed"]

    # -- pushes, from inside the namespace -------------------------------------------------------
    def push(self, repository: str, tag: str, layers: list[Path], config: dict[str, Any]) -> str:
        """Pushes an image (uncompressed tar layers and its config) as `repository:tag`; its manifest digest."""
        spec = {"repository": repository, "tag": tag, "layers": [str(p) for p in layers], "config": config}
        return self._client("push", json.dumps(spec)).stdout.strip()

    def has(self, repository: str, tag: str) -> bool:
        """Whether `repository:tag` is in the registry (its manifest answers)."""
        return self.digest(repository, tag) is not None

    def digest(self, repository: str, tag: str) -> str | None:
        """The manifest digest `repository:tag` has in the registry; None when it has none."""
        found = self._client("digest", json.dumps({"repository": repository, "tag": tag}), check=False)
        return found.stdout.strip() if found.returncode == 0 else None

    def delete_tag(self, repository: str, tag: str) -> None:
        """Removes `repository:tag` from the registry (its manifest), so a pull of it fails as unknown."""
        self._client("delete", json.dumps({"repository": repository, "tag": tag}))

    def _client(self, command: str, argument: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {"PATH": PATH}
        if self.credentials is not None:
            env["WIPP_REGISTRY_AUTH"] = base64.b64encode(":".join(self.credentials).encode()).decode()
        result = subprocess.run(
            ["nsenter", f"--net=/run/netns/{self.netns}", sys.executable, __file__, command, argument],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"registry {command}: {result.stderr.strip()[-2000:]}")
        return result


# -- the client, run inside the registry's namespace ------------------------------------------------
class _Client:
    def __init__(self) -> None:
        self.auth = os.environ.get("WIPP_REGISTRY_AUTH")

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=300, blocksize=1 << 20)
        all_headers = dict(headers or {})
        if self.auth:
            all_headers["Authorization"] = f"Basic {self.auth}"
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def push_blob(self, repository: str, digest: str, size: int, body: Any) -> None:
        status, _, _ = self.request("HEAD", f"/v2/{repository}/blobs/{digest}")
        if status == 200:
            return
        status, headers, data = self.request("POST", f"/v2/{repository}/blobs/uploads/")
        if status != 202:
            raise RuntimeError(f"starting an upload to {repository}: {status} {data!r}")
        location = headers["Location"]
        location = location.split("://", 1)[1].split("/", 1)[1] if "://" in location else location.lstrip("/")
        separator = "&" if "?" in location else "?"
        status, _, data = self.request(
            "PUT",
            f"/{location}{separator}digest={digest}",
            body=body,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
        if status != 201:
            raise RuntimeError(f"uploading {digest} to {repository}: {status} {data!r}")

    def push(self, spec: dict[str, Any]) -> str:
        repository, layers = spec["repository"], []
        for name in spec["layers"]:
            path = Path(name)
            digest = _file_digest(path)
            with path.open("rb") as body:
                self.push_blob(repository, digest, path.stat().st_size, body)
            layers.append({"mediaType": OCI_LAYER, "digest": digest, "size": path.stat().st_size})
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": spec["config"],
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        }
        config_bytes = json.dumps(config, sort_keys=True).encode()
        config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        self.push_blob(repository, config_digest, len(config_bytes), config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
            "layers": layers,
        }
        manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
        status, _, data = self.request(
            "PUT",
            f"/v2/{repository}/manifests/{spec['tag']}",
            body=manifest_bytes,
            headers={"Content-Type": OCI_MANIFEST},
        )
        if status != 201:
            raise RuntimeError(f"pushing {repository}:{spec['tag']}: {status} {data!r}")
        return "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()

    def delete(self, spec: dict[str, Any]) -> None:
        path = f"/v2/{spec['repository']}/manifests/{spec['tag']}"
        status, headers, data = self.request("HEAD", path, headers={"Accept": OCI_MANIFEST})
        if status != 200:
            raise RuntimeError(f"{spec['repository']}:{spec['tag']} is not in the registry: {status}")
        digest = headers["Docker-Content-Digest"]
        status, _, data = self.request("DELETE", f"/v2/{spec['repository']}/manifests/{digest}")
        if status != 202:
            raise RuntimeError(f"deleting {spec['repository']}:{spec['tag']}: {status} {data!r}")


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 22):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _main(command: str, argument: str) -> None:
    client = _Client()
    if command == "ping":
        status, _, _ = client.request("GET", "/v2/")
        if status not in (200, 401):
            raise SystemExit(f"GET /v2/: {status}")
    elif command == "push":
        print(client.push(json.loads(argument)))
    elif command == "digest":
        spec = json.loads(argument)
        path = f"/v2/{spec['repository']}/manifests/{spec['tag']}"
        status, headers, _ = client.request("HEAD", path, headers={"Accept": OCI_MANIFEST})
        if status != 200:
            raise SystemExit(f"{spec['repository']}:{spec['tag']}: {status}")
        print(headers["Docker-Content-Digest"])
    elif command == "delete":
        client.delete(json.loads(argument))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    try:
        _main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")
    except (OSError, RuntimeError) as error:
        raise SystemExit(str(error)) from None

"""The stack's `wipp:*` configuration, validated once into typed dataclasses.

Every check raises `pulumi.RunError` naming the key, the bad value and the form
expected, so `pulumi preview` stops before anything is touched. The rest of the
program trusts the `Settings` it gets back.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

import pulumi

NAMESPACE = "wipp"

# The seed's four storage places, in the order NIST lists them.
STORAGE_KEYS = ("wippdb", "wippdata", "pegasusdb", "pegasusdata")
SEED_VOLUME_NAMES = {key: f"{key}volume" for key in STORAGE_KEYS}

SERVICE_NAMES = ("mongodb", "master", "wipp", "exec")

# Inferred from the public WIPP 1.1.0 setup script (see facts.md); overridable.
DEFAULT_SERVICE_ARGS: dict[str, list[str]] = {
    "mongodb": [],
    "master": ["-m"],
    "wipp": ["{master}", "{mongodb}"],
    "exec": ["-e", "{master}", "{memory}"],
}
DEFAULT_MOUNT_TARGETS = {
    "wippdb": "/data/db",
    "wippdata": "/data/WIPP",
    "pegasusdb": "/home/wipp/.pegasus",
    "pegasusdata": "/data/pegasus-workflows",
}
DEFAULT_CONTAINER_PORTS = {"web": 8080, "dashboard": 5005}
ARG_PLACEHOLDERS = ("master", "mongodb", "memory")

SWARM_PORTS = {2377: "swarm management", 7946: "swarm gossip", 4789: "overlay VXLAN"}

_MEMORY = re.compile(r"^[1-9][0-9]*[gGmMkK]$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_IMAGE = re.compile(
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_HOST_KEY = re.compile(r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}$")
_DURATION = re.compile(r"^[0-9]+(ms|s|m|h)$")
# Shared folders: letters, digits, '.', '_', '-' between slashes; nothing a shell could split or expand.
_FOLDER = re.compile(r"^(/[A-Za-z0-9_][A-Za-z0-9._-]*)+$")
# Folders of the operating system: never a WIPP data folder (and never `rm -rf`'d), nor anything inside
# those marked as a tree.
SYSTEM_FOLDERS = (
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/var",
    "/var/lib",
    "/var/log",
    "/var/tmp",
    "/var/lib/docker",
)
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr")


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    role: str  # "manager" or "worker"
    local: bool  # run commands on this machine, without SSH
    ssh_user: str
    ssh_port: int
    host_key: str | None = None  # the host's public SSH key, "<type> <base64>", as ssh-keyscan prints it

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"

    @property
    def known_hosts_line(self) -> str:
        """The host's key as a known_hosts line (with the port when it is not 22)."""
        pattern = self.address if self.ssh_port == 22 else f"[{self.address}]:{self.ssh_port}"
        return f"{pattern} {self.host_key}"


@dataclass(frozen=True)
class Storage:
    mode: str  # "volume" or "bind"
    # storage key -> volume name (volume mode) or absolute folder (bind mode)
    sources: dict[str, str]


@dataclass(frozen=True)
class Settings:
    stack: str
    version: str
    mongo_image: str
    memory: str
    hosts: list[Host]
    storage: Storage
    network_name: str
    web_port: int
    dashboard_port: int
    publish_mode: str
    endpoint_mode: str
    allowed_sources: list[str]
    allow_unknown_host_keys: bool
    manage_firewall: bool
    leave_swarm_on_destroy: bool
    delete_data_on_destroy: bool
    converge_interval: str
    converge_timeout: str
    docker_host: str | None
    ssh_private_key: pulumi.Output[str] | None
    service_args: dict[str, list[str]]
    mount_targets: dict[str, str]
    container_ports: dict[str, int]

    @property
    def managers(self) -> list[Host]:
        return [h for h in self.hosts if h.is_manager]

    @property
    def first_manager(self) -> Host:
        return self.managers[0]

    @property
    def images(self) -> dict[str, str]:
        return {
            "mongodb": self.mongo_image,
            "master": f"wipp/wipp_master:{self.version}",
            "wipp": f"wipp/wipp:{self.version}",
            "exec": f"wipp/wipp_executor:{self.version}",
        }

    @property
    def docker_provider_ssh_opts(self) -> list[str]:
        """Options for the system `ssh` the Docker provider runs to reach a remote first manager.

        With a host key, only that key is accepted: no known_hosts file is read or written.
        """
        manager = self.first_manager
        if self.docker_host or manager.local or manager.host_key is None:
            return []
        return [
            "-o", "StrictHostKeyChecking=yes",
            "-o", "UserKnownHostsFile=/dev/null",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", f"KnownHostsCommand=/bin/echo {manager.known_hosts_line}",
        ]  # fmt: skip

    @property
    def docker_provider_host(self) -> str:
        """Where the Docker provider talks to the swarm: the first manager."""
        if self.docker_host:
            return self.docker_host
        manager = self.first_manager
        if manager.local:
            return "unix:///var/run/docker.sock"
        return f"ssh://{manager.ssh_user}@{manager.address}:{manager.ssh_port}"

    def script_docker_host(self, host: Host) -> str | None:
        """DOCKER_HOST for scripts on `host`: only a local host uses wipp:dockerHost."""
        return self.docker_host if host.local else None

    @property
    def multi_host(self) -> bool:
        return len(self.hosts) > 1

    def resolved_args(self, service: str) -> list[str]:
        """A service's arguments with `{master}`, `{mongodb}`, `{memory}` filled in."""
        values = {"master": "master", "mongodb": "mongodb", "memory": self.memory}
        return [arg.format(**values) for arg in self.service_args[service]]


def _fail(key: str, value: Any, expected: str) -> pulumi.RunError:
    shown = json.dumps(value) if not isinstance(value, str) else repr(value)
    return pulumi.RunError(f"config {NAMESPACE}:{key} = {shown} is invalid: expected {expected}")


def _require_str(cfg: pulumi.Config, key: str) -> str:
    value = cfg.get(key)
    if value is None:
        raise pulumi.RunError(
            f"config {NAMESPACE}:{key} is missing: it has a default in Pulumi.yaml; "
            f"set it with `pulumi config set {NAMESPACE}:{key} <value>`"
        )
    return value


def _port(key: str, raw: Any) -> int:
    try:
        port = int(raw)
    except (TypeError, ValueError):
        raise _fail(key, raw, "a TCP port number from 1 to 65535") from None
    if not 1 <= port <= 65535 or str(raw).strip() != str(port):
        raise _fail(key, raw, "a TCP port number from 1 to 65535")
    return port


def _bool(cfg: pulumi.Config, key: str) -> bool:
    raw = _require_str(cfg, key).strip().lower()
    if raw not in ("true", "false"):
        raise _fail(key, raw, "true or false")
    return raw == "true"


def _duration(cfg: pulumi.Config, key: str) -> str:
    raw = _require_str(cfg, key)
    if not _DURATION.match(raw) or int(re.sub(r"\D", "", raw)) == 0:
        raise _fail(key, raw, "a positive duration such as 500ms, 2s, 20m or 1h")
    return raw


def _object(cfg: pulumi.Config, key: str, default: Any) -> Any:
    raw = cfg.get(key)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise _fail(key, raw, "a YAML object or list in the stack file") from None


def is_valid_address(address: str) -> bool:
    """An IPv4 address or a DNS host name (the swarm scripts advertise IPv4)."""
    try:
        return ipaddress.ip_address(address).version == 4
    except ValueError:
        pass
    if len(address) > 253 or not address or re.fullmatch(r"[0-9.]+", address):
        return False
    return all(_HOSTNAME_LABEL.match(label) for label in address.rstrip(".").split("."))


def _parse_host(index: int, raw: Any) -> Host:
    key = f"hosts[{index}]"
    if not isinstance(raw, dict):
        raise _fail(key, raw, "an object with name, address and role")
    known = ("name", "address", "role", "local", "sshUser", "sshPort", "hostKey")
    unknown = set(raw) - set(known)
    if unknown:
        raise _fail(key, raw, f"only {', '.join(known)} (unknown: {sorted(unknown)})")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(f"{key}.name", name, "a host name of letters, digits, '.', '_' or '-'")
    address = raw.get("address")
    if not isinstance(address, str) or not is_valid_address(address):
        raise _fail(f"{key}.address", address, "an IPv4 address or a DNS host name")
    role = raw.get("role")
    if role not in ("manager", "worker"):
        raise _fail(f"{key}.role", role, "manager or worker")
    local = raw.get("local", False)
    if not isinstance(local, bool):
        raise _fail(f"{key}.local", local, "true or false")
    ssh_user = raw.get("sshUser", "root")
    if not isinstance(ssh_user, str) or not re.fullmatch(r"[a-z_][a-z0-9_.-]{0,31}", ssh_user):
        raise _fail(f"{key}.sshUser", ssh_user, "a Unix user name such as ubuntu")
    ssh_port = _port(f"{key}.sshPort", raw.get("sshPort", 22))
    host_key = raw.get("hostKey")
    if host_key is not None and not is_valid_host_key(host_key):
        raise _fail(f"{key}.hostKey", host_key, "a public host key such as 'ssh-ed25519 AAAAC3Nza...' (ssh-keyscan)")
    return Host(name, address, role, local, ssh_user, ssh_port, host_key)


def is_valid_host_key(value: Any) -> bool:
    """`<type> <base64>` whose base64 blob starts with the same key type, as every SSH public key does."""
    if not isinstance(value, str) or not _HOST_KEY.match(value):
        return False
    key_type, blob = value.split(" ")
    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError:
        return False
    length = int.from_bytes(raw[:4], "big")
    return raw[4 : 4 + length] == key_type.encode()


def _parse_hosts(cfg: pulumi.Config) -> list[Host]:
    raw = _object(cfg, "hosts", None)
    if not isinstance(raw, list) or not raw:
        raise _fail("hosts", raw, "a non-empty list of {name, address, role} objects")
    hosts = [_parse_host(i, entry) for i, entry in enumerate(raw)]
    for attribute in ("name", "address"):
        seen: set[str] = set()
        for host in hosts:
            value = getattr(host, attribute)
            if value in seen:
                values = [getattr(h, attribute) for h in hosts]
                raise _fail("hosts", values, f"a unique {attribute} per host ({value!r} repeats)")
            seen.add(value)
    if not any(h.is_manager for h in hosts):
        raise _fail("hosts", [h.name for h in hosts], "at least one host with role: manager")
    if sum(h.local for h in hosts) > 1:
        raise _fail("hosts", [h.name for h in hosts if h.local], "at most one host with local: true")
    return hosts


def _parse_storage(cfg: pulumi.Config, host_count: int) -> Storage:
    raw = _object(cfg, "storage", {"mode": "volume"})
    if not isinstance(raw, dict) or raw.get("mode") not in ("volume", "bind"):
        raise _fail("storage", raw, "{mode: volume} or {mode: bind, paths: {wippdb: /abs/path, ...}}")
    mode = raw["mode"]
    if mode == "volume":
        overrides = raw.get("names", {})
        if not isinstance(overrides, dict):
            raise _fail("storage.names", overrides, f"an object of volume names for {list(STORAGE_KEYS)}")
        names = {**SEED_VOLUME_NAMES, **overrides}
        for key, name in names.items():
            if key not in STORAGE_KEYS or not isinstance(name, str) or not _NAME.match(name):
                raise _fail(f"storage.names.{key}", name, f"a volume name for one of {list(STORAGE_KEYS)}")
        if host_count > 1:
            raise _fail(
                "storage.mode",
                mode,
                f"bind with shared folders: named volumes live on one host and {host_count} hosts are configured",
            )
        return Storage("volume", names)
    paths = raw.get("paths")
    if not isinstance(paths, dict) or set(paths) != set(STORAGE_KEYS):
        raise _fail("storage.paths", paths, f"absolute folders for exactly {list(STORAGE_KEYS)}")
    for key, path in paths.items():
        _check_folder(f"storage.paths.{key}", path)
    folders = sorted(paths.values())
    if len(set(folders)) != len(folders):
        raise _fail("storage.paths", paths, "four different folders")
    for outer in folders:
        for inner in folders:
            if inner.startswith(outer + "/"):
                raise _fail("storage.paths", paths, f"four folders none inside another ({inner} is inside {outer})")
    return Storage("bind", {key: paths[key] for key in STORAGE_KEYS})


def _check_folder(key: str, path: Any) -> None:
    expected = "an absolute folder path of letters, digits, '.', '_' and '-', such as /mnt/wipp-shared/wippdbvolume"
    if not isinstance(path, str) or not _FOLDER.match(path) or any(part in (".", "..") for part in path.split("/")):
        raise _fail(key, path, expected)
    if path in SYSTEM_FOLDERS or any(path.startswith(tree + "/") for tree in SYSTEM_TREES):
        raise _fail(key, path, "a folder of its own for WIPP data, not a system folder such as /, /etc, /home or /var")


def _parse_service_args(cfg: pulumi.Config) -> dict[str, list[str]]:
    overrides = _object(cfg, "serviceArgs", {})
    if not isinstance(overrides, dict):
        raise _fail("serviceArgs", overrides, "an object of service name -> list of arguments")
    merged = dict(DEFAULT_SERVICE_ARGS)
    for service, args in overrides.items():
        key = f"serviceArgs.{service}"
        if service not in SERVICE_NAMES:
            raise _fail(key, args, f"a service among {list(SERVICE_NAMES)}")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise _fail(key, args, "a list of strings")
        for arg in args:
            try:
                arg.format(**dict.fromkeys(ARG_PLACEHOLDERS, ""))
            except (KeyError, IndexError, ValueError):
                placeholders = ", ".join("{" + p + "}" for p in ARG_PLACEHOLDERS)
                raise _fail(key, args, f"placeholders among {placeholders} ('{{{{' for a literal brace)") from None
        merged[service] = list(args)
    return merged


def _parse_mount_targets(cfg: pulumi.Config) -> dict[str, str]:
    overrides = _object(cfg, "mountTargets", {})
    if not isinstance(overrides, dict):
        raise _fail("mountTargets", overrides, "an object of storage key -> absolute path in the container")
    for key, target in overrides.items():
        if key not in STORAGE_KEYS:
            raise _fail(f"mountTargets.{key}", target, f"a storage key among {list(STORAGE_KEYS)}")
        if not isinstance(target, str) or not target.startswith("/"):
            raise _fail(f"mountTargets.{key}", target, "an absolute path inside the container")
    return {**DEFAULT_MOUNT_TARGETS, **overrides}


def _parse_container_ports(cfg: pulumi.Config) -> dict[str, int]:
    overrides = _object(cfg, "containerPorts", {})
    if not isinstance(overrides, dict):
        raise _fail("containerPorts", overrides, "an object with web and/or dashboard port numbers")
    for key in overrides:
        if key not in DEFAULT_CONTAINER_PORTS:
            raise _fail(f"containerPorts.{key}", overrides[key], "a key among web, dashboard")
    merged = {**DEFAULT_CONTAINER_PORTS, **overrides}
    return {key: _port(f"containerPorts.{key}", value) for key, value in merged.items()}


def _parse_sources(cfg: pulumi.Config) -> list[str]:
    raw = _object(cfg, "allowedSources", [])
    if not isinstance(raw, list):
        raise _fail("allowedSources", raw, "a list of CIDRs such as [10.0.0.0/24]")
    sources = []
    for index, cidr in enumerate(raw):
        try:
            sources.append(str(ipaddress.ip_network(str(cidr), strict=False)))
        except ValueError:
            raise _fail(f"allowedSources[{index}]", cidr, "a CIDR such as 10.0.0.0/24 or 2001:db8::/32") from None
        if "/" not in str(cidr):
            raise _fail(f"allowedSources[{index}]", cidr, "a CIDR with a prefix length, such as 10.0.0.5/32")
    return sources


def load_settings(cfg: pulumi.Config | None = None) -> Settings:
    """Reads and validates every `wipp:*` key; raises `pulumi.RunError` on the first bad one."""
    cfg = cfg or pulumi.Config(NAMESPACE)

    version = _require_str(cfg, "version")
    if not _TAG.match(version):
        raise _fail("version", version, "a Docker image tag such as 2.2.0")
    mongo_image = _require_str(cfg, "mongoImage")
    if not _IMAGE.match(mongo_image):
        raise _fail("mongoImage", mongo_image, "an image reference such as mongo:3.4")
    memory = _require_str(cfg, "memory")
    if not _MEMORY.match(memory):
        raise _fail("memory", memory, "a whole positive size with a unit, size[g|G|m|M|k|K], such as 4G or 512m")

    hosts = _parse_hosts(cfg)
    storage = _parse_storage(cfg, len(hosts))

    network_name = _require_str(cfg, "network")
    if not _NAME.match(network_name):
        raise _fail("network", network_name, "a network name of letters, digits, '.', '_' or '-'")
    web_port = _port("webPort", _require_str(cfg, "webPort"))
    dashboard_port = _port("dashboardPort", _require_str(cfg, "dashboardPort"))
    if web_port == dashboard_port:
        raise _fail("dashboardPort", dashboard_port, f"a port different from wipp:webPort ({web_port})")
    for key, port in (("webPort", web_port), ("dashboardPort", dashboard_port)):
        if port in SWARM_PORTS:
            raise _fail(key, port, f"a port not used by Docker Swarm ({port} is {SWARM_PORTS[port]})")
    publish_mode = _require_str(cfg, "publishMode")
    if publish_mode not in ("ingress", "host"):
        raise _fail("publishMode", publish_mode, "ingress or host")

    endpoint_mode = _require_str(cfg, "endpointMode")
    if endpoint_mode not in ("vip", "dnsrr"):
        raise _fail("endpointMode", endpoint_mode, "vip or dnsrr")
    if endpoint_mode == "dnsrr" and publish_mode == "ingress":
        raise _fail(
            "endpointMode", endpoint_mode, "vip while wipp:publishMode is ingress (dnsrr needs publishMode host)"
        )

    allow_unknown_host_keys = _bool(cfg, "allowUnknownHostKeys")
    for index, host in enumerate(hosts):
        if not host.local and host.host_key is None and not allow_unknown_host_keys:
            raise pulumi.RunError(
                f"config {NAMESPACE}:hosts[{index}].hostKey is missing: {host.name} is reached over SSH and its "
                f"host key is how the program knows it talks to {host.address} and not an impostor; set it to the "
                f"output of `ssh-keyscan -t ed25519 -p {host.ssh_port} {host.address}` (checked out of band), "
                f"or set {NAMESPACE}:allowUnknownHostKeys true to connect without checking"
            )
    needs_ssh = [h.name for h in hosts if not h.local]
    ssh_private_key = cfg.get_secret("sshPrivateKey")
    if needs_ssh and ssh_private_key is None:
        raise pulumi.RunError(
            f"config {NAMESPACE}:sshPrivateKey is missing: hosts {needs_ssh} are reached over SSH; "
            f"set it with `cat ~/.ssh/id_ed25519 | pulumi config set --secret {NAMESPACE}:sshPrivateKey`"
        )

    docker_host = cfg.get("dockerHost")
    if docker_host is not None and not re.match(r"^(unix|tcp|ssh)://\S+$", docker_host):
        raise _fail("dockerHost", docker_host, "unix:///path/docker.sock, tcp://host:port or ssh://user@host")

    allowed_sources = _parse_sources(cfg)
    manage_firewall = _bool(cfg, "manageFirewall")
    if allowed_sources and not manage_firewall:
        raise _fail(
            "allowedSources",
            allowed_sources,
            "an empty list while wipp:manageFirewall is false: the sources would be restricted by nothing",
        )

    return Settings(
        stack=pulumi.get_stack(),
        version=version,
        mongo_image=mongo_image,
        memory=memory,
        hosts=hosts,
        storage=storage,
        network_name=network_name,
        web_port=web_port,
        dashboard_port=dashboard_port,
        publish_mode=publish_mode,
        endpoint_mode=endpoint_mode,
        allowed_sources=allowed_sources,
        allow_unknown_host_keys=allow_unknown_host_keys,
        manage_firewall=manage_firewall,
        leave_swarm_on_destroy=_bool(cfg, "leaveSwarmOnDestroy"),
        delete_data_on_destroy=_bool(cfg, "deleteDataOnDestroy"),
        converge_interval=_duration(cfg, "convergeInterval"),
        converge_timeout=_duration(cfg, "convergeTimeout"),
        docker_host=docker_host,
        ssh_private_key=ssh_private_key,
        service_args=_parse_service_args(cfg),
        mount_targets=_parse_mount_targets(cfg),
        container_ports=_parse_container_ports(cfg),
    )

"""The stack's `wipp:*` config as one frozen pydantic model tree: the settings `__main__.py` reads.

Each field holds its constraints, and its expected form in its description. A check between keys validates
the later key and reads the earlier ones that were valid (`ValidationInfo.data`): field order matters.
"""

from __future__ import annotations

import base64
import difflib
import json
import posixpath
import re
import unicodedata
from collections.abc import Callable
from ipaddress import IPv4Address, ip_network
from types import UnionType
from typing import Annotated, Any, Literal, NamedTuple, NoReturn, Union, get_args, get_origin

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, InstanceOf, StringConstraints
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic.functional_validators import field_validator, model_validator
from pydantic.main import create_model
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError
from pydantic_core.core_schema import ValidationInfo

from . import wipp
from .durations import milliseconds
from .host_command import HostConnection
from .images import RegistryLogin

# fmt: off
# Addresses that stand in for real ones in examples (Pulumi.multi.yaml ships some): no host has one.
DOCUMENTATION_RANGES = {ip_network(n): rfc for n, rfc in (("192.0.2.0/24", 5737), ("198.51.100.0/24", 5737),
                                                           ("203.0.113.0/24", 5737), ("2001:db8::/32", 3849))}
# Docker's predefined networks and the swarm's own: `docker network create` refuses these names.
RESERVED_NETWORKS = ("bridge", "host", "none", "default", "ingress", "docker_gwbridge")
# Folders of the operating system: never a WIPP data folder (and never `rm -rf`'d) ...
SYSTEM_FOLDERS = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt", "/opt",
                  "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/log",
                  "/var/tmp", "/var/lib/docker")
# fmt: on
# ... nor anything inside these.
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr")
CONTROL_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")  # control characters, and line separators
DOCKER_MIN_MEMORY = 6 * 1024**2  # dockerd's least memory limit for a container (linuxMinMemory)


class Mistake(NamedTuple):
    """kind wipp_expected: `text` is what is expected; wipp_form: the value lacks its form (`text`: a detail)."""

    loc: tuple[str | int, ...]  # under the value checked
    value: Any
    text: str
    kind: str = "wipp_expected"


def _error(kind: str, text: str) -> PydanticCustomError:
    return PydanticCustomError(kind, "{text}", {"text": text})


def report(*mistakes: Mistake) -> None:
    """Raises every mistake at once, each at its own location (pydantic prefixes the checked value's)."""
    details = [InitErrorDetails(type=_error(m.kind, m.text), loc=m.loc, input=m.value) for m in mistakes]
    if details:
        raise ValidationError.from_exception_data("wipp", details)


def refuse(expected: str = "", kind: str = "wipp_expected") -> NoReturn:
    raise _error(kind, expected)


def not_the_form(detail: str = "") -> NoReturn:
    refuse(detail, "wipp_form")


class _Keys(BaseModel):
    """Keys in the stack file's camelCase; none unknown; no string with a control character."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        # A newline would split a folder in the shared-folder script's one-per-line list; a pattern
        # alone would refuse it without saying why.
        texts = {(i,): v for i, v in enumerate(value)} if isinstance(value, list) else {(): value}
        texts = {loc: text for loc, text in texts.items() if isinstance(text, str)}
        controls = {loc: [c for c in t if unicodedata.category(c) in CONTROL_CATEGORIES] for loc, t in texts.items()}
        found = [(loc, c[0]) for loc, c in controls.items() if c]
        report(*[Mistake(loc, texts[loc], f"no control character such as {c!r}", "wipp_form") for loc, c in found])
        return value


def _pattern(regex: str) -> StringConstraints:
    # Anchored at the very start and end of the text: unlike `$`, `\z` never matches before a newline.
    return StringConstraints(pattern=rf"\A(?:{regex})\z")


def _form(description: str) -> Any:
    return Field(description=description)


def _refused_if(is_refused: Callable[[Any], bool], why: str = "") -> AfterValidator:
    """A check of one value: refused with `why` (`{}`: the value) as what is expected, or as not of its form."""
    return AfterValidator(lambda v: v if not is_refused(v) else refuse(why.format(v)) if why else not_the_form())


def _between(check: Callable[[Any, dict[str, Any]], Any]) -> AfterValidator:
    """A check between keys: `check(value, the earlier keys that were valid)` says what is expected instead."""
    return AfterValidator(lambda v, info: report(Mistake((), v, expected)) if (expected := check(v, info.data)) else v)


def _port_number(value: Any) -> Any:  # not `true` (a bool is an int to Python), 8080.0 or "08080"
    if isinstance(value, bool) or not isinstance(value, int | str) or not re.fullmatch(r"[1-9][0-9]*", str(value)):
        not_the_form()
    return value


def _flag(value: Any) -> bool:  # not the yes, on, 1, t or y that pydantic's bool also takes
    if not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
        not_the_form()
    return str(value).lower() == "true"


def _bytes(size: str) -> int:
    return int(size[:-1]) * 1024 ** ("kmg".index(size[-1].lower()) + 1)


def _address(text: str, cidr: bool = False) -> str:  # of one real host, or with `cidr` a network of real hosts
    try:
        network = ip_network(text, strict=False) if cidr else ip_network(IPv4Address(text))
    except ValueError:
        not_the_form()
    if not cidr and (network[0].is_unspecified or network[0].is_multicast or text == "255.255.255.255"):
        refuse(f"the address of one host ({text} is no single host's, and swarm init refuses it)")
    for documentation, rfc in DOCUMENTATION_RANGES.items():
        if network.version == documentation.version and network.overlaps(documentation):
            example = f"{text} is in or overlaps {documentation}, documentation addresses (RFC {rfc}) that"
            refuse(f"real addresses: {example} stand in for real ones in examples; set the real addresses of the hosts")
    return str(network) if cidr else text


def _host_address(address: str) -> str:
    # IPv4 only: the swarm scripts advertise IPv4.
    label = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    if re.fullmatch(r"[0-9.]+", address):
        return _address(address)
    if len(address) > 253 or not re.fullmatch(rf"{label}(\.{label})*\.?", address):
        not_the_form()
    return address


def _host_key(key: str) -> str:  # its base64 blob starts with the key type, as every SSH public key's does
    key_type, blob = key.split(" ")
    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError:
        not_the_form()
    if raw[4 : 4 + int.from_bytes(raw[:4], "big")] != key_type.encode():
        not_the_form(f"the key's data is not an {key_type} key")
    return key


def _names_registry(image: str) -> bool:
    """Whether an image reference starts with a registry (Docker's rule: a first part with '.' or ':', or localhost)."""
    first, slash, _ = image.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def _placeholders_unknown(args: list[str]) -> bool:
    try:
        return any(arg.format(**dict.fromkeys(wipp.ARG_PLACEHOLDERS, "")) is None for arg in args)
    except (KeyError, IndexError, ValueError, AttributeError):  # AttributeError: {master.x}
        return True


# fmt: off
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_PLACEHOLDERS = ", ".join("{" + p + "}" for p in wipp.ARG_PLACEHOLDERS)
_STORAGE_KEYS = ", ".join(wipp.STORAGE_KEYS)

Port = Annotated[int, BeforeValidator(_port_number), Field(ge=1, le=65535), _form("a TCP port number from 1 to 65535")]
Flag = Annotated[bool, BeforeValidator(_flag), _form("true or false")]
Duration = Annotated[str, _pattern(r"(?:[0-9]+(?:ms|s|m|h))+"),
                     _refused_if(lambda d: not 0 < milliseconds(d) <= (2**63 - 1) // 10**6),  # Go's: int64 ns
                     _form("a positive duration of whole numbers with ms, s, m or h, such as 500ms, 1m30s or 20m")]
VolumeName = Annotated[str, _pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]+"), Field(max_length=255),
                       _form("a Docker volume name: 2 to 255 letters, digits, '_', '.', '-', first a letter or digit")]
Folder = Annotated[
    str, _pattern(r"(?:/[A-Za-z0-9_][A-Za-z0-9._-]*)+"),  # nothing a shell could split or expand, no '.' or '..'
    _refused_if(lambda f: f in SYSTEM_FOLDERS or any(f.startswith(tree + "/") for tree in SYSTEM_TREES),
                "a folder of its own for WIPP data, not a system folder such as /, /etc, /home or /var"),
    _form("an absolute folder path of letters, digits, '.', '_' and '-', such as /mnt/wipp-shared/wippdbvolume"),
]
MountTarget = Annotated[str, _pattern("/.*"), _refused_if(lambda path: not posixpath.normpath(path).strip("/")),
                        _form("an absolute path in the container other than / (Docker mounts nothing over it)")]
ServiceArgs = Annotated[list[str], _refused_if(_placeholders_unknown), _form(
    f"a list of strings with placeholders among {_PLACEHOLDERS} ('{{{{' for a literal brace)")]
HostKey = Annotated[str, _pattern(r"(?:ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}"),
                    AfterValidator(_host_key)]
# fmt: on


class Host(_Keys):
    name: Annotated[str, _pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"), _form("a name of letters, digits, _.-")]
    address: Annotated[str, AfterValidator(_host_address), _form("an IPv4 address or a DNS host name")]
    role: Annotated[Literal["manager", "worker"], _form("manager or worker")]
    local: Flag = False
    ssh_user: Annotated[str, _pattern(r"[a-z_][a-z0-9_.-]{0,31}"), _form("a Unix user name such as ubuntu")] = "root"
    ssh_port: Port = 22
    host_key: HostKey | None = Field(None, description="a public host key, 'ssh-ed25519 AAAAC3Nza...' (ssh-keyscan)")

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"


def _repeated(values: dict[Any, Any], expected: str, loc: tuple[str | int, ...] = ()) -> list[Mistake]:
    """A mistake at `(key, *loc)` for each key whose value, or its lowercase, an earlier key has."""
    first_key: dict[Any, Any] = {}  # value (lowercase) -> the first key that has it
    return [Mistake((key, *loc), value, f"{expected} ({value!r} repeats)") for key, value in values.items()
            if first_key.setdefault(value.lower() if isinstance(value, str) else value, key) != key]  # fmt: skip


def _keyed(name: str, value_type: Any, defaults: dict[str, Any], *checks: Callable[[dict], list[Mistake]]) -> Any:
    """A model with a field for each key of `defaults` (None: required); `checks` find mistakes among its values."""

    def among_values(self: BaseModel) -> BaseModel:
        report(*dict.fromkeys(m for check in checks for m in check(self.model_dump())))
        return self

    fields = {key: (value_type, ... if default is None else default) for key, default in defaults.items()}
    validators = {"among_values": model_validator(mode="after")(among_values)}
    return create_model(name, __base__=_Keys, __validators__=validators, **fields)  # type: ignore[call-overload]


# fmt: off
VolumeNames = _keyed("VolumeNames", VolumeName, wipp.SEED_VOLUME_NAMES, lambda v: _repeated(v, "a volume of its own"))
FolderPaths = _keyed(
    "FolderPaths", Folder, dict.fromkeys(wipp.STORAGE_KEYS), lambda paths: _repeated(paths, "four different folders"),
    lambda paths: [Mistake((key,), inner, f"four folders none inside another ({inner} is inside {outer})")
                   for key, inner in paths.items() for outer in paths.values() if inner.startswith(outer + "/")],
)
ServiceArgsByService = _keyed("ServiceArgs", ServiceArgs, wipp.DEFAULT_SERVICE_ARGS)
MountTargets = _keyed(  # Docker refuses a service two mounts on one target ("Duplicate mount point")
    "MountTargets", MountTarget, wipp.DEFAULT_MOUNT_TARGETS,
    lambda targets: [m for keys in wipp.SERVICE_MOUNTS.values()
                     for m in _repeated({k: targets[k] for k in keys}, "a target no other mount of the service has")],
)
ContainerPorts = _keyed("ContainerPorts", Port, wipp.DEFAULT_CONTAINER_PORTS, lambda p: _repeated(p, "its own port"))
# fmt: on


def _folders_with_bind(paths: Any, info: ValidationInfo) -> Any:
    if info.data.get("mode") == "bind" and paths is None:
        refuse(f"mode: bind mounts folders: expected absolute folders for exactly {_STORAGE_KEYS}", "wipp_missing")
    if info.data.get("mode") == "volume" and paths is not None:
        refuse("no folders with mode: volume, which keeps the data in named volumes (mode: bind mounts folders)")
    return paths


class Storage(_Keys):
    # fmt: off
    mode: Annotated[Literal["volume", "bind"], _form("{mode: volume} or {mode: bind, paths: {wippdb: /abs/path, ...}}")]
    names: Annotated[VolumeNames, _between(lambda _, keys: keys.get("mode") == "bind" and "no names with mode: bind"),
                     _form(f"an object of volume names for {_STORAGE_KEYS}")] = VolumeNames()
    paths: Annotated[FolderPaths | None, AfterValidator(_folders_with_bind), Field(validate_default=True),
                     _form(f"absolute folders for exactly {_STORAGE_KEYS}")] = None
    # fmt: on

    @property
    def sources(self) -> dict[str, str]:
        return (self.paths if self.mode == "bind" else self.names).model_dump()


def _hosts_together(hosts: list[Host]) -> list[Host]:
    names, addresses = dict(enumerate(h.name for h in hosts)), dict(enumerate(h.address for h in hosts))
    mistakes = _repeated(names, "a unique name per host", ("name",))
    mistakes += _repeated(addresses, "a unique address per host", ("address",))
    if not any(h.is_manager for h in hosts):
        mistakes.append(Mistake((), list(names.values()), "at least one host with role: manager"))
    local = [i for i, h in enumerate(hosts) if h.local]
    only_one = f"at most one host with local: true (hosts[{local[0]}] is)" if local else ""
    mistakes += [Mistake((i, "local"), True, only_one) for i in local[1:]]
    loopback = [i for i, a in addresses.items() if len(hosts) > 1 and (a == "localhost" or a.startswith("127."))]
    reachable = "an address the other hosts can reach ({} is each machine's own loopback)"
    report(*mistakes, *[Mistake((i, "address"), addresses[i], reachable.format(addresses[i])) for i in loopback])
    return hosts


def _host_keys_known(allow_unknown: bool, info: ValidationInfo) -> bool:
    # Reported beside the hosts (not under this key), and the hosts stay valid for the checks after.
    for i, host in enumerate(info.data.get("hosts", [])):
        if not (host.local or host.host_key or allow_unknown):
            keyscan = f"ssh-keyscan -t ed25519 -p {host.ssh_port} {host.address}"
            why = (f"{host.name} is reached over SSH and its host key is how the program knows it talks to "
                   f"{host.address} and not an impostor; set it to the output of `{keyscan}` (checked out of band), "
                   "or set wipp:allowUnknownHostKeys true to connect without checking")  # fmt: skip
            info.context["beside"].append(Mistake(("hosts", i, "hostKey"), None, why, "wipp_missing"))
    return allow_unknown


def _ssh_key_for_remote_hosts(key: pulumi.Output[str] | None, info: ValidationInfo) -> pulumi.Output[str] | None:
    remote = [h.name for h in info.data.get("hosts", []) if not h.local]
    if key is None and remote:
        set_it = "`cat ~/.ssh/id_ed25519 | pulumi config set --secret wipp:sshPrivateKey`"
        refuse(f"hosts {remote} are reached over SSH; set it with {set_it}", "wipp_missing")
    return key


def _secret_only(value: Any) -> Any:
    """A secret config value arrives as an Output; one in plain text is refused without showing it."""
    if value is not None and not isinstance(value, pulumi.Output):
        set_it = "`pulumi config set --secret wipp:registryPassword`"
        report(Mistake((), "(plain text, not shown)", f"a secret: set it again with {set_it}"))
    return value


def _password_with_user(password: pulumi.Output[str] | None, info: ValidationInfo) -> pulumi.Output[str] | None:
    user = info.data.get("registry_user")
    if user and password is None:
        set_it = "`pulumi config set --secret wipp:registryPassword`"
        refuse(f"wipp:registryUser is {user!r}, so the pulls log in and need its password; set it with {set_it}",
               "wipp_missing")  # fmt: skip
    if password is not None and user == "":
        report(Mistake((), "[secret]", "no password without wipp:registryUser (the user it logs in as)"))
    return password


def _port_taken(port: int, keys: dict[str, Any]) -> str:
    if port in wipp.SWARM_PORTS:
        return f"a port not used by Docker Swarm ({port} is {wipp.SWARM_PORTS[port]})"
    if port == keys.get("web_port"):
        return f"a port different from wipp:webPort ({port})"
    publishing = keys.get("hosts", [])[: 1 if keys.get("publish_mode") == "host" else None]
    sshd = next((h.name for h in publishing if h.ssh_port == port), "")
    return sshd and f"a port other than {sshd}'s SSH port ({port}): publishing it takes SSH from the host"


class Settings(_Keys):
    """Every `wipp:*` key; those without a default here have theirs in Pulumi.yaml."""

    # fmt: off
    version: Annotated[str, _pattern(_TAG), _form("a Docker image tag such as 2.2.0: up to 128 letters, digits, _.-")]
    mongo_image: Annotated[str, _pattern(rf"(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*(?::{_TAG})?(?:@{_DIGEST})?"),
                           _refused_if(lambda ref: len(re.sub(rf"(?::{_TAG})?(@.*)?\Z", "", ref)) > 255),  # its name
                           _form("an image reference such as mongo:3.4 or registry.example.com:5000/team/mongo:3.4")]
    image_registry: Annotated[str, _pattern(rf"(?:{_DOMAIN}(?:/{_PATH})*)?"), _form(
        "a registry address with an optional path, such as registry.lab.example:5000 or registry.lab.example/wipp, "
        "or empty for Docker Hub")] = ""
    registry_user: Annotated[str, _pattern(r"(?:[^\s:]{1,255})?"),
                             _form("a registry user name (no spaces or ':'), or empty to pull without logging in")] = ""
    registry_password: Annotated[Any, BeforeValidator(_secret_only), AfterValidator(_password_with_user),
                                 Field(validate_default=True), _form("a secret (pulumi config set --secret)")] = None
    memory: Annotated[str, _pattern(r"[1-9][0-9]*[gGmMkK]"),
                      _refused_if(lambda size: not DOCKER_MIN_MEMORY <= _bytes(size) < 2**63,  # Docker's int64
                                  "a size from 6m, the least memory Docker gives a container, up to 8589934591G"),
                      _form("a whole positive size with a unit, size[g|G|m|M|k|K], at least 6m, such as 4G or 512m")]
    hosts: Annotated[list[Host], Field(min_length=1), AfterValidator(_hosts_together),
                     _form("a non-empty list of {name, address, role, local, sshUser, sshPort, hostKey} objects")]
    allow_unknown_host_keys: Annotated[Flag, AfterValidator(_host_keys_known)]
    ssh_private_key: Annotated[InstanceOf[pulumi.Output] | None, AfterValidator(_ssh_key_for_remote_hosts),
                               Field(validate_default=True), _form("a secret (pulumi config set --secret)")] = None
    storage: Annotated[Storage, Field(validate_default=True), _form("{mode: volume} or {mode: bind, paths: {...}}"),
                       _between(lambda storage, keys: storage.mode == "volume" and len(keys.get("hosts", [])) > 1 and
                                f"bind with shared folders: named volumes live on one host and {len(keys['hosts'])} "
                                "hosts are configured")] = Storage(mode="volume")
    network_name: Annotated[
        str, _pattern(r"[A-Za-z0-9](?:[-_]*[A-Za-z0-9]+)*"), Field(max_length=63, alias="network"),  # as swarmkit's
        _refused_if(lambda name: name in RESERVED_NETWORKS, "a network of its own: Docker keeps {!r} for itself"),
        _form("a swarm network name: up to 63 letters and digits, '-' or '_' only between them, such as wippnet"),
    ]
    publish_mode: Annotated[Literal["ingress", "host"], _form("ingress or host")]
    endpoint_mode: Annotated[Literal["vip", "dnsrr"], _form("vip or dnsrr"),
                             _between(lambda mode, keys: mode == "dnsrr" and keys.get("publish_mode") == "ingress" and
                                      "vip while wipp:publishMode is ingress (dnsrr needs publishMode host)")]
    web_port: Annotated[Port, _between(_port_taken)]
    dashboard_port: Annotated[Port, _between(_port_taken)]
    manage_firewall: Flag
    allowed_sources: Annotated[
        list[Annotated[str, AfterValidator(lambda cidr: _address(cidr, cidr=True) if "/" in cidr else not_the_form()),
                       _form("a CIDR with a prefix length, such as 10.0.0.0/24 or 10.0.0.5/32")]],
        _form("a list of CIDRs such as [10.0.0.0/24]"),
        _between(lambda sources, keys: sources and keys.get("manage_firewall") is False and
                 "an empty list while wipp:manageFirewall is false: the sources would be restricted by nothing"),
    ] = []
    bind_address: Annotated[
        str, AfterValidator(lambda address: address and _address(address)),
        _between(lambda address, keys: address and len(keys.get("hosts", [])) > 1 and f"empty with "
                 f"{len(keys['hosts'])} hosts: one address binds the ports on one machine (a personal instance)"),
        _form("an IPv4 address of this machine such as 127.0.0.1, or empty"),
    ] = ""
    strict_preflight: Flag
    leave_swarm_on_destroy: Flag
    delete_data_on_destroy: Flag
    converge_interval: Duration
    converge_timeout: Annotated[Duration, _between(
        lambda timeout, keys: "converge_interval" in keys and milliseconds(timeout) <= milliseconds(
            keys["converge_interval"]) and f"longer than wipp:convergeInterval ({keys['converge_interval']})")]
    docker_host: Annotated[str, _pattern(r"(?:unix|tcp|ssh)://\S+")] | None = Field(
        None, description="unix:///path/docker.sock, tcp://host:port or ssh://user@host")
    service_args: Annotated[ServiceArgsByService, _form("an object of service: [arguments]")] = ServiceArgsByService()
    mount_targets: Annotated[MountTargets, _form("an object of storage key: path in the container")] = MountTargets()
    container_ports: Annotated[ContainerPorts, _form("an object with web and/or dashboard ports")] = ContainerPorts()
    # fmt: on

    @property
    def stack(self) -> str:
        return pulumi.get_stack()

    @property
    def first_manager(self) -> Host:
        return next(h for h in self.hosts if h.is_manager)

    @property
    def images(self) -> dict[str, str]:
        """Each service's image; with wipp:imageRegistry, every image that names no registry is taken from it."""
        images = wipp.images(self.version, self.mongo_image)
        if not self.image_registry:
            return images
        return {service: image if _names_registry(image) else f"{self.image_registry}/{image}"
                for service, image in images.items()}  # fmt: skip

    @property
    def registry_login(self) -> RegistryLogin | None:
        """The pulls' login: to wipp:imageRegistry's server, or Docker Hub's without one."""
        if self.registry_password is None:
            return None
        server = self.image_registry.split("/", 1)[0] or "docker.io"
        return RegistryLogin(server=server, user=self.registry_user, password=self.registry_password)

    def connection(self, host: Host) -> HostConnection:
        """How commands reach `host`; only a local host uses wipp:dockerHost for its scripts."""
        key, docker_host = (None, self.docker_host) if host.local else (self.ssh_private_key, None)
        return HostConnection(host_name=host.name, address=host.address, local=host.local, user=host.ssh_user,
                              port=host.ssh_port, host_key=host.host_key, private_key=key,
                              docker_host=docker_host)  # fmt: skip

    @property
    def swarm_sources(self) -> list[str]:
        return [h.address for h in self.hosts] + self.allowed_sources

    @property
    def web_host(self) -> str:
        """The address users browse to: localhost for a loopback bind address, else the first manager's."""
        loopback = self.bind_address.startswith("127.")
        return "localhost" if loopback else self.bind_address or self.first_manager.address

    def publishes(self, host: Host) -> bool:
        """Whether WIPP's ports answer on `host`: all do with ingress (the routing mesh), else the first manager."""
        return self.publish_mode == "ingress" or host is self.first_manager

    def published_ports_on(self, host: Host) -> list[int]:
        """The WIPP ports to restrict on `host`: none without wipp:allowedSources, else those it publishes."""
        return [self.web_port, self.dashboard_port] if self.allowed_sources and self.publishes(host) else []

    @property
    def docker_provider_ssh_opts(self) -> list[str]:
        """For the `ssh` the Docker provider runs: only the manager's key is accepted, no known_hosts used."""
        manager = self.first_manager
        if self.docker_host or manager.local or manager.host_key is None:
            return []
        options = "StrictHostKeyChecking=yes UserKnownHostsFile=/dev/null GlobalKnownHostsFile=/dev/null".split()
        known_host = manager.address if manager.ssh_port == 22 else f"[{manager.address}]:{manager.ssh_port}"
        options.append(f"KnownHostsCommand=/bin/echo {known_host} {manager.host_key}")
        return [word for option in options for word in ("-o", option)]

    @property
    def docker_provider_host(self) -> str:
        manager = self.first_manager
        remote = f"ssh://{manager.ssh_user}@{manager.address}:{manager.ssh_port}"
        return self.docker_host or ("unix:///var/run/docker.sock" if manager.local else remote)

    def resolved_args(self, service: str) -> list[str]:
        values = {"master": "master", "mongodb": "mongodb", "memory": self.memory}
        return [arg.format(**values) for arg in getattr(self.service_args, service)]


def load_settings(cfg: pulumi.Config | None = None) -> Settings:
    """Reads and validates every `wipp:*` key; raises one `pulumi.RunError` listing every mistake."""
    cfg = cfg or pulumi.Config("wipp")
    errors: list[str] = []
    raw = _raw_values(cfg, errors)
    beside: list[Mistake] = []  # mistakes a check between keys finds outside the key it validates
    try:
        settings = Settings.model_validate(raw, context={"beside": beside})
    except ValidationError as invalid:
        errors += [_message(error) for error in invalid.errors()]
    errors += [_message({"loc": m.loc, "type": m.kind, "input": m.value, "ctx": {"text": m.text}}) for m in beside]
    if errors:
        listed = f"{len(errors)} mistakes in the stack's wipp:* config:" + "".join(f"\n  - {e}" for e in errors)
        raise pulumi.RunError(errors[0] if len(errors) == 1 else listed)
    return settings


def _raw_values(cfg: pulumi.Config, errors: list[str]) -> dict[str, Any]:
    """Every `wipp:*` key set, objects and lists decoded from the CLI's JSON, secrets as secret Outputs."""
    keys = {k.split(":", 1)[1] for k in runtime_config.CONFIG.get() if k.startswith("wipp:")}
    raw: dict[str, Any] = {}
    for key in sorted(keys | {key for key in _fields(Settings) if cfg.get(key) is not None}):
        text = cfg.get(key) or ""
        if runtime_config.is_config_secret(f"wipp:{key}"):
            raw[key] = cfg.get_secret(key)
        elif text[:1] in ("{", "["):  # no single value starts so
            try:
                raw[key] = json.loads(text)
            except json.JSONDecodeError:
                errors.append(_invalid(key, text, "a YAML object or list in the stack file"))
        else:
            raw[key] = text
    return raw


def _fields(annotation: Any, by_alias: bool = True) -> dict[str, FieldInfo]:
    members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    return {(f.alias or n) if by_alias else n: f for m in models for n, f in m.model_fields.items()}


def _walk(loc: tuple[str | int, ...]) -> tuple[FieldInfo | None, Any, str]:
    """Along an error's location: the field it reaches (for its description), its type and its key path."""
    field, annotation, path = None, Settings, ""
    for part in loc:
        if isinstance(part, int) and get_origin(annotation) is list:
            item = FieldInfo.from_annotation(get_args(annotation)[0])  # its own description, or the list's
            field, annotation, path = item if item.description else field, item.annotation, f"{path}[{part}]"
            continue
        field = _fields(annotation).get(str(part)) or _fields(annotation, by_alias=False).get(str(part))
        path += ("." if path else "") + (field.alias or str(part) if field else str(part))
        annotation = field.annotation if field else None
    return field, annotation, path


def _invalid(path: str, value: Any, expected: str) -> str:
    shown = repr(value) if isinstance(value, str) else json.dumps(value, default=lambda v: v.model_dump(by_alias=True))
    return f"config wipp:{path} = {shown} is invalid: expected {expected}"


def _message(error: dict[str, Any]) -> str:
    loc, kind, detail = tuple(error["loc"]), error["type"], error.get("ctx", {}).get("text", "")
    field, annotation, path = _walk(loc)
    form = field.description if field is not None and field.description else error["msg"].lower()
    if kind == "extra_forbidden":
        known, key = list(_fields(_walk(loc[:-1])[1])), str(loc[-1])
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6) or [k for k in known if k.lower() == key.lower()]
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"config wipp:{path} is not a key this program knows: {hint}known keys here: {', '.join(known)}"
    if kind == "wipp_missing":
        return f"config wipp:{path} is missing: {detail}"
    if kind == "missing":
        where = " (Pulumi.yaml gives the single values a default)" if len(loc) == 1 else ""
        return f"config wipp:{path} is missing: expected {form}{where}"
    expected = detail if kind == "wipp_expected" else f"{form} ({detail})" if detail else form
    return _invalid(path, error.get("input"), expected)

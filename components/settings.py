"""The stack's settings: one frozen pydantic model tree that validates the `wipp:*` config and is
what `__main__.py` reads.

Each field holds its constraints and, in its `description`, the form the stack file must give it
(error messages quote it). A check between keys validates the later key and reads the earlier ones
that were valid (`ValidationInfo.data`): the field order below matters.
"""

from __future__ import annotations

import base64
import posixpath
import re
import unicodedata
from ipaddress import IPv4Address, IPv4Network, IPv6Network, ip_network
from typing import Annotated, Any, Literal, NamedTuple, NoReturn

import pulumi
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, InstanceOf, StringConstraints
from pydantic import ValidationError, ValidationInfo, create_model, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

from . import wipp
from .host_command import HostConnection

# Addresses that stand in for real ones in examples (Pulumi.multi.yaml ships some): no host has one.
DOCUMENTATION_RANGES = {ip_network(n): rfc for n, rfc in (("192.0.2.0/24", 5737), ("198.51.100.0/24", 5737),
                                                           ("203.0.113.0/24", 5737), ("2001:db8::/32", 3849))}  # fmt: skip
# Docker's predefined networks and the swarm's own: `docker network create` refuses these names.
RESERVED_NETWORKS = ("bridge", "host", "none", "default", "ingress", "docker_gwbridge")
# Folders of the operating system: never a WIPP data folder (and never `rm -rf`'d) ...
SYSTEM_FOLDERS = (
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt", "/opt",
    "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/log",
    "/var/tmp", "/var/lib/docker",
)  # fmt: skip
# ... nor anything inside these.
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr")
DOCKER_MIN_MEMORY = 6 * 1024**2  # dockerd's least memory limit for a container (linuxMinMemory)
GO_MAX_DURATION_MS = (2**63 - 1) // 10**6  # a Go time.Duration is int64 nanoseconds


# -- how a value is refused -------------------------------------------------------------------------
class Mistake(NamedTuple):
    """A mistake at `loc` under the value checked. kind: wipp_expected (`text`: what is expected),
    wipp_form (the value lacks its field's form; `text`: a detail), wipp_missing (`text`: why it must be set)."""

    loc: tuple[str | int, ...]
    value: Any
    text: str
    kind: str = "wipp_expected"


def report(*mistakes: Mistake) -> None:
    """Raises every mistake at once, each at its own location (pydantic prefixes the checked value's)."""
    details = [InitErrorDetails(type=PydanticCustomError(m.kind, "{text}", {"text": m.text}), loc=m.loc, input=m.value)
               for m in mistakes]  # fmt: skip
    if details:
        raise ValidationError.from_exception_data("wipp", details)


def report_beside(info: ValidationInfo, *mistakes: Mistake) -> None:
    """Mistakes located outside the value checked (`loc` from the top): the caller of the validation
    collects them, so the value stays valid for the checks after it."""
    info.context["beside"].extend(mistakes)


def not_the_form(detail: str = "") -> NoReturn:
    raise PydanticCustomError("wipp_form", "{text}", {"text": detail})


def refuse(expected: str) -> NoReturn:
    raise PydanticCustomError("wipp_expected", "{text}", {"text": expected})


def _control_character(text: str) -> str | None:
    return next((c for c in text if unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp")), None)


class _Keys(BaseModel):
    """Keys in the stack file's camelCase; none unknown; no string with a control character."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        # A newline would split a folder in the shared-folder script's one-per-line list, and no key
        # has a use for any control character; a pattern alone would not tell the user why.
        texts = {(): value} if isinstance(value, str) else {}
        texts |= (
            {(i,): text for i, text in enumerate(value) if isinstance(text, str)} if isinstance(value, list) else {}
        )
        found = {loc: (text, _control_character(text)) for loc, text in texts.items()}
        report(
            *[
                Mistake(loc, text, f"no control character such as {c!r}", "wipp_form")
                for loc, (text, c) in found.items()
                if c
            ]
        )
        return value


def _pattern(regex: str) -> StringConstraints:
    # Anchored at the very start and end of the text: unlike `$`, `\z` never matches before a newline.
    return StringConstraints(pattern=rf"\A(?:{regex})\z")


def _form(description: str) -> Any:
    return Field(description=description)


# -- single values ----------------------------------------------------------------------------------
def _port_number(value: Any) -> Any:
    """A number, or its decimal digits: not `true` (a bool is an int to Python), 8080.0 or '08080'."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not re.fullmatch(r"[1-9][0-9]*", str(value)):
        not_the_form()
    return value


def _flag(value: Any) -> bool:
    """true or false only: pydantic's bool would also take yes, on, 1, t or y."""
    if isinstance(value, bool) or isinstance(value, str) and value.lower() in ("true", "false"):
        return str(value).lower() == "true"
    not_the_form()


def _docker_memory(size: str) -> str:
    in_bytes = int(size[:-1]) * 1024 ** ("kmg".index(size[-1].lower()) + 1)
    if not DOCKER_MIN_MEMORY <= in_bytes < 2**63:  # Docker reads the size into a signed 64-bit number
        refuse("a size from 6m, the least memory Docker gives a container, up to 8589934591G, such as 4G")
    return size


def _milliseconds(duration: str) -> int:
    unit_ms = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
    return sum(int(number) * unit_ms[unit] for number, unit in re.findall(r"([0-9]+)(ms|s|m|h)", duration))


def _go_duration(duration: str) -> str:
    if not 0 < _milliseconds(duration) <= GO_MAX_DURATION_MS:
        not_the_form("above zero and below Go's limit of 2562047h")
    return duration


def _image_name_fits(reference: str) -> str:
    name = reference.split("@")[0]
    if len(name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name) > 255:
        not_the_form("a repository name of at most 255 characters")
    return reference


def _real(network: IPv4Network | IPv6Network, value: str) -> None:
    for documentation, rfc in DOCUMENTATION_RANGES.items():
        if network.version == documentation.version and network.overlaps(documentation):
            refuse(f"real addresses: {value} is in or overlaps {documentation}, a range of documentation addresses "
                   f"(RFC {rfc}) that stand in for real ones in examples; set the real addresses of the hosts")  # fmt: skip


def _ipv4(text: str) -> IPv4Address | None:
    try:
        return IPv4Address(text)
    except ValueError:
        return None


def _host_address(address: str) -> str:
    """An IPv4 address (the swarm scripts advertise IPv4) or a DNS host name."""
    label = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    if (ip := _ipv4(address)) is None:
        if (
            len(address) > 253
            or re.fullmatch(r"[0-9.]+", address)
            or not re.fullmatch(rf"{label}(\.{label})*\.?", address)
        ):
            not_the_form()
    elif ip.is_unspecified or ip.is_multicast or ip == IPv4Address("255.255.255.255"):
        refuse(f"the address of one host ({address} is no single host's, and swarm init refuses it)")
    else:
        _real(ip_network(address), address)
    return address


def _bind_address(address: str) -> str:
    if address and _ipv4(address) is None:
        not_the_form()
    if address:
        _real(ip_network(address), address)
    return address


def _cidr(value: str) -> str:
    """The network a CIDR names, host bits dropped (pydantic's IPv4Network refuses them)."""
    try:
        network = ip_network(value, strict=False)
    except ValueError:
        not_the_form()
    if "/" not in value:
        not_the_form("with its prefix length")
    _real(network, value)
    return str(network)


def _host_key(key: str) -> str:
    """Its base64 blob must start with the same key type, as every SSH public key does."""
    key_type, blob = key.split(" ")
    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError:
        not_the_form()
    if raw[4 : 4 + int.from_bytes(raw[:4], "big")] != key_type.encode():
        not_the_form(f"the key's data is not an {key_type} key")
    return key


def _not_a_system_folder(folder: str) -> str:
    if folder in SYSTEM_FOLDERS or any(folder.startswith(tree + "/") for tree in SYSTEM_TREES):
        refuse("a folder of its own for WIPP data, not a system folder such as /, /etc, /home or /var")
    return folder


def _not_the_root(target: str) -> str:
    if not posixpath.normpath(target).strip("/"):
        not_the_form()  # Docker refuses a mount over the container's root
    return target


def _not_reserved(network: str) -> str:
    if network in RESERVED_NETWORKS:
        refuse(f"a network of its own: Docker keeps {network!r} for itself ({', '.join(RESERVED_NETWORKS)})")
    return network


def _placeholders_known(args: list[str]) -> list[str]:
    for arg in args:
        try:
            arg.format(**dict.fromkeys(wipp.ARG_PLACEHOLDERS, ""))
        except (KeyError, IndexError, ValueError, AttributeError):  # AttributeError: {master.x}
            not_the_form()
    return args


_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_PLACEHOLDERS = ", ".join("{" + p + "}" for p in wipp.ARG_PLACEHOLDERS)
_STORAGE_KEYS = ", ".join(wipp.STORAGE_KEYS)

Tag = Annotated[
    str, _pattern(_TAG), _form("a Docker image tag such as 2.2.0: up to 128 letters, digits, '_', '.', '-'")
]
Image = Annotated[
    str,
    _pattern(rf"(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*(?::{_TAG})?(?:@{_DIGEST})?"),
    AfterValidator(_image_name_fits),
    _form("an image reference such as mongo:3.4 or registry.example.com:5000/team/mongo:3.4 (lowercase repository)"),
]
Memory = Annotated[
    str,
    _pattern(r"[1-9][0-9]*[gGmMkK]"),
    AfterValidator(_docker_memory),
    _form("a whole positive size with a unit, size[g|G|m|M|k|K], at least 6m, such as 4G or 512m"),
]
Port = Annotated[int, BeforeValidator(_port_number), Field(ge=1, le=65535), _form("a TCP port number from 1 to 65535")]
Flag = Annotated[bool, BeforeValidator(_flag), _form("true or false")]
Duration = Annotated[
    str,
    _pattern(r"(?:[0-9]+(?:ms|s|m|h))+"),
    AfterValidator(_go_duration),
    _form("a positive duration of whole numbers with ms, s, m or h, such as 500ms, 2s, 1m30s, 20m or 1h"),
]
VolumeName = Annotated[
    str,
    _pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]+"),
    Field(max_length=255),
    _form("a Docker volume name: 2 to 255 letters, digits, '_', '.' or '-', starting with a letter or digit"),
]
Folder = Annotated[
    str,
    _pattern(r"(?:/[A-Za-z0-9_][A-Za-z0-9._-]*)+"),  # nothing a shell could split or expand, no '.' or '..'
    AfterValidator(_not_a_system_folder),
    _form("an absolute folder path of letters, digits, '.', '_' and '-', such as /mnt/wipp-shared/wippdbvolume"),
]
MountTarget = Annotated[
    str, _pattern("/.*"), AfterValidator(_not_the_root), _form("an absolute path in the container, not /")
]
ServiceArgs = Annotated[
    list[str],
    AfterValidator(_placeholders_known),
    _form(f"a list of strings with placeholders among {_PLACEHOLDERS} ('{{{{' for a literal brace)"),
]
HostKey = Annotated[str, _pattern(r"(?:ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}"),
                    AfterValidator(_host_key)]  # fmt: skip
Cidr = Annotated[str, AfterValidator(_cidr), _form("a CIDR with a prefix length, such as 10.0.0.0/24 or 10.0.0.5/32")]


# -- objects ----------------------------------------------------------------------------------------
class Host(_Keys):
    """One machine of the cluster: `local` runs its commands on this machine, the others go over SSH."""

    name: Annotated[
        str, _pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"), _form("a name of letters, digits, '.', '_' or '-'")
    ]
    address: Annotated[str, AfterValidator(_host_address), _form("an IPv4 address or a DNS host name")]
    role: Annotated[Literal["manager", "worker"], _form("manager or worker")]
    local: Flag = False
    ssh_user: Annotated[str, _pattern(r"[a-z_][a-z0-9_.-]{0,31}"), _form("a Unix user name such as ubuntu")] = "root"
    ssh_port: Port = 22
    host_key: HostKey | None = Field(
        None, description="a public host key such as 'ssh-ed25519 AAAAC3Nza...' (ssh-keyscan)"
    )

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"

    @property
    def known_hosts_line(self) -> str:
        """The host's key as a known_hosts line (with the port when it is not 22)."""
        return f"{self.address if self.ssh_port == 22 else f'[{self.address}]:{self.ssh_port}'} {self.host_key}"


def _repeated(values: dict[Any, Any], expected: str, loc: tuple[str | int, ...] = ()) -> list[Mistake]:
    """A mistake at `(key, *loc)` for each key whose value, or its lowercase, an earlier key has."""
    seen: set[Any] = set()
    mistakes = []
    for key, value in values.items():
        if (same := value.lower() if isinstance(value, str) else value) in seen:
            mistakes.append(Mistake((key, *loc), value, f"{expected} ({value!r} repeats)"))
        seen.add(same)
    return mistakes


def _none_repeated(expected: str, groups: tuple[tuple[str, ...], ...] = ()) -> type[_Keys]:
    """A base for a keyed object whose values differ (within each group of keys, if given)."""

    class Different(_Keys):
        @model_validator(mode="after")
        def _different(self) -> Different:
            values = self.model_dump()
            mistakes = [
                m for keys in groups or (tuple(values),) for m in _repeated({k: values[k] for k in keys}, expected)
            ]
            report(*dict.fromkeys(mistakes))
            return self

    return Different


class _FoldersApart(_Keys):
    @model_validator(mode="after")
    def _apart(self) -> _FoldersApart:
        paths = self.model_dump()
        nested = [Mistake((key,), inner, f"four folders none inside another ({inner} is inside {outer})")
                  for key, inner in paths.items() for outer in paths.values() if inner.startswith(outer + "/")]  # fmt: skip
        report(*_repeated(paths, "four different folders"), *nested)
        return self


def _keyed(name: str, value_type: Any, defaults: dict[str, Any], base: type[_Keys] = _Keys) -> Any:
    """A model with one field per key of `defaults` (None: required), each key list written once in wipp.py."""
    fields = {key: (value_type, ... if default is None else default) for key, default in defaults.items()}
    return create_model(name, __base__=base, **fields)


VolumeNames = _keyed(
    "VolumeNames", VolumeName, wipp.SEED_VOLUME_NAMES, _none_repeated("a different volume for each key")
)
FolderPaths = _keyed("FolderPaths", Folder, dict.fromkeys(wipp.STORAGE_KEYS), _FoldersApart)
ServiceArgsByService = _keyed("ServiceArgs", ServiceArgs, wipp.DEFAULT_SERVICE_ARGS)
# Docker refuses a service two mounts on one target ("Duplicate mount point").
MountTargets = _keyed("MountTargets", MountTarget, wipp.DEFAULT_MOUNT_TARGETS,
                      _none_repeated("a target no other mount of the service has", tuple(wipp.SERVICE_MOUNTS.values())))  # fmt: skip
ContainerPorts = _keyed("ContainerPorts", Port, wipp.DEFAULT_CONTAINER_PORTS, _none_repeated("a port of its own"))


def _names_of_volumes(names: Any, info: ValidationInfo) -> Any:
    if info.data.get("mode") == "bind":
        refuse("no volume names with mode: bind, which mounts wipp:storage.paths")
    return names


def _paths_of_folders(paths: Any, info: ValidationInfo) -> Any:
    if info.data.get("mode") == "bind" and paths is None:
        report(Mistake((), None, f"expected absolute folders for exactly {_STORAGE_KEYS}", "wipp_missing"))
    if info.data.get("mode") == "volume" and paths is not None:
        refuse("no folders with mode: volume, which keeps the data in named volumes (mode: bind mounts folders)")
    return paths


class Storage(_Keys):
    mode: Annotated[Literal["volume", "bind"], _form("{mode: volume} or {mode: bind, paths: {wippdb: /abs/path, ...}}")]
    names: Annotated[
        VolumeNames, AfterValidator(_names_of_volumes), _form(f"an object of volume names for {_STORAGE_KEYS}")
    ] = VolumeNames()
    paths: Annotated[FolderPaths | None, AfterValidator(_paths_of_folders), Field(validate_default=True),
                     _form(f"absolute folders for exactly {_STORAGE_KEYS}")] = None  # fmt: skip

    @property
    def sources(self) -> dict[str, str]:
        """Storage key -> volume name (volume mode) or absolute folder (bind mode)."""
        return (self.paths if self.mode == "bind" else self.names).model_dump()


# -- checks between keys: each reads the earlier keys that were valid --------------------------------
def _hosts_together(hosts: list[Host]) -> list[Host]:
    mistakes = [*_repeated({i: h.name for i, h in enumerate(hosts)}, "a unique name per host", ("name",)),
                *_repeated({i: h.address for i, h in enumerate(hosts)}, "a unique address per host", ("address",))]  # fmt: skip
    if not any(h.is_manager for h in hosts):
        mistakes.append(Mistake((), [h.name for h in hosts], "at least one host with role: manager"))
    local = [i for i, h in enumerate(hosts) if h.local]
    mistakes += [
        Mistake((i, "local"), True, f"at most one host with local: true (hosts[{local[0]}] is local)")
        for i in local[1:]
    ]
    for index, host in enumerate(hosts if len(hosts) > 1 else []):
        if host.address == "localhost" or host.address.startswith("127."):
            loopback = f"an address the other hosts can reach ({host.address} is each machine's own loopback)"
            mistakes.append(Mistake((index, "address"), host.address, loopback))
    report(*mistakes)
    return hosts


def _host_keys_known(allow_unknown: bool, info: ValidationInfo) -> bool:
    ssh_hosts = {i: h for i, h in enumerate(info.data.get("hosts", [])) if not h.local and h.host_key is None}
    report_beside(info, *[Mistake(("hosts", i, "hostKey"), None, _host_key_missing(h), "wipp_missing")
                          for i, h in ssh_hosts.items() if not allow_unknown])  # fmt: skip
    return allow_unknown


def _host_key_missing(host: Host) -> str:
    return (
        f"{host.name} is reached over SSH and its host key is how the program knows it talks to {host.address} and "
        f"not an impostor; set it to the output of `ssh-keyscan -t ed25519 -p {host.ssh_port} {host.address}` "
        "(checked out of band), or set wipp:allowUnknownHostKeys true to connect without checking"
    )


def _key_for_ssh(key: pulumi.Output[str] | None, info: ValidationInfo) -> pulumi.Output[str] | None:
    if key is None and (remote := [h.name for h in info.data.get("hosts", []) if not h.local]):
        report(Mistake((), None, f"hosts {remote} are reached over SSH; set it with "
                                 "`cat ~/.ssh/id_ed25519 | pulumi config set --secret wipp:sshPrivateKey`", "wipp_missing"))  # fmt: skip
    return key


def _shared_by_every_host(storage: Storage, info: ValidationInfo) -> Storage:
    if storage.mode == "volume" and (hosts := len(info.data.get("hosts", []))) > 1:
        report(
            Mistake(
                ("mode",),
                "volume",
                f"bind with shared folders: named volumes live on one host and {hosts} hosts are configured",
            )
        )
    return storage


def _dnsrr_publishes_on_host(mode: str, info: ValidationInfo) -> str:
    if mode == "dnsrr" and info.data.get("publish_mode") == "ingress":
        refuse("vip while wipp:publishMode is ingress (dnsrr needs publishMode host)")
    return mode


def _free_port(port: int, info: ValidationInfo) -> int:
    """A published port Docker, the web port or a host's sshd does not already have."""
    hosts = info.data.get("hosts", [])
    sshd = next(
        (h for h in (hosts[:1] if info.data.get("publish_mode") == "host" else hosts) if h.ssh_port == port), None
    )
    expected = (
        f"a port not used by Docker Swarm ({port} is {wipp.SWARM_PORTS[port]})" if port in wipp.SWARM_PORTS
        else f"a port different from wipp:webPort ({port})" if port == info.data.get("web_port")
        else f"a port other than {sshd.name}'s SSH port ({port}): publishing it takes SSH from the host" if sshd
        else None
    )  # fmt: skip
    if expected:
        report(Mistake((), port, expected))
    return port


def _enforced(sources: list[str], info: ValidationInfo) -> list[str]:
    if sources and info.data.get("manage_firewall") is False:
        refuse("an empty list while wipp:manageFirewall is false: the sources would be restricted by nothing")
    return sources


def _one_machine(address: str, info: ValidationInfo) -> str:
    if address and (hosts := len(info.data.get("hosts", []))) > 1:
        refuse(f"empty with {hosts} hosts: one address binds the ports on one machine (a personal instance)")
    return address


def _longer_than_interval(timeout: str, info: ValidationInfo) -> str:
    if (interval := info.data.get("converge_interval")) and _milliseconds(timeout) <= _milliseconds(interval):
        refuse(f"a duration longer than wipp:convergeInterval ({interval}), or no service is checked in time")
    return timeout


class Settings(_Keys):
    """Every `wipp:*` key; those without a default here have theirs in Pulumi.yaml."""

    version: Tag
    mongo_image: Image
    memory: Memory
    hosts: Annotated[list[Host], Field(min_length=1), AfterValidator(_hosts_together),
                     _form("a non-empty list of {name, address, role, local, sshUser, sshPort, hostKey} objects")]  # fmt: skip
    allow_unknown_host_keys: Annotated[Flag, AfterValidator(_host_keys_known)]
    ssh_private_key: Annotated[InstanceOf[pulumi.Output] | None, AfterValidator(_key_for_ssh), Field(validate_default=True),
                               _form("a secret: set it with `pulumi config set --secret`")] = None  # fmt: skip
    storage: Annotated[Storage, AfterValidator(_shared_by_every_host), Field(validate_default=True),
                       _form("{mode: volume} or {mode: bind, paths: {...}}")] = Storage(mode="volume")  # fmt: skip
    network_name: Annotated[
        str,
        _pattern(r"[A-Za-z0-9](?:[-_]*[A-Za-z0-9]+)*"),  # what swarmkit takes for a network's name
        Field(max_length=63, alias="network"),
        AfterValidator(_not_reserved),
        _form("a swarm network name: up to 63 letters and digits, '-' or '_' only between them, such as wippnet"),
    ]
    publish_mode: Annotated[Literal["ingress", "host"], _form("ingress or host")]
    endpoint_mode: Annotated[Literal["vip", "dnsrr"], AfterValidator(_dnsrr_publishes_on_host), _form("vip or dnsrr")]
    web_port: Annotated[Port, AfterValidator(_free_port)]
    dashboard_port: Annotated[Port, AfterValidator(_free_port)]
    manage_firewall: Flag
    allowed_sources: Annotated[
        list[Cidr], AfterValidator(_enforced), _form("a list of CIDRs such as [10.0.0.0/24]")
    ] = []
    bind_address: Annotated[str, AfterValidator(_bind_address), AfterValidator(_one_machine),
                            _form("an IPv4 address of this machine such as 127.0.0.1, or empty")] = ""  # fmt: skip
    strict_preflight: Flag
    leave_swarm_on_destroy: Flag
    delete_data_on_destroy: Flag
    converge_interval: Duration
    converge_timeout: Annotated[Duration, AfterValidator(_longer_than_interval)]
    docker_host: Annotated[str, _pattern(r"(?:unix|tcp|ssh)://\S+")] | None = Field(
        None, description="unix:///path/docker.sock, tcp://host:port or ssh://user@host"
    )
    service_args: Annotated[ServiceArgsByService, _form("an object of service name -> list of arguments")] = (
        ServiceArgsByService()
    )
    mount_targets: Annotated[MountTargets, _form("an object of storage key -> absolute path in the container")] = (
        MountTargets()
    )
    container_ports: Annotated[ContainerPorts, _form("an object with web and/or dashboard port numbers")] = (
        ContainerPorts()
    )

    # -- what __main__.py asks of the settings -----------------------------------------------------
    @property
    def stack(self) -> str:
        return pulumi.get_stack()

    @property
    def managers(self) -> list[Host]:
        return [h for h in self.hosts if h.is_manager]

    @property
    def first_manager(self) -> Host:
        return self.managers[0]

    @property
    def images(self) -> dict[str, str]:
        return wipp.images(self.version, self.mongo_image)

    def connection(self, host: Host) -> HostConnection:
        """How commands reach `host`; only a local host uses wipp:dockerHost for its scripts."""
        return HostConnection(
            host_name=host.name,
            address=host.address,
            local=host.local,
            user=host.ssh_user,
            port=host.ssh_port,
            host_key=host.host_key,
            private_key=None if host.local else self.ssh_private_key,
            docker_host=self.docker_host if host.local else None,
        )

    @property
    def swarm_sources(self) -> list[str]:
        """Who may reach the swarm ports: the cluster's own hosts, plus wipp:allowedSources."""
        return [h.address for h in self.hosts] + self.allowed_sources

    @property
    def web_host(self) -> str:
        """The address users browse to: localhost for a loopback bind address, else the first manager's."""
        if self.bind_address:
            return "localhost" if self.bind_address.startswith("127.") else self.bind_address
        return self.first_manager.address

    def publishes(self, host: Host) -> bool:
        """Whether WIPP's ports answer on `host`: on every node with ingress (the routing mesh), else
        on the first manager only, where the wipp service is pinned."""
        return self.publish_mode == "ingress" or host is self.first_manager

    def published_ports_on(self, host: Host) -> list[int]:
        """The WIPP ports to restrict on `host`: none without wipp:allowedSources, else those it publishes."""
        return [self.web_port, self.dashboard_port] if self.allowed_sources and self.publishes(host) else []

    @property
    def docker_provider_ssh_opts(self) -> list[str]:
        """Options for the `ssh` the Docker provider runs to a remote first manager: only its host key
        is accepted, and no known_hosts file is read or written."""
        manager = self.first_manager
        if self.docker_host or manager.local or manager.host_key is None:
            return []
        return ["-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", f"KnownHostsCommand=/bin/echo {manager.known_hosts_line}"]  # fmt: skip

    @property
    def docker_provider_host(self) -> str:
        """Where the Docker provider talks to the swarm: the first manager."""
        manager = self.first_manager
        if self.docker_host or manager.local:
            return self.docker_host or "unix:///var/run/docker.sock"
        return f"ssh://{manager.ssh_user}@{manager.address}:{manager.ssh_port}"

    def resolved_args(self, service: str) -> list[str]:
        """A service's arguments with `{master}`, `{mongodb}`, `{memory}` filled in."""
        values = {"master": "master", "mongodb": "mongodb", "memory": self.memory}
        return [arg.format(**values) for arg in getattr(self.service_args, service)]

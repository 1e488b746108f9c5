"""The stack's `wipp:*` configuration, validated once (pydantic) into the typed `Settings`.

Every mistake of a stack is reported at once, in one `pulumi.RunError`, each naming the key
path (`wipp:hosts[1].address`), the bad value and the form expected, so `pulumi preview`
stops before anything is touched. A key the program does not know, at any level, is refused
with the closest known key suggested. The rest of the program trusts the `Settings` it gets.
"""

from __future__ import annotations

import base64
import difflib
import ipaddress
import json
import re
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Literal

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from .settings import Host, Settings, Storage
from .wipp import (
    ARG_PLACEHOLDERS,
    DEFAULT_CONTAINER_PORTS,
    DEFAULT_MOUNT_TARGETS,
    DEFAULT_SERVICE_ARGS,
    SEED_VOLUME_NAMES,
    SERVICE_NAMES,
    STORAGE_KEYS,
    SWARM_PORTS,
)

NAMESPACE = "wipp"
# Keys whose values are objects or lists in the stack file (the CLI hands them over as JSON).
OBJECT_KEYS = ("hosts", "storage", "allowedSources", "serviceArgs", "mountTargets", "containerPorts")
SECRET_KEYS = ("sshPrivateKey",)

_MEMORY = re.compile(r"^[1-9][0-9]*[gGmMkK]$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_IMAGE = re.compile(
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_UNIX_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
# Go durations as the Docker provider takes them: 500ms, 2s, 1m30s, 1h.
_DURATION = re.compile(r"^(?:[0-9]+(?:ms|s|m|h))+$")
_HOST_KEY = re.compile(r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}$")
_DOCKER_HOST = re.compile(r"^(unix|tcp|ssh)://\S+$")
# Shared folders: letters, digits, '.', '_', '-' between slashes; nothing a shell could split or expand.
_FOLDER = re.compile(r"^(/[A-Za-z0-9_][A-Za-z0-9._-]*)+$")
# Folders of the operating system: never a WIPP data folder (and never `rm -rf`'d) ...
SYSTEM_FOLDERS = (
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt", "/opt",
    "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/log",
    "/var/tmp", "/var/lib/docker",
)  # fmt: skip
# ... nor anything inside these.
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr")


# -- one value each: the form, and the words that say it -----------------------------------------
def _form(expected: str, check: Callable[[Any], Any]) -> BeforeValidator:
    """A validator that passes what `check` returns, or reports `expected` (None = not accepted)."""

    def validate(value: Any) -> Any:
        result = check(value)
        if result is None:
            raise PydanticCustomError("wipp_form", "{expected}", {"expected": expected})
        return result

    return BeforeValidator(validate)


def _matching(pattern: re.Pattern[str]) -> Callable[[Any], str | None]:
    return lambda v: v if isinstance(v, str) and pattern.match(v) else None


def _port(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        return None
    return port if 1 <= port <= 65535 and str(value).strip() == str(port) else None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return {"true": True, "false": False}.get(text)


def _duration(value: Any) -> str | None:
    if not isinstance(value, str) or not _DURATION.match(value):
        return None
    return value if any(int(n) for n in re.findall(r"[0-9]+", value)) else None


def is_valid_address(address: Any) -> bool:
    """An IPv4 address or a DNS host name (the swarm scripts advertise IPv4)."""
    if not isinstance(address, str):
        return False
    try:
        return ipaddress.ip_address(address).version == 4
    except ValueError:
        pass
    if len(address) > 253 or not address or re.fullmatch(r"[0-9.]+", address):
        return False
    return all(_HOSTNAME_LABEL.match(label) for label in address.rstrip(".").split("."))


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


def _cidr(value: Any) -> str | None:
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        return None


def _ipv4(value: Any) -> bool:
    try:
        return ipaddress.ip_address(str(value)).version == 4
    except ValueError:
        return False


def _folder(value: Any) -> str | None:
    if not isinstance(value, str) or not _FOLDER.match(value):
        return None
    if any(part in (".", "..") for part in value.split("/")):
        return None
    return value


def _not_system(value: Any) -> Any:
    if value in SYSTEM_FOLDERS or any(value.startswith(tree + "/") for tree in SYSTEM_TREES):
        raise PydanticCustomError(
            "wipp_form", "a folder of its own for WIPP data, not a system folder such as /, /etc, /home or /var"
        )
    return value


def _service_args(value: Any) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        return None
    for arg in value:
        try:
            arg.format(**dict.fromkeys(ARG_PLACEHOLDERS, ""))
        except (KeyError, IndexError, ValueError, AttributeError):  # AttributeError: {master.x}
            return None
    return value


def _one_of(*choices: str) -> Callable[[Any], str | None]:
    return lambda v: v if v in choices else None


_PLACEHOLDERS = ", ".join("{" + p + "}" for p in ARG_PLACEHOLDERS)
Port = Annotated[int, _form("a TCP port number from 1 to 65535", _port)]
Flag = Annotated[bool, _form("true or false", _flag)]
Duration = Annotated[str, _form("a positive duration such as 500ms, 2s, 1m30s, 20m or 1h", _duration)]
Name = Annotated[str, _form("a name of letters, digits, '.', '_' or '-'", _matching(_NAME))]
Folder = Annotated[
    str,
    BeforeValidator(_not_system),
    _form(
        "an absolute folder path of letters, digits, '.', '_' and '-', such as /mnt/wipp-shared/wippdbvolume",
        _folder,
    ),
]
ServiceArgs = Annotated[
    list[str],
    _form(f"a list of strings with placeholders among {_PLACEHOLDERS} ('{{{{' for a literal brace)", _service_args),
]
MountTarget = Annotated[
    str, _form("an absolute path inside the container", lambda v: v if str(v).startswith("/") else None)
]


class _Keys(BaseModel):
    """Keys in the stack file's camelCase; none unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=False)


class HostConfig(_Keys):
    name: Name
    address: Annotated[str, _form("an IPv4 address or a DNS host name", lambda v: v if is_valid_address(v) else None)]
    role: Annotated[str, _form("manager or worker", _one_of("manager", "worker"))]
    local: Flag = False
    ssh_user: Annotated[str, _form("a Unix user name such as ubuntu", _matching(_UNIX_USER))] = "root"
    ssh_port: Port = 22
    host_key: (
        Annotated[
            str,
            _form(
                "a public host key such as 'ssh-ed25519 AAAAC3Nza...' (ssh-keyscan)",
                lambda v: v if is_valid_host_key(v) else None,
            ),
        ]
        | None
    ) = None


class VolumeNames(_Keys):
    wippdb: Name = SEED_VOLUME_NAMES["wippdb"]
    wippdata: Name = SEED_VOLUME_NAMES["wippdata"]
    pegasusdb: Name = SEED_VOLUME_NAMES["pegasusdb"]
    pegasusdata: Name = SEED_VOLUME_NAMES["pegasusdata"]


class FolderPaths(_Keys):
    wippdb: Folder
    wippdata: Folder
    pegasusdb: Folder
    pegasusdata: Folder


def _report(messages: list[str]) -> None:
    """Raises finished messages as one pydantic error (a validator reports one error at most)."""
    if messages:
        raise PydanticCustomError("wipp_lines", "{lines}", {"lines": "\n".join(messages)})


def _check_hosts(hosts: list[HostConfig]) -> list[HostConfig]:
    """What only the whole host list can tell: unique names and addresses, managers, local, loopback."""
    errors: list[str] = []
    for attribute in ("name", "address"):
        values = [getattr(h, attribute) for h in hosts]
        repeated = next((v for v in values if values.count(v) > 1), None)
        if repeated is not None:
            errors.append(_invalid("hosts", values, f"a unique {attribute} per host ({repeated!r} repeats)"))
    if not any(h.role == "manager" for h in hosts):
        errors.append(_invalid("hosts", [h.name for h in hosts], "at least one host with role: manager"))
    if sum(h.local for h in hosts) > 1:
        errors.append(_invalid("hosts", [h.name for h in hosts if h.local], "at most one host with local: true"))
    if len(hosts) > 1:
        for index, host in enumerate(hosts):
            if host.address == "localhost" or host.address.startswith("127."):
                errors.append(
                    _invalid(
                        f"hosts[{index}].address",
                        host.address,
                        f"an address the other hosts can reach ({host.address} is each machine's own loopback)",
                    )
                )
    _report(errors)
    return hosts


def _check_volume_names(names: VolumeNames) -> VolumeNames:
    values = names.model_dump()
    if len(set(values.values())) != len(values):
        _report([_invalid("storage.names", values, "a different volume for each storage key")])
    return names


def _check_folders(paths: FolderPaths) -> FolderPaths:
    values = paths.model_dump()
    folders = sorted(values.values())
    errors = []
    if len(set(folders)) != len(folders):
        errors.append(_invalid("storage.paths", values, "four different folders"))
    nested = [(o, i) for o in folders for i in folders if i.startswith(o + "/")]
    if nested:
        outer, inner = nested[0]
        errors.append(
            _invalid("storage.paths", values, f"four folders none inside another ({inner} is inside {outer})")
        )
    _report(errors)
    return paths


def _not_a_swarm_port(port: int) -> int:
    if port in SWARM_PORTS:
        raise PydanticCustomError(
            "wipp_form", "{expected}", {"expected": f"a port not used by Docker Swarm ({port} is {SWARM_PORTS[port]})"}
        )
    return port


class VolumeStorage(_Keys):
    mode: Literal["volume"]
    names: Annotated[VolumeNames, AfterValidator(_check_volume_names)] = VolumeNames()


class BindStorage(_Keys):
    mode: Literal["bind"]
    paths: Annotated[FolderPaths, AfterValidator(_check_folders)]


class ServiceArgsConfig(_Keys):
    mongodb: ServiceArgs | None = None
    master: ServiceArgs | None = None
    wipp: ServiceArgs | None = None
    exec: ServiceArgs | None = None


class MountTargetsConfig(_Keys):
    wippdb: MountTarget | None = None
    wippdata: MountTarget | None = None
    pegasusdb: MountTarget | None = None
    pegasusdata: MountTarget | None = None


class ContainerPortsConfig(_Keys):
    web: Port | None = None
    dashboard: Port | None = None


class WippConfig(_Keys):
    """Every `wipp:*` key. Those without a default here have theirs in Pulumi.yaml."""

    version: Annotated[str, _form("a Docker image tag such as 2.2.0", _matching(_TAG))]
    mongo_image: Annotated[str, _form("an image reference such as mongo:3.4", _matching(_IMAGE))]
    memory: Annotated[
        str,
        _form("a whole positive size with a unit, size[g|G|m|M|k|K], such as 4G or 512m", _matching(_MEMORY)),
    ]
    hosts: Annotated[list[HostConfig], Field(min_length=1), AfterValidator(_check_hosts)]
    storage: Annotated[VolumeStorage | BindStorage, Field(discriminator="mode")] = VolumeStorage(mode="volume")
    network: Name
    web_port: Annotated[Port, AfterValidator(_not_a_swarm_port)]
    dashboard_port: Annotated[Port, AfterValidator(_not_a_swarm_port)]
    publish_mode: Annotated[str, _form("ingress or host", _one_of("ingress", "host"))]
    endpoint_mode: Annotated[str, _form("vip or dnsrr", _one_of("vip", "dnsrr"))]
    allowed_sources: list[
        Annotated[str, _form("a CIDR with a prefix length, such as 10.0.0.0/24 or 10.0.0.5/32", _cidr)]
    ] = []
    allow_unknown_host_keys: Flag
    manage_firewall: Flag
    strict_preflight: Flag
    leave_swarm_on_destroy: Flag
    delete_data_on_destroy: Flag
    converge_interval: Duration
    converge_timeout: Duration
    bind_address: (
        Annotated[
            str,
            _form(
                "an IPv4 address of this machine such as 127.0.0.1, or empty for every address",
                lambda v: v if v == "" or _ipv4(v) else None,
            ),
        ]
        | None
    ) = None
    docker_host: (
        Annotated[str, _form("unix:///path/docker.sock, tcp://host:port or ssh://user@host", _matching(_DOCKER_HOST))]
        | None
    ) = None
    service_args: ServiceArgsConfig = ServiceArgsConfig()
    mount_targets: MountTargetsConfig = MountTargetsConfig()
    container_ports: ContainerPortsConfig = ContainerPortsConfig()


# What the stack file may hold at each level, for "did you mean" suggestions.
_KNOWN_KEYS: dict[str, list[str]] = {
    "": [to_camel(f) for f in WippConfig.model_fields] + list(SECRET_KEYS),
    "hosts[]": [to_camel(f) for f in HostConfig.model_fields],
    "storage": ["mode", "names", "paths"],
    "storage.names": list(STORAGE_KEYS),
    "storage.paths": list(STORAGE_KEYS),
    "serviceArgs": list(SERVICE_NAMES),
    "mountTargets": list(STORAGE_KEYS),
    "containerPorts": list(DEFAULT_CONTAINER_PORTS),
}
_SPECIAL_FORMS = {
    "hosts": "a non-empty list of {name, address, role} objects",
    "storage": "{mode: volume} or {mode: bind, paths: {wippdb: /abs/path, ...}}",
    "storage.paths": f"absolute folders for exactly {list(STORAGE_KEYS)}",
    "storage.names": f"an object of volume names for {list(STORAGE_KEYS)}",
    "allowedSources": "a list of CIDRs such as [10.0.0.0/24]",
    "serviceArgs": "an object of service name -> list of arguments",
    "mountTargets": "an object of storage key -> absolute path in the container",
    "containerPorts": "an object with web and/or dashboard port numbers",
}


# -- errors ----------------------------------------------------------------------------------------
def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value, default=str)


def _invalid(path: str, value: Any, expected: str) -> str:
    return f"config {NAMESPACE}:{path} = {_shown(value)} is invalid: expected {expected}"


def _path(loc: tuple[Any, ...]) -> str:
    """A pydantic location as the stack file's key path: hosts[1].address, storage.paths.wippdb."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("volume", "bind") and text == "storage":
            continue  # the union's tag, not a key
        else:
            text += f".{part}" if text else str(part)
    return text


def _unknown_key(path: str) -> str:
    parent, _, key = path.rpartition(".")
    parent_pattern = re.sub(r"\[[0-9]+\]", "[]", parent)
    known = _KNOWN_KEYS.get(parent_pattern, [])
    if not parent and "[" in key:  # hosts[0] itself is no key
        known = []
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6) or [k for k in known if k.lower() == key.lower()]
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"config {NAMESPACE}:{path} is not a key this program knows: {hint}known keys here: {', '.join(known)}"


def _message(error: Any) -> str:
    path = _path(tuple(error["loc"]))
    kind, value = error["type"], error.get("input")
    if kind == "wipp_lines":
        return error["ctx"]["lines"]
    if kind == "extra_forbidden":
        return _unknown_key(path)
    if kind == "missing" and path in _KNOWN_KEYS[""]:
        if path == "hosts":
            return _invalid("hosts", None, _SPECIAL_FORMS["hosts"])
        return (
            f"config {NAMESPACE}:{path} is missing: it has a default in Pulumi.yaml; "
            f"set it with `pulumi config set {NAMESPACE}:{path} <value>`"
        )
    if kind == "missing":
        parent = path.rpartition(".")[0]
        form = _SPECIAL_FORMS.get(path) or _SPECIAL_FORMS.get(parent, "a value")
        return f"config {NAMESPACE}:{path} is missing: expected {form}"
    if kind == "wipp_form":
        return _invalid(path, value, error["msg"])
    if path in _SPECIAL_FORMS or kind in ("union_tag_invalid", "union_tag_not_found"):
        return _invalid(path, value, _SPECIAL_FORMS.get(path, _SPECIAL_FORMS["storage"]))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return _invalid(path, value, "an object of keys and values in the stack file")
    return _invalid(path, value, error["msg"].lower())


# -- reading the stack's values -----------------------------------------------------------------------
def _raw_values(cfg: pulumi.Config, errors: list[str]) -> dict[str, Any]:
    """Every `wipp:*` key the stack sets, objects decoded, secrets left out (they are read as secrets)."""
    keys = {k.split(":", 1)[1] for k in runtime_config.CONFIG.get() if k.startswith(f"{NAMESPACE}:")}
    keys |= {k for k in _KNOWN_KEYS[""] if cfg.get(k) is not None and k not in SECRET_KEYS}
    raw: dict[str, Any] = {}
    for key in sorted(keys - set(SECRET_KEYS)):
        value = cfg.get(key)
        if value is None:
            continue
        if key in OBJECT_KEYS:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                errors.append(_invalid(key, value, "a YAML object or list in the stack file"))
                continue
        raw[key] = value
    return raw


# -- what only the whole stack can tell ---------------------------------------------------------------
class _Valid:
    """The keys that are valid on their own, as attributes; None for one that is not (or absent)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        return self._values.get(name)


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    field = WippConfig.model_fields[name]
    metadata = [*field.metadata, *([Field(discriminator=field.discriminator)] if field.discriminator else [])]
    return TypeAdapter(Annotated[field.annotation, *metadata] if metadata else field.annotation)


def _each_key(raw: dict[str, Any]) -> _Valid:
    """Every key validated on its own, so the checks between keys can run beside the keys' own errors."""
    values: dict[str, Any] = {}
    for name, field in WippConfig.model_fields.items():
        alias = field.alias or name
        if alias not in raw:
            values[name] = None if field.is_required() else field.get_default(call_default_factory=True)
            continue
        try:
            values[name] = _adapter(name).validate_python(raw[alias])
        except ValidationError:
            values[name] = None
    return _Valid(values)


def _known(*values: Any) -> bool:
    return all(v is not None for v in values)


def _cross_checks(model: WippConfig | _Valid, ssh_key_set: bool) -> list[str]:
    """The checks between keys; each runs when the keys it reads are valid on their own."""
    errors: list[str] = []
    hosts = model.hosts
    if _known(hosts, model.allow_unknown_host_keys):
        for index, host in enumerate(hosts):
            if not host.local and host.host_key is None and not model.allow_unknown_host_keys:
                errors.append(
                    f"config {NAMESPACE}:hosts[{index}].hostKey is missing: {host.name} is reached over SSH and its "
                    f"host key is how the program knows it talks to {host.address} and not an impostor; set it to "
                    f"the output of `ssh-keyscan -t ed25519 -p {host.ssh_port} {host.address}` (checked out of band), "
                    f"or set {NAMESPACE}:allowUnknownHostKeys true to connect without checking"
                )
    remote = [h.name for h in hosts or [] if not h.local]
    if remote and not ssh_key_set:
        errors.append(
            f"config {NAMESPACE}:sshPrivateKey is missing: hosts {remote} are reached over SSH; "
            f"set it with `cat ~/.ssh/id_ed25519 | pulumi config set --secret {NAMESPACE}:sshPrivateKey`"
        )
    if _known(hosts, model.storage) and isinstance(model.storage, VolumeStorage) and len(hosts) > 1:
        errors.append(
            _invalid(
                "storage.mode",
                "volume",
                f"bind with shared folders: named volumes live on one host and {len(hosts)} hosts are configured",
            )
        )
    if _known(model.web_port, model.dashboard_port) and model.web_port == model.dashboard_port:
        errors.append(
            _invalid("dashboardPort", model.dashboard_port, f"a port different from wipp:webPort ({model.web_port})")
        )
    if model.endpoint_mode == "dnsrr" and model.publish_mode == "ingress":
        errors.append(
            _invalid("endpointMode", "dnsrr", "vip while wipp:publishMode is ingress (dnsrr needs publishMode host)")
        )
    if _known(hosts) and model.bind_address and len(hosts) > 1:
        errors.append(
            _invalid(
                "bindAddress",
                model.bind_address,
                f"empty with {len(hosts)} hosts: one address binds the ports on one machine (a personal instance)",
            )
        )
    if model.allowed_sources and model.manage_firewall is False:
        errors.append(
            _invalid(
                "allowedSources",
                model.allowed_sources,
                "an empty list while wipp:manageFirewall is false: the sources would be restricted by nothing",
            )
        )
    return errors


def _fail(errors: list[str]) -> pulumi.RunError:
    if len(errors) == 1:
        return pulumi.RunError(errors[0])
    listed = "\n".join(f"  - {e}" for e in errors)
    return pulumi.RunError(f"{len(errors)} mistakes in the stack's {NAMESPACE}:* config:\n{listed}")


def load_settings(cfg: pulumi.Config | None = None) -> Settings:
    """Reads and validates every `wipp:*` key; raises one `pulumi.RunError` listing every mistake."""
    cfg = cfg or pulumi.Config(NAMESPACE)
    errors: list[str] = []
    raw = _raw_values(cfg, errors)
    ssh_private_key = cfg.get_secret("sshPrivateKey")
    try:
        model = WippConfig.model_validate(raw)
    except ValidationError as invalid:
        errors += [line for e in invalid.errors() for line in _message(e).split("\n")]
        errors += _cross_checks(_each_key(raw), ssh_private_key is not None)
        raise _fail(errors) from None
    errors += _cross_checks(model, ssh_private_key is not None)
    if errors:
        raise _fail(errors)
    return _settings(model, ssh_private_key)


def _settings(model: WippConfig, ssh_private_key: pulumi.Output[str] | None) -> Settings:
    hosts = [Host(h.name, h.address, h.role, h.local, h.ssh_user, h.ssh_port, h.host_key) for h in model.hosts]
    if isinstance(model.storage, VolumeStorage):
        storage = Storage("volume", model.storage.names.model_dump())
    else:
        storage = Storage("bind", model.storage.paths.model_dump())
    service_args = {**DEFAULT_SERVICE_ARGS, **model.service_args.model_dump(exclude_none=True)}
    return Settings(
        stack=pulumi.get_stack(),
        version=model.version,
        mongo_image=model.mongo_image,
        memory=model.memory,
        hosts=hosts,
        storage=storage,
        network_name=model.network,
        web_port=model.web_port,
        dashboard_port=model.dashboard_port,
        publish_mode=model.publish_mode,
        endpoint_mode=model.endpoint_mode,
        allowed_sources=list(model.allowed_sources),
        manage_firewall=model.manage_firewall,
        strict_preflight=model.strict_preflight,
        leave_swarm_on_destroy=model.leave_swarm_on_destroy,
        delete_data_on_destroy=model.delete_data_on_destroy,
        converge_interval=model.converge_interval,
        converge_timeout=model.converge_timeout,
        docker_host=model.docker_host,
        bind_address=model.bind_address or None,
        ssh_private_key=ssh_private_key,
        service_args={k: list(v) for k, v in service_args.items()},
        mount_targets={**DEFAULT_MOUNT_TARGETS, **model.mount_targets.model_dump(exclude_none=True)},
        container_ports={**DEFAULT_CONTAINER_PORTS, **model.container_ports.model_dump(exclude_none=True)},
    )

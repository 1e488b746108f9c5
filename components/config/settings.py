"""`Settings`: every top-level `wipp:*` key as one field, the checks between keys, and what the
program derives from them (the first manager, each host's connection, the Docker endpoint).

A field gives its key's type, its default (a key without one here has its default in Pulumi.yaml),
its constraint and, as its description, the form a user must write. A check that reads one key is
part of that key's type; a check that reads several keys is a `model_validator` named for what it
checks. Those run on the keys that were valid even when others were not, so that one report lists
every mistake: see `a_mistake_does_not_stop_the_other_checks`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import ip_network
from typing import Annotated, Any, Literal, Self

import pulumi
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    InstanceOf,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError, ValidationError

from .. import wipp
from ..durations import milliseconds
from ..host_command import HostConnection
from ..images import RegistryLogin
from . import machine
from .forms import (
    Duration,
    Flag,
    Keys,
    Mistake,
    Port,
    anchored,
    expected,
    missing,
    network_of_hosts,
    not_of_its_form,
    one_host_address,
    refuse_all,
    whole_number,
)
from .hosts import Host, check_host_list
from .overrides import ContainerPorts, MountTargets, ServiceArgsByService, ServiceNamesByService
from .storage import Storage, is_system_folder

# Image references as Docker's reference grammar has them (distribution/reference).
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
# Docker's predefined networks and the swarm's own: `docker network create` refuses these names.
RESERVED_NETWORKS = ("bridge", "host", "none", "default", "ingress", "docker_gwbridge")
DOCKER_DATA = "/var/lib/docker"  # Docker's own folder: its named volumes live there
DOCKER_MIN_MEMORY = 6 * 1024**2  # dockerd's least memory limit for a container (linuxMinMemory)


def image_name_at_most_255(reference: str) -> str:
    """Docker refuses a repository name (the reference without its tag and digest) over 255 characters."""
    name = re.sub(rf"(?::{_TAG})?(@.*)?\Z", "", reference)
    if len(name) > 255:
        raise not_of_its_form()
    return reference


def docker_can_give_this_much_memory(size: str) -> str:
    """From dockerd's least (6m) up to what its int64 of bytes holds."""
    size_in_bytes = int(size[:-1]) * 1024 ** ("kmg".index(size[-1].lower()) + 1)
    if not DOCKER_MIN_MEMORY <= size_in_bytes < 2**63:
        raise expected("a size from 6m, the least memory Docker gives a container, up to 8589934591G")
    return size


def not_reserved_by_docker(name: str) -> str:
    if name in RESERVED_NETWORKS:
        raise expected(f"a network of its own: Docker keeps {name!r} for itself")
    return name


def not_a_swarm_port(port: int) -> int:
    if port in wipp.SWARM_PORTS:
        # Shown as the port number it is (2377), not as the text the CLI passed ('2377').
        refuse_all(
            [Mistake((), port, expected(f"a port not used by Docker Swarm ({port} is {wipp.SWARM_PORTS[port]})"))]
        )
    return port


def empty_or_one_host_address(address: str) -> str:
    if address:
        return one_host_address(address)
    return address


def swarm_address_pool_of_dockers_form(pool: str) -> str:
    """NETWORK[:LENGTH]: an IPv4 network, and the prefix length of each overlay network Docker cuts from it."""
    if not pool:
        return pool  # empty: Docker's own pool
    network_text, _, length = pool.partition(":")
    try:
        network = ip_network(network_text)  # strict: no host bits, which Docker's init would mask silently
    except ValueError as wrong:
        raise not_of_its_form(str(wrong)) from None
    if network.version != 4 or not network.prefixlen <= int(length or 24) <= 29:
        raise expected(
            f"an IPv4 network and a length from its own /{network.prefixlen} to 29 (Docker's smallest network)"
        )
    return pool


def not_a_system_folder_for_backups(folder: str) -> str:
    if is_system_folder(folder):
        raise expected("a folder of its own for backups, not a system folder such as /, /etc, /home or /var")
    return folder


def names_a_registry(image: str) -> bool:
    """Whether an image reference starts with a registry (Docker's rule: a first part with '.' or ':', or localhost)."""
    first, slash, _ = image.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def a_secret_only(value: Any) -> Any:
    """A secret config value arrives as an Output; one in plain text is refused without showing it."""
    if value is not None and not isinstance(value, pulumi.Output):
        set_it = "`pulumi config set --secret wipp:registryPassword`"
        refuse_all([Mistake((), "(plain text, not shown)", expected(f"a secret: set it again with {set_it}"))])
    return value


PublishedPort = Annotated[Port, AfterValidator(not_a_swarm_port)]
Cidr = Annotated[str, AfterValidator(network_of_hosts)]
# Nothing a shell could split or expand, and no '.' or '..' part (as a shared folder's path).
BackupPlace = Annotated[
    str,
    Field(
        pattern=anchored(r"(?:/[A-Za-z0-9_][A-Za-z0-9._-]*)+"),
        description="an absolute folder path on the first manager of letters, digits, '.', '_', '-', such as "
        "/var/backups/wipp",
    ),
    AfterValidator(not_a_system_folder_for_backups),
]


@dataclass
class Findings:
    """What one check of the settings found: the mistakes so far, and the fields they were in."""

    mistakes: list[ErrorDetails] = field(default_factory=list)
    invalid_fields: set[str] = field(default_factory=set)

    def note(self, loc: tuple[str | int, ...], value: Any, error: PydanticCustomError) -> None:
        self.mistakes.append(
            ErrorDetails(type=error.type, loc=loc, msg=error.message(), input=value, ctx=error.context or {})
        )


class Settings(Keys):
    """Every `wipp:*` key (README.md, "Configuration reference", lists them for the user)."""

    version: str = Field(
        pattern=anchored(_TAG), description="a Docker image tag such as 2.2.0: up to 128 letters, digits, _.-"
    )
    mongo_image: Annotated[str, AfterValidator(image_name_at_most_255)] = Field(
        pattern=anchored(rf"(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*(?::{_TAG})?(?:@{_DIGEST})?"),
        description="an image reference such as mongo:3.4 or registry.example.com:5000/team/mongo:3.4",
    )
    # mongo's image, started as root, gives its database folder to its own user at every start
    # (chown -R): on NFS with root_squash root may not, and mongodb stops. As UID 1000, the owner
    # of the shared folders, mongod runs without that step.
    mongo_user: str = Field(
        "",
        pattern=anchored(r"(?:[0-9]{1,10}:[0-9]{1,10})?"),
        description="a numeric user:group such as 1000:1000, or empty for the image's own",
    )
    image_registry: str = Field(
        "",
        pattern=anchored(rf"(?:{_DOMAIN}(?:/{_PATH})*)?"),
        description="a registry address with an optional path, such as registry.lab.example:5000 or "
        "registry.lab.example/wipp, or empty for Docker Hub",
    )
    registry_user: str = Field(
        "",
        pattern=anchored(r"(?:[^\s:]{1,255})?"),
        description="a registry user name (no spaces or ':'), or empty to pull without logging in",
    )
    registry_password: Annotated[InstanceOf[pulumi.Output[str]] | None, BeforeValidator(a_secret_only)] = Field(
        None, description="a secret (pulumi config set --secret)"
    )
    memory: Annotated[str, AfterValidator(docker_can_give_this_much_memory)] = Field(
        pattern=anchored(r"[1-9][0-9]*[gGmMkK]"),
        description="a whole positive size with a unit, size[g|G|m|M|k|K], at least 6m, such as 4G or 512m",
    )
    hosts: Annotated[list[Host], AfterValidator(check_host_list)] = Field(
        min_length=1,
        description="a non-empty list of {name, address, role, local, sshUser, sshPort, hostKey} objects",
    )
    allow_unknown_host_keys: Flag
    ssh_private_key: InstanceOf[pulumi.Output[str]] | None = Field(
        None, description="a secret (pulumi config set --secret)"
    )
    storage: Storage = Field(Storage(mode="volume"), description="{mode: volume} or {mode: bind, paths: {...}}")
    backup_place: BackupPlace  # its default, /var/backups/wipp, is in Pulumi.yaml
    # Each backup is about the size of WIPP's data: a few kept, the oldest of this stack's deleted.
    backup_keep: Annotated[int, BeforeValidator(whole_number)] = Field(
        3, ge=1, le=1000, description="a whole number of backups from 1 to 1000"
    )
    network_name: Annotated[str, AfterValidator(not_reserved_by_docker)] = Field(
        alias="network",
        pattern=anchored(r"[A-Za-z0-9](?:[-_]*[A-Za-z0-9]+)*"),  # as swarmkit checks network names
        max_length=63,
        description="a swarm network name: up to 63 letters and digits, '-' or '_' only between them, such as wippnet",
    )
    publish_mode: Literal["ingress", "host"] = Field(description="ingress or host")
    endpoint_mode: Literal["vip", "dnsrr"] = Field(description="vip or dnsrr")
    web_port: PublishedPort
    dashboard_port: PublishedPort
    manage_firewall: Flag
    allowed_sources: list[Cidr] = Field([], description="a list of CIDRs such as [10.0.0.0/24]")
    swarm_address_pool: Annotated[str, AfterValidator(swarm_address_pool_of_dockers_form)] = Field(
        "",
        pattern=anchored(r"(?:[0-9.]+/[0-9]{1,2}(?::[0-9]{1,2})?)?"),
        description="an IPv4 network for the swarm's overlay networks and, after a colon, each network's prefix "
        "length (24 if left out, at most 29), such as 10.128.0.0/16 or 10.128.0.0/16:26; empty for Docker's default",
    )
    bind_address: Annotated[str, AfterValidator(empty_or_one_host_address)] = Field(
        "", description="an IPv4 address of this machine such as 127.0.0.1, or empty"
    )
    strict_preflight: Flag
    leave_swarm_on_destroy: Flag
    delete_data_on_destroy: Flag
    converge_interval: Duration
    converge_timeout: Duration
    docker_host: str | None = Field(
        None,
        pattern=anchored(r"(?:unix|tcp|ssh)://\S+"),
        description="unix:///path/docker.sock, tcp://host:port or ssh://user@host",
    )
    service_args: ServiceArgsByService = Field(ServiceArgsByService(), description="an object of service: [arguments]")
    service_names: ServiceNamesByService = Field(
        ServiceNamesByService(), description="an object of service: name on the swarm"
    )
    mount_targets: MountTargets = Field(MountTargets(), description="an object of storage key: path in the container")
    container_ports: ContainerPorts = Field(ContainerPorts(), description="an object with web and/or dashboard ports")

    # -- every mistake at once -------------------------------------------------------------------
    @field_validator("*", mode="wrap")
    @classmethod
    def a_mistake_does_not_stop_the_other_checks(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        """Pydantic runs a model's `model_validator`s only once every field is valid. So that one
        report lists every mistake, a field's mistakes are noted in the `Findings` that `load.py`
        passes (`context`), the field is marked invalid and the check goes on; each check between
        keys skips the keys marked invalid (`_valid`). Without a context, pydantic's usual way."""
        findings = _findings(info)
        try:
            return handler(value)
        except ValidationError as invalid:
            if findings is None or info.field_name is None:
                raise
            key = cls.model_fields[info.field_name].alias or info.field_name
            findings.invalid_fields.add(info.field_name)
            findings.mistakes += [{**error, "loc": (key, *error["loc"])} for error in invalid.errors()]
            return None

    def _valid(self, info: ValidationInfo, *fields: str) -> bool:
        findings = _findings(info)
        return findings is None or not findings.invalid_fields & set(fields)

    def _refuse(self, info: ValidationInfo, loc: tuple[str | int, ...], value: Any, error: PydanticCustomError) -> None:
        findings = _findings(info)
        if findings is None:
            refuse_all([Mistake(loc, value, error)])
        else:
            findings.note(loc, value, error)

    # -- checks between keys ---------------------------------------------------------------------
    @model_validator(mode="after")
    def every_ssh_host_has_a_host_key_unless_unknown_keys_are_allowed(self, info: ValidationInfo) -> Self:
        if not self._valid(info, "hosts", "allow_unknown_host_keys"):
            return self
        for i, host in enumerate(self.hosts):
            if not (host.local or host.host_key or self.allow_unknown_host_keys):
                keyscan = f"ssh-keyscan -t ed25519 -p {host.ssh_port} {host.address}"
                why = (
                    f"{host.name} is reached over SSH and its host key is how the program knows it talks to "
                    f"{host.address} and not an impostor; set it to the output of `{keyscan}` (checked out of "
                    "band), or set wipp:allowUnknownHostKeys true to connect without checking"
                )
                self._refuse(info, ("hosts", i, "hostKey"), None, missing(why))
        return self

    @model_validator(mode="after")
    def ssh_private_key_is_set_when_a_host_is_reached_over_ssh(self, info: ValidationInfo) -> Self:
        if not self._valid(info, "hosts", "ssh_private_key"):
            return self
        remote = [host.name for host in self.hosts if not host.local]
        if remote and self.ssh_private_key is None:
            set_it = "`cat ~/.ssh/id_ed25519 | pulumi config set --secret wipp:sshPrivateKey`"
            self._refuse(
                info, ("sshPrivateKey",), None, missing(f"hosts {remote} are reached over SSH; set it with {set_it}")
            )
        return self

    def _runs_here(self, host: Host) -> bool:
        """Whether `host` is this machine, its Docker Engine included: `local`, and no wipp:dockerHost
        on tcp:// or ssh:// (an engine elsewhere, whose addresses are its machine's)."""
        return host.local and (self.docker_host or "unix://").startswith("unix://")

    @model_validator(mode="after")
    def every_host_name_resolves_here(self, info: ValidationInfo) -> Self:
        """A name this machine cannot resolve stops `up` at the first command for that host, after
        the other hosts were changed: refused now instead."""
        if not self._valid(info, "hosts"):
            return self
        for i, host in enumerate(self.hosts):
            if host.has_a_name and not machine.ipv4_addresses(host.address):
                why = (
                    f"a host name this machine resolves to an IPv4 address ({host.address} does not resolve here "
                    f"within {machine.LOOKUP_SECONDS:g} s, so neither SSH nor Docker would reach {host.name}); "
                    "correct the name, add it to DNS or to this machine's /etc/hosts, or write the host's IPv4 address"
                )
                self._refuse(info, ("hosts", i, "address"), host.address, expected(why))
        return self

    @model_validator(mode="after")
    def a_local_host_has_an_address_of_this_machine(self, info: ValidationInfo) -> Self:
        """A `local: true` host is this machine: its swarm listens on and advertises `address`, which
        `docker swarm init` refuses unless it is one of this machine's (after the firewall rules went
        in)."""
        if not self._valid(info, "hosts", "docker_host"):
            return self
        for i, host in enumerate(self.hosts):
            if not self._runs_here(host):
                continue
            addresses = machine.ipv4_addresses(host.address) if host.has_a_name else [host.address]
            if not addresses or any(machine.is_this_machines_address(a) for a in addresses):
                continue  # a name that does not resolve is refused by every_host_name_resolves_here
            seen = f"{host.address} resolves to {', '.join(addresses)}" if host.has_a_name else host.address
            why = (
                f"an address of this machine, since local: true runs {host.name}'s commands here and its swarm "
                f"listens on that address ({seen}, none of this machine's addresses, which `ip -4 addr` lists); "
                "set this machine's own address, or set local: false to reach that host over SSH"
            )
            self._refuse(info, ("hosts", i, "address"), host.address, expected(why))
        return self

    @model_validator(mode="after")
    def a_bind_address_on_a_local_host_is_this_machines(self, info: ValidationInfo) -> Self:
        """Docker publishes the ports on that address: one the machine does not have fails the `wipp`
        container's start, at `up`. Checked when the one host is this machine, as for its address."""
        if not self._valid(info, "bind_address", "hosts", "docker_host") or not self.bind_address:
            return self
        if (
            len(self.hosts) == 1
            and self._runs_here(self.hosts[0])
            and not machine.is_this_machines_address(self.bind_address)
        ):
            why = (
                f"an address of this machine, where the ports are published ({self.bind_address} is none of its "
                "addresses, which `ip -4 addr` lists), or empty for every address"
            )
            self._refuse(info, ("bindAddress",), self.bind_address, expected(why))
        return self

    @model_validator(mode="after")
    def named_volumes_only_with_one_host(self, info: ValidationInfo) -> Self:
        if self._valid(info, "hosts", "storage") and self.storage.mode == "volume" and len(self.hosts) > 1:
            why = f"bind with shared folders: named volumes live on one host and {len(self.hosts)} hosts are configured"
            self._refuse(info, ("storage",), self.storage, expected(why))
        return self

    @model_validator(mode="after")
    def dnsrr_only_with_publish_mode_host(self, info: ValidationInfo) -> Self:
        valid = self._valid(info, "endpoint_mode", "publish_mode")
        if valid and self.endpoint_mode == "dnsrr" and self.publish_mode == "ingress":
            why = "vip while wipp:publishMode is ingress (dnsrr needs publishMode host)"
            self._refuse(info, ("endpointMode",), self.endpoint_mode, expected(why))
        return self

    @model_validator(mode="after")
    def published_ports_differ_and_leave_ssh_alone(self, info: ValidationInfo) -> Self:
        # One mistake per port at most: the first of these that it breaks.
        hosts_known = self._valid(info, "hosts", "publish_mode")
        for name, key in (("web_port", "webPort"), ("dashboard_port", "dashboardPort")):
            if not self._valid(info, name):
                continue
            port = getattr(self, name)
            if name == "dashboard_port" and self._valid(info, "web_port") and port == self.web_port:
                self._refuse(info, (key,), port, expected(f"a port different from wipp:webPort ({port})"))
                continue
            if not hosts_known:
                continue
            sshd = [host.name for host in self.hosts if self.publishes(host) and host.ssh_port == port]
            if sshd:
                why = f"a port other than {sshd[0]}'s SSH port ({port}): publishing it takes SSH from the host"
                self._refuse(info, (key,), port, expected(why))
        return self

    @model_validator(mode="after")
    def allowed_sources_only_with_the_firewall(self, info: ValidationInfo) -> Self:
        valid = self._valid(info, "allowed_sources", "manage_firewall")
        if valid and self.allowed_sources and not self.manage_firewall:
            why = "an empty list while wipp:manageFirewall is false: the sources would be restricted by nothing"
            self._refuse(info, ("allowedSources",), self.allowed_sources, expected(why))
        return self

    @model_validator(mode="after")
    def swarm_address_pool_apart_from_hosts_and_sources(self, info: ValidationInfo) -> Self:
        """The overlay networks cut from the pool would hide any host or allowed source inside it."""
        if not self._valid(info, "swarm_address_pool", "hosts", "allowed_sources") or not self.swarm_address_pool:
            return self
        pool = ip_network(self.swarm_address_pool.partition(":")[0])
        addresses = [host.address for host in self.hosts if re.fullmatch(r"[0-9.]+", host.address)]  # names: unresolved
        inside = [address for address in addresses if ip_network(address).overlaps(pool)]
        inside += [source for source in self.allowed_sources if ip_network(source).overlaps(pool)]
        if inside:
            why = f"a pool apart from every host's address and wipp:allowedSources ({', '.join(inside)} in it)"
            self._refuse(info, ("swarmAddressPool",), self.swarm_address_pool, expected(why))
        return self

    @model_validator(mode="after")
    def backup_place_apart_from_the_data(self, info: ValidationInfo) -> Self:
        """A backup inside the data would be lost with it, and one that holds the data would copy itself."""
        if not self._valid(info, "backup_place", "storage"):
            return self
        place = self.backup_place
        data = [DOCKER_DATA, *(self.storage.sources.values() if self.storage.mode == "bind" else [])]
        for folder in data:
            if place == folder or place.startswith(folder + "/") or folder.startswith(place + "/"):
                why = (
                    f"a folder apart from the data it backs up ({place} is, is inside or holds {folder}, "
                    "where a backup would be lost with the data or copied into itself)"
                )
                self._refuse(info, ("backupPlace",), place, expected(why))
                break
        return self

    @model_validator(mode="after")
    def registry_password_goes_with_registry_user(self, info: ValidationInfo) -> Self:
        if not self._valid(info, "registry_user", "registry_password"):
            return self
        set_it = "`pulumi config set --secret wipp:registryPassword`"
        if self.registry_user and self.registry_password is None:
            why = (
                f"wipp:registryUser is {self.registry_user!r}, so the pulls log in and need its password; "
                f"set it with {set_it}"
            )
            self._refuse(info, ("registryPassword",), None, missing(why))
        if self.registry_password is not None and not self.registry_user:
            why = "no password without wipp:registryUser (the user it logs in as)"
            self._refuse(info, ("registryPassword",), "[secret]", expected(why))
        return self

    @model_validator(mode="after")
    def mongo_user_only_with_shared_folders(self, info: ValidationInfo) -> Self:
        """A named volume starts as mongo's image made it, owned by mongo's own user, not by any other."""
        if self._valid(info, "mongo_user", "storage") and self.mongo_user and self.storage.mode == "volume":
            why = "empty with named volumes (wipp:storage mode volume): a new volume belongs to the image's own user"
            self._refuse(info, ("mongoUser",), self.mongo_user, expected(why))
        return self

    @model_validator(mode="after")
    def bind_address_only_with_one_host(self, info: ValidationInfo) -> Self:
        if self._valid(info, "bind_address", "hosts") and self.bind_address and len(self.hosts) > 1:
            why = (
                f"empty with {len(self.hosts)} hosts: one address binds the ports on one machine (a personal instance)"
            )
            self._refuse(info, ("bindAddress",), self.bind_address, expected(why))
        return self

    @model_validator(mode="after")
    def converge_timeout_longer_than_interval(self, info: ValidationInfo) -> Self:
        valid = self._valid(info, "converge_interval", "converge_timeout")
        if valid and milliseconds(self.converge_timeout) <= milliseconds(self.converge_interval):
            why = f"longer than wipp:convergeInterval ({self.converge_interval})"
            self._refuse(info, ("convergeTimeout",), self.converge_timeout, expected(why))
        return self

    # -- what the program reads --------------------------------------------------------------------
    @property
    def stack(self) -> str:
        return pulumi.get_stack()

    @property
    def first_manager(self) -> Host:
        """The host that initializes the swarm and that the Docker provider talks to."""
        return next(host for host in self.hosts if host.is_manager)

    @property
    def images(self) -> dict[str, str]:
        """Each service's image; with wipp:imageRegistry, every image that names no registry is taken from it."""
        images = wipp.images(self.version, self.mongo_image)
        if not self.image_registry:
            return images
        return {
            service: image if names_a_registry(image) else f"{self.image_registry}/{image}"
            for service, image in images.items()
        }

    @property
    def registry_login(self) -> RegistryLogin | None:
        """The pulls' login: to wipp:imageRegistry's server, or Docker Hub's without one."""
        if self.registry_password is None:
            return None
        server = self.image_registry.split("/", 1)[0] or "docker.io"
        return RegistryLogin(server=server, user=self.registry_user, password=self.registry_password)

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
        """Who may reach the swarm ports: every host, and the allowed sources."""
        return [host.address for host in self.hosts] + self.allowed_sources

    @property
    def web_host(self) -> str:
        """The address users browse to: localhost for a loopback bind address, else the first manager's."""
        if self.bind_address.startswith("127."):
            return "localhost"
        return self.bind_address or self.first_manager.address

    def publishes(self, host: Host) -> bool:
        """Whether WIPP's ports answer on `host`: all do with ingress (the routing mesh), else the first manager."""
        return self.publish_mode == "ingress" or host is self.first_manager

    def published_ports_on(self, host: Host) -> list[int]:
        """The WIPP ports to restrict on `host`: none without wipp:allowedSources, else those it publishes."""
        if self.allowed_sources and self.publishes(host):
            return [self.web_port, self.dashboard_port]
        return []

    @property
    def docker_provider_ssh_opts(self) -> list[str]:
        """For the `ssh` the Docker provider runs: only the manager's key is accepted, no known_hosts used."""
        manager = self.first_manager
        if self.docker_host or manager.local or manager.host_key is None:
            return []
        known_host = manager.address if manager.ssh_port == 22 else f"[{manager.address}]:{manager.ssh_port}"
        options = [
            "StrictHostKeyChecking=yes",
            "UserKnownHostsFile=/dev/null",
            "GlobalKnownHostsFile=/dev/null",
            f"KnownHostsCommand=/bin/echo {known_host} {manager.host_key}",
        ]
        return [word for option in options for word in ("-o", option)]

    @property
    def docker_provider_host(self) -> str:
        """The first manager's Docker endpoint: wipp:dockerHost, its local socket, or ssh://."""
        manager = self.first_manager
        if self.docker_host:
            return self.docker_host
        if manager.local:
            return "unix:///var/run/docker.sock"
        return f"ssh://{manager.ssh_user}@{manager.address}:{manager.ssh_port}"

    @property
    def swarm_service_names(self) -> dict[str, str]:
        """Each service's name on the swarm (wipp:serviceNames), in start order."""
        return {service: getattr(self.service_names, service) for service in wipp.SERVICE_NAMES}

    def resolved_args(self, service: str) -> list[str]:
        """`service`'s arguments with the placeholders filled in."""
        names = self.swarm_service_names
        values = {"master": names["master"], "mongodb": names["mongodb"], "memory": self.memory}
        args: list[str] = getattr(self.service_args, service)
        return [arg.format(**values) for arg in args]


def _findings(info: ValidationInfo) -> Findings | None:
    context = info.context if isinstance(info.context, dict) else {}
    found = context.get("findings")
    return found if isinstance(found, Findings) else None

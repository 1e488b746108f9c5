"""The validated configuration as the program uses it: hosts, storage and settings."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .host_command import HostConnection
from .wipp import images


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
    manage_firewall: bool
    strict_preflight: bool
    leave_swarm_on_destroy: bool
    delete_data_on_destroy: bool
    converge_interval: str
    converge_timeout: str
    docker_host: str | None
    bind_address: str | None
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
        return images(self.version, self.mongo_image)

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
        """Whether WIPP's ports answer on `host`.

        In ingress mode every swarm node publishes them (the routing mesh); in host mode only
        the first manager, where the wipp service is pinned.
        """
        return self.publish_mode == "ingress" or host is self.first_manager

    def published_ports_on(self, host: Host) -> list[int]:
        """The WIPP ports to restrict on `host`: none without wipp:allowedSources, else those it publishes."""
        if not self.allowed_sources or not self.publishes(host):
            return []
        return [self.web_port, self.dashboard_port]

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

    def resolved_args(self, service: str) -> list[str]:
        """A service's arguments with `{master}`, `{mongodb}`, `{memory}` filled in."""
        values = {"master": "master", "mongodb": "mongodb", "memory": self.memory}
        return [arg.format(**values) for arg in self.service_args[service]]

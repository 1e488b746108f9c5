"""ImagePulls: every service's image on every host that may run it, pulled before any service needs it.

The first manager pulls each image by its tag and reports the digest the registry served; the
services run `name:tag@sha256:…`, so every node runs the same image and pulumi-docker's read-back
equals its input. Each other host then pulls that digest. A pull runs again only when its image
changes: a tag re-pushed upstream changes nothing until the pull is replaced (see README, Upgrade).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from .host_command import LONG_STEP_BOUND_S, HostCommand, HostConnection, host_command
from .scripts import render


def familiar(reference: str) -> str:
    """`reference` as the Docker client hands it to the swarm, so the provider's read-back equals it.

    The client (moby's ServiceCreate/ServiceUpdate, imageWithTagString) stores every image in its
    familiar form: no docker.io/ or library/, :latest where neither tag nor digest is given
    (docker.io/library/mongo:3.4 -> mongo:3.4, mongo -> mongo:latest).
    """
    name, at, digest = reference.partition("@")
    path, tag = name, ""
    if ":" in name.rsplit("/", 1)[-1]:
        path, tag = name.rsplit(":", 1)
    first, slash, rest = path.partition("/")
    if slash and first in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        path = rest.removeprefix("library/") if rest.count("/") == 1 else rest
    if not tag and not digest:
        tag = "latest"
    return path + (f":{tag}" if tag else "") + (f"@{digest}" if at else "")


@dataclass(frozen=True)
class RegistryLogin:
    """Credentials for the pulls: the registry server (docker.io for Docker Hub), a user and a secret."""

    server: str
    user: str
    password: pulumi.Output[str]


@dataclass
class ImagePullsArgs:
    images: dict[str, str]  # service -> image as configured
    first_manager: HostConnection
    # service -> the other hosts that may run it (a service pinned to the first manager: none).
    other_hosts: dict[str, list[HostConnection]]
    login: RegistryLogin | None = None
    after: list[pulumi.Resource] = field(default_factory=list)


class ImagePulls(pulumi.ComponentResource):
    """One `image-pull.sh` per image and host: `pinned` is what each service runs, `pulls` its pull commands."""

    pinned: dict[str, pulumi.Output[str]]
    pulls: dict[str, list[pulumi.Resource]]

    def __init__(self, name: str, args: ImagePullsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wipp:images:ImagePulls", name, None, opts)
        self._args = args
        self.pinned = {}
        self.pulls = {}
        for service, image in args.images.items():
            first = self._pull(f"{name}-{service}-{args.first_manager.host_name}", args.first_manager, image, "")
            self.pinned[service] = first.stdout.apply(lambda out: familiar(out.strip()))
            others = [
                self._pull(f"{name}-{service}-{host.host_name}", host, image, self.pinned[service], depends_on=[first])
                for host in args.other_hosts.get(service, [])
            ]
            self.pulls[service] = [first, *others]
        self.register_outputs({"pinned": self.pinned})

    def _pull(
        self,
        name: str,
        host: HostConnection,
        image: str,
        pinned: pulumi.Input[str],
        depends_on: list[pulumi.Resource] | None = None,
    ) -> HostCommand:
        login = self._args.login
        variables = {"HOST_NAME": host.host_name, "IMAGE": image, "REGISTRY": "", "LOGIN": "false"}
        stdin: pulumi.Output[str] | None = None
        if login is not None:
            variables.update(REGISTRY=login.server, LOGIN="true")
            stdin = pulumi.Output.concat(login.user, "\n", login.password, "\n")
            stdin = pulumi.Output.secret(stdin)

        def script(pin: str) -> str:
            return render("image-pull.sh", host.docker_host, **variables, PINNED=pin)

        create = pulumi.Output.from_input(pinned).apply(script)
        return host_command(
            name,
            host,
            create=create,
            stdin=stdin,
            bound_s=LONG_STEP_BOUND_S,  # a pull's time grows with the image and the link
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*self._args.after, *(depends_on or [])]),
        )

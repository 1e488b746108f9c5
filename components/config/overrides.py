"""What NIST's deployment page leaves out and its 1.1.0 setup script sets: each service's
arguments, its mount targets, and the wipp container's ports (`components/wipp.py` holds NIST's
values, the defaults here). A lab overrides them only for images that differ from NIST's."""

from __future__ import annotations

import posixpath
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from ..wipp import (
    ARG_PLACEHOLDERS,
    DEFAULT_CONTAINER_PORTS,
    DEFAULT_MOUNT_TARGETS,
    DEFAULT_SERVICE_ARGS,
    SERVICE_MOUNTS,
)
from .forms import Keys, Port, anchored, not_of_its_form, refuse_all, repeated

_PLACEHOLDERS = ", ".join("{" + name + "}" for name in ARG_PLACEHOLDERS)


def known_placeholders_only(args: list[str]) -> list[str]:
    """Each argument formats with the placeholders the program fills in (`resolved_args`), and no other."""
    blanks = dict.fromkeys(ARG_PLACEHOLDERS, "")
    for arg in args:
        try:
            arg.format(**blanks)
        except (KeyError, IndexError, ValueError, AttributeError):  # {manager}, {0}, a lone {, {master.x}
            raise not_of_its_form() from None
    return args


def not_the_container_root(target: str) -> str:
    """Docker mounts nothing over /, however it is written (//, /.)."""
    if not posixpath.normpath(target).strip("/"):
        raise not_of_its_form()
    return target


ServiceArgs = Annotated[
    list[str],
    AfterValidator(known_placeholders_only),
    Field(description=f"a list of strings with placeholders among {_PLACEHOLDERS} ('{{{{' for a literal brace)"),
]
# Two stacks on one swarm need names of their own: a service's name is the swarm's key for it.
ServiceName = Annotated[
    str,
    Field(
        pattern=anchored(r"[A-Za-z0-9](?:[-_]*[A-Za-z0-9]+)*"),  # as swarmkit checks service names
        max_length=63,
        description="a swarm service name: up to 63 letters and digits, '-' or '_' only between them",
    ),
]
MountTarget = Annotated[
    str,
    Field(
        pattern=anchored("/.*"),
        description="an absolute path in the container other than / (Docker mounts nothing over it)",
    ),
    AfterValidator(not_the_container_root),
]


class ServiceArgsByService(Keys):
    """`wipp:serviceArgs`: each service's arguments; `{master}`, `{mongodb}`, `{memory}` are filled in."""

    mongodb: ServiceArgs = DEFAULT_SERVICE_ARGS["mongodb"]
    master: ServiceArgs = DEFAULT_SERVICE_ARGS["master"]
    wipp: ServiceArgs = DEFAULT_SERVICE_ARGS["wipp"]
    exec: ServiceArgs = DEFAULT_SERVICE_ARGS["exec"]


class ServiceNamesByService(Keys):
    """`wipp:serviceNames`: each service's name on the swarm; NIST's names by default."""

    mongodb: ServiceName = "mongodb"
    master: ServiceName = "master"
    wipp: ServiceName = "wipp"
    exec: ServiceName = "exec"

    @model_validator(mode="after")
    def each_service_has_a_name_of_its_own(self) -> Self:
        refuse_all(repeated(self.model_dump(), "a name of its own"))
        return self


class MountTargets(Keys):
    """`wipp:mountTargets`: where each storage key is mounted inside the containers."""

    wippdb: MountTarget = DEFAULT_MOUNT_TARGETS["wippdb"]
    wippdata: MountTarget = DEFAULT_MOUNT_TARGETS["wippdata"]
    pegasusdb: MountTarget = DEFAULT_MOUNT_TARGETS["pegasusdb"]
    pegasusdata: MountTarget = DEFAULT_MOUNT_TARGETS["pegasusdata"]

    @model_validator(mode="after")
    def each_mount_of_a_service_has_its_own_target(self) -> Self:
        # Docker refuses a service two mounts on one target ("Duplicate mount point").
        targets = self.model_dump()
        mistakes = []
        for keys in SERVICE_MOUNTS.values():
            of_the_service = {key: targets[key] for key in keys}
            mistakes += repeated(of_the_service, "a target no other mount of the service has")
        once = {mistake.loc: mistake for mistake in mistakes}  # wipp and exec mount the same keys
        refuse_all(list(once.values()))
        return self


class ContainerPorts(Keys):
    """`wipp:containerPorts`: the ports the wipp container listens on, web and dashboard."""

    web: Port = DEFAULT_CONTAINER_PORTS["web"]
    dashboard: Port = DEFAULT_CONTAINER_PORTS["dashboard"]

    @model_validator(mode="after")
    def web_and_dashboard_have_their_own_ports(self) -> Self:
        refuse_all(repeated(self.model_dump(), "its own port"))
        return self

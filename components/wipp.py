"""WIPP's fixed facts: images, start order, storage places, arguments, mounts and ports.

Makes nothing; `config/` takes its defaults from here and the components their names.

From NIST's 2.2.0 deployment page, and (arguments, mount targets, container ports) from
NIST's public 1.1.0 setup script; see README.md. The configurable ones are defaults.
"""

from __future__ import annotations

# The seed's four storage places, in the order NIST lists them.
STORAGE_KEYS = ("wippdb", "wippdata", "pegasusdb", "pegasusdata")
SEED_VOLUME_NAMES = {key: f"{key}volume" for key in STORAGE_KEYS}

SERVICE_NAMES = ("mongodb", "master", "wipp", "exec")

# From NIST's public WIPP 1.1.0 setup script; overridable in the stack's config.
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

# Which storage places each service mounts (the targets are wipp:mountTargets); an assumption, see README.
SERVICE_MOUNTS: dict[str, tuple[str, ...]] = {
    "mongodb": ("wippdb",),
    "master": (),
    "wipp": ("wippdata", "pegasusdb", "pegasusdata"),
    "exec": ("wippdata", "pegasusdb", "pegasusdata"),
}

SWARM_PORTS = {2377: "swarm management", 7946: "swarm gossip", 4789: "overlay VXLAN"}


def images(version: str, mongo_image: str) -> dict[str, str]:
    """The image of each service, in start order."""
    return {
        "mongodb": mongo_image,
        "master": f"wipp/wipp_master:{version}",
        "wipp": f"wipp/wipp:{version}",
        "exec": f"wipp/wipp_executor:{version}",
    }


# The label on every volume, network, service and container a stack creates: `<project>/<stack>`,
# the stack that owns it. What carries another stack's label is never used nor deleted.
STACK_LABEL = "wipp.stack"

"""Stand-in images, named exactly as the program's images.

A root file system from Debian's busybox-static (`apt-get download`, `dpkg -x`) plus the
entrypoints in `standins/`, as one layer. `push` puts them into the test world's registry
under their Docker Hub names (the engines pull them through their `--registry-mirror`);
`build` imports them straight into an engine (a host with no registry). `push_padded` adds a
layer of random bytes to each, for timings that include real transfers. They are test
stand-ins that honour the services' contract (names, ports, arguments, mounts); they are not WIPP.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from docker_api import Engine, wait_containers_gone
from registry import Registry

STANDINS = Path(__file__).parent / "standins"
ENTRYPOINTS = {
    "wipp/wipp_master": "master.sh",
    "wipp/wipp": "wipp.sh",
    "wipp/wipp_executor": "exec.sh",
}
PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\nmongodb:x:999:999:mongodb:/data/db:/bin/sh\n"
    "wipp:x:1000:1000:wipp:/home/wipp:/bin/sh\n"
)
# As the real images: WIPP's own run as UID 1000 (NIST: "the wipp user inside of the Docker
# containers has the UID 1000"), mongo's starts as root. Each folder a storage place mounts
# (components/wipp.py) is in the image with the owner the real image gives it, which Docker copies
# into a new named volume at its first mount: WIPP's to UID 1000, /data/db to mongo's user (999).
WIPP_USER = "1000:1000"
FOLDERS = {
    "bin": (0, 0o755),
    "data": (0, 0o755),
    "data/db": (999, 0o755),
    "data/WIPP": (1000, 0o755),
    "data/pegasus-workflows": (1000, 0o755),
    "etc": (0, 0o755),
    "home": (0, 0o755),
    "home/wipp": (1000, 0o755),
    "home/wipp/.pegasus": (1000, 0o755),
    "standin": (0, 0o755),
    "tmp": (0, 0o1777),
    "www": (0, 0o1777),  # each stand-in's answers, written by whichever user it runs as
}


def busybox_binary(workdir: Path) -> Path:
    """Debian's static busybox, downloaded and unpacked under `workdir` (not installed)."""
    unpacked = workdir / "busybox-static"
    binary = unpacked / "bin" / "busybox"
    if binary.exists():
        return binary
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", "busybox-static"], cwd=workdir, check=True, capture_output=True, timeout=300)
    package = next(workdir.glob("busybox-static_*.deb"))
    subprocess.run(["dpkg", "-x", str(package), str(unpacked)], check=True, timeout=60)
    return binary


def _entry(name: str, kind: bytes, mode: int, size: int = 0, link: str = "", owner: int = 0) -> tarfile.TarInfo:
    """A tar entry (root's unless `owner`) with a fixed time: the same inputs make the same layer, byte for byte."""
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname, info.mtime = kind, mode, size, link, 0
    info.uid = info.gid = owner
    return info


def root_filesystem(workdir: Path) -> Path:
    """A tarball: busybox with its applet links, the stand-in scripts, the empty FOLDERS.

    Reproducible (fixed times and owners, sorted names): every session pushes the same layer.
    """
    tarball = workdir / "standin-rootfs.tar"
    busybox = busybox_binary(workdir)
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    files = {"bin/busybox": (busybox.read_bytes(), 0o755), "etc/passwd": (PASSWD.encode(), 0o644)}
    for script in sorted(STANDINS.glob("*.sh")):
        files[f"standin/{script.name}"] = (script.read_bytes(), 0o644)
    with tarfile.open(tarball, "w", format=tarfile.GNU_FORMAT) as tar:
        for folder, (owner, mode) in FOLDERS.items():
            tar.addfile(_entry(folder, tarfile.DIRTYPE, mode, owner=owner))
        for name, (content, mode) in sorted(files.items()):
            tar.addfile(_entry(name, tarfile.REGTYPE, mode, len(content)), io.BytesIO(content))
        for applet in sorted(applets):
            if applet != "busybox":
                tar.addfile(_entry(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox"))
    return tarball


def wanted(versions: tuple[str, ...], mongo_image: str) -> dict[str, tuple[str, str]]:
    """Each image the program runs at these versions: its entrypoint script and the version it reports."""
    images = {mongo_image: ("mongodb.sh", mongo_image.rsplit(":", 1)[-1])}
    for version in versions:
        for repository, script in ENTRYPOINTS.items():
            images[f"{repository}:{version}"] = (script, version)
    return images


def _config(script: str, version: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Entrypoint": ["/bin/sh", f"/standin/{script}"],
        "Env": [f"STANDIN_VERSION={version}", "PATH=/bin"],
    }
    if script != "mongodb.sh":
        config["User"] = WIPP_USER
    return config


def build(engine: Engine, workdir: Path, versions: tuple[str, ...], mongo_image: str) -> list[str]:
    """Imports one image per tag straight into `engine` (no registry: for a host that has none); the tags."""
    tarball = root_filesystem(workdir)
    images = wanted(versions, mongo_image)
    for tag, (script, version) in images.items():
        config = _config(script, version)
        changes = [f"ENTRYPOINT {json.dumps(config['Entrypoint'])}", *(f"ENV {env}" for env in config["Env"])]
        if "User" in config:
            changes.append(f"USER {config['User']}")
        engine.cli("import", *(arg for change in changes for arg in ("--change", change)), str(tarball), tag)
    return list(images)


def remove_local(engine: Engine, tags: list[str], registry: Registry | None = None) -> None:
    """Removes these images from the engine, so the next use pulls them whole: each tag, and with
    `registry`, each `name@digest` the registry has for it too (an engine that pulled a tag by its
    digest, as a service pinned to one does, keeps the image under that reference, untagged).
    A container still using an image may be one of a service just removed, which the swarm takes
    away a moment later: each image waits (docker_api.wait_containers_gone) until no container uses
    it, then fails naming the containers that still do."""
    references = list(tags)
    if registry is not None:
        for tag in tags:
            digest = registry.digest(*hub_repository(tag))
            if digest is not None:
                references.append(f"{tag.rsplit(':', 1)[0]}@{digest}")
    for reference in references:  # one at a time: removing a tag may remove the image its digest names
        inspected = engine.cli("image", "inspect", "--format", "{{.Id}}", reference, check=False)
        if inspected.returncode == 0:
            _wait_unused(engine, reference, inspected.stdout.strip())
            engine.cli("image", "rm", reference)


def _wait_unused(engine: Engine, reference: str, image_id: str) -> None:
    """Until no container uses the image; fails naming those that still do."""

    def uses_it(container: dict[str, Any]) -> bool:
        return bool(container["ImageID"] == image_id)

    wait_containers_gone(engine, uses_it, f"containers still use {reference}")


def hub_repository(image: str) -> tuple[str, str]:
    """A Docker Hub name as a registry stores it: `mongo:3.4` is ("library/mongo", "3.4")."""
    name, tag = image.rsplit(":", 1)
    return (name if "/" in name else f"library/{name}"), tag


def push(
    registry: Registry, workdir: Path, versions: tuple[str, ...], mongo_image: str, as_mirror: bool = True
) -> list[str]:
    """Pushes one image per tag into `registry`; the tags (as the program names them).

    As a Docker Hub mirror holds them (`library/mongo`), or, with `as_mirror=False`, as a lab
    pushes them into its own registry: under the names as written (`mongo`, `wipp/wipp`).
    """
    tarball = root_filesystem(workdir)
    images = wanted(versions, mongo_image)
    for tag, (script, version) in images.items():
        repository, version_tag = hub_repository(tag) if as_mirror else tag.rsplit(":", 1)
        registry.push(repository, version_tag, [tarball], _config(script, version))
    return list(images)


def padding_layer(workdir: Path, image: str, size: int) -> Path:
    """A layer holding one file of `size` random bytes, seeded by the image's name and tag:
    incompressible, and different for every image and version (an upgrade pulls it all again)."""
    layer = workdir / f"padding-{image.replace('/', '_').replace(':', '_')}-{size}.tar"
    source = random.Random(f"wipp-standin-padding {image} {size}")
    with tarfile.open(layer, "w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_entry("padding", tarfile.DIRTYPE, 0o755))
        tar.addfile(_entry("padding/random.bin", tarfile.REGTYPE, 0o644, size), _RandomReader(source, size))
    return layer


class _RandomReader(io.RawIOBase):
    def __init__(self, source: random.Random, size: int) -> None:
        self.source, self.left = source, size

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        count = self.left if size < 0 else min(size, self.left)
        self.left -= count
        return self.source.randbytes(count)


def push_padded(registry: Registry, workdir: Path, images: dict[str, tuple[str, str, int]]) -> dict[str, int]:
    """Pushes padded stand-ins: for each tag, (entrypoint script, version it reports, total size in
    bytes); returns each image's own bytes (its padding layer: the base layer is shared by all)."""
    tarball = root_filesystem(workdir)
    sizes: dict[str, int] = {}
    for tag, (script, version, size) in images.items():
        padding = padding_layer(workdir, tag, max(0, size - tarball.stat().st_size - 4096))
        registry.push(*hub_repository(tag), [tarball, padding], _config(script, version))
        sizes[tag] = padding.stat().st_size
        padding.unlink()  # the registry has it; hundreds of MB not left in pytest's kept temp folders
    return sizes


def save_for_air_gap(engine: Engine, tags: list[str], archive: Path) -> list[str]:
    """Every tag of `tags` but 2.1.0 (mongo, then master, wipp, exec at 2.2.0) pulled onto `engine` and
    `docker save`d into `archive`, as an administrator carries them to a host that reaches no registry."""
    wanted = [tag for tag in tags if not tag.endswith(":2.1.0")]
    for tag in wanted:
        engine.cli("pull", tag)
    engine.cli("save", "--output", str(archive), *wanted)
    return wanted

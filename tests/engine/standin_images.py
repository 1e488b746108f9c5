"""Stand-in images, tagged exactly as the program's images, built without a registry.

A root file system from Debian's busybox-static (`apt-get download`, `dpkg -x`)
plus the entrypoints in `standins/`, loaded with `docker import`. They are
test stand-ins that honour the services' contract (names, ports, arguments,
mounts); they are not WIPP.
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

from docker_api import Engine

STANDINS = Path(__file__).parent / "standins"
ENTRYPOINTS = {
    "wipp/wipp_master": "master.sh",
    "wipp/wipp": "wipp.sh",
    "wipp/wipp_executor": "exec.sh",
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


def root_filesystem(workdir: Path) -> Path:
    """A tarball: busybox with its applet links, the stand-in scripts, empty /www and /tmp."""
    tarball = workdir / "standin-rootfs.tar"
    busybox = busybox_binary(workdir)
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    with tarfile.open(tarball, "w") as tar:
        for folder in ("bin", "standin", "www", "tmp", "etc", "data"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, "bin/busybox")
        for applet in applets:
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        for script in sorted(STANDINS.glob("*.sh")):
            tar.add(script, f"standin/{script.name}")
        passwd = workdir / "passwd"
        passwd.write_text("root:x:0:0:root:/root:/bin/sh\nwipp:x:1000:1000:wipp:/home/wipp:/bin/sh\n")
        tar.add(passwd, "etc/passwd")
    return tarball


def wanted(versions: tuple[str, ...], mongo_image: str) -> dict[str, tuple[str, str]]:
    """Each image tag with its stand-in script and the version it reports."""
    images = {mongo_image: ("mongodb.sh", mongo_image.rsplit(":", 1)[-1])}
    for version in versions:
        for repository, script in ENTRYPOINTS.items():
            images[f"{repository}:{version}"] = (script, version)
    return images


def import_changes(script: str, version: str) -> list[str]:
    """`docker import`'s `--change` arguments for one stand-in."""
    return [
        *["--change", f'ENTRYPOINT ["/bin/sh", "/standin/{script}"]'],
        *["--change", f"ENV STANDIN_VERSION={version}"],
        *["--change", "ENV PATH=/bin"],
    ]


def build(engine: Engine, workdir: Path, versions: tuple[str, ...], mongo_image: str) -> list[str]:
    """Imports one image per tag; returns the tags built."""
    tarball = root_filesystem(workdir)
    images = wanted(versions, mongo_image)
    for tag, (script, version) in images.items():
        engine.cli("import", *import_changes(script, version), str(tarball), tag)
    return list(images)

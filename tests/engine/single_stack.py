"""The `single` stack on the private manager engine, deployed by the real Pulumi engine.

What differs from a user's machine, and why (nothing else does):
- `wipp:dockerHost` points at the private engine's socket, and the host's address is the
  manager namespace's test address (a user sets their host's IP);
- publish mode `host` and endpoint mode `dnsrr`: this kernel has no IPVS, so neither the
  ingress routing mesh nor service virtual IPs answer here;
- the images are the stand-ins `standin_images` builds, pulled from the test world's registry;
- every CLI call runs inside the manager's network namespace, as if pulumi ran on that host,
  so the program's local commands (preflight, swarm init, firewall) act there;
- `wipp:backupPlace` is a folder of this test run's own (`BACKUPS`), not the machine's /var/backups.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from docker_api import EngineError, wait_until
from engine_hosts import EngineHost
from harness import REPO
from pulumi_cli import PulumiHome, PulumiProject

from components.wipp import SEED_VOLUME_NAMES, SERVICE_NAMES

WEB_PORT, DASHBOARD_PORT = 18080, 15005
VOLUMES = list(SEED_VOLUME_NAMES.values())
# Where the stacks of this test run keep their backups (removed at the end of the session).
BACKUPS = Path(tempfile.gettempdir()) / f"wipp-engine-backups-{os.getpid()}"


def stack_file_config(stack: str) -> dict[str, Any]:
    """The `wipp:*` keys of a shipped stack file, without the prefix."""
    config = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {key.removeprefix("wipp:"): value for key, value in config.items()}


def on_private_engine(manager: EngineHost, stack: str = "single", **overrides: Any) -> dict[str, Any]:
    """A shipped stack's config with the differences the module docstring lists, then `overrides`."""
    config = stack_file_config(stack)
    config["hosts"] = [{**config["hosts"][0], "address": manager.address}]
    config.update(dockerHost=manager.engine.docker_host, publishMode="host", endpointMode="dnsrr")
    config["backupPlace"] = str(BACKUPS / stack)
    config.update(overrides)
    return config


def sandbox(manager: EngineHost, workdir: Path) -> list[str]:
    """The prefix that runs a command as if on the manager host, where nothing can reach this machine.

    The manager's network namespace (its own iptables, so firewall rules land there), and a
    private mount namespace with a copy of /etc over /etc (ufw's files, /etc/wipp). Checked
    before use: a file made in the sandbox's /etc shows in the copy and not in the real /etc.
    """
    etc = workdir / "etc"
    subprocess.run(["cp", "-a", "/etc", str(etc)], check=True, timeout=120)
    if (etc / "ufw" / "sysctl.conf").exists():
        (etc / "ufw" / "sysctl.conf").write_text("")  # ufw enable must set no kernel settings
    prefix = [
        *(["nsenter", f"--net={manager.engine.netns}"] if manager.engine.netns else []),
        *["unshare", "--mount", "--propagation", "private", "--"],
        *["sh", "-c", 'mount --bind "$0" /etc && exec "$@"', str(etc)],
    ]
    probe = f".wipp-sandbox-probe-{time.time_ns()}"
    subprocess.run([*prefix, "touch", f"/etc/{probe}"], check=True, timeout=30)
    assert (etc / probe).exists() and not (Path("/etc") / probe).exists(), "the /etc sandbox is not in place"
    (etc / probe).unlink()
    return prefix


def new_project(home: PulumiHome, workdir: Path, manager: EngineHost, stack: str = "single") -> PulumiProject:
    """A copy of the program whose every CLI call runs in `sandbox`."""
    return PulumiProject(home, workdir, stack, prefix=sandbox(manager, workdir))


def engine_time(stamp: str) -> datetime:
    """An Engine API timestamp (RFC 3339, nanoseconds) as a datetime (microseconds)."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}+00:00")


def running_since(manager: EngineHost, service: str) -> datetime:
    tasks = manager.engine.request("GET", "/tasks", query={"filters": json.dumps({"service": [service]})})
    running = [t for t in tasks if t["Status"]["State"] == "running" and t["DesiredState"] == "running"]
    assert len(running) == 1, f"{service}: {len(running)} running tasks"
    return engine_time(running[0]["Status"]["Timestamp"])


def overlay_address(manager: EngineHost, service: str, network: str) -> str:
    """The address of the service's running task on `network` (the overlay the program made)."""
    tasks = manager.engine.request("GET", "/tasks", query={"filters": json.dumps({"service": [service]})})
    running = [t for t in tasks if t["Status"]["State"] == "running"]
    assert len(running) == 1, f"{service}: {len(running)} running tasks"
    attachments = {a["Network"]["Spec"]["Name"]: a["Addresses"] for a in running[0]["NetworksAttachments"]}
    return str(attachments[network][0].split("/")[0])


def task_sysctl(manager: EngineHost, service: str, name: str) -> str:
    """A sysctl as the service's running task sees it, read in the task's own network namespace."""
    tasks = manager.engine.request("GET", "/tasks", query={"filters": json.dumps({"service": [service]})})
    running = [t for t in tasks if t["Status"]["State"] == "running"]
    assert len(running) == 1, f"{service}: {len(running)} running tasks"
    container = running[0]["Status"]["ContainerStatus"]["ContainerID"]
    pid = manager.engine.request("GET", f"/containers/{container}/json")["State"]["Pid"]
    path = "/proc/sys/" + name.replace(".", "/")
    read = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "cat", path], capture_output=True, text=True)
    assert read.returncode == 0, read.stderr
    return read.stdout.strip()


def web_answers(manager: EngineHost, path: str = "/") -> str | None:
    return manager.engine.http_get(WEB_PORT, path, manager.address)


def all_running(manager: EngineHost) -> bool:
    services = manager.engine.services()
    return all(name in services and manager.engine.running_tasks(name) == 1 for name in SERVICE_NAMES)


def volume_file(manager: EngineHost, volume: str, name: str) -> Path:
    return Path(manager.engine.volume_mountpoint(volume)) / name


def write_markers(manager: EngineHost, volumes: list[str], name: str) -> dict[str, str]:
    markers = {volume: f"{name} {volume} {time.time_ns()}" for volume in volumes}
    for volume, text in markers.items():
        volume_file(manager, volume, name).write_text(text)
    return markers


def volume_names(manager: EngineHost) -> set[str]:
    return {v["Name"] for v in manager.engine.request("GET", "/volumes")["Volumes"] or []}


def remove_volumes(manager: EngineHost, names: list[str]) -> None:
    """Test clean-up of the test's own volumes, once the containers of removed services are gone."""

    def removed(name: str) -> bool:
        try:
            manager.engine.request("DELETE", f"/volumes/{name}")
        except EngineError as error:
            if ": 404 " in str(error):
                return True
            if ": 409 " in str(error):  # still mounted by a container that is stopping
                return False
            raise
        return True

    for name in names:
        wait_until(functools.partial(removed, name), 60, 0.2, f"volume {name} removed")


class SilenceMeter:
    """Polls the web port every 0.1 s in the background and adds up how long it did not answer."""

    def __init__(self, manager: EngineHost, path: str = "/") -> None:
        self._manager, self._path = manager, path
        self._stop = threading.Event()
        self.silent_seconds = 0.0
        self.polls = 0
        self.answers: list[str] = []

    def __enter__(self) -> SilenceMeter:
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        deadline = time.monotonic() + 900
        last = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < deadline:
            body = web_answers(self._manager, self._path)
            now = time.monotonic()
            if body is None:
                self.silent_seconds += now - last
            elif not self.answers or self.answers[-1] != body:
                self.answers.append(body)
            self.polls += 1
            last = now
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def wait_for_web(manager: EngineHost, contains: str = "", timeout: float = 90) -> str:
    def answered() -> str | None:
        body = web_answers(manager, "/report.txt")
        return body if body is not None and contains in body else None

    return str(
        wait_until(
            answered,
            timeout,
            0.2,
            f"the web port answering{' with ' + contains if contains else ''}",
        )
    )

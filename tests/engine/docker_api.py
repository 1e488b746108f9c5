"""A small Docker Engine API client over a unix socket (tests only; no SDK needed)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

API = "/v1.41"  # Debian's docker.io 20.10 speaks 1.41


class EngineError(RuntimeError):
    pass


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = socket_path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._socket_path)


class Engine:
    """One dockerd, reached at `docker_host` (unix://...)."""

    def __init__(self, docker_host: str, netns: str | None = None) -> None:
        if not docker_host.startswith("unix://"):
            raise ValueError(f"tests talk to a private engine on a unix socket, not {docker_host}")
        self.docker_host = docker_host
        self.socket_path = docker_host.removeprefix("unix://")
        self.netns = netns  # the network namespace the engine runs in, if any

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        url = API + path + ("?" + urllib.parse.urlencode(query) if query else "")
        connection = _UnixConnection(self.socket_path, timeout=60)
        try:
            payload = json.dumps(body) if body is not None else None
            connection.request(method, url, body=payload, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if response.status >= 400:
            raise EngineError(f"{method} {path}: {response.status} {data.decode(errors='replace').strip()}")
        return json.loads(data) if data and data[:1] in (b"{", b"[") else None

    def cli(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The docker CLI against this engine (for what the seed's setup.sh does)."""
        return run(["docker", *args], self.docker_host, stdin=stdin, check=check)

    # -- queries used by the tests -------------------------------------------------
    def services(self) -> dict[str, dict[str, Any]]:
        return {s["Spec"]["Name"]: s for s in self.request("GET", "/services")}

    def running_tasks(self, service: str) -> int:
        tasks = self.request("GET", "/tasks", query={"filters": json.dumps({"service": [service]})})
        return sum(1 for t in tasks if t["Status"]["State"] == "running" and t["DesiredState"] == "running")

    def network_exists(self, name: str) -> bool:
        """Whether a lookup by name finds a network, in the swarm's list or the node's own copy.

        A removed overlay network leaves the swarm's list first; until the node drops its copy
        too, a create with CheckDuplicate is refused with 409 "already exists".
        """
        try:
            self.request("GET", f"/networks/{name}")
        except EngineError as error:
            if ": 404 " in str(error):
                return False
            raise
        return True

    def volume_mountpoint(self, name: str) -> str:
        return str(self.request("GET", f"/volumes/{name}")["Mountpoint"])

    def in_namespace(
        self, command: list[str], env: dict[str, str] | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """A command inside the engine's network namespace (here, for an engine without one)."""
        prefix = ["nsenter", f"--net={self.netns}"] if self.netns else []
        return subprocess.run(
            [*prefix, *command], capture_output=True, text=True, env=env, timeout=timeout, check=check
        )

    def http_get(self, port: int, path: str = "/", address: str = "127.0.0.1", source: str | None = None) -> str | None:
        """GET inside the engine's network namespace, from `source` if given; None when nothing answers."""
        fetch = (
            "import http.client, sys;"
            "c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=2,"
            " source_address=(sys.argv[4], 0) if sys.argv[4] else None);"
            "c.request('GET', sys.argv[3]); r = c.getresponse(); sys.stdout.write(r.read().decode());"
            "sys.exit(r.status >= 400)"
        )
        result = self.in_namespace(
            [sys.executable, "-c", fetch, address, str(port), path, source or ""], check=False, timeout=10
        )
        return result.stdout if result.returncode == 0 else None


@contextmanager
def listener(engine: Engine, port: int, seconds: float = 120) -> Iterator[None]:
    """Somebody else's program (python) listening on `port` in the engine's network namespace."""
    serve = f"import socket, time; s = socket.socket(); s.bind(('0.0.0.0', {port})); s.listen(); time.sleep({seconds})"
    prefix = ["nsenter", f"--net={engine.netns}"] if engine.netns else []
    process = subprocess.Popen([*prefix, sys.executable, "-c", serve])
    try:
        listening = ["ss", "-Hltn", f"sport = :{port}"]
        wait_until(lambda: engine.in_namespace(listening).stdout, timeout=10, interval=0.1, what=f"listener on {port}")
        yield
    finally:
        process.kill()
        process.wait(timeout=10)


def machine_iptables() -> str:
    """The machine's own IPv4 rules (its root network namespace), to check a test left them as they were."""
    return subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True, check=True, timeout=60).stdout


def run(
    command: list[str], docker_host: str | None = None, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs a command with a clean environment: PATH, and DOCKER_HOST when given.

    Its frame is left out of pytest's tracebacks, which print a frame's arguments: `stdin` may be a
    join token or a password, and a failing test's report must not show it (EngineError says what failed).
    """
    __tracebackhide__ = True
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    result = subprocess.run(command, input=stdin or "", capture_output=True, text=True, env=env, timeout=120)
    if check and result.returncode != 0:
        raise EngineError(f"{command[:3]} exited {result.returncode}: {result.stderr.strip()}")
    return result


def run_script(
    script: str, docker_host: str | None = None, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """A script text, as pulumi-command's local provider runs it: `/bin/sh -c`. Hidden from
    tracebacks, as `run` is: its `stdin` may be a secret."""
    __tracebackhide__ = True
    return run(["/bin/sh", "-c", script], docker_host, stdin, check)


def wait_until(condition: Callable[[], Any], timeout: float, interval: float, what: str) -> Any:
    """Polls `condition` every `interval` seconds, at most `timeout` seconds in all."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not reached within {timeout} s")
        time.sleep(interval)


CONTAINERS_GONE_SECONDS = 60  # a removed service's task containers go within seconds on a quiet engine


def containers(engine: Engine) -> list[dict[str, Any]]:
    """Every container on the engine, running or not (the Engine API's list)."""
    listed: list[dict[str, Any]] = engine.request("GET", "/containers/json", query={"all": "1"})
    return listed


def wait_containers_gone(engine: Engine, which: Callable[[dict[str, Any]], bool], what: str) -> None:
    """Until no container `which` picks is left (at most CONTAINERS_GONE_SECONDS: the swarm takes a
    removed service's task containers away a moment after the service); fails naming those left."""

    def left() -> list[str]:
        return [
            f"{c['Id'][:12]} {c['Names'][0].lstrip('/')} ({c['Image']}, {c['State']})"
            for c in containers(engine)
            if which(c)
        ]

    try:
        wait_until(lambda: not left(), CONTAINERS_GONE_SECONDS, 0.5, what)
    except TimeoutError:
        raise AssertionError(f"{what}: {left()}") from None

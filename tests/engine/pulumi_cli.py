"""The real `pulumi` CLI, with the real providers, running a copy of this project.

`.ci/run` exports the folder of the engine (the CLI, the Python language host and both resource
plugins, at the versions requirements.txt pins) as WIPP_PULUMI_BIN: `.ci/engine` fills it with
links to the engine installed the usual way, or else with the engine built from
`../shared/engine-src`. Each `PulumiProject` is a fresh copy of the program (the files a user
has, nothing from the tests) in a temp folder, with:
- the plugins installed from that folder into a private PULUMI_HOME (`plugin install --file`),
  so the engine never tries to download one;
- state in a `file://` backend under the temp folder, secrets with the passphrase provider;
- the `venv` that `Pulumi.yaml` names linked to the interpreter running the tests.
Nothing here imitates the engine: every preview, up, refresh and destroy is Pulumi's own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from harness import REPO
from prerequisites import skip_or_fail

PASSPHRASE = "wipp-engine-tests"  # protects only throwaway test state


def pins() -> dict[str, str]:
    """The exact versions requirements.txt pins (`NAME==X.Y.Z`), by package."""
    return dict(re.findall(r"^([\w-]+)==([\d.]+)", (REPO / "requirements.txt").read_text(), re.MULTILINE))


# The plugins' versions: those of their Python packages (.ci/engine checks the binaries are those).
PLUGINS = {"command": pins()["pulumi-command"], "docker": pins()["pulumi-docker"]}
PROJECT_FILES = ("__main__.py", "Pulumi.yaml", "requirements.txt", "components")


def engine_bin() -> Path:
    """The folder with the engine's binaries; skip (fail in CI) without it."""
    folder = os.environ.get("WIPP_PULUMI_BIN", "")
    if not folder or not (Path(folder) / "pulumi").exists():
        skip_or_fail(
            "no Pulumi engine (WIPP_PULUMI_BIN unset): `bash .ci/run` sets it to the folder "
            "`bash .ci/engine DIR` fills (the installed engine, or one built from ../shared/engine-src)"
        )
    return Path(folder)


@dataclass(frozen=True)
class PulumiHome:
    """A private PULUMI_HOME with the two resource plugins installed from the local build."""

    bin: Path
    home: Path

    @classmethod
    def create(cls, build: Path, home: Path) -> PulumiHome:
        # PATH gets the CLI and the language host only: resource plugins found on PATH would be
        # used as "ambient" plugins (with a warning) instead of the installed ones.
        bin_dir = home / "bin"
        bin_dir.mkdir(parents=True)
        for name in ("pulumi", "pulumi-language-python", "pulumi-language-python-exec"):
            (bin_dir / name).symlink_to(build / name)
        made = cls(bin_dir, home)
        for name, version in PLUGINS.items():
            plugin = build / f"pulumi-resource-{name}"
            result = made.run(["plugin", "install", "resource", name, f"v{version}", "--file", str(plugin)], cwd=home)
            assert result.returncode == 0, result.stderr
        return made

    def env(self, backend: Path | None = None) -> dict[str, str]:
        env = {
            "PATH": f"{self.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.home),
            "PULUMI_HOME": str(self.home),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DEBUG_COMMANDS": "true",  # enables --event-log, the engine's own timed events
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "NO_COLOR": "1",
        }
        if backend is not None:
            env["PULUMI_BACKEND_URL"] = f"file://{backend}"
        return env

    def run(
        self,
        args: list[str],
        cwd: Path,
        backend: Path | None = None,
        timeout: float = 900,
        prefix: list[str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env(backend), **(extra_env or {})}
        return run_in_own_group(
            [*(prefix or []), str(self.bin / "pulumi"), *args, "--non-interactive"], cwd, env, timeout
        )


def run_in_own_group(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """`command` in a session of its own; past `timeout`, the whole group (the CLI, its language host
    and plugins) is killed, not the CLI alone, and `subprocess.TimeoutExpired` is raised."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


# What a Python program prints when it is interrupted or crashes: never in the CLI's output (components/cancel.py).
STRAY_TRACEBACK = ("Traceback (most recent call last)", "KeyboardInterrupt")


def stray_traceback(output: str) -> list[str]:
    """The lines of `output` that belong to a Python traceback or a KeyboardInterrupt."""
    return [line for line in output.splitlines() if any(marker in line for marker in STRAY_TRACEBACK)]


class PulumiError(AssertionError):
    pass


class PulumiProject:
    """A copy of the program with one stack, driven by the real CLI.

    `prefix` runs every CLI call under a wrapper (for example inside a network namespace with
    a private /etc), so the local commands of the program act there and nowhere else.
    `timeout` bounds each CLI call (emulated hosts take longer than the engines here).
    """

    def __init__(
        self, home: PulumiHome, workdir: Path, stack: str, prefix: list[str] | None = None, timeout: float = 900
    ) -> None:
        self.home = home
        self.stack = stack
        self.timeout = timeout
        self.dir = workdir / "project"
        self.backend = workdir / "state"
        self.prefix = prefix
        self.dir.mkdir(parents=True)
        self.backend.mkdir()
        for name in PROJECT_FILES:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, self.dir / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, self.dir / name)
        # The venv Pulumi.yaml names: the interpreter running these tests, which has requirements.txt.
        (self.dir / "venv").symlink_to(Path(sys.prefix))
        self.cli("stack", "init", stack, "--secrets-provider", "passphrase")

    # -- configuration ----------------------------------------------------------------------
    @property
    def stack_file(self) -> Path:
        return self.dir / f"Pulumi.{self.stack}.yaml"

    def set_config(self, config: dict[str, Any]) -> None:
        """Replaces the stack's `wipp:*` keys (secrets kept) with `config`, written as a user writes YAML."""
        document = yaml.safe_load(self.stack_file.read_text()) or {}
        kept = {k: v for k, v in (document.get("config") or {}).items() if isinstance(v, dict) and "secure" in v}
        document["config"] = {**{f"wipp:{k}": v for k, v in config.items()}, **kept}
        self.stack_file.write_text(yaml.safe_dump(document, sort_keys=False))

    def set_secret(self, key: str, value: str) -> None:
        """`pulumi config set --secret wipp:<key>`, the value on stdin as a user would pipe it."""
        result = subprocess.run(
            [str(self.home.bin / "pulumi"), "config", "set", "--secret", f"wipp:{key}", "--stack", self.stack],
            input=value,
            cwd=self.dir,
            env=self.home.env(self.backend),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise PulumiError(result.stderr)

    # -- the CLI ------------------------------------------------------------------------------
    def cli(self, *args: str, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        result = self.home.run(list(args), self.dir, self.backend, timeout or self.timeout, self.prefix)
        # Every CLI call, passed or failed: a traceback is never what the user should see.
        stray = stray_traceback(result.stdout + result.stderr)
        if stray:
            raise PulumiError(f"pulumi {' '.join(args)} printed a Python traceback ({stray[0]}):\n{_tail(result)}")
        if check and result.returncode != 0:
            raise PulumiError(f"pulumi {' '.join(args)} exited {result.returncode}:\n{_tail(result)}")
        return result

    def on_stack(
        self, *args: str, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.cli(*args, "--stack", self.stack, check=check, timeout=timeout)

    def preview(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.on_stack("preview", *args, check=check)

    def up(self, *args: str, check: bool = True) -> Timed:
        return self._timed("up", "--yes", "--skip-preview", *args, check=check)

    def refresh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.on_stack("refresh", "--yes", "--skip-preview", *args, check=check)

    def destroy(self, *args: str, check: bool = True) -> Timed:
        return self._timed("destroy", "--yes", "--skip-preview", *args, check=check)

    def _timed(self, verb: str, *args: str, check: bool) -> Timed:
        """Runs `verb` while a thread stamps each engine event as it is written (the CLI's own
        timestamps are whole seconds)."""
        events = self.dir.parent / f"events-{verb}-{time.monotonic_ns()}.jsonl"
        stamps: list[tuple[float, dict[str, Any]]] = []
        done = threading.Event()
        started = time.monotonic()
        tail = threading.Thread(target=_tail_events, args=(events, started, stamps, done), daemon=True)
        tail.start()
        try:
            result = self.on_stack(verb, *args, "--event-log", str(events), check=check)
        finally:
            done.set()
            tail.join(timeout=30)
        return Timed(result, time.monotonic() - started, stamps)

    def interrupted_up(self, when: Callable[[], bool], timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`pulumi up`, interrupted as a user does with Ctrl-C twice: two SIGINTs to the CLI, half a
        second apart, as soon as `when()` holds (polled every 0.1 s). Its result once it has exited."""
        env = self.home.env(self.backend)
        command = [str(self.home.bin / "pulumi"), "up", "--yes", "--skip-preview", "--stack", self.stack]
        # The prefix ends in `exec`: the process started is the CLI itself.
        process = subprocess.Popen(
            [*(self.prefix or []), *command, "--non-interactive"],
            cwd=self.dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while not when() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            for _ in range(2):
                process.send_signal(signal.SIGINT)
                time.sleep(0.5)
            output, _ = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
        stray = stray_traceback(output)
        if stray:  # Ctrl-C is the user's: the CLI says it cancelled, the program prints no traceback
            raise PulumiError(f"the interrupted up printed a Python traceback ({stray[0]}):\n{output[-4000:]}")
        return subprocess.CompletedProcess(command, process.returncode, output, "")

    def outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = json.loads(self.on_stack("stack", "output", "--json").stdout)
        return outputs

    def export(self) -> str:
        """The state as `pulumi stack export` writes it (secrets stay encrypted)."""
        return self.on_stack("stack", "export").stdout

    def resources(self) -> dict[str, dict[str, Any]]:
        """The stack's resources in state, by name (the last part of the URN)."""
        deployment = json.loads(self.export())["deployment"]
        return {r["urn"].rsplit("::", 1)[-1]: r for r in deployment.get("resources") or []}


@dataclass(frozen=True)
class Timed:
    """An `up` or `destroy`: the CLI's result, its wall time and the engine's own event log."""

    result: subprocess.CompletedProcess[str]
    seconds: float
    events: list[tuple[float, dict[str, Any]]]  # (seconds since the CLI started, event)

    @property
    def returncode(self) -> int:
        return self.result.returncode

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr

    def steps(self) -> dict[str, tuple[str, float, float]]:
        """Each resource's operation with when it began and ended, in seconds since the CLI started."""
        began: dict[str, tuple[str, float]] = {}
        steps: dict[str, tuple[str, float, float]] = {}
        for at, event in self.events:
            for kind in ("resourcePreEvent", "resOutputsEvent", "resOpFailedEvent"):
                body = event.get(kind)
                if not body:
                    continue
                metadata = body["metadata"]
                name = metadata["urn"].rsplit("::", 1)[-1]
                if kind == "resourcePreEvent":
                    began[name] = (metadata["op"], at)
                elif name in began:
                    op, start = began[name]
                    steps[name] = (op, start, at)
        return steps

    def operations(self) -> dict[str, str]:
        """What the engine did to each resource (create, update, replace, delete, same, ...)."""
        return {name: op for name, (op, _, _) in self.steps().items()}


def planned_operations(preview_json: str) -> dict[str, str]:
    """`pulumi preview --json`: each resource's planned operation, by name (the stack itself left out)."""
    plan = json.loads(preview_json)
    return {
        step["urn"].rsplit("::", 1)[-1]: step["op"]
        for step in plan.get("steps", [])
        if not step["urn"].endswith("pulumi:pulumi:Stack::" + step["urn"].rsplit("::", 1)[-1])
    }


def _tail_events(path: Path, started: float, stamps: list[tuple[float, dict[str, Any]]], done: threading.Event) -> None:
    """Reads the event log as the engine writes it, every 20 ms, stamping each event on arrival."""
    position, partial = 0, ""
    while True:
        finished = done.is_set()  # read once more after the CLI has ended
        if path.exists():
            with path.open() as log:
                log.seek(position)
                chunk = log.read()
                position = log.tell()
            now = time.monotonic() - started
            *lines, partial = (partial + chunk).split("\n")
            stamps.extend((now, json.loads(line)) for line in lines if line.strip())
        if finished:
            return
        done.wait(0.02)


def _tail(result: subprocess.CompletedProcess[str], lines: int = 60) -> str:
    return "\n".join((result.stdout + result.stderr).splitlines()[-lines:])

"""The first manager's engine answers, or the program says so in its own words (components/engine_check.py)."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest
from harness import Deployment, run_program

from components.scripts import render


def _engine_checks(deployment_invokes: list[object]) -> list[str]:
    return [
        str(getattr(call, "args", {}).get("command", ""))
        for call in deployment_invokes
        if getattr(call, "token", "") == "command:local:run" and "engine-answers" in str(getattr(call, "args", {}))
    ]


def test_a_local_first_manager_is_asked_at_the_providers_endpoint_before_anything_is_registered() -> None:
    deployment = run_program("single", {"dockerHost": "unix:///run/lab/docker.sock"}, preview=True)
    checks = _engine_checks(deployment.invokes)
    assert len(checks) == 1 and "ENDPOINT=unix:///run/lab/docker.sock" in checks[0]


def test_a_remote_first_manager_is_left_to_its_preflight() -> None:
    assert _engine_checks(run_program("multi", preview=True).invokes) == []


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"dockerHost": "unix:///run/lab/docker.sock"}, "unix:///run/lab/docker.sock (wipp:dockerHost)"),
        ({}, "unix:///var/run/docker.sock (the default socket for a local first manager; wipp:dockerHost sets"),
    ],
)
def test_a_silent_engine_stops_the_program_with_the_endpoint_the_key_and_what_to_check(
    overrides: dict[str, str], named: str
) -> None:
    recorded = Deployment()
    with pytest.raises(pulumi.RunError) as stopped:
        run_program(
            "single", overrides, preview=True, engine_silence="there is no socket at /x\n", record_into=recorded
        )
    message = str(stopped.value)
    assert f"the Docker Engine of the first manager does not answer at {named}" in message
    assert "there is no socket at /x" in message and "systemctl status docker" in message
    assert "Nothing was changed" in message and "\n" not in message
    assert [r.type for r in recorded.resources if r.type != "pulumi:pulumi:Stack"] == []


# -- the script itself, against real sockets and the real docker CLI ------------------------------------------
def _check(endpoint: str, wait_s: int = 5) -> str:
    script = render("engine-answers.sh", ENDPOINT=endpoint, WAIT_S=str(wait_s))
    ran = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.strip()


def test_the_script_names_a_socket_that_is_not_there(tmp_path: Path) -> None:
    assert (
        _check(f"unix://{tmp_path}/docker.sock")
        == f"there is no socket at {tmp_path}/docker.sock (is Docker installed and started, and is the path right?)"
    )


def test_the_script_names_a_file_that_is_not_a_socket(tmp_path: Path) -> None:
    (tmp_path / "docker.sock").write_text("")
    assert _check(f"unix://{tmp_path}/docker.sock") == f"{tmp_path}/docker.sock is not a socket"


def test_the_script_gives_dockers_own_reason_for_a_socket_nothing_listens_on(tmp_path: Path) -> None:
    path = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bound:
        bound.bind(str(path))
    said = _check(f"unix://{path}")
    assert "Cannot connect to the Docker daemon" in said and str(path) in said


@pytest.fixture
def mute_socket(tmp_path: Path) -> Iterator[Path]:
    """A socket that takes connections and never answers (an engine that hangs)."""
    path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    taken: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                taken.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield path
    stop.set()
    thread.join(timeout=5)
    for connection in taken:
        connection.close()
    server.close()


def test_the_script_bounds_an_engine_that_never_answers(mute_socket: Path) -> None:
    assert _check(f"unix://{mute_socket}", wait_s=2) == "it did not answer within 2 s"


def test_the_script_says_nothing_when_the_engine_answers(mute_socket: Path) -> None:
    """The control, with a stand-in `docker` that answers: no line, so the program goes on."""
    bin_dir = mute_socket.parent / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text("#!/bin/sh\necho 20.10.24\n")
    (bin_dir / "docker").chmod(0o755)
    script = render("engine-answers.sh", ENDPOINT=f"unix://{mute_socket}", WAIT_S="2")
    ran = subprocess.run(["sh", "-c", f"PATH={bin_dir}:$PATH; {script}"], capture_output=True, text=True, timeout=60)
    assert (ran.returncode, ran.stdout) == (0, "")

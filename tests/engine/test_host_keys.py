"""SSH host keys checked for real: the options the program gives the Docker provider, run with OpenSSH.

The Docker provider reaches a remote first manager by running the system `ssh` with the
stack's ssh options. Here that `ssh`, with exactly those options, connects from the manager's
namespace to an sshd on the worker's test address: with the host's real key it runs the
command; with any other key it stops before anything runs on the host. (pulumi-command's own
`hostKey` check lives in its Go provider, which CI cannot build; see the README.)
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import ssh_host
from engine_hosts import EngineHost
from harness import fake_host_key, run_program, ssh_options

PORT = 2222


@pytest.fixture
def sshd(worker: EngineHost, tmp_path: Path) -> Iterator[ssh_host.SshHost]:
    assert worker.engine.netns
    host = ssh_host.start(worker.engine.netns, worker.address, PORT, tmp_path / "sshd")
    try:
        yield host
    finally:
        host.stop()


def _provider_ssh_options(host: ssh_host.SshHost, host_key: str) -> list[str]:
    hosts = [{"name": "lab-1", "address": host.address, "role": "manager", "sshUser": "root", "sshPort": PORT}]
    hosts[0]["hostKey"] = host_key
    provider = run_program("multi", {"hosts": hosts}).named("swarm-manager")
    assert provider.inputs["host"] == f"ssh://root@{host.address}:{PORT}"
    return ssh_options(provider)


def _ssh(
    manager: EngineHost, host: ssh_host.SshHost, options: list[str], remote: str, home: Path
) -> subprocess.CompletedProcess[str]:
    # As the provider runs it: its options first, then user, port and host, then the command.
    command = ["ssh", *options, "-i", str(host.client_key), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]
    command += ["-l", "root", "-p", str(PORT), "--", host.address, remote]
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    return manager.engine.in_namespace(command, env=env, check=False, timeout=30)


def test_the_right_host_key_connects_and_a_wrong_one_stops_before_anything_runs(
    manager: EngineHost, sshd: ssh_host.SshHost, tmp_path: Path
) -> None:
    marker = tmp_path / "ran-on-host"
    home = tmp_path / "home"
    home.mkdir()

    wrong = _ssh(manager, sshd, _provider_ssh_options(sshd, fake_host_key("impostor")), f"touch {marker}", home)
    assert wrong.returncode == 255
    assert "Host key verification failed" in wrong.stderr
    assert not marker.exists()

    right = _ssh(manager, sshd, _provider_ssh_options(sshd, sshd.host_key), f"touch {marker}", home)
    assert right.returncode == 0, right.stderr
    assert marker.exists()
    assert not (home / ".ssh" / "known_hosts").exists()  # the key came from the stack, nothing was learned

"""What the config checks read from this machine (components/config/machine.py), with the real
functions: against answers that hold on any machine. The mock suite replaces them
(harness.FakeMachine), since its stacks name hosts and addresses this machine does not have."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.config import machine


def test_loopback_is_this_machine_and_a_documentation_address_is_not() -> None:
    assert machine.is_this_machines_address("127.0.0.1")
    assert machine.is_this_machines_address("127.20.30.40")  # all of 127.0.0.0/8 is the loopback's
    assert not machine.is_this_machines_address("192.0.2.1")  # TEST-NET-1 (RFC 5737): no host has it


def test_an_address_this_machine_uses_is_this_machine() -> None:
    # The source address of the route out (a UDP connect sends nothing); CI's machines reach registries.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        own = str(probe.getsockname()[0])
    assert not own.startswith("127.")
    assert machine.is_this_machines_address(own)


def test_localhost_resolves_and_a_name_under_invalid_does_not() -> None:
    assert "127.0.0.1" in machine.ipv4_addresses("localhost")
    assert machine.ipv4_addresses("10.20.30.40") == ["10.20.30.40"]
    assert machine.ipv4_addresses("wipp-host.invalid") == []  # .invalid never resolves (RFC 6761)


def test_a_lookup_that_hangs_counts_as_no_answer_within_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    released = threading.Event()

    def hanging(*args: Any, **kwargs: Any) -> list[Any]:
        released.wait(30)  # a resolver that does not answer: until the test ends
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.30.40", 0))]

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    monkeypatch.setattr(machine, "LOOKUP_SECONDS", 0.5)
    started = time.monotonic()
    try:
        assert machine.ipv4_addresses("slow.lab.example") == []  # its late answer is not waited for
        assert time.monotonic() - started < 5
    finally:
        released.set()


def test_the_stack_file_is_read_from_the_project_folder_or_its_stack_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pulumi, "get_root_directory", lambda: str(tmp_path))
    monkeypatch.setattr(pulumi, "get_stack", lambda: "lab")
    (tmp_path / "Pulumi.yaml").write_text("name: wipp\nruntime: python\n")
    assert machine.stack_file_text() is None  # no stack file yet: nothing to compare
    (tmp_path / "Pulumi.lab.yaml").write_text("config:\n  wipp:version: 2.10\n")
    assert machine.stack_file_text() == "config:\n  wipp:version: 2.10\n"
    (tmp_path / "Pulumi.yaml").write_text("name: wipp\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.lab.yaml").write_text("config:\n  wipp:version: '2.10'\n")
    assert machine.stack_file_text() == "config:\n  wipp:version: '2.10'\n"

"""The shipped stack files as a new user first meets them, through the real engine."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from harness import fake_host_key
from pulumi_cli import PulumiHome, PulumiProject
from single_stack import stack_file_config


def test_the_multi_stacks_placeholder_addresses_are_refused_at_preview(pulumi_home: PulumiHome, tmp_path: Path) -> None:
    """With a key and host keys set as the README says, but the documentation addresses left in."""
    project = PulumiProject(pulumi_home, tmp_path, "multi")
    config = stack_file_config("multi")
    config["hosts"] = [{**host, "hostKey": fake_host_key(host["address"])} for host in config["hosts"]]
    project.set_config(config)
    key = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "key")], capture_output=True, check=False
    )
    if key.returncode != 0:
        pytest.fail(f"ssh-keygen: {key.stderr!r}")
    project.set_secret("sshPrivateKey", (tmp_path / "key").read_text())

    preview = project.preview(check=False)
    text = preview.stdout + preview.stderr
    assert preview.returncode != 0
    for index, address in enumerate(("192.0.2.10", "192.0.2.11", "192.0.2.12")):
        assert f"wipp:hosts[{index}].address" in text and address in text, text
    assert "documentation" in text and "real address" in text, text
    assert "BEGIN OPENSSH PRIVATE KEY" not in text
    in_state = project.resources()
    assert set(in_state) <= {"wipp-multi"}, in_state  # nothing but the stack itself

"""The stack as a whole: outputs, secrets, provider order and destroy safety."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from google.protobuf import json_format
from harness import FAKE_SSH_KEY, mock_digest, run_program

from components import firewall, images, network, services, storage, swarm
from components.host_command import RUNNER_PATTERN
from components.scripts import COMMON
from components.wipp import SERVICE_NAMES


@pytest.mark.parametrize("stack", ["single", "multi"])
def test_outputs(stack: str) -> None:
    deployment = run_program(stack)
    address = "127.0.0.1" if stack == "single" else "10.20.0.10"
    assert deployment.outputs["webUrl"] == f"http://{address}:18080"
    assert deployment.outputs["dashboardUrl"] == f"https://{address}:15005"
    assert deployment.outputs["managerAddress"] == address
    assert deployment.outputs["services"] == {s: s for s in SERVICE_NAMES}
    # Each service's image with the digest the first manager's pull resolved.
    assert deployment.outputs["images"]["exec"] == f"wipp/wipp_executor:2.2.0@{mock_digest('wipp/wipp_executor:2.2.0')}"
    assert len(deployment.outputs["nodes"]) == (1 if stack == "single" else 3)


@pytest.mark.parametrize("stack", ["single", "multi"])
def test_no_token_or_key_is_exported_at_all(stack: str) -> None:
    deployment = run_program(stack)
    # Whoever holds a manager token can take the swarm over: no join token is a stack output.
    assert deployment.secret_outputs == set()
    assert not {"workerJoinToken", "managerJoinToken"} & set(deployment.outputs)
    exported = json.dumps(deployment.outputs)
    assert "SWMTKN" not in exported and "PRIVATE KEY" not in exported


def test_ssh_key_travels_only_as_a_secret() -> None:
    deployment = run_program("multi")
    remote = deployment.of_type("command:remote:Command")
    assert remote
    for command in remote:
        assert command.inputs["connection"]["privateKey"] == FAKE_SSH_KEY
        assert "connection" in command.secret_inputs()
    for resource in deployment.resources:
        if resource.type.startswith("docker:") or resource.type == "pulumi:providers:docker":
            assert "PRIVATE KEY" not in json.dumps(resource.inputs, default=str)


def test_docker_provider_waits_for_the_whole_swarm() -> None:
    deployment = run_program("multi")
    provider = deployment.named("swarm-manager")
    for name in ("swarm-init-wipp-manager", "swarm-join-wipp-worker-1", "swarm-join-wipp-worker-2"):
        assert deployment.named(name).urn in provider.dependencies


def test_components_have_type_tokens_and_children() -> None:
    deployment = run_program("multi")
    providers = ("command:", "docker:", "pulumi:")
    components = {r.name: r.type for r in deployment.resources if not r.type.startswith(providers)}
    assert components == {
        "firewall-wipp-manager": "wipp:firewall:HostFirewall",
        "firewall-wipp-worker-1": "wipp:firewall:HostFirewall",
        "firewall-wipp-worker-2": "wipp:firewall:HostFirewall",
        "swarm": "wipp:swarm:Swarm",
        "network": "wipp:network:OverlayNetwork",
        "storage": "wipp:storage:WippStorage",
        "services": "wipp:services:WippServices",
        "backup": "wipp:backup:Backup",
        "preflight": "wipp:preflight:Preflight",
        "ownership": "wipp:ownership:StackOwnership",
        "images": "wipp:images:ImagePulls",
    }
    assert deployment.named("mongodb").parent == deployment.named("services").urn
    assert deployment.named("swarm-worker-token").parent == deployment.named("swarm").urn


def test_only_data_is_retained_on_destroy() -> None:
    deployment = run_program("single")
    retained = {r.name for r in deployment.resources if r.retain_on_delete}
    assert retained == {"storage-wippdb", "storage-wippdata", "storage-pegasusdb", "storage-pegasusdata"}


def test_preview_registers_the_same_resources() -> None:
    applied = [r.name for r in run_program("multi").resources]
    previewed = [r.name for r in run_program("multi", preview=True).resources]
    assert sorted(previewed) == sorted(applied)


def test_components_get_only_what_they_use_and_main_alone_reads_the_settings() -> None:
    for args in (
        firewall.HostFirewallArgs,
        images.ImagePullsArgs,
        network.OverlayNetworkArgs,
        services.WippServicesArgs,
        storage.WippStorageArgs,
        swarm.SwarmArgs,
    ):
        for field in dataclasses.fields(args):
            assert "Settings" not in str(field.type), f"{args.__name__}.{field.name} carries the whole settings"
    for module in (firewall, images, network, services, storage, swarm):
        source = Path(str(module.__file__)).read_text()
        assert "settings" not in source.lower(), f"{module.__name__} reads the settings"


@pytest.mark.parametrize("stack", ["single", "multi"])
def test_every_host_command_runs_its_script_from_stdin_behind_one_short_line(stack: str) -> None:
    """pulumi-command's error quotes the command it ran (three times in the CLI's output): one short line."""
    deployment = run_program(stack)
    commands = [r for r in deployment.resources if r.type.startswith("command:")]
    assert commands
    for command in commands:
        wire = json_format.MessageToDict(command.raw_inputs)
        runner = wire["create"]
        assert isinstance(runner, str) and len(runner) < 100, (command.name, runner)
        matched = RUNNER_PATTERN.fullmatch(runner)
        assert matched, runner
        # The host sees the script (the harness's view), then whatever secret follows it.
        assert COMMON.read_text() in command.inputs["create"]
        assert int(matched.group(2)) == len(command.inputs["create"].encode())
    joins = [c for c in commands if c.name.startswith("swarm-join-")]
    for join in joins:  # a secret after the script makes the whole stdin secret, never the runner
        assert "stdin" in join.secret_inputs() and "create" not in join.secret_inputs()
    assert bool(joins) == (stack == "multi")

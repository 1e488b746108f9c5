"""The personal stack: one workstation, no firewall change, WIPP's ports on 127.0.0.1 only."""

from __future__ import annotations

import pulumi
import pytest
from harness import assert_mentions, run_program

from components.wipp import STORAGE_KEYS


def test_personal_stack_binds_the_web_ports_to_localhost_and_changes_no_firewall() -> None:
    deployment = run_program("personal")
    wipp = deployment.named("wipp")
    assert wipp.type == "docker:index/container:Container"
    ports = {(int(p["internal"]), int(p["external"]), p["ip"]) for p in wipp.inputs["ports"]}
    assert ports == {(8080, 18080, "127.0.0.1"), (5005, 15005, "127.0.0.1")}
    assert wipp.inputs["networksAdvanced"] == [{"name": "net-wippnet"}]
    assert [m["target"] for m in wipp.inputs["mounts"]] == [
        "/data/WIPP",
        "/home/wipp/.pegasus",
        "/data/pegasus-workflows",
    ]
    assert wipp.inputs["restart"] == "unless-stopped" and wipp.inputs["mustRun"] is True
    assert wipp.inputs["command"] == ["master", "mongodb"]
    # The order holds: master before the container, the container before exec.
    assert deployment.named("master-running").urn in wipp.dependencies
    assert wipp.urn in deployment.named("exec").dependencies
    assert not deployment.of_type("wipp:firewall:HostFirewall")
    assert not deployment.of_type("command:remote:Command")
    assert deployment.outputs["webUrl"] == "http://localhost:18080"
    assert deployment.outputs["dashboardUrl"] == "https://localhost:15005"
    exec_args = deployment.named("exec").inputs["taskSpec"]["containerSpec"]["args"]
    assert exec_args == ["-e", "master", "4G"]  # NIST's personal VM gave the algorithms 4G


def test_every_address_is_a_swarm_service_again() -> None:
    deployment = run_program("personal", {"bindAddress": ""})
    assert deployment.named("wipp").type == "docker:index/service:Service"


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"bindAddress": "localhost"}, ["wipp:bindAddress", "'localhost'", "IPv4 address"]),
        (
            {
                "hosts": [
                    {"name": "a", "address": "10.20.0.1", "role": "manager", "local": True},
                    {"name": "b", "address": "10.20.0.2", "role": "worker", "sshUser": "u"},
                ],
                "storage": {
                    "mode": "bind",
                    "paths": {k: f"/srv/w/{k}" for k in STORAGE_KEYS},
                },
                "sshPrivateKey": "key",
            },
            ["wipp:bindAddress", "'127.0.0.1'", "one machine"],
        ),
    ],
)
def test_a_bind_address_is_one_machines(overrides: dict[str, object], expected: list[str]) -> None:
    with pytest.raises(pulumi.RunError) as error:
        run_program("personal", overrides)
    assert_mentions(str(error.value), expected)

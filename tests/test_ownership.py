"""StackOwnership: what another stack on the same engine owns is refused before anything is made."""

from __future__ import annotations

import pulumi
import pytest
from harness import Deployment, run_program, script_variables


def _ownership_invokes(deployment: Deployment) -> list[dict[str, str]]:
    return [
        script_variables(call.args["command"])
        for call in deployment.invokes
        if call.token == "command:local:run" and "stack-ownership" in call.args["command"]
    ]


def test_a_local_first_manager_is_checked_at_preview_with_everything_the_stack_will_use() -> None:
    names = {"mongodb": "b-mongodb", "master": "b-master", "wipp": "b-wipp", "exec": "b-exec"}
    deployment = run_program("single", {"serviceNames": names, "network": "bnet", "webPort": 28080}, preview=True)
    (checked,) = _ownership_invokes(deployment)
    assert checked["OWNER"] == "wipp/single" and checked["REPORT"] == "true"
    assert checked["VOLUMES"].split("\n") == [
        "wippdb=wippdbvolume",
        "wippdata=wippdatavolume",
        "pegasusdb=pegasusdbvolume",
        "pegasusdata=pegasusdatavolume",
    ]
    assert checked["NETWORK"] == "bnet" and checked["PORTS"] == "28080 15005"
    assert checked["SERVICES"].split("\n") == [f"{key}={name}" for key, name in names.items()]
    assert checked["CONTAINER"] == ""
    assert not [r for r in deployment.resources if r.name.startswith("ownership-")]  # no command: the check ran
    personal = _ownership_invokes(run_program("personal"))
    assert personal[0]["CONTAINER"] == "wipp" and personal[0]["OWNER"] == "wipp/personal"


def test_what_the_check_finds_stops_the_program_before_any_resource_is_registered() -> None:
    refusals = (
        "volume wippdbvolume (wipp:storage.names.wippdb) belongs to stack wipp/other: set wipp:storage.names.wippdb"
        " to a volume name of this stack's own\nnetwork wippnet (wipp:network) belongs to stack wipp/other: set"
        " wipp:network to a name of this stack's own\n"
    )
    recorded = Deployment()
    with pytest.raises(pulumi.RunError) as refused:
        run_program("single", preview=True, refusals=refusals, record_into=recorded)
    message = str(refused.value)
    assert message.startswith("this stack would take what belongs to another stack on the same engine:")
    assert "\n  - volume wippdbvolume (wipp:storage.names.wippdb) belongs to stack wipp/other" in message
    assert "\n  - network wippnet (wipp:network) belongs to stack wipp/other" in message
    made = {r.type for r in recorded.resources}
    assert not {t for t in made if t.startswith("docker:") or t.startswith("command:")}, made


def test_a_remote_first_manager_is_checked_by_a_command_before_the_network_storage_and_services() -> None:
    deployment = run_program("multi")
    assert not _ownership_invokes(deployment)  # pulumi-command runs nothing on another host at preview
    check = deployment.named("ownership-wipp-manager")
    variables = script_variables(check.inputs["create"])
    assert check.inputs["connection"]["host"] == "10.20.0.10"
    assert variables["REPORT"] == "false" and variables["VOLUMES"] == "" and variables["OWNER"] == "wipp/multi"
    # Everything on the swarm comes through the Docker provider, which waits for the check.
    assert check.urn in deployment.named("swarm-manager").dependencies
    for later in ("network", "storage"):
        assert check.urn in deployment.named(later).dependencies, later

"""Preflight: one check per host, before any firewall rule or swarm step; its findings exported."""

from __future__ import annotations

import re

import pytest
from harness import PREFLIGHT_FINDINGS, Deployment, Registered, run_program, script_variables

from components.scripts import SCRIPTS_DIR


def test_every_host_is_checked_before_anything_changes_on_it() -> None:
    deployment = run_program("multi")
    checks = {r.name: r for r in deployment.resources if r.name.startswith("preflight-")}
    assert sorted(checks) == ["preflight-wipp-manager", "preflight-wipp-worker-1", "preflight-wipp-worker-2"]
    check_urns = {c.urn for c in checks.values()}
    first_changes = [
        r for r in deployment.resources if r.type.startswith("command:") and not r.name.startswith("preflight-")
    ]
    assert first_changes
    for resource in first_changes:
        if resource.name.startswith(("firewall-", "swarm-init-")):
            assert check_urns <= set(resource.dependencies), f"{resource.name} does not wait for the preflight"
    for check in checks.values():  # the checks themselves wait for nothing: they run in parallel
        assert not check_urns & set(check.dependencies)
        assert "delete" not in check.inputs  # a check changes nothing, so there is nothing to undo


def _waits_for(deployment: Deployment, resource: Registered) -> set[str]:
    """Every resource `resource` waits for: its dependencies, its provider's, theirs, and so on."""
    by_urn = {r.urn: r for r in deployment.resources}
    found: set[str] = set()
    ahead = [resource.urn]
    while ahead:
        current = by_urn.get(ahead.pop())
        if current is None:
            continue
        provider = [current.provider.rsplit("::", 1)[0]] if current.provider else []
        for urn in [*current.dependencies, *provider]:
            if urn not in found:
                found.add(urn)
                ahead.append(urn)
    return found


@pytest.mark.parametrize("stack", ["single", "multi", "personal"])
def test_nothing_changes_on_any_host_before_every_host_s_preflight_passed(stack: str) -> None:
    # Every command and Docker object, in every component, waits for every host's check (a
    # component's depends_on does not reach its children: each must take it itself). The one
    # exception is the ownership check, which reads and changes nothing.
    deployment = run_program(stack)
    checks = {r.urn for r in deployment.resources if r.name.startswith("preflight-")}
    assert checks
    made = [
        r
        for r in deployment.resources
        if r.type.startswith(("command:", "docker:index/"))
        and r.urn not in checks
        and not r.name.startswith("ownership-")
    ]
    assert len(made) > 10
    late = {r.name: sorted(checks - _waits_for(deployment, r)) for r in made if not checks <= _waits_for(deployment, r)}
    assert late == {}


def test_what_each_host_is_checked_for() -> None:
    deployment = run_program("multi", {"publishMode": "host", "endpointMode": "dnsrr", "strictPreflight": True})
    manager = script_variables(deployment.named("preflight-wipp-manager").inputs["create"])
    worker = script_variables(deployment.named("preflight-wipp-worker-1").inputs["create"])
    assert manager["POSITION"] == "first-manager" and worker["POSITION"] == "joining"
    assert manager["PORTS"] == "18080 15005" and worker["PORTS"] == ""  # host mode
    assert worker["MANAGER_ADDR"] == "10.20.0.10" and worker["HOST_NAME"] == "wipp-worker-1"
    assert worker["MIN_MEMORY_MB"] == str(int(8 * 1024 * 0.9))  # NIST: 8 GB per host
    assert worker["MIN_DISK_GB"] == "50" and worker["STRICT"] == "true"
    assert worker["NEED_UFW"] == "true"
    single = script_variables(
        run_program("single", {"manageFirewall": False}).named("preflight-wipp-host").inputs["create"]
    )
    assert single["MIN_MEMORY_MB"] == str(int(16 * 1024 * 0.9))  # NIST: 16 GB for one host
    assert single["NEED_UFW"] == "false" and single["STRICT"] == "false"


def test_ipvs_is_checked_for_when_the_routing_mesh_or_virtual_ips_are_chosen() -> None:
    needed = {}
    for publish, endpoint in (("ingress", "vip"), ("host", "vip"), ("host", "dnsrr")):
        deployment = run_program("multi", {"publishMode": publish, "endpointMode": endpoint})
        checks = [script_variables(r.inputs["create"]) for r in deployment.resources if r.name.startswith("preflight-")]
        assert len(checks) == 3 and len({c["IPVS_NEEDED_BY"] for c in checks}) == 1  # every host, alike
        needed[publish, endpoint] = checks[0]["IPVS_NEEDED_BY"]
    assert needed == {
        ("ingress", "vip"): "wipp:publishMode ingress and wipp:endpointMode vip",
        ("host", "vip"): "wipp:endpointMode vip",
        ("host", "dnsrr"): "",
    }


def test_each_host_checks_the_shared_folders_are_on_a_mount_of_their_own() -> None:
    deployment = run_program("multi")
    paths = " ".join(f"/mnt/wipp-shared/{key}volume" for key in ("wippdb", "wippdata", "pegasusdb", "pegasusdata"))
    for host in ("wipp-manager", "wipp-worker-1", "wipp-worker-2"):
        assert script_variables(deployment.named(f"preflight-{host}").inputs["create"])["SHARED_FOLDERS"] == paths
    single = run_program("single").named("preflight-wipp-host").inputs["create"]  # named volumes: no folders
    assert script_variables(single)["SHARED_FOLDERS"] == ""


def test_the_mocked_findings_have_the_scripts_form() -> None:
    """The mocks print what preflight.sh prints: its JSON line's keys, in its order."""
    script = (SCRIPTS_DIR / "preflight.sh").read_text()
    printed = script[script.rindex("printf '{") :].split("\n")[0]
    assert re.findall(r'"(\w+)": ', printed) == list(PREFLIGHT_FINDINGS)


def test_the_findings_are_exported_per_host() -> None:
    outputs = run_program("multi").outputs
    assert outputs["preflight"] == {
        host: PREFLIGHT_FINDINGS for host in ("wipp-manager", "wipp-worker-1", "wipp-worker-2")
    }
    assert run_program("single").outputs["preflight"] == {"wipp-host": PREFLIGHT_FINDINGS}

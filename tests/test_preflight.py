"""Preflight: one check per host, before any firewall rule or swarm step; its findings exported."""

from __future__ import annotations

import re

from harness import run_program


def _variable(script: str, name: str) -> str:
    match = re.search(rf"^{name}=(.*)$", script, re.M)
    assert match, f"{name} not set"
    return match.group(1).strip("'")


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


def test_what_each_host_is_checked_for() -> None:
    deployment = run_program("multi", {"publishMode": "host", "endpointMode": "dnsrr", "strictPreflight": True})
    manager = deployment.named("preflight-wipp-manager").inputs["create"]
    worker = deployment.named("preflight-wipp-worker-1").inputs["create"]
    assert _variable(manager, "POSITION") == "first-manager" and _variable(worker, "POSITION") == "joining"
    assert _variable(manager, "PORTS") == "18080 15005" and _variable(worker, "PORTS") == ""  # host mode
    assert _variable(worker, "MANAGER_ADDR") == "10.20.0.10"
    assert _variable(worker, "MIN_MEMORY_MB") == str(int(8 * 1024 * 0.9))  # NIST: 8 GB per host
    assert _variable(worker, "MIN_DISK_GB") == "50" and _variable(worker, "STRICT") == "true"
    assert _variable(worker, "NEED_UFW") == "true"
    single = run_program("single", {"manageFirewall": False}).named("preflight-wipp-host").inputs["create"]
    assert _variable(single, "MIN_MEMORY_MB") == str(int(16 * 1024 * 0.9))  # NIST: 16 GB for one host
    assert _variable(single, "NEED_UFW") == "false" and _variable(single, "STRICT") == "false"


def test_the_findings_are_exported_per_host() -> None:
    outputs = run_program("multi").outputs
    assert set(outputs["preflight"]) == {"wipp-manager", "wipp-worker-1", "wipp-worker-2"}

"""HostFirewall: which rules each host gets, from where, and their removal on destroy."""

from __future__ import annotations

import re

from harness import run_program


def _variable(script: str, name: str) -> str:
    match = re.search(rf"^{name}=(.*)$", script, re.M)
    assert match, f"{name} not set in script"
    return match.group(1).strip("'")


def test_single_host_opens_only_the_two_wipp_ports_from_anywhere() -> None:
    deployment = run_program("single")
    ufw = deployment.named("firewall-wipp-host-ufw")
    assert ufw.type == "command:local:Command"
    assert _variable(ufw.inputs["create"], "RULES") == "18080/tcp 15005/tcp"
    assert _variable(ufw.inputs["create"], "SOURCES") == "any"
    assert _variable(ufw.inputs["create"], "ACTION") == "allow"


def test_destroy_deletes_exactly_the_rules_it_opened() -> None:
    ufw = run_program("multi").named("firewall-wipp-worker-1-ufw")
    create, delete = ufw.inputs["create"], ufw.inputs["delete"]
    assert _variable(delete, "ACTION") == "delete"
    for name in ("RULES", "SOURCES"):
        assert _variable(create, name) == _variable(delete, name)
    assert ufw.delete_before_replace


def test_multi_host_rules_per_role_limited_to_allowed_cidrs() -> None:
    deployment = run_program("multi", {"webPort": 8443, "dashboardPort": 9443})
    manager = deployment.named("firewall-wipp-manager-ufw").inputs["create"]
    worker = deployment.named("firewall-wipp-worker-2-ufw").inputs["create"]
    assert _variable(manager, "RULES") == "2377/tcp 7946/tcp 7946/udp 4789/udp 8443/tcp 9443/tcp"
    assert _variable(worker, "RULES") == "7946/tcp 7946/udp 4789/udp 8443/tcp 9443/tcp"
    assert _variable(worker, "SOURCES") == "192.0.2.0/24"
    assert deployment.named("firewall-wipp-worker-2-ufw").type == "command:remote:Command"


def test_several_sources_are_all_listed() -> None:
    script = (
        run_program("single", {"allowedSources": ["10.0.0.0/8", "192.168.1.0/24"]})
        .named("firewall-wipp-host-ufw")
        .inputs["create"]
    )
    assert _variable(script, "SOURCES") == "10.0.0.0/8 192.168.1.0/24"


def test_firewall_can_be_left_alone() -> None:
    deployment = run_program("multi", {"manageFirewall": False})
    assert not [r for r in deployment.resources if r.type == "wipp:firewall:HostFirewall"]
    assert not [r for r in deployment.resources if r.name.endswith("-ufw")]


def test_script_never_enables_or_disables_ufw() -> None:
    script = run_program("single").named("firewall-wipp-host-ufw").inputs["create"]
    assert "ufw enable" not in script and "ufw disable" not in script and "--force" not in script

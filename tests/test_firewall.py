"""HostFirewall: swarm ports per host, published ports per allowed source, tags, replacement on change."""

from __future__ import annotations

import re

from harness import Deployment, run_program


def _variable(script: str, name: str) -> str:
    match = re.search(rf"^{name}=(.*)$", script, re.M)
    assert match, f"{name} not set in script"
    return match.group(1).strip("'")


def _commands(deployment: Deployment) -> list[str]:
    return sorted(
        r.name for r in deployment.resources if r.name.startswith("firewall-") and r.type.startswith("command")
    )


def test_single_host_closes_the_swarm_ports_to_all_but_itself() -> None:
    deployment = run_program("single")
    swarm = deployment.named("firewall-wipp-host-swarm-ports")
    assert swarm.type == "command:local:Command"
    create = swarm.inputs["create"]
    assert _variable(create, "PORTS") == "2377/tcp 7946/tcp 7946/udp 4789/udp"
    assert _variable(create, "SOURCES") == "127.0.0.1"
    assert _variable(create, "ACTION") == "apply"
    # ufw never restricts what Docker publishes, so no ufw rule pretends to open WIPP's ports.
    assert "18080" not in create and "15005" not in create
    # No allowedSources: the published ports stay open, as NIST's setup leaves them, and no rule is made.
    assert _commands(deployment) == ["firewall-wipp-host-swarm-ports"]


def test_swarm_ports_are_limited_to_cluster_hosts_even_without_allowed_sources() -> None:
    deployment = run_program("multi", {"allowedSources": []})
    manager = deployment.named("firewall-wipp-manager-swarm-ports").inputs["create"]
    worker = deployment.named("firewall-wipp-worker-2-swarm-ports").inputs["create"]
    assert _variable(manager, "PORTS") == "2377/tcp 7946/tcp 7946/udp 4789/udp"
    assert _variable(worker, "PORTS") == "7946/tcp 7946/udp 4789/udp"
    for script in (manager, worker):
        assert _variable(script, "SOURCES") == "10.20.0.10 10.20.0.11 10.20.0.12"
    assert deployment.named("firewall-wipp-worker-2-swarm-ports").type == "command:remote:Command"


def test_allowed_sources_reach_swarm_ports_and_limit_published_ports_on_every_ingress_host() -> None:
    deployment = run_program("multi", {"allowedSources": ["10.20.0.0/24", "172.16.100.0/24"], "webPort": 8443})
    swarm = deployment.named("firewall-wipp-worker-1-swarm-ports").inputs["create"]
    assert _variable(swarm, "SOURCES") == "10.20.0.10 10.20.0.11 10.20.0.12 10.20.0.0/24 172.16.100.0/24"
    for host in ("wipp-manager", "wipp-worker-1", "wipp-worker-2"):  # the routing mesh answers on every node
        published = deployment.named(f"firewall-{host}-published-ports").inputs["create"]
        assert _variable(published, "PORTS") == "8443 15005"
        assert _variable(published, "SOURCES") == "10.20.0.0/24 172.16.100.0/24"
        assert "DOCKER-USER" in published and "--ctorigdstport" in published


def test_host_publish_mode_limits_published_ports_on_the_first_manager_only() -> None:
    deployment = run_program("multi", {"publishMode": "host", "endpointMode": "dnsrr"})
    published = [name for name in _commands(deployment) if name.endswith("-published-ports")]
    assert published == ["firewall-wipp-manager-published-ports"]


def test_every_rule_is_tagged_with_the_stack_and_removed_by_that_tag_only() -> None:
    deployment = run_program("multi")
    for name in _commands(deployment):
        command = deployment.named(name)
        create, delete = command.inputs["create"], command.inputs["delete"]
        tag = _variable(create, "TAG")
        kind = "published" if name.endswith("published-ports") else "swarm"
        assert re.fullmatch(rf"wipp:multi:{kind}:[0-9a-f]{{10}}", tag)
        assert _variable(delete, "ACTION") == "remove" and _variable(delete, "TAG") == tag
        for variable in ("PORTS", "SOURCES"):
            assert _variable(create, variable) == _variable(delete, variable)


def test_changed_rules_replace_the_command_so_the_old_rules_are_removed() -> None:
    before = run_program("single", {"allowedSources": ["10.0.0.0/24"]})
    after = run_program("single", {"allowedSources": ["10.0.1.0/24"], "dashboardPort": 16005})
    same = run_program("single", {"allowedSources": ["10.0.0.0/24"]})
    for name in ("firewall-wipp-host-swarm-ports", "firewall-wipp-host-published-ports"):
        old, new, again = (d.named(name) for d in (before, after, same))
        # pulumi-command replaces a command when its triggers change; a changed `create` alone is only re-run.
        assert old.inputs["triggers"] == [_variable(old.inputs["create"], "TAG")]
        assert "triggers[*]" in old.replace_on_changes
        assert new.inputs["triggers"] != old.inputs["triggers"]
        assert again.inputs["triggers"] == old.inputs["triggers"]
        # Create before delete: the new rules are in before the old ones go.
        assert not new.delete_before_replace


def test_published_rules_are_kept_across_restarts_where_systemd_runs() -> None:
    published = run_program("single", {"allowedSources": ["10.0.0.0/24"]}).named("firewall-wipp-host-published-ports")
    create = published.inputs["create"]
    assert _variable(create, "PERSIST_DIR") == "/etc/wipp"
    assert "WantedBy=docker.service" in create and "systemctl enable" in create


def test_firewall_can_be_left_alone() -> None:
    deployment = run_program("multi", {"manageFirewall": False, "allowedSources": []})
    assert not deployment.of_type("wipp:firewall:HostFirewall")
    assert _commands(deployment) == []


def test_scripts_never_enable_or_disable_ufw() -> None:
    deployment = run_program("multi")
    for name in _commands(deployment):
        script = deployment.named(name).inputs["create"]
        assert "ufw enable" not in script and "ufw disable" not in script and "--force" not in script

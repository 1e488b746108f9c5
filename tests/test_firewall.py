"""HostFirewall: swarm ports per host, published ports per allowed source, tags, replacement on change."""

from __future__ import annotations

import re

from harness import Deployment, run_program, script_variables

from components.scripts import script_text


def _commands(deployment: Deployment) -> list[str]:
    return sorted(
        r.name for r in deployment.resources if r.name.startswith("firewall-") and r.type.startswith("command")
    )


def test_single_host_closes_the_swarm_ports_to_all_but_itself() -> None:
    deployment = run_program("single")
    swarm = deployment.named("firewall-wipp-host-swarm-ports")
    assert swarm.type == "command:local:Command"
    create = swarm.inputs["create"]
    # Only the swarm ports: ufw never restricts what Docker publishes, so no rule pretends to open 18080.
    assert script_variables(create)["PORTS"] == "2377/tcp 7946/tcp 7946/udp 4789/udp"
    assert script_variables(create)["SOURCES"] == "127.0.0.1"
    assert script_variables(create)["ACTION"] == "apply"
    # No allowedSources: the published ports stay open, as NIST's setup leaves them, and no rule is made.
    assert _commands(deployment) == ["firewall-wipp-host-swarm-ports"]


def test_swarm_ports_are_limited_to_cluster_hosts_even_without_allowed_sources() -> None:
    deployment = run_program("multi", {"allowedSources": []})
    manager = deployment.named("firewall-wipp-manager-swarm-ports").inputs["create"]
    worker = deployment.named("firewall-wipp-worker-2-swarm-ports").inputs["create"]
    assert script_variables(manager)["PORTS"] == "2377/tcp 7946/tcp 7946/udp 4789/udp"
    assert script_variables(worker)["PORTS"] == "7946/tcp 7946/udp 4789/udp"
    for script in (manager, worker):
        assert script_variables(script)["SOURCES"] == "10.20.0.10 10.20.0.11 10.20.0.12"
    assert deployment.named("firewall-wipp-worker-2-swarm-ports").type == "command:remote:Command"


def test_allowed_sources_reach_swarm_ports_and_limit_published_ports_on_every_ingress_host() -> None:
    deployment = run_program("multi", {"allowedSources": ["10.20.0.0/24", "172.16.100.0/24"], "webPort": 8443})
    swarm = deployment.named("firewall-wipp-worker-1-swarm-ports").inputs["create"]
    assert script_variables(swarm)["SOURCES"] == "10.20.0.10 10.20.0.11 10.20.0.12 10.20.0.0/24 172.16.100.0/24"
    for host in ("wipp-manager", "wipp-worker-1", "wipp-worker-2"):  # the routing mesh answers on every node
        published = deployment.named(f"firewall-{host}-published-ports").inputs["create"]
        assert script_variables(published)["PORTS"] == "8443 15005"
        assert script_variables(published)["SOURCES"] == "10.20.0.0/24 172.16.100.0/24"
        assert script_variables(published)["ACTION"] == "apply"


def test_host_publish_mode_limits_published_ports_on_the_first_manager_only() -> None:
    deployment = run_program("multi", {"publishMode": "host", "endpointMode": "dnsrr"})
    published = [name for name in _commands(deployment) if name.endswith("-published-ports")]
    assert published == ["firewall-wipp-manager-published-ports"]


def test_every_rule_is_tagged_with_the_stack_and_removed_by_that_tag_only() -> None:
    deployment = run_program("multi")
    for name in _commands(deployment):
        command = deployment.named(name)
        create, delete = command.inputs["create"], command.inputs["delete"]
        tag = script_variables(create)["TAG"]
        kind = "published" if name.endswith("published-ports") else "swarm"
        assert re.fullmatch(rf"wipp:multi:{kind}:[0-9a-f]{{10}}", tag)
        created, deleted = script_variables(create), script_variables(delete)
        assert created["ACTION"] == "apply" and deleted["ACTION"] == "remove"
        assert {k: v for k, v in created.items() if k != "ACTION"} == {
            k: v for k, v in deleted.items() if k != "ACTION"
        }


def test_changed_rules_replace_the_command_so_the_old_rules_are_removed() -> None:
    before = run_program("single", {"allowedSources": ["10.0.0.0/24"]})
    after = run_program("single", {"allowedSources": ["10.0.1.0/24"], "dashboardPort": 16005})
    same = run_program("single", {"allowedSources": ["10.0.0.0/24"]})
    for name in ("firewall-wipp-host-swarm-ports", "firewall-wipp-host-published-ports"):
        old, new, again = (d.named(name) for d in (before, after, same))
        # pulumi-command replaces a command when its triggers change; a changed `create` alone is only re-run.
        assert old.inputs["triggers"] == [script_variables(old.inputs["create"])["TAG"]]
        assert "triggers[*]" in old.replace_on_changes
        assert new.inputs["triggers"] != old.inputs["triggers"]
        assert again.inputs["triggers"] == old.inputs["triggers"]
        # Create before delete: the new rules are in before the old ones go.
        assert not new.delete_before_replace


def test_published_rules_are_kept_across_restarts_where_systemd_runs() -> None:
    """The unit re-runs the script from a copy in PERSIST_DIR: the copy must be this very script.
    (That the unit is written, enabled and puts the rules back is tested on the engine.)"""
    published = run_program("single", {"allowedSources": ["10.0.0.0/24"]}).named("firewall-wipp-host-published-ports")
    for script in (published.inputs["create"], published.inputs["delete"]):
        assert script_variables(script)["PERSIST_DIR"] == "/etc/wipp"
        assert script_variables(script)["SCRIPT_BODY"] == script_text("firewall-published-ports.sh")


def test_firewall_can_be_left_alone() -> None:
    deployment = run_program("multi", {"manageFirewall": False, "allowedSources": []})
    assert not deployment.of_type("wipp:firewall:HostFirewall")
    assert _commands(deployment) == []

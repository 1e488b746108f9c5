"""The firewall script, run for real with ufw inside a network namespace this test creates.

Each test has a sandbox (sandbox.py) in a new network namespace of its own: ufw keeps its
rules in the sandbox's copy of /etc/ufw and applies them to that namespace's iptables, so the
machine's firewall and its /etc are never touched. The script runs as root and as a user
who may run, with `sudo -n`, exactly the commands README.md lists.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from docker_api import machine_iptables
from harness import run_program, script_variables
from prerequisites import skip_or_fail
from sandbox import USER, Sandbox, readme_sudo_commands


@contextmanager
def _ufw_sandbox(workdir: Path, sudo: list[str], enable: bool = True) -> Iterator[Sandbox]:
    if not shutil.which("ufw"):
        skip_or_fail("needs ufw (.ci/run installs it)")
    before = machine_iptables()
    with Sandbox(workdir, sudo=sudo, new_netns=True, guarded=["/etc/ufw"]) as box:
        box.run(": > /etc/ufw/sysctl.conf")  # no kernel settings from this test
        if enable:
            assert box.run("ufw --force enable").returncode == 0
        yield box
    assert machine_iptables() == before, "the machine's own iptables rules changed"


@pytest.fixture
def firewall_namespace(tmp_path: Path) -> Iterator[Sandbox]:
    with _ufw_sandbox(tmp_path, readme_sudo_commands()) as box:
        yield box


def _added(box: Sandbox) -> list[str]:
    lines = box.run("ufw show added").stdout.splitlines()[1:]
    return [line.removeprefix("ufw ") for line in lines if line != "(None)"]


def _swarm_command(overrides: dict[str, object], host: str = "m") -> dict[str, str]:
    hosts = [
        {"name": "m", "address": "10.20.0.10", "role": "manager"},
        {"name": "w", "address": "172.16.100.7", "role": "worker"},
    ]
    return run_program("multi", {"hosts": hosts, **overrides}).named(f"firewall-{host}-swarm-ports").inputs


def _tag(script: str) -> str:
    return script_variables(script)["TAG"]


def _assert_allows_before_denies(box: Sandbox) -> None:
    rules = [line for line in box.run("iptables -S ufw-user-input").stdout.splitlines() if line.startswith("-A")]
    verdicts = [line.rsplit(" ", 1)[1] for line in rules]
    first_drop = verdicts.index("DROP")
    assert "ACCEPT" not in verdicts[first_drop:], rules


@pytest.mark.parametrize("user", ["root", USER])
def test_swarm_ports_limited_to_the_cluster_and_removed_without_the_administrators_rules(
    firewall_namespace: Sandbox, user: str
) -> None:
    box = firewall_namespace
    admin_rule = "allow from 172.16.100.7 to any port 2377,7946 proto tcp"  # identical to one of ours, untagged
    box.run(f"ufw {admin_rule}")
    command = _swarm_command({"allowedSources": []})
    tag = _tag(command["create"])
    applied = box.run(command["create"], user=user)
    assert applied.returncode == 0, applied.stderr
    first = _added(box)
    box.run(command["create"], user=user)
    assert _added(box) == first, "a second apply changes nothing"
    ours = sorted(line.removesuffix(f" comment '{tag}'") for line in first if line.endswith(f"'{tag}'"))
    # One rule per source and protocol, its ports as one list in ufw's own order (sorted).
    expected = [f"allow from {source} to any port {ports} proto {proto}" for ports, proto in
                (("2377,7946", "tcp"), ("4789,7946", "udp"))
                for source in ("10.20.0.10", "172.16.100.7")]  # fmt: skip
    expected.remove(admin_rule)  # left to the administrator, not taken over
    expected += ["deny 2377,7946/tcp", "deny 4789,7946/udp"]
    assert ours == sorted(expected)
    assert admin_rule in first
    _assert_allows_before_denies(box)
    # Strangers are refused by the rules themselves, whatever ufw's default policy is.
    assert (
        "-A ufw-user-input -p tcp -m multiport --dports 2377,7946 -j DROP"
        in box.run("iptables -S ufw-user-input").stdout
    )

    assert box.run(command["delete"], user=user).returncode == 0
    assert _added(box) == [admin_rule]
    assert box.run(command["delete"], user=user).returncode == 0  # deleting what is gone is fine


def test_changed_sources_replace_the_rules_create_before_delete(firewall_namespace: Sandbox) -> None:
    box = firewall_namespace
    old = _swarm_command({"allowedSources": ["172.16.113.0/24"]}, host="w")
    new = _swarm_command({"allowedSources": ["172.16.113.0/24", "10.20.0.128/25"]}, host="w")
    old_tag, new_tag = _tag(old["create"]), _tag(new["create"])
    assert old_tag != new_tag
    box.run(old["create"])
    box.run(new["create"])  # Pulumi's replacement: the new command is created first ...
    box.run(old["delete"])  # ... then the old one deleted
    rules = _added(box)
    assert rules and all(line.endswith(f" comment '{new_tag}'") for line in rules)
    sources = {"10.20.0.10", "172.16.100.7", "172.16.113.0/24", "10.20.0.128/25"}
    allowed = {line.split()[2] for line in rules if line.startswith("allow from")}
    assert allowed == sources
    assert len(rules) == 2 * len(sources) + 2  # a worker: 7946/tcp, and 4789,7946/udp
    _assert_allows_before_denies(box)
    box.run(new["delete"])
    assert _added(box) == []


def test_rules_an_earlier_version_wrote_one_per_port_are_replaced_by_one_per_protocol(
    firewall_namespace: Sandbox,
) -> None:
    """Before, the script wrote a rule per port (and a tag without the rule form): the new command
    goes in first, taking over the rules whose text is the same, then the old one's delete
    removes what is left of the old set; no port is open in between or after."""
    box = firewall_namespace
    command = _swarm_command({"allowedSources": []}, host="w")
    new_tag, old_tag = _tag(command["create"]), "wipp:multi:swarm:0123456789"
    sources = ("10.20.0.10", "172.16.100.7")
    for port, proto in (("7946", "tcp"), ("7946", "udp"), ("4789", "udp")):
        for source in sources:
            box.run(f"ufw prepend allow from {source} to any port {port} proto {proto} comment '{old_tag}'")
        box.run(f"ufw deny {port}/{proto} comment '{old_tag}'")
    assert box.run(command["create"]).returncode == 0
    _assert_allows_before_denies(box)
    assert box.run(command["delete"].replace(new_tag, old_tag)).returncode == 0  # the old rule set's delete
    rules = _added(box)
    assert all(line.endswith(f" comment '{new_tag}'") for line in rules), rules
    expected = [f"allow from {source} to any port {ports} proto {proto}" for ports, proto in
                (("7946", "tcp"), ("4789,7946", "udp")) for source in sources]  # fmt: skip
    assert sorted(line.removesuffix(f" comment '{new_tag}'") for line in rules) == sorted(
        [*expected, "deny 7946/tcp", "deny 4789,7946/udp"]
    )
    _assert_allows_before_denies(box)


def test_missing_ufw_is_a_clear_error(firewall_namespace: Sandbox) -> None:
    script = _swarm_command({})["create"]
    result = firewall_namespace.run(f"PATH=/nonexistent; {script}")
    assert result.returncode != 0
    assert "ufw is not installed" in result.stderr and "wipp:manageFirewall false" in result.stderr


def test_the_script_never_enables_or_disables_ufw(tmp_path: Path) -> None:
    """ufw stays as the administrator left it: inactive here, where the rules are stored but not enforced."""
    with _ufw_sandbox(tmp_path, readme_sudo_commands(), enable=False) as box:
        assert "Status: inactive" in box.run("ufw status").stdout
        command = _swarm_command({})
        applied = box.run(command["create"], user=USER)
        assert applied.returncode == 0 and "ufw is inactive" in applied.stderr, applied.stderr
        assert _added(box) and "Status: inactive" in box.run("ufw status").stdout
        assert box.run(command["delete"], user=USER).returncode == 0
        assert not _added(box) and "Status: inactive" in box.run("ufw status").stdout


@pytest.mark.parametrize("removed", ["ufw", "sh"])
def test_a_user_without_one_of_the_readmes_sudo_commands_fails(tmp_path: Path, removed: str) -> None:
    sudo = [name for name in readme_sudo_commands() if name != removed]
    assert len(sudo) == len(readme_sudo_commands()) - 1, f"{removed} is not in the README's list"
    with _ufw_sandbox(tmp_path, sudo) as box:
        result = box.run(_swarm_command({})["create"], user=USER)
        assert result.returncode != 0, result.stderr
        assert not _added(box)

"""The firewall script, run for real with ufw inside a network namespace this test creates.

`ip netns exec` bind-mounts /etc/netns/<ns>/ufw over /etc/ufw for the commands it
runs, so ufw keeps its rules in a copy and applies them to the namespace's own
iptables: the machine's firewall and its /etc/ufw are never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import run_program

RunInNamespace = Callable[..., subprocess.CompletedProcess[str]]


def _root_iptables() -> str:
    return subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def firewall_namespace() -> Iterator[RunInNamespace]:
    if os.geteuid() != 0 or not shutil.which("ufw") or not shutil.which("ip"):
        reason = "needs root, ufw and iproute2 to make a network namespace (.ci/run installs them)"
        if os.environ.get("WIPP_REQUIRE_ENGINE") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"wippfw-{os.getpid()}"
    etc = Path("/etc/netns") / name
    created_parent = not etc.parent.exists()
    root_rules_before = _root_iptables()
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        shutil.copytree("/etc/ufw", etc / "ufw", symlinks=True)
        (etc / "ufw" / "sysctl.conf").write_text("")  # no kernel settings from this test

        def run(script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
            return subprocess.run(
                ["ip", "netns", "exec", name, "/bin/sh", "-c", script],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=check,
            )

        run("ufw --force enable")
        yield run
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(etc, ignore_errors=True)
        if created_parent:
            shutil.rmtree(etc.parent, ignore_errors=True)
    assert _root_iptables() == root_rules_before, "the machine's own iptables rules changed"


def _added(run: RunInNamespace) -> list[str]:
    lines = run("ufw show added").stdout.splitlines()[1:]
    return [line.removeprefix("ufw ") for line in lines if line != "(None)"]


def _swarm_command(overrides: dict[str, object], host: str = "m") -> dict[str, str]:
    hosts = [
        {"name": "m", "address": "10.20.0.10", "role": "manager"},
        {"name": "w", "address": "172.16.100.7", "role": "worker"},
    ]
    return run_program("multi", {"hosts": hosts, **overrides}).named(f"firewall-{host}-swarm-ports").inputs


def _tag(script: str) -> str:
    return script.split("\nTAG=")[1].split("\n")[0]


def _assert_allows_before_denies(run: RunInNamespace) -> None:
    rules = [line for line in run("iptables -S ufw-user-input").stdout.splitlines() if line.startswith("-A")]
    verdicts = [line.rsplit(" ", 1)[1] for line in rules]
    first_drop = verdicts.index("DROP")
    assert "ACCEPT" not in verdicts[first_drop:], rules


def test_swarm_ports_limited_to_the_cluster_and_removed_without_the_administrators_rules(
    firewall_namespace: RunInNamespace,
) -> None:
    run = firewall_namespace
    admin_rule = "allow from 172.16.100.7 to any port 7946 proto tcp"  # identical to one of ours, untagged
    run(f"ufw {admin_rule}")
    command = _swarm_command({"allowedSources": []})
    tag = _tag(command["create"])
    run(command["create"])
    first = _added(run)
    run(command["create"])
    assert _added(run) == first, "a second apply changes nothing"
    ours = sorted(line.removesuffix(f" comment '{tag}'") for line in first if line.endswith(f"'{tag}'"))
    expected = [f"allow from {source} to any port {port} proto {proto}" for port, proto in
                (("2377", "tcp"), ("7946", "tcp"), ("7946", "udp"), ("4789", "udp"))
                for source in ("10.20.0.10", "172.16.100.7")]  # fmt: skip
    expected.remove(admin_rule)  # left to the administrator, not taken over
    expected += ["deny 2377/tcp", "deny 7946/tcp", "deny 7946/udp", "deny 4789/udp"]
    assert ours == sorted(expected)
    assert admin_rule in first
    _assert_allows_before_denies(run)
    # Strangers are refused by the rules themselves, whatever ufw's default policy is.
    assert "-A ufw-user-input -p tcp -m tcp --dport 2377 -j DROP" in run("iptables -S ufw-user-input").stdout

    run(command["delete"])
    assert _added(run) == [admin_rule]
    assert run(command["delete"]).returncode == 0  # deleting what is gone is fine


def test_changed_sources_replace_the_rules_create_before_delete(firewall_namespace: RunInNamespace) -> None:
    run = firewall_namespace
    old = _swarm_command({"allowedSources": ["172.16.113.0/24"]}, host="w")
    new = _swarm_command({"allowedSources": ["172.16.113.0/24", "10.20.0.128/25"]}, host="w")
    old_tag, new_tag = _tag(old["create"]), _tag(new["create"])
    assert old_tag != new_tag
    run(old["create"])
    run(new["create"])  # Pulumi's replacement: the new command is created first ...
    run(old["delete"])  # ... then the old one deleted
    rules = _added(run)
    assert rules and all(line.endswith(f" comment '{new_tag}'") for line in rules)
    sources = {"10.20.0.10", "172.16.100.7", "172.16.113.0/24", "10.20.0.128/25"}
    allowed = {line.split()[2] for line in rules if line.startswith("allow from")}
    assert allowed == sources
    assert len(rules) == 3 * len(sources) + 3  # a worker: 7946/tcp, 7946/udp, 4789/udp
    _assert_allows_before_denies(run)
    run(new["delete"])
    assert _added(run) == []


def test_missing_ufw_is_a_clear_error(firewall_namespace: RunInNamespace) -> None:
    script = _swarm_command({})["create"]
    result = firewall_namespace(f"PATH=/nonexistent; {script}", check=False)
    assert result.returncode != 0
    assert "ufw is not installed" in result.stderr and "wipp:manageFirewall false" in result.stderr

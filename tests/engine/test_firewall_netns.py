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


def _user_rules(run: RunInNamespace) -> list[str]:
    return [line for line in run("iptables -S ufw-user-input").stdout.splitlines() if line.startswith("-A")]


def test_multi_host_manager_rules_twice_then_removed(firewall_namespace: RunInNamespace) -> None:
    run = firewall_namespace
    ufw = run_program(
        "multi",
        {
            "allowedSources": ["192.0.2.0/24", "198.51.100.0/24"],
            "hosts": [
                {"name": "m", "address": "192.0.2.10", "role": "manager"},
                {"name": "w", "address": "198.51.100.7", "role": "worker"},
            ],
        },
    )
    command = ufw.named("firewall-m-ufw").inputs
    run(command["create"])
    first = _user_rules(run)
    second_run = run(command["create"])
    assert "Skipping adding existing rule" in second_run.stderr
    assert _user_rules(run) == first  # no duplicates
    # 6 rules (2377/tcp, 7946/tcp, 7946/udp, 4789/udp, 18080/tcp, 15005/tcp) x 2 sources
    assert len(first) == 12 and len(set(first)) == 12
    assert "-A ufw-user-input -s 192.0.2.0/24 -p tcp -m tcp --dport 2377 -j ACCEPT" in first
    assert "-A ufw-user-input -s 198.51.100.0/24 -p udp -m udp --dport 4789 -j ACCEPT" in first
    added = run("ufw show added").stdout
    assert added.count("ufw allow from 192.0.2.0/24 to any port 18080 proto tcp") == 1

    run(command["delete"])
    assert _user_rules(run) == []
    again = run(command["delete"])  # deleting what is gone is fine
    assert again.returncode == 0


def test_single_host_opens_the_two_ports_from_anywhere(firewall_namespace: RunInNamespace) -> None:
    run = firewall_namespace
    command = run_program("single").named("firewall-wipp-host-ufw").inputs
    run(command["create"])
    assert _user_rules(run) == [
        "-A ufw-user-input -p tcp -m tcp --dport 18080 -j ACCEPT",
        "-A ufw-user-input -p tcp -m tcp --dport 15005 -j ACCEPT",
    ]
    run(command["delete"])
    assert _user_rules(run) == []


def test_missing_ufw_is_a_clear_error(firewall_namespace: RunInNamespace) -> None:
    script = run_program("single").named("firewall-wipp-host-ufw").inputs["create"]
    result = firewall_namespace(f"PATH=/nonexistent; {script}", check=False)
    assert result.returncode != 0
    assert "ufw is not installed" in result.stderr and "wipp:manageFirewall false" in result.stderr

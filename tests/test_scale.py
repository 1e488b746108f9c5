"""Scale on paper: the dependency graph's longest chain does not grow with the number of hosts."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import cache

from harness import Deployment, Registered, run_program


def _hosts(count: int) -> list[dict[str, str]]:
    manager = {"name": "manager", "address": "10.20.0.1", "role": "manager"}
    workers = [
        {"name": f"worker-{i}", "address": f"10.20.{i // 250}.{i % 250 + 2}", "role": "worker"}
        for i in range(count - 1)
    ]
    return [manager, *workers]


def _registered(count: int) -> tuple[Deployment, float]:
    started = time.perf_counter()
    deployment = run_program("multi", {"hosts": _hosts(count), "allowedSources": ["10.20.0.0/16"]})
    return deployment, time.perf_counter() - started


def _longest_chain(deployment: Deployment) -> list[str]:
    """The longest path of resources, each depending on the one before (names, first to last)."""
    by_urn = {r.urn: r for r in deployment.resources}

    def waits_for(resource: Registered) -> list[str]:
        # Its dependencies, and the provider it is created through (a reference "URN::ID").
        provider = resource.provider.rsplit("::", 1)[0] if resource.provider else ""
        return [d for d in [*resource.dependencies, provider] if d in by_urn]

    @cache
    def chain(urn: str) -> tuple[str, ...]:
        before = [chain(d) for d in waits_for(by_urn[urn])]
        longest_before = max(before, key=len) if before else ()
        return (*longest_before, by_urn[urn].name)

    longest = max((chain(urn) for urn in by_urn), key=len)
    return list(longest)


def _generic(name: str) -> str:
    """A resource name with the host's name taken out, so chains of different hosts compare equal."""
    for prefix in ("worker-", "manager"):
        if prefix in name:
            return name.split(prefix)[0] + "<host>"
    return name


def test_the_longest_chain_is_the_same_for_3_and_50_hosts(report_line: Callable[[str], None]) -> None:
    small, small_seconds = _registered(3)
    large, large_seconds = _registered(50)
    report_line(f"program evaluation: 3 hosts {small_seconds:.2f} s, 50 hosts {large_seconds:.2f} s")
    assert len(large.of_type("command:remote:Command")) > len(small.of_type("command:remote:Command"))
    small_chain, large_chain = _longest_chain(small), _longest_chain(large)
    assert len(large_chain) == len(small_chain)
    assert [_generic(n) for n in large_chain] == [_generic(n) for n in small_chain]
    assert small_chain[-3:] == ["exec", "exec-running", "web-answers"]  # the services, then the web wait, end it


def test_hosts_firewalls_and_joins_do_not_wait_for_each_other() -> None:
    deployment, _ = _registered(50)
    commands = deployment.of_type("command:remote:Command")
    per_host = [r for r in commands if r.name.startswith(("swarm-join-", "firewall-worker-"))]
    host_of = {
        r.urn: re.sub(r"^(swarm-join-|firewall-)|(-swarm-ports|-published-ports)$", "", r.name) for r in per_host
    }
    assert len(per_host) == 49 * 3  # a join, swarm-ports and published-ports command for each worker
    assert len(set(host_of.values())) == 49
    for resource in per_host:
        others = {urn for urn, host in host_of.items() if host != host_of[resource.urn]}
        assert not others & set(resource.dependencies), f"{resource.name} waits for another host's step"

"""The personal stack applied to the manager engine: WIPP answers on 127.0.0.1 and nowhere else.

Applied through the provider stand-in (see provider_standin.py), with the stand-in images; the
port binding itself is the real Docker Engine's.
"""

from __future__ import annotations

from docker_api import wait_until
from engine_hosts import EngineHost, engine_overrides
from harness import run_program
from provider_standin import ProviderStandIn

WEB, DASHBOARD = 18281, 18282  # apart from the other engine tests' ports
NAMES = {key: f"personal-{key}" for key in ("wippdb", "wippdata", "pegasusdb", "pegasusdata")}


def _answers_from(client: EngineHost, address: str) -> bool:
    """Whether the web port at `address` answers a client in `client`'s network namespace."""
    return client.engine.http_get(WEB, "/", address) is not None


def test_the_personal_stack_answers_on_localhost_only(
    manager: EngineHost, worker: EngineHost, swarm: str, images: list[str]
) -> None:
    overrides = engine_overrides(
        manager,
        bindAddress="127.0.0.1",
        webPort=WEB,
        dashboardPort=DASHBOARD,
        storage={"mode": "volume", "names": NAMES},
        deleteDataOnDestroy=True,
    )
    deployment = run_program("personal", overrides)
    assert deployment.outputs["webUrl"] == f"http://localhost:{WEB}"
    standin = ProviderStandIn(manager.engine)
    try:
        standin.up(deployment)
        wait_until(lambda: _answers_from(manager, "127.0.0.1"), 60, 0.5, "wipp on 127.0.0.1")
        # The stand-in web container resolved and reached master and mongodb over the overlay.
        report = manager.engine.http_get(WEB, "/report.txt") or ""
        assert "master=master" in report and "mongodb=mongodb" in report
        assert not _answers_from(manager, manager.address)  # the host's own network address
        assert not _answers_from(worker, manager.address)  # another machine on the network
        container = manager.engine.request("GET", "/containers/wipp/json")
        bindings = container["HostConfig"]["PortBindings"]
        assert {b["HostIp"] for ports in bindings.values() for b in ports} == {"127.0.0.1"}
    finally:
        standin.destroy()
    assert "wipp" not in {c["Names"][0].strip("/") for c in manager.engine.request("GET", "/containers/json")}

"""The test world's registries and air-gapped host are what the other engine tests take them for.

- the engines pull Docker Hub names through the registry (their --registry-mirror), and the
  digest look-up (`GET /distribution/<image>/json`) asks it too; what it sent is counted per client;
- a link to it can be shaped, and the shaping reported and removed;
- the lab registry refuses a pull without a login and serves one with it, and never logs the password;
- the air-gapped host pulls nothing, and holds what `docker save` / `docker load` bring it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

import standin_images
from docker_api import Engine
from engine_hosts import EngineHost
from isolated_engine import isolated_engine
from registry import PORT, Registry, mac_of


def _probe_layer(workdir: Path) -> Path:
    """A layer of 3 MB of random bytes no other test pushed: its pull must fetch it from the registry."""
    workdir.mkdir(parents=True, exist_ok=True)
    return standin_images.padding_layer(workdir, f"probe-{secrets.token_hex(4)}", 3_000_000)


def _repo_digests(engine: Engine, image: str) -> list[str]:
    digests: list[str] = json.loads(engine.cli("image", "inspect", "--format", "{{json .RepoDigests}}", image).stdout)
    return digests


def test_the_engines_pull_docker_hub_names_through_the_registry(
    manager: EngineHost, worker: EngineHost, registry: Registry, images: list[str], tmp_path: Path
) -> None:
    tag = f"probe-{secrets.token_hex(4)}"
    layer = _probe_layer(tmp_path)
    digest = registry.push("wipp/registry-probe", tag, [layer], {"Entrypoint": ["/probe"]})
    image = f"wipp/registry-probe:{tag}"
    before = registry.bytes_served()
    # The digest look-up the program's provider makes before creating a service, on the manager.
    lookup = manager.engine.request("GET", f"/distribution/{image}/json")
    assert lookup["Descriptor"]["digest"] == digest
    worker.engine.cli("pull", image)
    try:
        assert f"wipp/registry-probe@{digest}" in _repo_digests(worker.engine, image)
        sent = {client: n - before.get(client, 0) for client, n in registry.bytes_served().items()}
        assert sent.get(worker.address, 0) >= layer.stat().st_size
        assert sent.get(manager.address, 0) < layer.stat().st_size  # the look-up fetched a manifest, no layer
        asked = {(r["http.request.remoteaddr"].rsplit(":", 1)[0], r["http.request.uri"]) for r in registry.requests()}
        assert (manager.address, f"/v2/wipp/registry-probe/manifests/{tag}") in asked
    finally:
        worker.engine.cli("image", "rm", image)
    # Every stand-in the other tests deploy is in the registry under its Docker Hub name.
    for name in images:
        assert registry.has(*standin_images.hub_repository(name)), name


def test_a_shaped_link_reports_its_rate_and_unshapes(registry: Registry) -> None:
    link = registry.links[0]
    shown = link.shape("100mbit")
    try:
        assert "tbf" in shown and "rate 100Mbit" in shown, shown
        assert link.rate == "100mbit"
    finally:
        link.unshape()
    shown_after = subprocess.run(
        ["tc", "-n", registry.netns, "qdisc", "show", "dev", link.registry_end], capture_output=True, text=True
    ).stdout
    assert "tbf" not in shown_after and link.rate is None


def test_the_lab_registry_needs_a_login_and_never_logs_the_password(
    manager: EngineHost, login_registry: Registry, tmp_path: Path
) -> None:
    assert login_registry.credentials is not None
    user, password = login_registry.credentials
    host = f"{login_registry.links[0].registry_address}:{PORT}"
    image = f"{host}/wipp/wipp:2.2.0"
    refused = manager.engine.cli("pull", image, check=False)
    assert refused.returncode != 0
    assert "no basic auth credentials" in refused.stderr or "unauthorized" in refused.stderr, refused.stderr
    config = tmp_path / "docker-config"
    login = manager.engine.cli("--config", str(config), "login", host, "-u", user, "--password-stdin", stdin=password)
    assert "Login Succeeded" in login.stdout, login
    try:
        manager.engine.cli("--config", str(config), "pull", image)
        assert manager.engine.cli("image", "inspect", image, check=False).returncode == 0
    finally:
        manager.engine.cli("image", "rm", image, check=False)
    assert password not in login_registry.log.read_text(errors="replace")
    assert password not in login_registry.config.read_text()  # only its bcrypt hash is on disk


def test_the_air_gapped_host_pulls_nothing_and_loads_what_was_saved(
    manager: EngineHost, images: list[str], tmp_path: Path
) -> None:
    with isolated_engine() as air_gapped:
        refused = air_gapped.engine.cli("pull", "mongo:3.4", check=False)
        assert refused.returncode != 0 and "network is unreachable" in refused.stderr, refused.stderr
        manager.engine.cli("pull", "mongo:3.4")
        archive = tmp_path / "mongo.tar"
        manager.engine.cli("save", "--output", str(archive), "mongo:3.4")
        air_gapped.engine.cli("load", "--input", str(archive))
        image_id = "{{.Id}}"
        loaded = air_gapped.engine.cli("image", "inspect", "--format", image_id, "mongo:3.4").stdout
        assert loaded == manager.engine.cli("image", "inspect", "--format", image_id, "mongo:3.4").stdout
        # Loaded by hand: the image has no registry digest there (what the program must handle on such a host).
        assert _repo_digests(air_gapped.engine, "mongo:3.4") == []


def _connects(namespace: str, address: str) -> bool:
    """Whether a TCP connection from `namespace` (a path under /run/netns) to address:PORT opens within 3 s."""
    probe = f"import socket; socket.create_connection(({address!r}, {PORT}), 3).close()"
    done = subprocess.run(
        ["nsenter", f"--net={namespace}", "python3", "-c", probe], capture_output=True, text=True, timeout=30
    )
    return done.returncode == 0


def _neighbour_mac(namespace: str, address: str) -> str:
    shown = subprocess.run(
        ["nsenter", f"--net={namespace}", "ip", "-j", "neigh", "show", address],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    entries = json.loads(shown.stdout or "[]")
    return str(entries[0].get("lladdr", "")) if entries else ""


def test_a_registry_started_again_at_the_same_address_is_reached_at_once(manager: EngineHost, tmp_path: Path) -> None:
    """Each session starts its own registry at the same address: the second one, on the same MAC,
    answers the manager's namespace at once, whose neighbour entry still holds the first one's."""
    lan, bridge, namespace = (
        os.environ["WIPP_TEST_LAN_NETNS"],
        os.environ["WIPP_TEST_LAN_BRIDGE"],
        os.environ["WIPP_TEST_MANAGER_NETNS"],
    )
    address = "10.231.0.102"  # free on the lan: the registries are .100 and .101, the engines .1 and .2
    macs = []
    for attempt in ("first", "second"):
        made = Registry.start(tmp_path / attempt)
        try:
            made.connect(lan, address, bridge=bridge)
            assert _connects(namespace, address), f"the {attempt} registry does not answer at once"
            macs.append(_neighbour_mac(namespace, address))
        finally:
            made.stop()
    assert macs[0] == macs[1] == mac_of(address), macs

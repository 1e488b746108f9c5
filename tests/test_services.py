"""WippServices: the four services' specs and the order Pulumi creates them in."""

from __future__ import annotations

from harness import Deployment, run_program

from components.wipp import SERVICE_NAMES as ORDER


def _spec(deployment: Deployment, service: str) -> dict:
    return deployment.named(service).inputs["taskSpec"]["containerSpec"]


def test_images_follow_the_version_and_the_mongo_image() -> None:
    deployment = run_program("single", {"version": "2.1.0", "mongoImage": "mongo:3.6"})
    images = {s: _spec(deployment, s)["image"] for s in ORDER}
    assert images == {
        "mongodb": "mongo:3.6",
        "master": "wipp/wipp_master:2.1.0",
        "wipp": "wipp/wipp:2.1.0",
        "exec": "wipp/wipp_executor:2.1.0",
    }


def test_names_and_arguments_are_the_seed_scripts() -> None:
    deployment = run_program("single", {"memory": "12G"})
    assert [deployment.named(s).inputs["name"] for s in ORDER] == list(ORDER)
    assert _spec(deployment, "master")["args"] == ["-m"]
    assert _spec(deployment, "wipp")["args"] == ["master", "mongodb"]
    assert _spec(deployment, "exec")["args"] == ["-e", "master", "12G"]
    assert "args" not in _spec(deployment, "mongodb")


def test_argument_overrides_fill_placeholders() -> None:
    deployment = run_program("single", {"memory": "8G", "serviceArgs": {"exec": ["--memory={memory}", "{master}"]}})
    assert _spec(deployment, "exec")["args"] == ["--memory=8G", "master"]
    assert _spec(deployment, "wipp")["args"] == ["master", "mongodb"]


def test_volume_mounts_per_service() -> None:
    deployment = run_program("single")
    mounts = {s: [(m["type"], m["source"], m["target"]) for m in _spec(deployment, s).get("mounts", [])] for s in ORDER}
    pegasus_and_data = [
        ("volume", "wippdatavolume", "/data/WIPP"),
        ("volume", "pegasusdbvolume", "/home/wipp/.pegasus"),
        ("volume", "pegasusdatavolume", "/data/pegasus-workflows"),
    ]
    assert mounts == {
        "mongodb": [("volume", "wippdbvolume", "/data/db")],
        "master": [],
        "wipp": pegasus_and_data,
        "exec": pegasus_and_data,
    }


def test_bind_mounts_and_target_overrides() -> None:
    deployment = run_program("multi", {"mountTargets": {"wippdata": "/srv/wipp"}})
    assert _spec(deployment, "mongodb")["mounts"] == [
        {"type": "bind", "source": "/mnt/wipp-shared/wippdbvolume", "target": "/data/db"}
    ]
    assert _spec(deployment, "exec")["mounts"][0] == {
        "type": "bind",
        "source": "/mnt/wipp-shared/wippdatavolume",
        "target": "/srv/wipp",
    }


def test_only_wipp_publishes_web_and_dashboard() -> None:
    deployment = run_program("single")
    ports = deployment.named("wipp").inputs["endpointSpec"]["ports"]
    assert [(p["name"], p["publishedPort"], p["targetPort"], p["publishMode"], p["protocol"]) for p in ports] == [
        ("web", 18080, 8080, "ingress", "tcp"),
        ("dashboard", 15005, 5005, "ingress", "tcp"),
    ]
    for service in ("mongodb", "master", "exec"):
        assert deployment.named(service).inputs["endpointSpec"] == {"mode": "vip"}
    assert deployment.named("wipp").inputs["endpointSpec"]["mode"] == "vip"


def test_dnsrr_endpoint_mode_for_kernels_without_ipvs() -> None:
    deployment = run_program("single", {"publishMode": "host", "endpointMode": "dnsrr"})
    for service in ORDER:
        assert deployment.named(service).inputs["endpointSpec"]["mode"] == "dnsrr"


def test_host_publish_mode_pins_wipp_to_the_manager() -> None:
    deployment = run_program("single", {"publishMode": "host", "webPort": 28080, "containerPorts": {"web": 8081}})
    wipp = deployment.named("wipp").inputs
    assert {p["publishMode"] for p in wipp["endpointSpec"]["ports"]} == {"host"}
    assert wipp["endpointSpec"]["ports"][0]["publishedPort"] == 28080
    assert wipp["endpointSpec"]["ports"][0]["targetPort"] == 8081
    assert wipp["taskSpec"]["placement"]["constraints"] == ["node.id==node-swarm-init-wipp-host"]
    assert "placement" not in run_program("single").named("wipp").inputs["taskSpec"]


def test_every_service_is_on_the_overlay_network_by_id() -> None:
    deployment = run_program("single")
    for service in ORDER:
        assert deployment.named(service).inputs["taskSpec"]["networksAdvanceds"] == [{"id": "net-wippnet"}]
        assert deployment.named("network-overlay").urn in deployment.named(service).dependencies


def test_converge_settings_default_and_override() -> None:
    for service in ORDER:
        assert run_program("single").named(service).inputs["convergeConfig"] == {"delay": "1s", "timeout": "20m"}
    custom = run_program("single", {"convergeInterval": "500ms", "convergeTimeout": "1h"})
    assert custom.named("exec").inputs["convergeConfig"] == {"delay": "500ms", "timeout": "1h"}


def test_dependency_chain_mongodb_master_wipp_exec() -> None:
    for stack in ("single", "multi"):
        deployment = run_program(stack)
        for before, after in zip(ORDER, ORDER[1:], strict=False):
            assert deployment.named(before).urn in deployment.named(after).dependencies, (stack, before, after)
        # and never backwards
        assert deployment.named("exec").urn not in deployment.named("mongodb").dependencies
        assert deployment.named("wipp").urn not in deployment.named("master").dependencies


def test_services_wait_for_storage_and_network() -> None:
    deployment = run_program("multi")
    mongodb = deployment.named("mongodb").dependencies
    assert deployment.named("storage-folders-wipp-manager").urn in mongodb
    assert deployment.named("storage-check-wipp-worker-2").urn in mongodb


def test_mongodb_updates_stop_first_and_no_memory_limits_are_invented() -> None:
    deployment = run_program("single")
    assert deployment.named("mongodb").inputs["updateConfig"] == {"order": "stop-first"}
    for service in ORDER:
        assert "resources" not in deployment.named(service).inputs["taskSpec"]
    for service in ("master", "wipp", "exec"):
        assert "updateConfig" not in deployment.named(service).inputs


def test_services_use_the_manager_docker_provider() -> None:
    deployment = run_program("multi")
    provider = deployment.named("swarm-manager")
    assert provider.inputs["host"] == "ssh://ubuntu@192.0.2.10:22"
    for service in ORDER:
        assert deployment.named(service).provider.startswith(provider.urn + "::")
    assert run_program("single").named("swarm-manager").inputs["host"] == "unix:///var/run/docker.sock"

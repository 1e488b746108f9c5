"""WippServices: the four services' specs and the order Pulumi creates them in."""

from __future__ import annotations

import re
from typing import Any

from harness import Deployment, mock_digest, run_program, script_variables

from components.wipp import SERVICE_NAMES as ORDER


def _spec(deployment: Deployment, service: str) -> dict[str, Any]:
    spec: dict[str, Any] = deployment.named(service).inputs["taskSpec"]["containerSpec"]
    return spec


def test_images_follow_the_version_and_the_mongo_image_pinned_to_the_pulled_digest() -> None:
    deployment = run_program("single", {"version": "2.1.0", "mongoImage": "mongo:3.6"})
    configured = {
        "mongodb": "mongo:3.6",
        "master": "wipp/wipp_master:2.1.0",
        "wipp": "wipp/wipp:2.1.0",
        "exec": "wipp/wipp_executor:2.1.0",
    }
    # Each service runs name:tag@digest, the digest the first manager's pull of that image printed.
    assert {s: _spec(deployment, s)["image"] for s in ORDER} == {
        s: f"{i}@{mock_digest(i)}" for s, i in configured.items()
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
        assert deployment.named("network-wippnet").urn in deployment.named(service).dependencies


def _wait_variables(deployment: Deployment, service: str) -> dict[str, str]:
    """The input variables of `<service>-running`, the wait after `service` (rendered NAME='value' lines)."""
    script = deployment.named(f"{service}-running").inputs["create"]
    return dict(re.findall(r"^([A-Z_]+)='?([^'\n]*)'?$", script, re.MULTILINE))


def test_each_wait_watches_its_own_service_image_and_the_converge_settings() -> None:
    default = run_program("single", {"version": "2.1.0"})
    for service in ORDER:
        wait = _wait_variables(default, service)
        assert (wait["SERVICE"], wait["IMAGE"]) == (service, _spec(default, service)["image"])
        assert (wait["TIMEOUT_S"], wait["INTERVAL_S"]) == ("1200", "0.5")  # 20m and 500ms
        assert wait["SERVICE_ID"] == f"{service}-id"  # the service's own ID (the mocks' one)
    custom = _wait_variables(run_program("single", {"convergeInterval": "2s", "convergeTimeout": "1m30s"}), "exec")
    assert (custom["TIMEOUT_S"], custom["INTERVAL_S"]) == ("90", "2")


def test_a_changed_spec_changes_only_that_services_wait() -> None:
    def digests(overrides: dict[str, str]) -> dict[str, str]:
        deployment = run_program("single", overrides)
        return {service: _wait_variables(deployment, service)["SPEC_DIGEST"] for service in ORDER}

    before, more_memory, moved = digests({"memory": "4G"}), digests({"memory": "8G"}), digests({"network": "labnet"})
    assert {s for s in ORDER if before[s] != more_memory[s]} == {"exec"}
    assert all(before[s] != moved[s] for s in ORDER)


def test_dependency_chain_mongodb_master_wipp_exec() -> None:
    for stack in ("single", "multi"):
        deployment = run_program(stack)
        for before, after in zip(ORDER, ORDER[1:], strict=False):
            # Each service waits for the wait after the one before, which waits for that service.
            wait = deployment.named(f"{before}-running")
            assert deployment.named(before).urn in wait.dependencies, (stack, before)
            assert wait.urn in deployment.named(after).dependencies, (stack, before, after)
        # and never backwards
        assert deployment.named("exec-running").urn not in deployment.named("mongodb").dependencies
        assert deployment.named("wipp-running").urn not in deployment.named("master").dependencies


def test_services_wait_for_storage_and_network() -> None:
    deployment = run_program("multi")
    mongodb = deployment.named("mongodb").dependencies
    assert deployment.named("storage-folders-wipp-manager").urn in mongodb
    assert deployment.named("storage-check-wipp-worker-2").urn in mongodb


def test_failed_updates_roll_back_and_no_memory_limits_are_invented() -> None:
    deployment = run_program("single")
    for service in ORDER:
        inputs = deployment.named(service).inputs
        assert inputs["updateConfig"] == {"order": "stop-first", "failureAction": "rollback", "monitor": "5s"}
        assert inputs["rollbackConfig"] == {"order": "stop-first", "monitor": "5s"}
        assert "resources" not in inputs["taskSpec"]
        assert "convergeConfig" not in inputs  # the wait is the program's own, after each service


def test_services_use_the_manager_docker_provider() -> None:
    deployment = run_program("multi")
    provider = deployment.named("swarm-manager")
    assert provider.inputs["host"] == "ssh://ubuntu@10.20.0.10:22"
    for service in ORDER:
        assert deployment.named(service).provider.startswith(provider.urn + "::")
    assert run_program("single").named("swarm-manager").inputs["host"] == "unix:///var/run/docker.sock"


def test_every_task_keeps_idle_connections_alive_under_ipvss_900_s() -> None:
    """Each task's own network namespace gets a keepalive time below IPVS's idle timeout (900 s):
    a container does not inherit the host's sysctl."""
    for stack, overrides in (("multi", {}), ("single", {"endpointMode": "vip"})):
        deployment = run_program(stack, overrides)
        for service in ORDER:
            spec = deployment.named(service).inputs["taskSpec"]["containerSpec"]
            assert spec["sysctl"] == {"net.ipv4.tcp_keepalive_time": "600"}, (stack, service)
    personal = run_program("personal").named("wipp")  # the web workload as a plain container
    assert personal.type == "docker:index/container:Container"
    assert personal.inputs["sysctls"] == {"net.ipv4.tcp_keepalive_time": "600"}


def test_each_service_gets_a_stop_grace_period_that_fits_it_and_mongodb_the_longest() -> None:
    deployment = run_program("single")
    grace = {service: _spec(deployment, service)["stopGracePeriod"] for service in ORDER}
    assert grace == {"mongodb": "2m", "master": "30s", "wipp": "30s", "exec": "1m"}
    bound = run_program("personal").named("wipp")
    assert bound.type == "docker:index/container:Container" and bound.inputs["stopTimeout"] == 30


def test_mongo_user_runs_only_mongod_as_that_user_and_changes_only_its_wait() -> None:
    """wipp:mongoUser (shared folders on NFS with root_squash): mongodb's container runs as that
    user, so mongo's image skips the chown it does as root; every other service keeps its image's user."""
    default = run_program("multi")
    assert {service: _spec(default, service).get("user") for service in ORDER} == dict.fromkeys(ORDER)
    squashed = run_program("multi", {"mongoUser": "1000:1000"})
    users = {service: _spec(squashed, service).get("user") for service in ORDER}
    assert users == {"mongodb": "1000:1000", "master": None, "wipp": None, "exec": None}
    changed = {
        service
        for service in ORDER
        if _wait_variables(squashed, service)["SPEC_DIGEST"] != _wait_variables(default, service)["SPEC_DIGEST"]
    }
    assert changed == {"mongodb"}  # the wait runs again for the one service that changed


def test_every_service_and_the_wipp_container_carry_the_stacks_label() -> None:
    deployment = run_program("single")
    for service in ORDER:
        assert deployment.named(service).inputs["labels"] == [{"label": "wipp.stack", "value": "wipp/single"}]
    personal = run_program("personal")
    assert personal.named("wipp").inputs["labels"] == [{"label": "wipp.stack", "value": "wipp/personal"}]


def test_every_input_of_a_service_changes_its_waits_digest() -> None:
    """The digest covers the service's whole spec, not a hand-kept list: each change below reaches it."""

    def digests(overrides: dict[str, object]) -> dict[str, str]:
        deployment = run_program("single", overrides)
        return {service: _wait_variables(deployment, service)["SPEC_DIGEST"] for service in ORDER}

    base = digests({})
    changes = {
        "containerPorts": {"web": 8081},  # the input SPEC_DIGEST left out before
        "webPort": 28080,
        "mountTargets": {"wippdata": "/srv/wipp"},
        "publishMode": "host",
        "serviceArgs": {"master": ["-m", "--verbose"]},
    }
    expected = {
        "containerPorts": {"wipp"},
        "webPort": {"wipp"},
        "mountTargets": {"wipp", "exec"},
        "publishMode": {"wipp"},
        "serviceArgs": {"master"},
    }
    for key, value in changes.items():
        changed = digests({key: value})
        assert {s for s in ORDER if changed[s] != base[s]} == expected[key], key


def test_up_ends_with_a_wait_until_the_web_and_dashboard_ports_answer() -> None:
    deployment = run_program("single", {"convergeTimeout": "5m", "webPort": 28080, "dashboardPort": 25005})
    wait = deployment.named("web-answers")
    variables = script_variables(wait.inputs["create"])
    assert (variables["ADDRESS"], variables["WEB_PORT"], variables["DASHBOARD_PORT"]) == ("127.0.0.1", "28080", "25005")
    assert (variables["TIMEOUT_S"], variables["INTERVAL_S"]) == ("300", "0.5")
    assert deployment.named("exec-running").urn in wait.dependencies
    assert wait.type == "command:local:Command"  # on the first manager, here this machine
    # It runs again whenever any service changes (here exec's memory).
    digest = script_variables(run_program("single", {"memory": "8G"}).named("web-answers").inputs["create"])
    assert (
        digest["SERVICES_DIGEST"]
        != script_variables(run_program("single").named("web-answers").inputs["create"])["SERVICES_DIGEST"]
    )
    # With a bind address it asks there; on several hosts, on the first manager over SSH, at its address.
    assert script_variables(run_program("personal").named("web-answers").inputs["create"])["ADDRESS"] == "127.0.0.1"
    multi = run_program("multi").named("web-answers")
    assert multi.inputs["connection"]["host"] == "10.20.0.10"
    assert script_variables(multi.inputs["create"])["ADDRESS"] == "10.20.0.10"


def test_a_replaced_wipp_container_is_gone_before_the_new_one_binds() -> None:
    assert run_program("personal").named("wipp").delete_before_replace


def test_service_names_of_their_own_reach_the_swarm_the_arguments_and_the_waits() -> None:
    names = {"mongodb": "lab2-mongodb", "master": "lab2-master", "wipp": "lab2-wipp", "exec": "lab2-exec"}
    deployment = run_program("single", {"serviceNames": names, "memory": "4G"})
    assert {s: deployment.named(s).inputs["name"] for s in ORDER} == names
    assert _spec(deployment, "wipp")["args"] == ["lab2-master", "lab2-mongodb"]
    assert _spec(deployment, "exec")["args"] == ["-e", "lab2-master", "4G"]
    assert {s: _wait_variables(deployment, s)["SERVICE"] for s in ORDER} == names
    assert deployment.outputs["services"] == names
    assert run_program("personal", {"serviceNames": names}).named("wipp").inputs["name"] == "lab2-wipp"


def test_a_bind_address_switch_frees_the_ports_of_the_old_form_before_wipp_starts() -> None:
    for stack, form in (("single", "service"), ("personal", "container")):
        deployment = run_program(stack, {"containerPorts": {"web": 8081}})
        handover = deployment.named("wipp-handover")
        variables = script_variables(handover.inputs["create"])
        assert (variables["FORM"], variables["NAME"], variables["OWNER"]) == (form, "wipp", f"wipp/{stack}")
        assert variables["TARGET_PORTS"] == "8081 5005"
        assert handover.urn in deployment.named("wipp").dependencies
        assert deployment.named("master-running").urn in handover.dependencies
    # It runs again exactly when the form changes: its script differs between the two.
    switched = run_program("personal", {"bindAddress": ""}).named("wipp-handover").inputs["create"]
    assert script_variables(switched)["FORM"] == "service"
    assert run_program("personal").named("wipp-handover").inputs["create"] != switched

"""ImagePulls: each image pulled on every host that may run it, early, and the services pinned to its digest."""

from __future__ import annotations

import json

from harness import Deployment, mock_digest, run_program, script_variables

from components.images import familiar
from components.wipp import SERVICE_NAMES as ORDER

CONFIGURED = {
    "mongodb": "mongo:3.4",
    "master": "wipp/wipp_master:2.2.0",
    "wipp": "wipp/wipp:2.2.0",
    "exec": "wipp/wipp_executor:2.2.0",
}
MULTI_HOSTS = ("wipp-manager", "wipp-worker-1", "wipp-worker-2")


def _pull(deployment: Deployment, service: str, host: str) -> dict[str, str]:
    return script_variables(deployment.named(f"images-{service}-{host}").inputs["create"])


def _pulls(deployment: Deployment) -> list[str]:
    return sorted(r.name for r in deployment.resources if r.name.startswith("images-"))


def test_single_pulls_each_image_once_on_the_manager_by_its_tag() -> None:
    deployment = run_program("single")
    assert _pulls(deployment) == sorted(f"images-{s}-wipp-host" for s in ORDER)
    for service, image in CONFIGURED.items():
        pull = _pull(deployment, service, "wipp-host")
        assert (pull["IMAGE"], pull["PINNED"], pull["LOGIN"], pull["REGISTRY"]) == (image, "", "false", "")
        assert deployment.named(f"images-{service}-wipp-host").inputs.get("stdin") is None


def test_services_and_their_waits_run_the_digest_the_first_manager_resolved() -> None:
    deployment = run_program("multi")
    for service, image in CONFIGURED.items():
        pinned = f"{image}@{mock_digest(image)}"
        assert deployment.named(service).inputs["taskSpec"]["containerSpec"]["image"] == pinned
        wait = script_variables(deployment.named(f"{service}-running").inputs["create"])
        assert wait["IMAGE"] == pinned
        assert deployment.outputs["images"][service] == pinned


def test_the_other_hosts_pull_the_first_managers_digest_after_it() -> None:
    deployment = run_program("multi")  # ingress: any node may run any service
    assert _pulls(deployment) == sorted(f"images-{s}-{h}" for s in ORDER for h in MULTI_HOSTS)
    for service, image in CONFIGURED.items():
        first = deployment.named(f"images-{service}-wipp-manager")
        for worker in MULTI_HOSTS[1:]:
            assert _pull(deployment, service, worker)["PINNED"] == f"{image}@{mock_digest(image)}"
            assert first.urn in deployment.named(f"images-{service}-{worker}").dependencies
            assert deployment.named(f"images-{service}-{worker}").type == "command:remote:Command"


def test_a_service_pinned_to_the_manager_is_pulled_there_only() -> None:
    names = _pulls(run_program("multi", {"publishMode": "host", "endpointMode": "dnsrr"}))
    assert [n for n in names if n.startswith("images-wipp-")] == ["images-wipp-wipp-manager"]
    assert "images-exec-wipp-worker-2" in names
    personal = run_program("personal")  # wipp as a container bound to 127.0.0.1, on this machine
    assert _pulls(personal) == sorted(f"images-{s}-workstation" for s in ORDER)
    assert personal.named("wipp").inputs["image"] == f"wipp/wipp:2.2.0@{mock_digest('wipp/wipp:2.2.0')}"


def test_pulls_start_after_the_preflight_beside_the_firewall_and_the_swarm() -> None:
    deployment = run_program("multi")
    preflight = {r.urn for r in deployment.resources if r.name.startswith("preflight-")}
    later = {r.urn for r in deployment.resources if r.name.startswith(("firewall-", "swarm-", "storage-", "network-"))}
    for name in _pulls(deployment):
        dependencies = set(deployment.named(name).dependencies)
        assert preflight <= dependencies, name
        assert not dependencies & later, name


def test_no_service_changes_before_its_image_and_every_later_one_is_on_every_host() -> None:
    deployment = run_program("multi")
    for position, service in enumerate(ORDER):
        dependencies = set(deployment.named(service).dependencies)
        needed = {deployment.named(f"images-{s}-{h}").urn for s in ORDER[position:] for h in MULTI_HOSTS}
        assert needed <= dependencies, service
        earlier = {deployment.named(f"images-{s}-{h}").urn for s in ORDER[:position] for h in MULTI_HOSTS}
        assert not earlier & dependencies, service  # those came before, through the chain


def test_the_wait_fails_fast_and_reports_progress() -> None:
    wait = script_variables(run_program("single").named("wipp-running").inputs["create"])
    assert (wait["FAILED_IN_A_ROW"], wait["PROGRESS_S"]) == ("3", "30")


def test_a_lab_registry_prefixes_every_image_that_names_no_registry() -> None:
    deployment = run_program("single", {"imageRegistry": "registry.lab.example:5000/mirror"})
    pulled = {s: _pull(deployment, s, "wipp-host")["IMAGE"] for s in ORDER}
    assert pulled == {s: f"registry.lab.example:5000/mirror/{i}" for s, i in CONFIGURED.items()}
    own = run_program("single", {"imageRegistry": "registry.lab", "mongoImage": "other.example:443/db/mongo:3.4"})
    assert _pull(own, "mongodb", "wipp-host")["IMAGE"] == "other.example:443/db/mongo:3.4"
    assert _pull(own, "exec", "wipp-host")["IMAGE"] == "registry.lab/wipp/wipp_executor:2.2.0"


def test_registry_credentials_travel_only_as_a_secret_on_the_pulls_stdin() -> None:
    overrides = {"imageRegistry": "registry.lab:5000", "registryUser": "lab-puller", "registryPassword": "s3cret-pw"}
    deployment = run_program("multi", overrides)
    for name in _pulls(deployment):
        pull = deployment.named(name)
        variables = script_variables(pull.inputs["create"])
        assert (variables["LOGIN"], variables["REGISTRY"]) == ("true", "registry.lab:5000")
        assert pull.inputs["stdin"] == "lab-puller\ns3cret-pw\n"
        assert "stdin" in pull.secret_inputs()
    for resource in deployment.resources:
        visible = {key: value for key, value in resource.inputs.items() if key != "stdin"}
        assert "s3cret-pw" not in json.dumps(visible, default=str), resource.name
    assert "s3cret-pw" not in json.dumps(deployment.outputs) and deployment.secret_outputs == set()
    # Without imageRegistry the pulls log in to Docker Hub.
    hub = run_program("single", {"registryUser": "lab-puller", "registryPassword": "s3cret-pw"})
    assert _pull(hub, "mongodb", "wipp-host")["REGISTRY"] == "docker.io"


def test_services_get_the_image_in_the_docker_clients_familiar_form() -> None:
    """The client stores docker.io/library/mongo:3.4 as mongo:3.4: the service's input must read back equal."""
    for configured, runs in {
        "docker.io/library/mongo:3.4": "mongo:3.4",
        "index.docker.io/library/mongo:3.4": "mongo:3.4",
        "docker.io/bitnami/mongodb:3.4": "bitnami/mongodb:3.4",
        "registry.lab:5000/mongo:3.4": "registry.lab:5000/mongo:3.4",
        "mongo": "mongo",  # with a digest, Docker adds no tag
    }.items():
        deployment = run_program("single", {"mongoImage": configured})
        assert _pull(deployment, "mongodb", "wipp-host")["IMAGE"] == configured  # pulled as configured
        spec = deployment.named("mongodb").inputs["taskSpec"]["containerSpec"]["image"]
        assert spec == f"{runs}@{mock_digest(configured)}", configured
    # Without a registry digest (an image loaded by hand) the tag is explicit, as Docker makes it.
    assert [familiar(r) for r in ("mongo", "docker.io/library/mongo", "localhost/x")] == [
        "mongo:latest",
        "mongo:latest",
        "localhost/x:latest",
    ]

"""Images from the test world's registry (issue 19) through the real engine and providers.

The stand-ins are in the registry only (the `images` fixture pushed them and removed them from the
engines); the manager's engine pulls them through its Docker Hub mirror, as a lab's hosts do. Each
test starts from the state it needs, so any test passes when run alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import standin_images
from docker_api import Engine, wait_until
from engine_hosts import EngineHost
from isolated_engine import isolated_engine
from pulumi_cli import PulumiHome, PulumiProject, Timed
from registry import Registry
from single_stack import VOLUMES, SilenceMeter, new_project, on_private_engine, remove_volumes, wait_for_web

from components.wipp import SERVICE_NAMES

BASE = {"version": "2.2.0", "memory": "4G"}
UPGRADED = ("master", "wipp", "exec")


@pytest.fixture(scope="module")
def project(
    pulumi_home: PulumiHome, manager: EngineHost, images: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PulumiProject]:
    made = new_project(pulumi_home, tmp_path_factory.mktemp("registry-single"), manager)
    made.set_config(on_private_engine(manager, **BASE))
    yield made
    made.destroy(check=False)
    remove_volumes(manager, VOLUMES)


@pytest.fixture
def fresh(project: PulumiProject, manager: EngineHost, images: list[str]) -> PulumiProject:
    """Nothing deployed, no volumes, and no stand-in on the engine: every image comes from the registry."""
    project.set_config(on_private_engine(manager, **BASE))
    project.destroy()
    remove_volumes(manager, VOLUMES)
    remove_images(manager.engine, images)
    return project


def remove_images(engine: Engine, tags: list[str]) -> None:
    """These tags off the engine (the first manager pulls by tag, so that is what its pulls left)."""
    present = [tag for tag in tags if engine.cli("image", "inspect", tag, check=False).returncode == 0]
    if present:
        engine.cli("image", "rm", "--force", *present)  # old tasks' stopped containers hold them otherwise


def spec_images(engine: Engine) -> dict[str, str]:
    return {name: s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] for name, s in engine.services().items()}


def task_ids(engine: Engine) -> dict[str, set[str]]:
    tasks = engine.request("GET", "/tasks", query={"filters": json.dumps({"desired-state": ["running"]})})
    found: dict[str, set[str]] = {}
    for task in tasks:
        found.setdefault(task["ServiceID"], set()).add(task["ID"])
    return found


def registry_digest(engine: Engine, image: str) -> str:
    """The digest the engine recorded for `image` when it pulled it (its RepoDigests)."""
    repository = image.rsplit(":", 1)[0]
    digests: list[str] = json.loads(engine.cli("image", "inspect", "--format", "{{json .RepoDigests}}", image).stdout)
    return next(d.split("@", 1)[1] for d in digests if d.split("@", 1)[0] == repository)


def pulls_and_updates(up: Timed, services: tuple[str, ...]) -> tuple[float, float]:
    """When the last image pull ended, and when the first of `services` began, by the engine's events."""
    steps = up.steps()
    pulls_end = max(end for name, (_, _, end) in steps.items() if name.startswith("images-"))
    first_update = min(steps[name][1] for name in services)
    return pulls_end, first_update


def test_a_fresh_up_from_the_registry_pins_digests_and_a_second_up_restarts_nothing(
    fresh: PulumiProject, manager: EngineHost, registry: Registry
) -> None:
    served_before = registry.bytes_served().get(manager.address, 0)
    up = fresh.up()
    assert set(up.operations().values()) == {"create"}
    pulled = registry.bytes_served().get(manager.address, 0) - served_before
    print(f"fresh up from the registry: pulumi up {up.seconds:.1f} s; the manager pulled {pulled} bytes")
    wait_for_web(manager)

    # Every service runs name:tag@digest, the digest the engine pulled; the outputs show it.
    outputs, specs = fresh.outputs(), spec_images(manager.engine)
    for service, image in outputs["images"].items():
        tag, digest = image.split("@", 1)
        assert digest == registry_digest(manager.engine, tag) and digest.startswith("sha256:"), image
        assert specs[service] == image
    assert outputs["images"]["exec"].startswith("wipp/wipp_executor:2.2.0@sha256:")

    # What the provider read back is what the program asked for: nothing to change, nothing restarted.
    fresh.preview("--expect-no-changes")
    fresh.refresh("--expect-no-changes")
    tasks = task_ids(manager.engine)
    again = fresh.up()
    assert set(again.operations().values()) == {"same"}
    assert task_ids(manager.engine) == tasks


def test_an_upgrade_pulls_every_new_image_before_it_updates_any_service(
    project: PulumiProject, manager: EngineHost, images: list[str]
) -> None:
    project.set_config(on_private_engine(manager, **{**BASE, "version": "2.1.0"}))
    project.up()
    wait_for_web(manager, "version=2.1.0")
    before = {name: service["ID"] for name, service in manager.engine.services().items()}
    remove_images(manager.engine, [tag for tag in images if tag.endswith(":2.2.0")])  # in the registry only

    project.set_config(on_private_engine(manager, **BASE))
    with SilenceMeter(manager) as meter:
        up = project.up()
    changed = {name: op for name, op in up.operations().items() if op != "same"}
    assert set(changed.values()) == {"update"}
    # Besides the pulls, services and waits: the preflight (its disk check for the new images), the
    # backup before the first service changes, and the wait until WIPP answers after the last.
    pulled = {n for s in UPGRADED for n in (f"images-{s}-wipp-host", s, f"{s}-running")}
    assert set(changed) == pulled | {"backup-before-upgrade", "web-answers", "preflight-wipp-host"}
    assert {name: service["ID"] for name, service in manager.engine.services().items()} == before
    pulls_end, first_update = pulls_and_updates(up, UPGRADED)
    print(
        f"upgrade with pulls (stand-ins, unpadded): web silent {meter.silent_seconds:.1f} s; "
        f"pulumi up {up.seconds:.1f} s; pulls ended {pulls_end:.1f} s, "
        f"first service update began {first_update:.1f} s after the CLI started"
    )
    assert pulls_end < first_update
    assert meter.answers, "the web port never answered during the upgrade"
    wait_for_web(manager, "version=2.2.0")


# Each form, and what the swarm then runs (as the Docker client keeps it: no docker.io/library/).
MONGO_FORMS = {
    "mongo": "mongo@DIGEST",
    "mongo:latest": "mongo:latest@DIGEST",
    "docker.io/library/mongo:3.4": "mongo:3.4@DIGEST",
    "REGISTRY/mongo:3.4": "REGISTRY/mongo:3.4@DIGEST",
    "mongo:3.4@DIGEST": "mongo:3.4@DIGEST",
}


def test_every_mongo_image_form_deploys(
    project: PulumiProject, manager: EngineHost, registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """One stack moved through every form in turn (each an update of mongodb, judged by its wait),
    then back: what the swarm runs, and a clean preview, after each."""
    rootfs = standin_images.root_filesystem(tmp_path_factory.mktemp("mongo-forms"))
    config = {"Entrypoint": ["/bin/sh", "/standin/mongodb.sh"], "Env": ["STANDIN_VERSION=3.4", "PATH=/bin"]}
    digest = registry.push("library/mongo", "3.4", [rootfs], config)
    registry.push("library/mongo", "latest", [rootfs], config)
    registry.push("mongo", "3.4", [rootfs], config)  # as a lab registry holds it: registry/mongo:3.4
    try:
        for form, runs in MONGO_FORMS.items():
            image = form.replace("REGISTRY", registry.links[0].host).replace("DIGEST", digest)
            project.set_config(on_private_engine(manager, **{**BASE, "mongoImage": image}))
            project.up()
            wait_until(lambda: manager.engine.running_tasks("mongodb") == 1, 60, 0.2, f"mongodb running {image}")
            expected = runs.replace("REGISTRY", registry.links[0].host).replace("DIGEST", digest)
            assert spec_images(manager.engine)["mongodb"] == expected, form
            project.preview("--expect-no-changes")
    finally:
        project.set_config(on_private_engine(manager, **BASE))
    project.up()


def _fails_before_any_service_changes(project: PulumiProject, manager: EngineHost, expected: list[str]) -> None:
    versions = {name: service["Version"]["Index"] for name, service in manager.engine.services().items()}
    with SilenceMeter(manager) as meter:
        failed = project.up(check=False)
    print(next((line for line in failed.output.splitlines() if "cannot pull" in line), failed.output[-2000:]))
    assert failed.returncode != 0
    for text in expected:
        assert text in failed.output, (text, failed.output)
    assert {name: service["Version"]["Index"] for name, service in manager.engine.services().items()} == versions
    assert not {op for name, op in failed.operations().items() if name in SERVICE_NAMES} - {"same"}
    assert meter.polls > 10 and meter.silent_seconds == 0.0


def test_an_unknown_tag_fails_at_its_pull_with_the_registrys_reason(
    project: PulumiProject, manager: EngineHost, images: list[str]
) -> None:
    project.set_config(on_private_engine(manager, **BASE))
    project.up()
    wait_for_web(manager)
    project.set_config(on_private_engine(manager, **{**BASE, "version": "9.9.9-unknown"}))
    try:
        expected = [
            "pull: wipp-host: cannot pull wipp/wipp_master:9.9.9-unknown: ",
            # The mirror's own answer (the tag it does not have), not only Docker Hub's fallback error.
            f"the registry mirror http://{os.environ['WIPP_TEST_REGISTRY_ADDR']}:5000/ answered: ",
            "wipp/wipp_master:9.9.9-unknown not found: manifest unknown",
            "Docker Hub, asked last, answered: ",
            "no service was changed",
        ]
        _fails_before_any_service_changes(project, manager, expected)
    finally:
        project.set_config(on_private_engine(manager, **BASE))
    # Set back: only the preflight runs again (it ran, and passed, for the unknown tag), as the README says.
    back = project.up()
    assert {name: op for name, op in back.operations().items() if op != "same"} == {"preflight-wipp-host": "update"}
    project.preview("--expect-no-changes")


def test_a_stopped_registry_fails_the_upgrade_before_any_service_changes(
    project: PulumiProject, manager: EngineHost, registry: Registry, images: list[str]
) -> None:
    project.set_config(on_private_engine(manager, **{**BASE, "version": "2.1.0"}))
    project.up()
    wait_for_web(manager, "version=2.1.0")
    remove_images(manager.engine, [tag for tag in images if tag.endswith(":2.2.0")])
    project.set_config(on_private_engine(manager, **BASE))
    registry.stop_serving()
    try:
        mirror = f"http://{os.environ['WIPP_TEST_REGISTRY_ADDR']}:5000/"
        _fails_before_any_service_changes(
            project,
            manager,
            [
                "pull: wipp-host: cannot pull wipp/wipp_master:2.2.0: ",
                f"the registry mirror {mirror} answered: ",  # the mirror that refused, named
                "connection refused",
                "no service was changed",
            ],
        )
    finally:
        registry.serve()
    project.up()
    wait_for_web(manager, "version=2.2.0")


def test_a_registry_that_requires_a_login_is_reached_with_the_secret_and_the_secret_stays_hidden(
    project: PulumiProject, manager: EngineHost, login_registry: Registry
) -> None:
    assert login_registry.credentials is not None
    user, password = login_registry.credentials
    lab = login_registry.links[0].host
    project.destroy()
    try:
        project.set_config(on_private_engine(manager, **{**BASE, "imageRegistry": lab, "registryUser": user}))
        project.set_secret("registryPassword", password)
        up = project.up()
        wait_for_web(manager)
        assert all(
            image.startswith(f"{lab}/") and "@sha256:" in image for image in spec_images(manager.engine).values()
        )
        project.preview("--expect-no-changes")
        events = "".join(path.read_text() for path in project.dir.parent.glob("events-*.jsonl"))
        texts = {
            "stack export": project.export(),
            "stack file": project.stack_file.read_text(),
            "outputs": json.dumps(project.outputs()),
            "up output": up.output,
            "event logs": events,
        }
        for where, text in texts.items():
            assert password not in text, where
        assert "wipp:registryPassword" in texts["stack file"] and "secure:" in texts["stack file"]
    finally:
        project.destroy(check=False)
        project.cli("config", "rm", "wipp:registryPassword", "--stack", project.stack, check=False)
        project.set_config(on_private_engine(manager, **BASE))


def test_the_readmes_air_gapped_procedure_deploys_with_the_tags(
    pulumi_home: PulumiHome, manager: EngineHost, images: list[str], tmp_path: Path
) -> None:
    """docker save where the images can be pulled, docker load on a host that reaches no registry, up."""
    archive = tmp_path / "wipp-images.tar"
    wanted = standin_images.save_for_air_gap(manager.engine, images, archive)
    with isolated_engine() as air_gapped:
        air_gapped.engine.cli("load", "--input", str(archive))
        (tmp_path / "air-gapped").mkdir()
        gapped = new_project(pulumi_home, tmp_path / "air-gapped", air_gapped)
        gapped.set_config(on_private_engine(air_gapped, **BASE))
        try:
            up = gapped.up()
            wait_for_web(air_gapped)
            notes = [line for line in up.output.splitlines() if "has no registry digest" in line]
            assert len({line.split("note: ")[1].split(" has ")[0] for line in notes}) == 4, notes  # once per image
            assert spec_images(air_gapped.engine) == dict(zip(SERVICE_NAMES, wanted, strict=True))
            assert gapped.outputs()["images"] == dict(zip(SERVICE_NAMES, wanted, strict=True))
            gapped.preview("--expect-no-changes")
            gapped.refresh("--expect-no-changes")
        finally:
            gapped.destroy(check=False)

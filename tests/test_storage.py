"""WippStorage: four volumes or four shared folders, and what destroy does to them."""

from __future__ import annotations

from harness import SHARED_STAMP, run_program, script_variables

from components.wipp import SEED_VOLUME_NAMES


def test_single_stack_makes_the_seed_volumes_and_keeps_them_on_destroy() -> None:
    deployment = run_program("single")
    volumes = deployment.of_type("docker:index/volume:Volume")
    assert {v.name.removeprefix("storage-"): v.inputs["name"] for v in volumes} == SEED_VOLUME_NAMES
    assert all(v.retain_on_delete for v in volumes)
    assert all(v.provider.startswith(deployment.named("swarm-manager").urn) for v in volumes)


def test_volumes_are_deleted_only_when_asked() -> None:
    volumes = run_program("single", {"deleteDataOnDestroy": True}).of_type("docker:index/volume:Volume")
    assert len(volumes) == 4 and not any(v.retain_on_delete for v in volumes)


def test_volume_names_can_be_overridden() -> None:
    deployment = run_program("single", {"storage": {"mode": "volume", "names": {"wippdb": "lab-db"}}})
    assert deployment.named("storage-wippdb").inputs["name"] == "lab-db"
    assert deployment.named("storage-wippdata").inputs["name"] == "wippdatavolume"


def test_multi_stack_prepares_shared_folders_on_the_manager_and_checks_them_elsewhere() -> None:
    deployment = run_program("multi")
    assert not deployment.of_type("docker:index/volume:Volume")
    prepare = deployment.named("storage-folders-wipp-manager")
    assert prepare.inputs["connection"]["host"] == "10.20.0.10"
    create, delete = (script_variables(prepare.inputs[k]) for k in ("create", "delete"))
    assert create["FOLDERS"].split("\n") == [
        "/mnt/wipp-shared/wippdbvolume",
        "/mnt/wipp-shared/wippdatavolume",
        "/mnt/wipp-shared/pegasusdbvolume",
        "/mnt/wipp-shared/pegasusdatavolume",
    ]
    # What the script does with these (owner 1000, the marker, keep or delete) is tested in test_scripts.py.
    assert create["MODE"] == "create" and delete["MODE"] == "delete" and delete["DELETE_DATA"] == "false"
    assert create["OWNER"] == delete["OWNER"] == "wipp:multi" and delete["FOLDERS"] == create["FOLDERS"]
    assert "STAMP" not in create  # the script makes the stamp itself, new at each run, and prints it
    for worker in ("wipp-worker-1", "wipp-worker-2"):
        check = deployment.named(f"storage-check-{worker}")
        # Each check is given exactly the stamp the manager's `create` printed (its last line).
        assert script_variables(check.inputs["create"]) == {**create, "MODE": "check", "STAMP": SHARED_STAMP}
        assert "delete" not in check.inputs  # a check never removes anything
        assert prepare.urn in check.dependencies


def test_shared_folders_are_deleted_only_when_asked() -> None:
    prepare = run_program("multi", {"deleteDataOnDestroy": True}).named("storage-folders-wipp-manager")
    assert script_variables(prepare.inputs["delete"])["DELETE_DATA"] == "true"


def test_every_host_makes_docker_wait_for_the_shared_folders_mounts_and_destroy_takes_it_away() -> None:
    deployment = run_program("multi")
    folders = script_variables(deployment.named("storage-folders-wipp-manager").inputs["create"])["FOLDERS"]
    waits = {r.name: r for r in deployment.resources if r.name.startswith("storage-mounts-")}
    assert sorted(waits) == [
        "storage-mounts-wipp-manager",
        "storage-mounts-wipp-worker-1",
        "storage-mounts-wipp-worker-2",
    ]
    for host, address in (
        ("wipp-manager", "10.20.0.10"),
        ("wipp-worker-1", "10.20.0.11"),
        ("wipp-worker-2", "10.20.0.12"),
    ):
        wait = waits[f"storage-mounts-{host}"]
        assert wait.inputs["connection"]["host"] == address
        apply, remove = (script_variables(wait.inputs[k]) for k in ("create", "delete"))
        assert apply == {**remove, "ACTION": "apply"} and remove["ACTION"] == "remove"
        assert apply["FOLDERS"] == folders and apply["TAG"] == "wipp:multi"
        assert apply["DROPIN"] == "/etc/systemd/system/docker.service.d/wipp-multi-mounts.conf"
    # The first service (each other one waits for the one before it) starts only after all of them.
    assert {w.urn for w in waits.values()} <= set(deployment.named("mongodb").dependencies)
    assert not [r for r in run_program("single").resources if r.name.startswith("storage-mounts-")]  # volumes

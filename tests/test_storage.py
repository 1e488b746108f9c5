"""WippStorage: four volumes or four shared folders, and what destroy does to them."""

from __future__ import annotations

import re

from harness import run_program

SEED_NAMES = {
    "wippdb": "wippdbvolume",
    "wippdata": "wippdatavolume",
    "pegasusdb": "pegasusdbvolume",
    "pegasusdata": "pegasusdatavolume",
}


def test_single_stack_makes_the_seed_volumes_and_keeps_them_on_destroy() -> None:
    deployment = run_program("single")
    volumes = deployment.of_type("docker:index/volume:Volume")
    assert {v.name.removeprefix("storage-"): v.inputs["name"] for v in volumes} == SEED_NAMES
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
    folders = re.search(r"^FOLDERS='(.*?)'$", prepare.inputs["create"], re.M | re.S)
    assert folders and folders.group(1).split("\n") == [
        "/mnt/wipp-shared/wippdbvolume",
        "/mnt/wipp-shared/wippdatavolume",
        "/mnt/wipp-shared/pegasusdbvolume",
        "/mnt/wipp-shared/pegasusdatavolume",
    ]
    assert "MODE=create\n" in prepare.inputs["create"]
    assert "chown 1000" in prepare.inputs["create"] and "chmod u+rwx,go+rx" in prepare.inputs["create"]
    assert "MODE=delete\n" in prepare.inputs["delete"] and "DELETE_DATA=false\n" in prepare.inputs["delete"]
    assert "OWNER=wipp:multi\n" in prepare.inputs["create"] and "OWNER=wipp:multi\n" in prepare.inputs["delete"]
    for worker in ("wipp-worker-1", "wipp-worker-2"):
        check = deployment.named(f"storage-check-{worker}")
        assert "MODE=check\n" in check.inputs["create"]
        assert "delete" not in check.inputs  # a check never removes anything
        assert prepare.urn in check.dependencies


def test_shared_folders_are_deleted_only_when_asked() -> None:
    prepare = run_program("multi", {"deleteDataOnDestroy": True}).named("storage-folders-wipp-manager")
    assert "DELETE_DATA=true\n" in prepare.inputs["delete"]

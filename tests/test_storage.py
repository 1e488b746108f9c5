"""WippStorage: four volumes or four shared folders, and what destroy does to them."""

from __future__ import annotations

import logging
import time

import pytest
from harness import SHARED_STAMP, assert_mentions, run_program, script_variables

from components.wipp import SEED_VOLUME_NAMES


def test_single_stack_makes_the_seed_volumes_and_keeps_them_on_destroy() -> None:
    deployment = run_program("single")
    volumes = deployment.of_type("docker:index/volume:Volume")
    assert {v.name.removeprefix("storage-"): v.inputs["name"] for v in volumes} == SEED_VOLUME_NAMES
    assert all(v.retain_on_delete for v in volumes)
    assert all(v.provider.startswith(deployment.named("swarm-manager").urn) for v in volumes)


def test_volumes_are_deleted_only_when_asked() -> None:
    for delete_data in (False, True):
        keeper = run_program("single", {"deleteDataOnDestroy": delete_data}).named("storage-volumes")
        assert script_variables(keeper.inputs["delete"])["DELETE_DATA"] == str(delete_data).lower()


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
    # mongodb's folder, where each host checks root may do what mongo's image does at its start (chown).
    assert create["MONGO_FOLDER"] == "/mnt/wipp-shared/wippdbvolume" and create["MONGO_USER"] == ""
    for worker in ("wipp-worker-1", "wipp-worker-2"):
        check = deployment.named(f"storage-check-{worker}")
        # Each check is given exactly the stamp the manager's `create` printed (its last line).
        # ... and waits at most 90 s for the shared storage to show it (an NFS client's cached view).
        expected = {**create, "MODE": "check", "STAMP": SHARED_STAMP, "SETTLE_S": "90"}
        assert script_variables(check.inputs["create"]) == expected
        assert "delete" not in check.inputs  # a check never removes anything
        assert prepare.urn in check.dependencies


def test_with_mongo_user_no_host_checks_that_root_may_chown_the_database_folder() -> None:
    deployment = run_program("multi", {"mongoUser": "1000:1000"})
    names = ["storage-folders-wipp-manager", "storage-check-wipp-worker-1", "storage-check-wipp-worker-2"]
    for name in names:
        assert script_variables(deployment.named(name).inputs["create"])["MONGO_USER"] == "1000:1000", name


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


def test_volumes_carry_the_stacks_label_set_once_and_pulumi_never_deletes_them() -> None:
    for delete_data in (False, True):
        deployment = run_program("single", {"deleteDataOnDestroy": delete_data})
        volumes = deployment.of_type("docker:index/volume:Volume")
        assert len(volumes) == 4
        for volume in volumes:
            assert volume.inputs["labels"] == [{"label": "wipp.stack", "value": "wipp/single"}]
            assert volume.retain_on_delete  # deleted, if asked, only by storage-volumes: only its own
            assert deployment.named("storage-volumes").urn in volume.dependencies
        keeper = deployment.named("storage-volumes")
        create, delete = (script_variables(keeper.inputs[k]) for k in ("create", "delete"))
        assert create["MODE"] == "create" and delete["MODE"] == "delete"
        assert delete["VOLUMES"].split("\n") == list(SEED_VOLUME_NAMES.values())
        assert delete["OWNER"] == "wipp/single" and delete["DELETE_DATA"] == str(delete_data).lower()


def test_an_adopted_volume_s_or_network_s_missing_label_is_no_drift() -> None:
    """Docker hands back a volume that was already there as it is, unlabelled; a network made before
    the program labelled them has none: labels are set when made and never compared again."""
    deployment = run_program("single")
    for volume in deployment.of_type("docker:index/volume:Volume"):
        assert volume.ignore_changes == ["labels"]
    network = deployment.named("network-wippnet")
    assert network.inputs["labels"] == [{"label": "wipp.stack", "value": "wipp/single"}]
    assert network.ignore_changes == ["labels"]


def test_a_renamed_volume_or_moved_folder_is_named_with_where_the_data_stays(caplog: pytest.LogCaptureFixture) -> None:
    before = {"storage": {"mode": "volume", "sources": SEED_VOLUME_NAMES}}
    caplog.set_level(logging.WARNING)
    run_program("single", {"storage": {"mode": "volume", "names": {"wippdb": "lab-db"}}}, preview=True, previous=before)
    notices = [r.getMessage() for r in caplog.records if "changes from" in r.getMessage()]
    assert len(notices) == 1  # wippdb only: the other three keep their volumes
    assert_mentions(
        notices[0],
        [
            "wipp:storage.names.wippdb changes from 'wippdbvolume' to 'lab-db'",
            "WIPP will start on the volume 'lab-db'",
            "the volume 'wippdbvolume' keeps its data and leaves this program's care",
            "docker volume rm wippdbvolume",
        ],
    )
    caplog.clear()
    run_program("single", preview=True, previous=before)  # nothing moves: nothing said
    assert not [r for r in caplog.records if "changes from" in r.getMessage()]
    run_program("single", preview=True)  # a new stack: no previous storage
    assert not [r for r in caplog.records if "changes from" in r.getMessage()]

    folders = run_program("multi").outputs["storage"]
    caplog.clear()
    moved = {**folders["sources"], "wippdata": "/mnt/wipp-shared/data2"}
    run_program("multi", {"storage": {"mode": "bind", "paths": moved}}, previous={"storage": folders})
    (notice,) = [r.getMessage() for r in caplog.records if "changes from" in r.getMessage()]
    assert_mentions(
        notice,
        [
            "wipp:storage.paths.wippdata changes from '/mnt/wipp-shared/wippdatavolume' to '/mnt/wipp-shared/data2'",
            "the folder '/mnt/wipp-shared/wippdatavolume' keeps its data",
        ],
    )


def test_the_read_of_the_last_outputs_is_tried_again_and_a_lasting_failure_only_warns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The file backend's state may be mid-write when the program reads it ("failed to load
    checkpoint: EOF", seen in CI): the read is tried again; if it never succeeds, `up` goes on."""
    import pulumi

    import components.storage as storage

    calls: list[str] = []
    warnings: list[str] = []
    answers: list[object] = []

    class Found:
        value = {"outputs": {"storage": {"mode": "volume"}}}

    def invoke(token: str, args: dict[str, str]) -> Found:
        calls.append(args["name"])
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Found()

    for name, value in (("get_organization", "organization"), ("get_project", "wipp"), ("get_stack", "single")):
        monkeypatch.setattr(pulumi, name, lambda value=value: value)
    monkeypatch.setattr(storage, "invoke", invoke)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    monkeypatch.setattr(pulumi.log, "warn", lambda text, *rest, **kw: warnings.append(text))
    answers[:] = [Exception("failed to load checkpoint: EOF"), Found()]
    assert storage.previous_storage() == {"mode": "volume"}
    assert calls == ["organization/wipp/single"] * 2 and not warnings
    answers[:] = [Exception("failed to load checkpoint: EOF")] * storage.READ_OUTPUTS_TRIES
    assert storage.previous_storage() is None
    assert len(warnings) == 1 and "failed to load checkpoint: EOF" in warnings[0] and "not announced" in warnings[0]

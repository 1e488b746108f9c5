"""WippStorage: where WIPP keeps its data, kept on destroy unless wipp:deleteDataOnDestroy.

Makes: in volume mode (one host), four `docker:index:Volume`s, retained on destroy; in bind mode
(several hosts), a `<name>-folders-<first manager>` command (scripts/shared-folders.sh) that makes
the four shared folders and a stamp in each, and a `<name>-check-<host>` command on every other
host that finds the same stamp, so a host without the shared storage mounted is stopped.
Depends on: every host's preflight and the ownership check (`after`, for its commands), the swarm
(the volumes, through the provider's options) and the hosts' connections. `sources`,
the mount source of each storage key, is known only once all of this is done: the services
that mount them wait for it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_docker as docker
from pulumi.runtime import invoke

from .host_command import HostConnection, host_command
from .scripts import render
from .wipp import STACK_LABEL, STORAGE_KEYS

DOCKER_DROPINS = "/etc/systemd/system/docker.service.d"
# How long another host's check may wait for the shared storage to show the first manager's stamp:
# an NFS client caches "no such folder" (from the preflight's look) for up to acdirmax, 60 s by default.
SHARED_STORAGE_SETTLE_S = 90


@dataclass
class WippStorageArgs:
    mode: str  # "volume" or "bind"
    # storage key -> volume name (volume mode) or absolute folder (bind mode)
    sources: dict[str, str]
    stack: str
    delete_data_on_destroy: bool
    # bind mode: the host that makes the shared folders, and the hosts that check they see them
    prepared_on: HostConnection | None = None
    checked_on: list[HostConnection] = field(default_factory=list)
    owner: str = ""  # volume mode: the label value of the volumes this stack creates (<project>/<stack>)
    # The `storage` output of this stack's last update ({mode, sources}), or None: to name a rename.
    previous: Any = None
    # bind mode: wipp:mongoUser. Empty, each host checks that root may change owners in the database
    # folder, as mongo's image does at every start (not on NFS with root_squash).
    mongo_user: str = ""
    # What must finish first (every host's preflight, the ownership check). A component's depends_on
    # does not reach its children, so the commands take it themselves.
    after: list[pulumi.Resource] = field(default_factory=list)


class WippStorage(pulumi.ComponentResource):
    """Named volumes (single host) or shared folders bind-mounted (several hosts).

    `sources` maps each storage key (wippdb, wippdata, pegasusdb, pegasusdata)
    to the mount source the services use; `mount_type` is "volume" or "bind".
    """

    mount_type: str
    sources: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: WippStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wipp:storage:WippStorage", name, None, opts)
        self._args = args
        self.mount_type = args.mode
        self.sources = self._volumes(name) if args.mode == "volume" else self._shared_folders(name)
        self._say_renames(args.previous)
        self.register_outputs({"mountType": self.mount_type, "sources": self.sources})

    def _say_renames(self, previous: Any) -> None:
        """A warning, at preview and in `up`, for each storage place that moves: WIPP starts on the new
        one, and the old one, named, keeps its data and leaves the program's care."""
        if not isinstance(previous, dict) or not isinstance(previous.get("sources"), dict):
            return  # a new stack, or one deployed before the program exported its storage
        args = self._args
        for key in STORAGE_KEYS:
            old, new = previous["sources"].get(key), args.sources[key]
            old_mode = str(previous.get("mode"))
            if not old or (old, old_mode) == (new, args.mode):
                continue
            pulumi.log.warn(_rename_notice(key, old_mode, old, args.mode, new), resource=self)

    def _volumes(self, name: str) -> dict[str, pulumi.Output[str]]:
        """Four named volumes. One this stack creates carries its label; one that was already there
        (setup.sh's, made by hand, another stack's) is used as Docker hands it back, unlabelled.

        Pulumi never deletes a volume (`retain_on_delete`): on destroy, `<name>-volumes` deletes,
        with deleteDataOnDestroy, only those whose label names this stack, like the folders' marker.
        """
        args = self._args
        assert args.prepared_on is not None, "volumes need the first manager, where they are deleted"
        names = "\n".join(args.sources[key] for key in STORAGE_KEYS)

        def script(mode: str) -> str:
            return render(
                "stack-volumes.sh",
                args.prepared_on.docker_host if args.prepared_on else None,
                MODE=mode,
                VOLUMES=names,
                OWNER=args.owner,
                DELETE_DATA=str(args.delete_data_on_destroy).lower(),
            )

        keeper = host_command(
            f"{name}-volumes",
            args.prepared_on,
            create=script("create"),
            delete=script("delete"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.after),
        )
        sources = {}
        for key in STORAGE_KEYS:
            volume = docker.Volume(
                f"{name}-{key}",
                name=args.sources[key],
                labels=[docker.VolumeLabelArgs(label=STACK_LABEL, value=args.owner)],
                # Set when the volume is made, and never compared again: a volume that was already
                # there keeps no label (Docker hands it back as it is), and that is no drift.
                opts=pulumi.ResourceOptions(
                    parent=self, retain_on_delete=True, ignore_changes=["labels"], depends_on=[keeper]
                ),
            )
            sources[key] = volume.name
        return sources

    def _shared_folders(self, name: str) -> dict[str, pulumi.Output[str]]:
        args = self._args
        assert args.prepared_on is not None, "bind storage needs a host to make the folders on"
        # One per line: the script splits on newlines only, and the paths were checked in config.
        folders = "\n".join(args.sources[key] for key in STORAGE_KEYS)
        owner = f"wipp:{args.stack}"

        def script(mode: str, delete_data: bool = False, **extra: str) -> str:
            return render(
                "shared-folders.sh",
                MODE=mode,
                FOLDERS=folders,
                DELETE_DATA=str(delete_data).lower(),
                OWNER=owner,
                MONGO_FOLDER=args.sources["wippdb"],
                MONGO_USER=args.mongo_user,
                **extra,
            )

        prepared = host_command(
            f"{name}-folders-{args.prepared_on.host_name}",
            args.prepared_on,
            create=script("create"),
            delete=script("delete", args.delete_data_on_destroy),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.after),
        )
        # `create` prints the stamp it wrote into every folder (the stack's tag and a token new at
        # each run, not a secret); each other host checks it finds that stamp, not a local folder.
        stamp = prepared.stdout.apply(lambda out: (out or "").strip().rpartition("\n")[2])
        checks = [
            host_command(
                f"{name}-check-{host.host_name}",
                host,
                create=stamp.apply(lambda value: script("check", STAMP=value, SETTLE_S=str(SHARED_STORAGE_SETTLE_S))),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[prepared]),
            )
            for host in args.checked_on
        ]
        waits = [self._docker_waits_for_mounts(name, host, folders) for host in [args.prepared_on, *args.checked_on]]
        ready = pulumi.Output.all(prepared.id, *[c.id for c in checks], *[w.id for w in waits])
        return {key: _once(ready, args.sources[key]) for key in STORAGE_KEYS}

    def _docker_waits_for_mounts(self, name: str, host: HostConnection, folders: str) -> pulumi.CustomResource:
        """On `host`, a docker.service drop-in that starts Docker only once the folders' mounts are up."""
        tag = f"wipp:{self._args.stack}"

        def script(action: str) -> str:
            return render(
                "docker-waits-for-mounts.sh",
                ACTION=action,
                FOLDERS=folders,
                DROPIN=f"{DOCKER_DROPINS}/wipp-{self._args.stack}-mounts.conf",
                TAG=tag,
            )

        return host_command(
            f"{name}-mounts-{host.host_name}",
            host,
            create=script("apply"),
            delete=script("remove"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=self._args.after),
        )


def _once(ready: pulumi.Output[list[str]], value: str) -> pulumi.Output[str]:
    """`value`, known only once `ready` is: a service that mounts it waits for the folders' checks."""
    return ready.apply(lambda _: value)


# How often the read of this stack's last outputs is tried: with the file backend the engine may be
# writing the state file while the program reads it (seen: "failed to load checkpoint: EOF").
READ_OUTPUTS_TRIES = 3


def previous_outputs() -> dict[str, Any]:
    """This stack's outputs from its last update, read from its state at preview and `up` alike (the
    engine's own `readStackOutputs`, which registers nothing: no refresh sees it change); {} for a new stack.

    Called first thing in the program, before any resource is registered, so that the engine is
    not writing the state yet; a read that still meets a state file being written is tried again,
    and if it never succeeds the run goes on with a warning: a renamed place is not announced, and a
    lost first manager is not noticed, in this run."""
    me = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    failure = ""
    for attempt in range(READ_OUTPUTS_TRIES):
        try:
            found = invoke("pulumi:pulumi:readStackOutputs", {"name": me})
        except Exception as error:  # the engine's error, as the SDK raises it
            failure = str(error)
            time.sleep(0.5 * (attempt + 1))
            continue
        outputs = (found.value or {}).get("outputs")
        return dict(outputs) if isinstance(outputs, dict) else {}
    pulumi.log.warn(
        f"could not read this stack's last outputs ({failure}): a renamed volume or folder is not announced, and a"
        " first manager that lost its swarm is not noticed, in this run"
    )
    return {}


def previous_storage() -> Any:
    """The `storage` output of this stack's last update, or None (see `previous_outputs`)."""
    return previous_outputs().get("storage")


def _rename_notice(key: str, old_mode: str, old: str, mode: str, new: str) -> str:
    place = {"volume": "volume", "bind": "folder"}
    config_key = f"wipp:storage.{'names' if mode == 'volume' else 'paths'}.{key}"
    old_place, new_place = f"the {place.get(old_mode, 'place')} {old!r}", f"the {place[mode]} {new!r}"
    remove = f"docker volume rm {old}" if old_mode == "volume" else f"rm -r {old}"
    return (
        f"{config_key} changes from {old!r} to {new!r}: WIPP will start on {new_place} (empty unless it "
        f"already holds data), and {old_place} keeps its data and leaves this program's care: `pulumi "
        f"destroy` and deleteDataOnDestroy no longer touch it. Copy its data over first if WIPP needs it; "
        f"delete it yourself ({remove}) once nothing needs it."
    )

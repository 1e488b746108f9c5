"""WippStorage: where WIPP keeps its data, kept on destroy unless wipp:deleteDataOnDestroy.

Makes: in volume mode (one host), four `docker:index:Volume`s, retained on destroy; in bind mode
(several hosts), a `<name>-folders-<first manager>` command (scripts/shared-folders.sh) that makes
the four shared folders and a stamp in each, and a `<name>-check-<host>` command on every other
host that finds the same stamp, so a host without the shared storage mounted is stopped.
Depends on: the swarm (through the provider's options) and the hosts' connections. `sources`,
the mount source of each storage key, is known only once all of this is done: the services
that mount them wait for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from .host_command import HostConnection, host_command
from .scripts import render
from .wipp import STORAGE_KEYS

DOCKER_DROPINS = "/etc/systemd/system/docker.service.d"


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
        self.register_outputs({"mountType": self.mount_type, "sources": self.sources})

    def _volumes(self, name: str) -> dict[str, pulumi.Output[str]]:
        keep = not self._args.delete_data_on_destroy
        sources = {}
        for key in STORAGE_KEYS:
            volume = docker.Volume(
                f"{name}-{key}",
                name=self._args.sources[key],
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=keep),
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
                **extra,
            )

        prepared = host_command(
            f"{name}-folders-{args.prepared_on.host_name}",
            args.prepared_on,
            create=script("create"),
            delete=script("delete", args.delete_data_on_destroy),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # `create` prints the stamp it wrote into every folder (the stack's tag and a token new at
        # each run, not a secret); each other host checks it finds that stamp, not a local folder.
        stamp = prepared.stdout.apply(lambda out: (out or "").strip().rpartition("\n")[2])
        checks = [
            host_command(
                f"{name}-check-{host.host_name}",
                host,
                create=stamp.apply(lambda value: script("check", STAMP=value)),
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
            opts=pulumi.ResourceOptions(parent=self),
        )


def _once(ready: pulumi.Output[list[str]], value: str) -> pulumi.Output[str]:
    """`value`, known only once `ready` is: a service that mounts it waits for the folders' checks."""
    return ready.apply(lambda _: value)

"""Backup: WIPP's four storage places saved on the first manager before any service changes its image."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from .durations import milliseconds
from .host_command import LONG_STEP_BOUND_S, HostConnection, host_command
from .scripts import render
from .wipp import SERVICE_NAMES, STORAGE_KEYS

# The places backed up as archives; wippdb is dumped through the mongodb service instead.
ARCHIVED = tuple(key for key in STORAGE_KEYS if key != "wippdb")
# The installed tools run as commands of their own (README: "Backups").
TOOL_HEADER = "#!/bin/sh\n# Installed by the WIPP Pulumi program (backup.sh); pulumi up writes it again.\n"


@dataclass
class BackupArgs:
    stack: str
    place: str  # wipp:backupPlace, a folder on the first manager
    keep: int  # wipp:backupKeep: how many of this stack's backups stay
    images: dict[str, str]  # the image each service is to run after this `up`
    mount_type: str  # "volume" or "bind"
    mount_sources: dict[str, pulumi.Input[str]]
    wipp_container: bool  # wipp:bindAddress set: the wipp workload is a container
    converge_interval: str
    converge_timeout: str
    manager: HostConnection
    # What must finish first: every image pull, so that a failed pull leaves no backup behind and the
    # backup is as fresh as it can be when the first service changes (pulls can take minutes).
    after: list[pulumi.Resource] = field(default_factory=list)


class Backup(pulumi.ComponentResource):
    """`backup-before-upgrade` on the first manager: every service depends on it, so it runs before any
    changes, and it runs after every image pull, right before the first service changes.

    Its script holds the target images, so Pulumi runs it again exactly when an image changes (and
    when one of its own settings does). The script compares the deployed images with the target:
    a backup only when one changes, none on a first deploy. A failed backup fails this resource, and
    Pulumi then updates no service. Each run also installs the by-hand tools into the backup place,
    `wipp-<stack>-backup` and `wipp-<stack>-restore` (see README, "Backups").
    """

    command: pulumi.Resource

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wipp:backup:Backup", name, None, opts)
        self._args = args
        sources = pulumi.Output.all(*[args.mount_sources[key] for key in ARCHIVED])
        self.command = host_command(
            f"{name}-before-upgrade",
            args.manager,
            create=sources.apply(self._script),
            bound_s=LONG_STEP_BOUND_S,  # a backup's time grows with the data
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.after),
        )
        self.register_outputs({"place": args.place})

    def _script(self, sources: list[str]) -> str:
        args = self._args
        common = {
            "STACK": args.stack,
            "PLACE": args.place,
            "STORAGE_TYPE": args.mount_type,
            "SOURCES": "\n".join(f"{key} {source}" for key, source in zip(ARCHIVED, sources, strict=True)),
            "WIPP_CONTAINER": str(args.wipp_container).lower(),
        }
        restore = render(
            "restore.sh",
            args.manager.docker_host,
            **common,
            TIMEOUT_S=str(max(1, round(milliseconds(args.converge_timeout) / 1000))),
            INTERVAL_S=f"{milliseconds(args.converge_interval) / 1000:g}",
        )
        by_hand = render("backup.sh", args.manager.docker_host, MODE="manual", KEEP=str(args.keep), **common)
        return render(
            "backup.sh",
            args.manager.docker_host,
            MODE="auto",
            KEEP=str(args.keep),
            **common,
            TARGET_IMAGES="\n".join(f"{service} {args.images[service]}" for service in SERVICE_NAMES),
            BACKUP_TOOL=TOOL_HEADER + by_hand,
            RESTORE_TOOL=TOOL_HEADER + restore,
        )

"""WippStorage: the four storage places, kept on destroy unless asked otherwise."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from .host_command import host_command
from .scripts import render
from .settings import Settings
from .wipp import STORAGE_KEYS


@dataclass
class WippStorageArgs:
    settings: Settings


class WippStorage(pulumi.ComponentResource):
    """Named volumes (single host) or shared folders bind-mounted (several hosts).

    `sources` maps each storage key (wippdb, wippdata, pegasusdb, pegasusdata)
    to the mount source the services use; `mount_type` is "volume" or "bind".
    """

    mount_type: str
    sources: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: WippStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wipp:storage:WippStorage", name, None, opts)
        settings = args.settings
        self.mount_type = settings.storage.mode
        if settings.storage.mode == "volume":
            self.sources = self._volumes(name, settings)
        else:
            self.sources = self._shared_folders(name, settings)
        self.register_outputs({"mountType": self.mount_type, "sources": self.sources})

    def _volumes(self, name: str, settings: Settings) -> dict[str, pulumi.Output[str]]:
        keep = not settings.delete_data_on_destroy
        sources = {}
        for key in STORAGE_KEYS:
            volume = docker.Volume(
                f"{name}-{key}",
                name=settings.storage.sources[key],
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=keep),
            )
            sources[key] = volume.name
        return sources

    def _shared_folders(self, name: str, settings: Settings) -> dict[str, pulumi.Output[str]]:
        # One per line: the script splits on newlines only, and the paths were checked in config.
        folders = "\n".join(settings.storage.sources[key] for key in STORAGE_KEYS)
        owner = f"wipp:{settings.stack}"

        def script(mode: str, delete_data: bool = False) -> str:
            return render(
                "shared-folders.sh", MODE=mode, FOLDERS=folders, DELETE_DATA=str(delete_data).lower(), OWNER=owner
            )

        manager = settings.first_manager
        prepared = host_command(
            f"{name}-folders-{manager.name}",
            manager,
            settings,
            create=script("create"),
            delete=script("delete", settings.delete_data_on_destroy),
            opts=pulumi.ResourceOptions(parent=self),
        )
        checks = [
            host_command(
                f"{name}-check-{host.name}",
                host,
                settings,
                create=script("check"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[prepared]),
            )
            for host in settings.hosts
            if host is not manager
        ]
        ready = pulumi.Output.all(prepared.id, *[c.id for c in checks])
        return {key: ready.apply(lambda _, k=key: settings.storage.sources[k]) for key in STORAGE_KEYS}

"""`wipp:storage`: where WIPP keeps its data, in four named volumes (one host) or four shared
folders that every host mounts at the same path (several hosts). The four storage keys are
NIST's (`wipp.STORAGE_KEYS`); `components/storage.py` makes what this describes."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from ..wipp import SEED_VOLUME_NAMES, STORAGE_KEYS
from .forms import Keys, Mistake, anchored, expected, missing, refuse_all, repeated

_STORAGE_KEYS = ", ".join(STORAGE_KEYS)
# Folders of the operating system: never a WIPP data folder (the script may `rm -rf` one on destroy) ...
SYSTEM_FOLDERS = (
    *("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt", "/opt"),
    *("/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/log"),
    *("/var/tmp", "/var/lib/docker"),
)
# ... nor anything inside these.
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr")


def is_system_folder(folder: str) -> bool:
    return folder in SYSTEM_FOLDERS or any(folder.startswith(tree + "/") for tree in SYSTEM_TREES)


def not_a_system_folder(folder: str) -> str:
    if is_system_folder(folder):
        raise expected("a folder of its own for WIPP data, not a system folder such as /, /etc, /home or /var")
    return folder


VolumeName = Annotated[
    str,
    Field(
        pattern=anchored(r"[A-Za-z0-9][A-Za-z0-9_.-]+"),
        max_length=255,
        description="a Docker volume name: 2 to 255 letters, digits, '_', '.', '-', first a letter or digit",
    ),
]
# Nothing a shell could split or expand, and no '.' or '..' part.
Folder = Annotated[
    str,
    Field(
        pattern=anchored(r"(?:/[A-Za-z0-9_][A-Za-z0-9._-]*)+"),
        description=(
            "an absolute folder path of letters, digits, '.', '_' and '-', such as /mnt/wipp-shared/wippdbvolume"
        ),
    ),
    AfterValidator(not_a_system_folder),
]


class VolumeNames(Keys):
    """The named volume of each storage key; NIST's names by default."""

    wippdb: VolumeName = SEED_VOLUME_NAMES["wippdb"]
    wippdata: VolumeName = SEED_VOLUME_NAMES["wippdata"]
    pegasusdb: VolumeName = SEED_VOLUME_NAMES["pegasusdb"]
    pegasusdata: VolumeName = SEED_VOLUME_NAMES["pegasusdata"]

    @model_validator(mode="after")
    def each_key_has_a_volume_of_its_own(self) -> Self:
        refuse_all(repeated(self.model_dump(), "a volume of its own"))
        return self


class FolderPaths(Keys):
    """The shared folder of each storage key: all four must be given."""

    wippdb: Folder
    wippdata: Folder
    pegasusdb: Folder
    pegasusdata: Folder

    @model_validator(mode="after")
    def four_folders_none_the_same_or_inside_another(self) -> Self:
        paths = self.model_dump()
        mistakes = repeated(paths, "four different folders")
        for key, inner in paths.items():
            for outer in paths.values():
                if inner.startswith(outer + "/"):
                    why = f"four folders none inside another ({inner} is inside {outer})"
                    mistakes.append(Mistake((key,), inner, expected(why)))
        refuse_all(mistakes)
        return self


class Storage(Keys):
    """`{mode: volume}` (named volumes, `names` optional) or `{mode: bind, paths: {...}}` (shared folders)."""

    mode: Literal["volume", "bind"] = Field(
        description="{mode: volume} or {mode: bind, paths: {wippdb: /abs/path, ...}}"
    )
    names: VolumeNames = Field(VolumeNames(), description=f"an object of volume names for {_STORAGE_KEYS}")
    paths: FolderPaths | None = Field(None, description=f"absolute folders for exactly {_STORAGE_KEYS}")

    @model_validator(mode="after")
    def names_only_with_volumes_and_paths_exactly_with_bind(self) -> Self:
        mistakes = []
        if self.mode == "bind" and "names" in self.model_fields_set:
            mistakes.append(Mistake(("names",), self.names, expected("no names with mode: bind")))
        if self.mode == "bind" and self.paths is None:
            set_them = f"mode: bind mounts folders: expected absolute folders for exactly {_STORAGE_KEYS}"
            mistakes.append(Mistake(("paths",), None, missing(set_them)))
        if self.mode == "volume" and self.paths is not None:
            keeps = "no folders with mode: volume, which keeps the data in named volumes (mode: bind mounts folders)"
            mistakes.append(Mistake(("paths",), self.paths, expected(keeps)))
        refuse_all(mistakes)
        return self

    @property
    def sources(self) -> dict[str, str]:
        """The mount source of each storage key: a volume name, or a folder."""
        if self.paths is not None:
            return self.paths.model_dump()
        return self.names.model_dump()

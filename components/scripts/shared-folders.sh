#!/bin/sh
# The multi-host storage of NIST's step 3: four folders on storage shared by
# every host, owned by the container user (UID 1000) with read and execute for
# group and others.
# MODE=create  makes the folders (on one manager; the storage is shared).
# MODE=check   fails unless every folder exists (the other hosts: is the
#              shared storage mounted there?).
# MODE=delete  removes them only when DELETE_DATA is true; otherwise keeps them.
# Input variables: MODE, FOLDERS (absolute paths), DELETE_DATA.
set -eu

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

for folder in $FOLDERS; do
    case "$folder" in
        /?*) ;;
        *) echo "shared-folders: refusing '$folder': not an absolute path" >&2; exit 1 ;;
    esac
    case "$MODE" in
        create)
            as_root mkdir -p "$folder"
            as_root chown 1000 "$folder"
            as_root chmod u+rwx,go+rx "$folder"
            echo "shared-folders: ready $folder" >&2 ;;
        check)
            [ -d "$folder" ] || {
                echo "shared-folders: $folder is missing on $(hostname): mount the shared storage first" >&2
                exit 1
            } ;;
        delete)
            if [ "$DELETE_DATA" = true ]; then
                as_root rm -rf -- "$folder"
                echo "shared-folders: deleted $folder (wipp:deleteDataOnDestroy is true)" >&2
            else
                echo "shared-folders: kept $folder (wipp:deleteDataOnDestroy is false)" >&2
            fi ;;
        *)
            echo "shared-folders: MODE must be create, check or delete, not '$MODE'" >&2
            exit 1 ;;
    esac
done

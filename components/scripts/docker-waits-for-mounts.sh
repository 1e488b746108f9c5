#!/bin/sh
# Makes Docker wait at boot for the file systems the shared folders are on: a drop-in for
# docker.service with RequiresMountsFor= the folders. systemd then starts Docker only after
# their mounts (an NFS mount listed in /etc/fstab, say), and not at all if a mount fails, so no
# service starts on the empty local folder under a mount that came late.
# ACTION=apply   writes the drop-in (only when its text changes) and reloads systemd.
# ACTION=remove  removes the drop-in (that file only) and reloads systemd.
# Without systemd (no /run/systemd/system) it says so and changes nothing.
# Input variables: ACTION, FOLDERS (absolute paths, one per line), DROPIN (the drop-in's path,
# /etc/systemd/system/docker.service.d/wipp-*.conf), TAG (the stack's tag, written into it).
set -eu
set -f  # folder names are never globbed

case "$ACTION" in
    apply | remove) ;;
    *) echo "docker-waits-for-mounts: ACTION must be apply or remove, not '$ACTION'" >&2; exit 1 ;;
esac
case "$DROPIN" in
    /etc/systemd/system/docker.service.d/wipp-*.conf) ;;
    *) echo "docker-waits-for-mounts: refusing drop-in path '$DROPIN'" >&2; exit 1 ;;
esac
paths=
old_ifs=$IFS
IFS='
'
for folder in $FOLDERS; do
    case "$folder" in
        *[!A-Za-z0-9/._-]* | [!/]*)
            echo "docker-waits-for-mounts: refusing '$folder': not an absolute path of letters, digits, '/', '.', '_' and '-'" >&2
            exit 1 ;;
    esac
    paths="$paths${paths:+ }$folder"
done
IFS=$old_ifs
[ -n "$paths" ] || { echo "docker-waits-for-mounts: FOLDERS is empty" >&2; exit 1; }

text="# Written by the WIPP Pulumi program ($TAG); pulumi destroy removes it.
# Docker starts only once the shared folders' file systems are mounted.
[Unit]
RequiresMountsFor=$paths"

if [ ! -d /run/systemd/system ]; then
    echo "docker-waits-for-mounts: $(hostname) does not run systemd: nothing makes Docker wait for" \
        "the shared storage at boot; mount it before Docker starts" >&2
    exit 0
fi

case "$ACTION" in
    apply)
        if [ -f "$DROPIN" ] && [ "$(cat -- "$DROPIN")" = "$text" ]; then
            echo "docker-waits-for-mounts: $DROPIN is already in place" >&2
            exit 0
        fi
        as_root mkdir -p -- "${DROPIN%/*}"
        printf '%s\n' "$text" | as_root tee -- "$DROPIN" >/dev/null
        as_root systemctl daemon-reload
        echo "docker-waits-for-mounts: docker.service now waits for the mounts of $paths ($DROPIN)" >&2 ;;
    remove)
        if [ ! -e "$DROPIN" ]; then
            echo "docker-waits-for-mounts: $DROPIN is already gone" >&2
            exit 0
        fi
        as_root rm -f -- "$DROPIN"
        as_root systemctl daemon-reload
        echo "docker-waits-for-mounts: removed $DROPIN" >&2 ;;
esac

#!/bin/sh
# The multi-host storage of NIST's step 3: four folders on storage shared by
# every host, owned by the container user (UID 1000) with read and execute for
# group and others.
# MODE=create  makes the folders (on one manager; the storage is shared). A
#              folder this script makes gets a marker file naming the stack; a
#              folder that was already there (data of an earlier deployment) does not.
#              Every folder, made or found, gets a stamp file holding the stack's tag
#              and a random token new at each run; the stamp (not a secret) is the
#              only line printed on stdout.
# MODE=check   fails unless every folder exists and holds that stamp (the other
#              hosts: is the shared storage mounted there, or only a local folder
#              at the same path?).
# MODE=delete  removes them only when DELETE_DATA is true, and then only the
#              folders whose marker names this stack; every other folder is kept.
# Root acts only where it must, and where it may not, UID 1000 (the folders' owner) does:
# a folder already owned by UID 1000 is not chowned, one with the mode already is not
# chmodded; a folder, marker or stamp root may not write (NFS with root_squash, the export's
# default, makes root nobody on the server) is written by UID 1000.
# MONGO_FOLDER (one of FOLDERS, mongodb's): with MONGO_USER empty, create and check fail unless
# root may change owners in it on this host, since mongo's image, started as root, gives its
# database folder to its own user at every start (chown -R) and stops when it may not (root_squash).
# Input variables: MODE, FOLDERS (absolute paths, one per line), DELETE_DATA,
# OWNER (the stack's tag written into the marker), MONGO_FOLDER, MONGO_USER (wipp:mongoUser),
# STAMP (check: what create printed),
# SETTLE_S (check: how long the shared storage may take to show what create wrote: an NFS
# client that looked for a folder before it existed, as the preflight does, keeps "no such
# folder" in its cache for up to acdirmax, 60 s by default).
set -eu
set -f  # folder names are never globbed

MARKER=.wipp-created-by
STAMP_FILE=.wipp-shared-stamp
CONTAINER_UID=1000

# as_owner COMMAND...: runs COMMAND as UID 1000, the folders' owner (as it is, when this user is).
as_owner() {
    if [ "$(id -u)" -eq "$CONTAINER_UID" ]; then
        "$@"
    else
        as_root setpriv --reuid="$CONTAINER_UID" --regid="$CONTAINER_UID" --clear-groups -- "$@"
    fi
}

# as_root_else_owner COMMAND...: COMMAND as root, or, where root is refused (not by sudo: a sudo
# refusal stops here), as UID 1000. Root's refusal is shown only if UID 1000 is refused too.
as_root_else_owner() {
    if refused=$(as_root "$@" 2>&1 >/dev/null); then
        return 0
    fi
    case "$refused" in sudo:*) printf '%s\n' "$refused" >&2; return 1 ;; esac
    as_owner "$@" || { printf '%s\n' "$refused" >&2; return 1; }
}

# write_file TEXT PATH: PATH holds the line TEXT, written as root_else_owner (never through a
# link: the callers check). UID 1000 first removes a file of another owner's in its folder.
write_file() {
    if refused=$(printf '%s\n' "$1" | as_root tee -- "$2" 2>&1 >/dev/null); then
        return 0
    fi
    case "$refused" in sudo:*) printf '%s\n' "$refused" >&2; return 1 ;; esac
    if [ -e "$2" ] && [ "$(owner_of "$2")" != "$CONTAINER_UID" ]; then
        as_owner rm -f -- "$2"
    fi
    printf '%s\n' "$1" | as_owner tee -- "$2" >/dev/null || { printf '%s\n' "$refused" >&2; return 1; }
}

# settle FOLDER: waits (at most SETTLE_S) until FOLDER holds this run's stamp, listing its parent
# each time (which makes an NFS client ask the server again once its cached view has expired).
settle() {
    waited=0
    while [ "$(cat -- "$1/$STAMP_FILE" 2>/dev/null || true)" != "$STAMP" ] && [ "$waited" -lt "$SETTLE_S" ]; do
        ls -a -- "${1%/*}/" >/dev/null 2>&1 || true
        sleep 2
        waited=$((waited + 2))
    done
    if [ "$waited" -gt 0 ]; then
        echo "shared-folders: waited $waited s for $1 to show this run's stamp on $(hostname)" >&2
    fi
}

# owner_of PATH: the UID that owns PATH.
owner_of() {
    stat -c %u -- "$1"
}

# has_mode PATH BITS: whether PATH's permission bits include every bit of the octal BITS.
has_mode() {
    bits=$(stat -c %a -- "$1")
    [ $((0$bits & 0$2)) -eq $((0$2)) ]
}

# root_may_chown PATH: whether root may change PATH's owner on this host, tried as a chown to the
# owner it has (which changes nothing where root may).
root_may_chown() {
    if refused=$(as_root chown "$(owner_of "$1")" -- "$1" 2>&1 >/dev/null); then
        return 0
    fi
    case "$refused" in sudo:*) printf '%s\n' "$refused" >&2; exit 1 ;; esac
    return 1
}

# mongo_may_start: fails, naming wipp:mongoUser, when mongo's image would stop at its chown here.
mongo_may_start() {
    [ -z "$MONGO_USER" ] || return 0
    root_may_chown "$MONGO_FOLDER" && return 0
    echo "shared-folders: root may not change owners in $MONGO_FOLDER on $(hostname) (NFS with" \
        "root_squash?), and mongo's image, started as root, gives its database folder to its own user" \
        "at every start (chown -R): mongodb would stop there. Set wipp:mongoUser to 1000:1000, the" \
        "folders' owner (mongod then runs as that user and skips that step)" >&2
    exit 1
}

# The program accepts only these paths; the script refuses anything else on its own too,
# since it may run `rm -rf`.
check_path() {
    case "$1" in
        /*) ;;
        *) echo "shared-folders: refusing '$1': not an absolute path" >&2; exit 1 ;;
    esac
    case "$1" in
        / | /bin | /boot | /dev | /etc | /home | /lib | /lib32 | /lib64 | /media | /mnt | /opt | /proc | /root | \
            /run | /sbin | /srv | /sys | /tmp | /usr | /var | /var/lib | /var/log | /var/tmp | /var/lib/docker | \
            /bin/* | /boot/* | /dev/* | /etc/* | /lib/* | /lib32/* | /lib64/* | /proc/* | /run/* | /sbin/* | \
            /sys/* | /usr/*)
            echo "shared-folders: refusing '$1': a system folder" >&2
            exit 1 ;;
    esac
    case "$1" in
        *[!A-Za-z0-9/._-]* | */../* | */.. | */./* | */. | *//* | */)
            echo "shared-folders: refusing '$1': only letters, digits, '/', '.', '_' and '-' are accepted" >&2
            exit 1 ;;
    esac
}

case "$MODE" in
    create | check | delete) ;;
    *) echo "shared-folders: MODE must be create, check or delete, not '$MODE'" >&2; exit 1 ;;
esac

old_ifs=$IFS
IFS='
'
for folder in $FOLDERS; do
    IFS=$old_ifs
    check_path "$folder"
done
if [ "$MODE" != delete ]; then
    check_path "$MONGO_FOLDER"
fi
if [ "$MODE" = check ] && [ -z "$STAMP" ]; then
    echo "shared-folders: STAMP is empty: nothing to compare the folders with" >&2
    exit 1
fi
if [ "$MODE" = create ]; then
    token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    [ "${#token}" -eq 32 ] || { echo "shared-folders: could not read a random token" >&2; exit 1; }
    stamp="$OWNER:$token"
fi
IFS='
'
for folder in $FOLDERS; do
    IFS=$old_ifs
    case "$MODE" in
        create)
            if [ ! -e "$folder" ]; then
                as_root_else_owner mkdir -p -- "$folder"
                write_file "$OWNER" "$folder/$MARKER"
                echo "shared-folders: created $folder" >&2
            elif [ ! -d "$folder" ]; then
                echo "shared-folders: $folder exists and is not a folder" >&2
                exit 1
            else
                echo "shared-folders: $folder is already there; using it (it stays on destroy)" >&2
            fi
            if [ "$(owner_of "$folder")" != "$CONTAINER_UID" ]; then
                as_root chown "$CONTAINER_UID" -- "$folder" || {
                    echo "shared-folders: root may not give $folder to UID $CONTAINER_UID on $(hostname)" \
                        "(NFS with root_squash?): give it to UID $CONTAINER_UID on the storage server" >&2
                    exit 1
                }
            fi
            has_mode "$folder" 755 || as_root_else_owner chmod u+rwx,go+rx -- "$folder"
            # Never written through a link.
            if [ -L "$folder/$STAMP_FILE" ] || { [ -e "$folder/$STAMP_FILE" ] && [ ! -f "$folder/$STAMP_FILE" ]; }; then
                echo "shared-folders: $folder/$STAMP_FILE is not a plain file; remove it and run again" >&2
                exit 1
            fi
            write_file "$stamp" "$folder/$STAMP_FILE"
            has_mode "$folder/$STAMP_FILE" 644 || as_root_else_owner chmod u+rw,go+r -- "$folder/$STAMP_FILE" ;;
        check)
            settle "$folder"
            [ -d "$folder" ] || {
                echo "shared-folders: $folder is missing on $(hostname): mount the shared storage first" >&2
                exit 1
            }
            found=$(cat -- "$folder/$STAMP_FILE" 2>/dev/null || true)
            if [ "$found" != "$STAMP" ]; then
                if [ -z "$found" ]; then why="it has no $STAMP_FILE"; else why="its $STAMP_FILE is not this run's"; fi
                echo "shared-folders: $folder on $(hostname) is not the folder the first manager prepared ($why):" \
                    "the shared storage seems not to be mounted there (a local folder at the same path?)" >&2
                exit 1
            fi ;;
        delete)
            if [ "$DELETE_DATA" != true ]; then
                echo "shared-folders: kept $folder (wipp:deleteDataOnDestroy is false)" >&2
            elif [ ! -d "$folder" ]; then
                echo "shared-folders: $folder is already gone" >&2
            elif [ -L "$folder" ] || [ ! -f "$folder/$MARKER" ] || [ "$(cat -- "$folder/$MARKER")" != "$OWNER" ]; then
                echo "shared-folders: kept $folder: this stack did not create it (no $MARKER naming $OWNER)" >&2
            else
                as_root_else_owner rm -rf -- "$folder"
                echo "shared-folders: deleted $folder (wipp:deleteDataOnDestroy is true)" >&2
            fi ;;
    esac
done
if [ "$MODE" != delete ]; then
    mongo_may_start
fi
if [ "$MODE" = create ]; then
    printf '%s\n' "$stamp"
fi

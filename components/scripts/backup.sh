#!/bin/sh
# A backup of WIPP's four storage places into PLACE on the first manager: a MongoDB dump of
# wippdb (mongodump --archive, from the mongodb service's own image, over the overlay network
# mongodb runs on: through the database, never around it) and a tar.gz of each of wippdata,
# pegasusdb and pegasusdata (named volumes or folders, mounted read-only). One folder per
# backup, named wipp-<stack>-<UTC time>-<version from>-to-<version to> (by hand:
# ...-<version>-manual), holding the archives, MANIFEST (stack, time, images) and SHA256SUMS
# (sha256sum -c form). It is written as <name>.partial and renamed when complete; a failed
# backup removes its partial folder. Then only this stack's complete backups beyond the last
# KEEP are deleted, oldest first; nothing else in PLACE is touched.
# MODE=auto    run by `pulumi up` before any service changes: backs up only when a deployed
#              service is to change its image (TARGET_IMAGES); nothing on a first deploy.
#              It also installs the by-hand tools (BACKUP_TOOL, RESTORE_TOOL) into PLACE as
#              wipp-<stack>-backup and wipp-<stack>-restore.
# MODE=manual  the by-hand backup (the installed wipp-<stack>-backup): always, when deployed.
# Input variables: MODE, STACK, PLACE, KEEP, STORAGE_TYPE (volume or bind), SOURCES (lines
# "<key> <volume or folder>" for wippdata, pegasusdb, pegasusdata), WIPP_CONTAINER (true: the
# wipp workload is a container), TARGET_IMAGES (auto: lines "<service> <image>"),
# BACKUP_TOOL, RESTORE_TOOL (auto: the tools' texts). NO_PRUNE (optional): keep every backup.
# No secret is an input; nothing here prints one.
# shellcheck disable=SC2016  # the helper containers' `sh -c` scripts expand their own arguments
set -eu

SERVICES="mongodb master wipp exec"
started=$(date +%s)
partial=""
done_ok=false

say() {
    echo "backup: $*" >&2
}

fail() {
    echo "backup: $*" >&2
    exit 1
}

# What the swarm runs, read once (lib/common.sh): an engine that does not answer stops the script.
read_deployed

target_image() {
    printf '%s\n' "$TARGET_IMAGES" | awk -v s="$1" '$1 == s { print $2; exit }'
}

# same_image (lib/common.sh) compares a deployed image with its target by what they are: the digest
# the swarm holds counts only when the target names one too, and mongo is docker.io/library/mongo:latest.

# tag_of IMAGE: the image's tag (latest when it has none).
tag_of() {
    name=${1%%@*}
    case "${name##*/}" in
        *:*) echo "${name##*:}" ;;
        *) echo latest ;;
    esac
}

# in_place COMMAND...: COMMAND in a helper container (the mongodb image) with PLACE at /backup.
in_place() {
    docker_within "$DATA_BOUND_S" run --rm -i --mount "type=bind,src=$PLACE,dst=/backup" --entrypoint sh "$helper" -c "$@"
}

cleanup() {
    if [ "$done_ok" != true ] && [ -n "$partial" ]; then
        in_place 'rm -rf -- "/backup/$1"' sh "$partial" </dev/null 2>/dev/null || true
    fi
}
trap cleanup EXIT

case "$MODE" in
    auto | manual) ;;
    *) fail "MODE must be auto or manual, not '$MODE'" ;;
esac
case "$KEEP" in
    '' | *[!0-9]* | 0) fail "KEEP must be a whole number from 1, not '$KEEP'" ;;
esac

if ! as_root mkdir -p -- "$PLACE" 2>/dev/null || [ ! -d "$PLACE" ] || [ -L "$PLACE" ]; then
    fail "cannot make the backup folder $PLACE (wipp:backupPlace): set wipp:backupPlace to a folder on the first manager that can be written"
fi
if [ "$MODE" = auto ]; then
    for tool in backup restore; do
        if [ "$tool" = backup ]; then text=$BACKUP_TOOL; else text=$RESTORE_TOOL; fi
        if ! printf '%s\n' "$text" | as_root tee -- "$PLACE/wipp-$STACK-$tool" >/dev/null 2>&1 ||
            ! as_root chmod 755 -- "$PLACE/wipp-$STACK-$tool"; then
            fail "cannot write into the backup folder $PLACE (wipp:backupPlace), so no backup can be taken and nothing was changed: make it writable or set wipp:backupPlace to another folder"
        fi
    done
fi

# What is deployed, and (auto) what changes its image.
from_images=""
changed=""
for service in $SERVICES; do
    image=$(deployed_image "$service")
    [ -n "$image" ] || continue
    from_images="$from_images$service $image
"
    if [ "$MODE" = auto ] && ! same_image "$image" "$(target_image "$service")"; then
        changed="$changed $service"
    fi
done
if [ -z "$from_images" ]; then
    say "no backup: WIPP is not deployed yet, so there is no data to back up (a first deploy)"
    exit 0
fi
if [ "$MODE" = auto ] && [ -z "$changed" ]; then
    say "no backup: no service changes its image"
    exit 0
fi
helper=$(printf '%s' "$from_images" | awk '$1 == "mongodb" { print $2 }')
[ -n "$helper" ] || fail "mongodb is not deployed, so its database cannot be dumped: bring it back first (pulumi up with the version it ran)"
network=$(docker service inspect --format '{{range .Spec.TaskTemplate.Networks}}{{.Target}} {{end}}' mongodb)
network=${network%% *}

label() {  # label FROM|TO: the WIPP version, and mongo's tag when the upgrade changes it
    if [ "$1" = from ]; then
        images=$from_images
    else
        images=$TARGET_IMAGES
    fi
    wipp=$(printf '%s\n' "$images" | awk '$1 == "wipp" { print $2 }')
    mongo=$(printf '%s\n' "$images" | awk '$1 == "mongodb" { print $2 }')
    printf '%s' "$(tag_of "$wipp")"
    old_mongo=$(printf '%s' "$from_images" | awk '$1 == "mongodb" { print $2 }')
    if [ "$MODE" = auto ] && ! same_image "$old_mongo" "$(target_image mongodb)"; then
        printf '_mongo-%s' "$(tag_of "$mongo")"
    fi
}

tries=0
while :; do
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    if [ "$MODE" = auto ]; then
        name="wipp-$STACK-$stamp-$(label from)-to-$(label to)"
    else
        name="wipp-$STACK-$stamp-$(label from)-manual"
    fi
    [ -e "$PLACE/$name" ] || [ -e "$PLACE/$name.partial" ] || break
    tries=$((tries + 1))
    [ "$tries" -lt 3 ] || fail "$PLACE/$name already exists"
    sleep 1
done
case "$name" in
    *[!A-Za-z0-9._-]*) fail "refusing the backup name '$name': only letters, digits, '.', '_' and '-'" ;;
esac

say "taking $name into $PLACE, before${changed:+ the image changes of$changed}"
in_place 'mkdir -- "/backup/$1"' sh "$name.partial" </dev/null 2>/dev/null ||
    fail "cannot write into the backup folder $PLACE (wipp:backupPlace), so no backup was taken and nothing was changed: make it writable or set wipp:backupPlace to another folder"
partial="$name.partial"

say "wippdb: mongodump --archive from mongodb:27017"
docker_within "$DATA_BOUND_S" run --rm --network "$network" --mount "type=bind,src=$PLACE,dst=/backup" "$helper" \
    mongodump --host mongodb --port 27017 --archive="/backup/$partial/wippdb.archive" >&2 ||
    fail "the dump of wippdb from the mongodb service failed, so nothing was changed"

files="MANIFEST wippdb.archive"
printf '%s\n' "$SOURCES" | while read -r key source; do
    [ -n "$key" ] || continue
    if [ "$STORAGE_TYPE" = volume ] && ! docker volume inspect "$source" >/dev/null 2>&1; then
        fail "$key: the volume $source is missing"
    fi
    say "$key: tar of $source"
    docker_within "$DATA_BOUND_S" run --rm --mount "type=$STORAGE_TYPE,src=$source,dst=/data,readonly" \
        --mount "type=bind,src=$PLACE,dst=/backup" --entrypoint tar "$helper" \
        -czf "/backup/$partial/$key.tar.gz" -C /data . >&2 ||
        fail "$key: the archive of $source failed, so nothing was changed"
done
for key in $(printf '%s\n' "$SOURCES" | awk 'NF { print $1 }'); do
    files="$files $key.tar.gz"
done

{
    echo "stack=$STACK"
    echo "time=$stamp"
    echo "kind=$MODE"
    echo "storage=$STORAGE_TYPE"
    printf '%s' "$from_images" | awk '{ print "from." $1 "=" $2 }'
    if [ "$MODE" = auto ]; then
        printf '%s\n' "$TARGET_IMAGES" | awk 'NF { print "to." $1 "=" $2 }'
    fi
    printf '%s\n' "$SOURCES" | awk 'NF { print "source." $1 "=" $2 }'
} | in_place 'cat > "/backup/$1/MANIFEST"' sh "$partial" ||
    fail "cannot write the manifest into $PLACE"
# shellcheck disable=SC2086  # $files: the archives' names, one word each
in_place 'p=$1 n=$2 && shift 2 && cd "/backup/$p" && sha256sum "$@" > SHA256SUMS && cd /backup && mv -- "$p" "$n"' \
    sh "$partial" "$name" $files </dev/null >&2 || fail "cannot write the checksums into $PLACE"
done_ok=true
size_kb=$(in_place 'du -sk -- "/backup/$1" | cut -f1' sh "$name" </dev/null)
say "took $name in $(($(date +%s) - started)) s: $size_kb KB, checksums in $PLACE/$name/SHA256SUMS"

if [ -z "${NO_PRUNE:-}" ]; then
    # This stack's complete backups, oldest first (the UTC time in the name sorts them).
    ours=""
    for folder in "$PLACE/wipp-$STACK-"*; do
        base=${folder##*/}
        case "$base" in
            *.partial) continue ;;
            "wipp-$STACK-"[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-*) ;;
            *) continue ;;
        esac
        if [ ! -d "$folder" ] || [ -L "$folder" ] || [ ! -f "$folder/SHA256SUMS" ]; then
            continue
        fi
        grep -qx "stack=$STACK" "$folder/MANIFEST" 2>/dev/null || continue
        ours="$ours$base
"
    done
    count=$(printf '%s' "$ours" | grep -c . || true)
    printf '%s' "$ours" | sort | head -n "$((count > KEEP ? count - KEEP : 0))" | while read -r old; do
        in_place 'rm -rf -- "/backup/$1"' sh "$old" </dev/null
        say "deleted the older backup $old (wipp:backupKeep is $KEEP)"
    done
fi
printf '%s\n' "$name"

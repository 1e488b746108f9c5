#!/bin/sh
# Puts one backup that backup.sh took back into WIPP's four storage places, on the first
# manager. Installed by `pulumi up` as <PLACE>/wipp-<stack>-restore; run it with the backup's
# folder name (without one it lists this stack's backups):
#   1. checks the backup: its SHA256SUMS verify, its MANIFEST names this stack, and the
#      services run the images the backup was taken from (data of one version goes back
#      under that version only);
#   2. stops exec, wipp, master and mongodb (scaled to 0, the wipp container stopped), and
#      waits until none runs;
#   3. replaces the contents of wippdata, pegasusdb and pegasusdata with the backup's;
#   4. starts mongodb, waits until it runs, and puts wippdb back through it
#      (mongorestore --archive --drop, over the overlay network);
#   5. starts master, wipp and exec, in that order, each once the one before runs.
# Input variables: STACK, PLACE, STORAGE_TYPE (volume or bind), SOURCES (lines "<key> <volume
# or folder>" for wippdata, pegasusdb, pegasusdata), WIPP_CONTAINER (true: the wipp workload
# is a container), TIMEOUT_S, INTERVAL_S (how long each service may take, how often to look).
# Argument: the backup's folder name in PLACE, or `latest`: this stack's newest complete backup.
# shellcheck disable=SC2016  # the helper containers' `sh -c` scripts expand their own arguments
set -eu

SERVICES="mongodb master wipp exec"
STOP_ORDER="exec wipp master mongodb"
started=$(date +%s)

say() {
    echo "restore: $*" >&2
}

fail() {
    echo "restore: $*" >&2
    exit 1
}

name=${1:-}
if [ -z "$name" ]; then
    say "which backup? Give its folder name; this stack's backups in $PLACE:"
    for folder in "$PLACE/wipp-$STACK-"*; do
        if [ -f "$folder/SHA256SUMS" ]; then echo "${folder##*/}"; fi
    done
    exit 2
fi
if [ "$name" = latest ]; then
    name=
    for folder in "$PLACE/wipp-$STACK-"*; do  # the UTC time in the names sorts them, oldest first
        case "${folder##*/}" in *.partial) continue ;; esac
        if [ -f "$folder/SHA256SUMS" ] && grep -qx "stack=$STACK" "$folder/MANIFEST" 2>/dev/null; then
            name=${folder##*/}
        fi
    done
    [ -n "$name" ] || fail "there is no backup of the stack $STACK in $PLACE"
    say "the newest backup of the stack $STACK: $name"
fi
case "$name" in
    "wipp-$STACK-"*) ;;
    *) fail "'$name' is not one of this stack's backups (they are named wipp-$STACK-...)" ;;
esac
case "$name" in
    *[!A-Za-z0-9._-]* | *.partial) fail "'$name' is not a backup's folder name" ;;
esac
backup="$PLACE/$name"
if [ ! -d "$backup" ] || [ -L "$backup" ]; then fail "there is no backup $backup"; fi
grep -qx "stack=$STACK" "$backup/MANIFEST" 2>/dev/null || fail "$backup is not a backup of the stack $STACK"

# What the swarm runs, read once (lib/common.sh): an engine that does not answer stops the script.
read_deployed

is_container() {
    [ "$1" = wipp ] && ! docker service inspect wipp >/dev/null 2>&1
}

# 1. The backup is whole, and the services run the images it was taken from.
for service in $SERVICES; do
    wanted=$(awk -F= -v k="from.$service" '$1 == k { print $2 }' "$backup/MANIFEST")
    image=$(deployed_image "$service")
    [ -n "$image" ] || fail "the $service service is not deployed: run pulumi up first, then restore"
    if [ "${image%%@*}" != "${wanted%%@*}" ]; then
        fail "the backup was taken from $wanted but $service runs $image: set the version back (wipp:version, wipp:mongoImage) and run pulumi up first, so that the data goes back under the version that wrote it"
    fi
done
helper=$(deployed_image mongodb)
in_backup() {
    docker_within "$DATA_BOUND_S" run --rm --mount "type=bind,src=$backup,dst=/backup,readonly" --entrypoint sh "$helper" -c "$@"
}
in_backup 'cd /backup && sha256sum -c SHA256SUMS' >&2 || fail "$backup does not match its checksums (SHA256SUMS): it is damaged; nothing was changed"
say "$name: checksums verified"

running_tasks() {
    if is_container "$1"; then
        [ "$(docker container inspect --format '{{.State.Running}}' wipp)" = true ] && echo 1 || echo 0
    else
        docker service ps "$1" --format '{{.CurrentState}}' | grep -c '^Running' || true
    fi
}

wait_for() {  # wait_for SERVICE COUNT: until COUNT tasks run (0: until none does)
    waited=$(date +%s)
    until [ "$(running_tasks "$1")" -eq "$2" ]; do
        [ $(($(date +%s) - waited)) -lt "$TIMEOUT_S" ] ||
            fail "$1 has not $([ "$2" -eq 0 ] && echo stopped || echo started) after $TIMEOUT_S s (wipp:convergeTimeout)"
        sleep "$INTERVAL_S"
    done
}

start() {
    if is_container "$1"; then docker start wipp >/dev/null; else docker service scale --detach "$1=1" >/dev/null; fi
    wait_for "$1" 1
    say "$1 runs again ($(($(date +%s) - started)) s)"
}

# 2. Stop everything that writes the data.
for service in $STOP_ORDER; do
    if is_container "$service"; then docker stop wipp >/dev/null; else docker service scale --detach "$service=0" >/dev/null; fi
    wait_for "$service" 0
    say "$service stopped ($(($(date +%s) - started)) s)"
done

# 3. The folders.
printf '%s\n' "$SOURCES" | while read -r key source; do
    [ -n "$key" ] || continue
    if [ "$STORAGE_TYPE" = volume ] && ! docker volume inspect "$source" >/dev/null 2>&1; then
        fail "$key: the volume $source is missing"
    fi
    docker_within "$DATA_BOUND_S" run --rm --mount "type=$STORAGE_TYPE,src=$source,dst=/data" \
        --mount "type=bind,src=$backup,dst=/backup,readonly" --entrypoint sh "$helper" \
        -c 'find /data -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + && tar -xzf "/backup/$1.tar.gz" -C /data' sh "$key" >&2 ||
        fail "$key: putting $source back failed; the services stay stopped: run this again"
    say "$key: $source put back ($(($(date +%s) - started)) s)"
done

# 4. The database, through mongodb.
start mongodb
network=$(docker service inspect --format '{{range .Spec.TaskTemplate.Networks}}{{.Target}} {{end}}' mongodb)
network=${network%% *}
waited=$(date +%s)
until docker_within "$DATA_BOUND_S" run --rm --network "$network" --mount "type=bind,src=$backup,dst=/backup,readonly" "$helper" \
    mongorestore --host mongodb --port 27017 --drop --archive=/backup/wippdb.archive >&2; do
    # mongod may take a while to accept connections; --drop makes another try start afresh.
    [ $(($(date +%s) - waited)) -lt "$TIMEOUT_S" ] ||
        fail "mongorestore into mongodb failed for $TIMEOUT_S s; master, wipp and exec stay stopped: run this again"
    sleep "$INTERVAL_S"
done
say "wippdb: restored through mongodb"

# 5. The rest, in WIPP's order.
for service in master wipp exec; do
    start "$service"
done
say "restored $name in $(($(date +%s) - started)) s"

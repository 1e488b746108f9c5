#!/bin/sh
# Run on the first manager after every other host has joined: gives each joined node
# the role wipp:hosts gives its host. A join leaves a node that is already in this
# swarm as it is, and a worker cannot promote itself, so a host whose role changed in
# the stack file (worker -> manager, or back) is promoted or demoted here.
# Input variable: ROLES, one "NODE_ID ROLE HOST_NAME" line per joined host.
# Output: nothing on stdout.
set -eu
set -f

# manager_reachability NODE_ID: "reachable" for a manager in the raft group, empty for a worker.
manager_reachability() {
    docker node inspect --format '{{if .ManagerStatus}}{{.ManagerStatus.Reachability}}{{end}}' "$1"
}

# A here-document, not a pipe: the loop runs in this shell, so `set -u` and `exit` act on the script.
while read -r node_id role host_name; do
    [ -n "$node_id" ] || continue
    current=$(docker node inspect --format '{{.Spec.Role}}' "$node_id")
    if [ "$current" = "$role" ]; then
        continue
    fi
    case "$role" in
        manager) docker node promote "$node_id" >&2; wanted=reachable ;;
        worker) docker node demote "$node_id" >&2; wanted= ;;
        *) echo "swarm-roles: $host_name: role must be manager or worker, not '$role'" >&2; exit 1 ;;
    esac
    # The change takes effect a moment later (the node joins or leaves the managers' raft
    # group): wait a bounded time, so that what follows (a destroy's demote, say) finds it done.
    for _ in $(seq 1 30); do
        [ "$(manager_reachability "$node_id")" = "$wanted" ] && break
        sleep 1
    done
    echo "swarm-roles: $host_name was a $current, now a $role as wipp:hosts says" >&2
done <<ROLES
$ROLES
ROLES

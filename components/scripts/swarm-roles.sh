#!/bin/sh
# Run on the first manager after every other host has joined: gives each joined node
# the role wipp:hosts gives its host. A join leaves a node that is already in this
# swarm as it is, and a worker cannot promote itself, so a host whose role changed in
# the stack file (worker -> manager, or back) is promoted or demoted here.
# Input variable: ROLES, one "NODE_ID ROLE HOST_NAME" line per joined host.
# Output: nothing on stdout.
set -eu
set -f

printf '%s\n' "$ROLES" | while read -r node_id role host_name; do
    [ -n "$node_id" ] || continue
    current=$(docker node inspect --format '{{.Spec.Role}}' "$node_id")
    if [ "$current" = "$role" ]; then
        continue
    fi
    case "$role" in
        manager) docker node promote "$node_id" >&2 ;;
        worker) docker node demote "$node_id" >&2 ;;
        *) echo "swarm-roles: $host_name: role must be manager or worker, not '$role'" >&2; exit 1 ;;
    esac
    echo "swarm-roles: $host_name was a $current, now a $role as wipp:hosts says" >&2
done

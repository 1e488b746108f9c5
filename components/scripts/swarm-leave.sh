#!/bin/sh
# Run on `pulumi destroy`. Leaves the swarm only when LEAVE is true
# (config wipp:leaveSwarmOnDestroy); by default the swarm is kept.
# ROLE=worker          leaves.
# ROLE=manager         (a manager that joined) is demoted first, then leaves as a
#                      worker: the remaining managers keep their quorum.
# ROLE=first-manager   runs after every other host has left: removes those hosts'
#                      nodes (DEPARTED: their addresses) from the node list once
#                      they show as down, then leaves, ending the swarm.
# Input variables: LEAVE (true/false), ROLE, DEPARTED (addresses, may be empty).
set -eu
set -f

if [ "$LEAVE" != true ]; then
    echo "swarm-leave: keeping this node in the swarm (wipp:leaveSwarmOnDestroy is false)" >&2
    exit 0
fi
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ]; then
    echo "swarm-leave: this node is not in a swarm" >&2
    exit 0
fi

# The departed hosts' nodes that the swarm still lists, as "ID STATE" lines.
departed_nodes() {
    docker node ls --quiet | while IFS= read -r id; do
        addr=$(docker node inspect --format '{{.Status.Addr}}' "$id")
        for gone in $DEPARTED; do
            if [ "$addr" = "$(ipv4_of "$gone")" ]; then
                echo "$id $(docker node inspect --format '{{.Status.State}}' "$id")"
            fi
        done
    done
}

case "$ROLE" in
    worker)
        docker swarm leave >&2 ;;
    manager)
        self=$(docker info --format '{{.Swarm.NodeID}}')
        docker node demote "$self" >&2
        # The demotion takes effect on this node a moment later; leave once it has.
        for _ in $(seq 1 30); do
            [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = false ] && break
            sleep 1
        done
        docker swarm leave >&2 ;;
    first-manager)
        # Nodes turn "down" a few seconds after they leave; wait a bounded time for that.
        for _ in $(seq 1 30); do
            departed_nodes | grep -qv ' down$' || break
            sleep 1
        done
        departed_nodes | while read -r id state; do
            if [ "$state" = down ]; then
                docker node rm "$id" >&2
            else
                echo "swarm-leave: node $id is still $state; left in the node list" >&2
            fi
        done
        docker swarm leave --force >&2 ;;
    *)
        echo "swarm-leave: ROLE must be worker, manager or first-manager, not '$ROLE'" >&2
        exit 1 ;;
esac

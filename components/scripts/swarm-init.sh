#!/bin/sh
# Make this host the swarm's first manager, as NIST's step 2 does with
# `docker swarm init --advertise-addr IP --listen-addr IP`.
# Idempotent: a node that is already an active manager is left as it is.
# Input variable: ADVERTISE_ADDR (IP or resolvable host name).
# Output (stdout): this node's swarm node ID, nothing else.
set -eu

state=$(docker info --format '{{.Swarm.LocalNodeState}}')
case "$state" in
    active)
        echo "swarm-init: this node is already in a swarm; leaving it as it is" >&2 ;;
    inactive)
        addr=$(ipv4_of "$ADVERTISE_ADDR")
        [ -n "$addr" ] || { echo "swarm-init: cannot resolve $ADVERTISE_ADDR to an IPv4 address" >&2; exit 1; }
        # init prints a join command with the token: keep it out of the logs.
        docker swarm init --advertise-addr "$addr" --listen-addr "$addr" >/dev/null
        echo "swarm-init: swarm initialized, advertising $addr" >&2 ;;
    *)
        echo "swarm-init: node swarm state is '$state'; expected active or inactive" >&2
        exit 1 ;;
esac

if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
    echo "swarm-init: this node is in a swarm but is not a manager; run the program against a manager" >&2
    exit 1
fi
docker info --format '{{.Swarm.NodeID}}'

#!/bin/sh
# Join this host to the swarm managed at MANAGER_ADDR, as NIST's step 2 does
# on the other hosts. The join token arrives on stdin, never on the command
# line of the program or in its logs.
# Idempotent: a node already in a swarm is left as it is.
# Input variables: ROLE, MANAGER_ADDR, ADVERTISE_ADDR. Output: node ID.
set -eu

token=
IFS= read -r token || true
state=$(docker info --format '{{.Swarm.LocalNodeState}}')
case "$state" in
    active)
        echo "swarm-join: this node is already in a swarm; leaving it as it is" >&2 ;;
    inactive)
        [ -n "$token" ] || { echo "swarm-join: no $ROLE join token on stdin" >&2; exit 1; }
        # getent returns an IP literal as it is and resolves a host name.
        addr=$(getent ahostsv4 "$ADVERTISE_ADDR" | awk 'NR == 1 { print $1 }')
        [ -n "$addr" ] || { echo "swarm-join: cannot resolve $ADVERTISE_ADDR to an IPv4 address" >&2; exit 1; }
        docker swarm join --token "$token" --advertise-addr "$addr" --listen-addr "$addr" \
            "$MANAGER_ADDR:2377" >/dev/null
        echo "swarm-join: joined as $ROLE, advertising $addr" >&2 ;;
    *)
        echo "swarm-join: node swarm state is '$state'; expected active or inactive" >&2
        exit 1 ;;
esac
docker info --format '{{.Swarm.NodeID}}'

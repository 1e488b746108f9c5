#!/bin/sh
# Join this host to the swarm managed at MANAGER_ADDR, as NIST's step 2 does
# on the other hosts. The join token arrives on stdin, never on the command
# line of the program or in its logs.
# Idempotent: a node already in this swarm is left as it is. A node in another
# swarm (none of its managers is MANAGER_ADDR) is refused, never reported as joined.
# Input variables: HOST_NAME, ROLE, MANAGER_ADDR, ADVERTISE_ADDR. Output: node ID.
set -eu

token=
IFS= read -r token || true
state=$(docker info --format '{{.Swarm.LocalNodeState}}')
case "$state" in
    active)
        case $(swarm_membership "$MANAGER_ADDR") in
            this)
                echo "swarm-join: $HOST_NAME is already in this swarm; leaving it as it is" >&2 ;;
            *)
                managers=$(swarm_managers)
                echo "swarm-join: $HOST_NAME is already in another swarm (its managers: ${managers% })," \
                    "not the one managed at $MANAGER_ADDR: make it leave that swarm first" \
                    "(docker swarm leave), or take it out of wipp:hosts" >&2
                exit 1 ;;
        esac ;;
    inactive)
        [ -n "$token" ] || { echo "swarm-join: no $ROLE join token on stdin" >&2; exit 1; }
        addr=$(ipv4_of "$ADVERTISE_ADDR")
        [ -n "$addr" ] || { echo "swarm-join: cannot resolve $ADVERTISE_ADDR to an IPv4 address" >&2; exit 1; }
        docker swarm join --token "$token" --advertise-addr "$addr" --listen-addr "$addr" \
            "$MANAGER_ADDR:2377" >/dev/null
        echo "swarm-join: $HOST_NAME joined as $ROLE, advertising $addr" >&2 ;;
    *)
        echo "swarm-join: $HOST_NAME's swarm state is '$state'; expected active or inactive" >&2
        exit 1 ;;
esac
docker info --format '{{.Swarm.NodeID}}'

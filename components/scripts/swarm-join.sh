#!/bin/sh
# Join this host to the swarm managed at MANAGER_ADDR, as NIST's step 2 does
# on the other hosts. The join token arrives on stdin, never on the command
# line of the program or in its logs.
# Idempotent: a node already in this swarm is left as it is. A node in another
# swarm (none of its managers is MANAGER_ADDR) is refused, never reported as joined.
# Docker waits 20 s for a join and then answers "Timeout was reached before node joined" while
# the join goes on in the background (a manager's join on a busy or slow network): the script then
# waits, at most JOIN_WAIT_S, for the node to be active, as it does for one a run before left pending.
# Input variables: HOST_NAME, ROLE, MANAGER_ADDR, ADVERTISE_ADDR, JOIN_WAIT_S. Output: node ID.
set -eu

# wait_until_active: waits (at most JOIN_WAIT_S, polling each second) for this node's swarm state
# to leave "pending"; fails, naming the state it ended in, unless that is "active".
wait_until_active() {
    _waited=0
    _state=$(docker info --format '{{.Swarm.LocalNodeState}}')
    while [ "$_state" = pending ] && [ "$_waited" -lt "$JOIN_WAIT_S" ]; do
        sleep 1
        _waited=$((_waited + 1))
        _state=$(docker info --format '{{.Swarm.LocalNodeState}}')
    done
    if [ "$_state" != active ]; then
        echo "swarm-join: $HOST_NAME's join did not finish: its swarm state is '$_state' after $_waited s" \
            "more (see 'docker info' and the engine's log on $HOST_NAME; the manager at $MANAGER_ADDR" \
            "must reach it on 2377/tcp, 7946 and 4789/udp)" >&2
        exit 1
    fi
    echo "swarm-join: $HOST_NAME's join finished after $_waited s more" >&2
}

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
        if ! answer=$(docker swarm join --token "$token" --advertise-addr "$addr" --listen-addr "$addr" \
            "$MANAGER_ADDR:2377" 2>&1 >/dev/null); then
            case "$answer" in
                *"Timeout was reached before node joined"*)
                    echo "swarm-join: $HOST_NAME: Docker's own wait for the join ran out; the join goes on," \
                        "waiting at most $JOIN_WAIT_S s for it" >&2
                    wait_until_active ;;
                *)
                    echo "swarm-join: $HOST_NAME cannot join the swarm at $MANAGER_ADDR: $answer" >&2
                    exit 1 ;;
            esac
        fi
        echo "swarm-join: $HOST_NAME joined as $ROLE, advertising $addr" >&2 ;;
    pending)
        echo "swarm-join: $HOST_NAME's join from an earlier run is still going on; waiting at most" \
            "$JOIN_WAIT_S s for it" >&2
        wait_until_active
        [ "$(swarm_membership "$MANAGER_ADDR")" = this ] || {
            echo "swarm-join: $HOST_NAME joined another swarm, not the one managed at $MANAGER_ADDR" >&2
            exit 1
        } ;;
    *)
        echo "swarm-join: $HOST_NAME's swarm state is '$state'; expected active or inactive" >&2
        exit 1 ;;
esac
docker info --format '{{.Swarm.NodeID}}'

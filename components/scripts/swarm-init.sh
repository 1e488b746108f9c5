#!/bin/sh
# Make this host the swarm's first manager, as NIST's step 2 does with
# `docker swarm init --advertise-addr IP --listen-addr IP`.
# Idempotent: a node that is already an active manager is left as it is.
# ADDRESS_POOL (wipp:swarmAddressPool, NETWORK[:LENGTH]) goes to a new swarm's
# --default-addr-pool and --default-addr-pool-mask-length; a swarm that is already
# there keeps its pool (Docker sets it at init only), and a different one is said.
# SWARM_GENERATION (optional) is set only once the program found the swarm this stack recorded
# gone from this host (a new host at the same address, a swarm left by hand): its new value makes
# Pulumi run this script again, which makes a new swarm here (components/swarm.py).
# Input variables: ADVERTISE_ADDR (IP or resolvable host name), ADDRESS_POOL (may be empty:
# Docker's default pool), SWARM_GENERATION (optional).
# Output (stdout): this node's swarm node ID, nothing else.
set -eu

pool_flags=
if [ -n "$ADDRESS_POOL" ]; then
    pool_length=${ADDRESS_POOL#*:}
    [ "$pool_length" != "$ADDRESS_POOL" ] || pool_length=24
    pool_flags="--default-addr-pool ${ADDRESS_POOL%%:*} --default-addr-pool-mask-length $pool_length"
fi

state=$(docker info --format '{{.Swarm.LocalNodeState}}')
if [ -n "${SWARM_GENERATION:-}" ]; then
    echo "swarm-init: swarm generation $SWARM_GENERATION of this stack (the swarm it recorded before is gone); this node is '$state'" >&2
fi
case "$state" in
    active)
        echo "swarm-init: this node is already in a swarm; leaving it as it is" >&2 ;;
    inactive)
        addr=$(ipv4_of "$ADVERTISE_ADDR")
        [ -n "$addr" ] || { echo "swarm-init: cannot resolve $ADVERTISE_ADDR to an IPv4 address" >&2; exit 1; }
        # init prints a join command with the token: keep it out of the logs.
        # shellcheck disable=SC2086 # pool_flags: flags and values without spaces or globs (checked in config)
        docker swarm init --advertise-addr "$addr" --listen-addr "$addr" $pool_flags >/dev/null
        echo "swarm-init: swarm initialized, advertising $addr${ADDRESS_POOL:+, address pool $ADDRESS_POOL}" >&2 ;;
    *)
        echo "swarm-init: node swarm state is '$state'; expected active or inactive" >&2
        exit 1 ;;
esac

if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
    echo "swarm-init: this node is in a swarm but is not a manager; run the program against a manager" >&2
    exit 1
fi
if [ "$state" = active ] && [ -n "$ADDRESS_POOL" ]; then
    has=$(docker info --format '{{range .Swarm.Cluster.DefaultAddrPool}}{{.}} {{end}}{{.Swarm.Cluster.SubnetSize}}')
    if [ "$has" != "${ADDRESS_POOL%%:*} $pool_length" ]; then
        echo "swarm-init: warning: this swarm's address pool is $has (networks, then their length);" \
            "wipp:swarmAddressPool $ADDRESS_POOL applies only to a new swarm" >&2
    fi
fi
docker info --format '{{.Swarm.NodeID}}'

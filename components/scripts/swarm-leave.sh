#!/bin/sh
# Run on `pulumi destroy`. Leaves the swarm only when LEAVE is true
# (config wipp:leaveSwarmOnDestroy); by default the swarm is kept.
# Input variables: LEAVE (true/false), FORCE (true for managers).
set -eu

if [ "$LEAVE" != true ]; then
    echo "swarm-leave: keeping this node in the swarm (wipp:leaveSwarmOnDestroy is false)" >&2
    exit 0
fi
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ]; then
    echo "swarm-leave: this node is not in a swarm" >&2
    exit 0
fi
if [ "$FORCE" = true ]; then
    docker swarm leave --force >&2
else
    docker swarm leave >&2
fi

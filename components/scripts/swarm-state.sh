#!/bin/sh
# What swarm this host is in, for the program to compare with the node ID the stack recorded for
# its first manager (components/swarm.py, read at every preview and `up` on a local first manager):
# prints "<LocalNodeState> <NodeID>" as Docker reports them ("active <id>", "inactive "), or
# "unknown" when Docker does not answer (the preflight then stops the `up`). Changes nothing.
# Input variables: none (DOCKER_HOST, when the program sets it).
set -eu

if ! found=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}' 2>/dev/null); then
    echo unknown
    exit 0
fi
echo "$found"

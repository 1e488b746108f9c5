#!/bin/sh
# Print the swarm join token for ROLE (worker or manager) and nothing else.
# The program marks this output secret and does not log it.
set -eu
docker swarm join-token --quiet "$ROLE"

#!/bin/sh
# engine-answers: finds whether the first manager's Docker Engine answers at the endpoint the Docker provider
# uses, before the provider tries it (its own error names neither the endpoint nor the key).
# Run on this machine at every preview and `up` when the first manager is local. Changes nothing.
# Prints nothing when the engine answers; otherwise one line on stdout, why not (the program
# raises it with what to check), and exits 0.
# Input variables: ENDPOINT (unix://PATH or tcp://HOST:PORT), WAIT_S (how long an answer may take).
set -eu

silent() {
    echo "$*"
    exit 0
}

docker_installed || silent "the docker command is not installed on this machine"
case "$ENDPOINT" in
    unix://*)
        socket=${ENDPOINT#unix://}
        [ -e "$socket" ] || silent "there is no socket at $socket (is Docker installed and started, and is the path right?)"
        [ -S "$socket" ] || silent "$socket is not a socket"
        if [ ! -r "$socket" ] || [ ! -w "$socket" ]; then
            silent "this user ($(id -un)) may not use $socket: add it to the docker group, or run pulumi as root"
        fi
        ;;
esac
status=0
said=$(DOCKER_HOST=$ENDPOINT timeout -k 5 "$WAIT_S" docker version --format '{{.Server.Version}}' 2>&1) || status=$?
[ "$status" -ne 0 ] || exit 0
[ "$status" -ne 124 ] || silent "it did not answer within $WAIT_S s"
silent "$(printf '%s' "$said" | grep -v '^$' | tail -n 1)"

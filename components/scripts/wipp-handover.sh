#!/bin/sh
# Frees WIPP's published ports before the wipp workload changes form, so that the new one can
# bind them in the same `up`: with wipp:bindAddress set, wipp runs as a container; without, as
# a swarm service. Pulumi deletes the old form only at the end of the `up`, after the new one is
# made; until then the old one holds the ports (`bind: address already in use`).
# FORM=service    (the new form): stops the old container NAME (restart policy unless-stopped
#                 keeps it stopped; Pulumi removes it at the end).
# FORM=container  (the new form): scales the old service NAME to 0 and removes its published
#                 ports (TARGET_PORTS, the container ports: with ingress the swarm would hold them
#                 even with no task).
# Only an old form that carries this stack's label (OWNER), or none (made before the program
# labelled it), is touched; another stack's is left alone. Idempotent: nothing there, nothing done.
# Input variables: FORM, NAME, OWNER, TARGET_PORTS (space-separated), TIMEOUT_S.
set -eu
set -f
: "$NAME" "$OWNER" "$TARGET_PORTS" "$TIMEOUT_S"

case "$FORM" in
    service | container) ;;
    *) echo "wipp-handover: FORM must be service or container, not '$FORM'" >&2; exit 1 ;;
esac

# ours KIND FORMAT: whether the old form exists and is this stack's (its label, or none).
ours() {
    label=$(docker "$1" inspect --format "$2" "$NAME" 2>/dev/null) || return 1
    [ "$label" = "<no value>" ] && label=
    if [ -n "$label" ] && [ "$label" != "$OWNER" ]; then
        echo "wipp-handover: $1 $NAME belongs to stack $label: left alone" >&2
        return 1
    fi
}

if [ "$FORM" = service ]; then
    if ours container '{{index .Config.Labels "wipp.stack"}}'; then
        if [ "$(docker container inspect --format '{{.State.Running}}' "$NAME")" = true ]; then
            docker stop --time 30 "$NAME" >/dev/null
            echo "wipp-handover: stopped the container $NAME: the service $NAME takes its ports" >&2
        fi
    fi
    exit 0
fi
[ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null || true)" = true ] || exit 0
if ours service '{{index .Spec.Labels "wipp.stack"}}'; then
    set --
    for port in $TARGET_PORTS; do
        if docker service inspect --format '{{range .Spec.EndpointSpec.Ports}} {{.TargetPort}} {{end}}' "$NAME" |
            grep -q " $port "; then
            set -- "$@" --publish-rm "$port"
        fi
    done
    timeout "$TIMEOUT_S" docker service update --quiet --detach=false --replicas 0 "$@" "$NAME" >/dev/null
    echo "wipp-handover: scaled the service $NAME to 0 and removed its ports: the container $NAME takes them" >&2
fi

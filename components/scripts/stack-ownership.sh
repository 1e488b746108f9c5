#!/bin/sh
# Finds whether what this stack is about to use belongs to another stack on the same engine:
# every volume, network, service and container a stack creates carries the label
# wipp.stack=<project>/<stack>. Refused (each with the config key to change):
# - a volume labelled for another stack, or mounted by another stack's service or container;
# - the network, a service name or the wipp container name labelled for another stack;
# - a published port (web, dashboard) another stack's service or container publishes.
# Unlabelled volumes (NIST's setup.sh, made by hand, or by this program before it labelled
# them) are adopted as they are: they are used and never deleted.
# Changes nothing. With REPORT=true it prints each refusal on stdout and exits 0 (the program
# raises them at preview); otherwise it prints them on stderr and exits 1 (`up`, before
# anything changes).
# Input variables: OWNER (this stack's label value), VOLUMES and SERVICES (key=name, one per
# line; VOLUMES empty with shared folders), NETWORK, CONTAINER (the wipp container's name, or
# empty), PORTS (the published ports, space-separated), REPORT.
set -eu
set -f
: "$OWNER" "$VOLUMES" "$NETWORK" "$SERVICES" "$CONTAINER" "$PORTS" "$REPORT"  # every input set, before anything

LABEL=wipp.stack
problems=

refuse() {
    problems="$problems${problems:+
}$*"
}

# owner_of KIND NAME: the label of a volume, network, service or container; empty without one
# or when there is no such object.
owner_of() {
    case "$1" in
        volume) format='{{index .Labels "wipp.stack"}}' ;;
        network) format='{{index .Labels "wipp.stack"}}' ;;
        service) format='{{index .Spec.Labels "wipp.stack"}}' ;;
        container) format='{{index .Config.Labels "wipp.stack"}}' ;;
    esac
    found=$(docker "$1" inspect --format "$format" "$2" 2>/dev/null || true)
    [ "$found" = "<no value>" ] && found=
    printf '%s' "$found"
}

if ! docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; then
    echo "stack-ownership: Docker Engine does not answer; nothing checked (preflight stops the up)" >&2
    exit 0
fi
manager=false
if [ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null || true)" = true ]; then
    manager=true
fi

# Other stacks' services and containers: "owner|name|mounted sources|published ports" lines.
others=
if [ "$manager" = true ]; then
    for service in $(docker service ls --quiet --filter "label=$LABEL"); do
        line=$(docker service inspect --format \
            '{{index .Spec.Labels "wipp.stack"}}|{{.Spec.Name}}| {{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}} {{end}}| {{range .Endpoint.Ports}}{{.PublishedPort}} {{end}}' \
            "$service" 2>/dev/null || true)
        case "$line" in "$OWNER|"* | "") ;; *) others="$others$line
" ;; esac
    done
fi
for container in $(docker container ls --all --quiet --filter "label=$LABEL"); do
    line=$(docker container inspect --format \
        '{{index .Config.Labels "wipp.stack"}}|{{.Name}}| {{range .Mounts}}{{.Name}} {{.Source}} {{end}}| {{range $port, $bindings := .HostConfig.PortBindings}}{{range $bindings}}{{.HostPort}} {{end}}{{end}}' \
        "$container" 2>/dev/null || true)
    case "$line" in "$OWNER|"* | "") ;; *) others="$others$line
" ;; esac
done

old_ifs=$IFS
IFS='
'
for entry in $VOLUMES; do
    IFS=$old_ifs
    key=${entry%%=*}
    name=${entry#*=}
    found_owner=$(owner_of volume "$name")
    if [ -n "$found_owner" ] && [ "$found_owner" != "$OWNER" ]; then
        refuse "volume $name (wipp:storage.names.$key) belongs to stack $found_owner: set wipp:storage.names.$key to a volume name of this stack's own"
        continue
    fi
    IFS='
'
    for other in $others; do
        case "$other" in
            *"| "*" $name "*"| "*)
                user=${other#*|}
                refuse "volume $name (wipp:storage.names.$key) is in use by ${user%%|*} of stack ${other%%|*}: set wipp:storage.names.$key to a volume name of this stack's own" ;;
        esac
    done
done
IFS=$old_ifs

found_owner=$(owner_of network "$NETWORK")
if [ -n "$found_owner" ] && [ "$found_owner" != "$OWNER" ]; then
    refuse "network $NETWORK (wipp:network) belongs to stack $found_owner: set wipp:network to a name of this stack's own"
fi

IFS='
'
for entry in $SERVICES; do
    IFS=$old_ifs
    key=${entry%%=*}
    name=${entry#*=}
    found_owner=
    [ "$manager" = true ] && found_owner=$(owner_of service "$name")
    if [ -n "$found_owner" ] && [ "$found_owner" != "$OWNER" ]; then
        refuse "service $name (wipp:serviceNames.$key) belongs to stack $found_owner: set wipp:serviceNames.$key to a name of this stack's own"
    fi
done
IFS=$old_ifs

if [ -n "$CONTAINER" ]; then
    found_owner=$(owner_of container "$CONTAINER")
    if [ -n "$found_owner" ] && [ "$found_owner" != "$OWNER" ]; then
        refuse "container $CONTAINER (wipp:serviceNames.wipp) belongs to stack $found_owner: set wipp:serviceNames.wipp to a name of this stack's own"
    fi
fi

for port in $PORTS; do
    IFS='
'
    for other in $others; do
        case "${other##*|}" in
            *" $port "*)
                user=${other#*|}
                refuse "port $port (wipp:webPort or wipp:dashboardPort) is published by ${user%%|*} of stack ${other%%|*}: choose a port no other stack publishes" ;;
        esac
    done
    IFS=$old_ifs
done

if [ -z "$problems" ]; then
    echo "stack-ownership: nothing here belongs to another stack" >&2
    exit 0
fi
if [ "$REPORT" = true ]; then
    printf '%s\n' "$problems"
    exit 0
fi
printf 'stack-ownership: %s\n' "$problems" >&2
exit 1

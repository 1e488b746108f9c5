#!/bin/sh
# Waits until one swarm service runs its task on IMAGE, so that the next service in
# WIPP's order starts only then. Run on the first manager after each create or update.
# Succeeds when: the service's spec has IMAGE, no update of it is in flight, and a task
# with IMAGE is running (and none on another image is meant to run).
# Fails, naming the service and the image, when: the swarm rolled the update back (the
# spec is no longer IMAGE), the update paused, or nothing runs within TIMEOUT_S.
# Input variables: SERVICE, IMAGE, TIMEOUT_S, INTERVAL_S, SERVICE_ID (changes when the
# service is created again), SPEC_DIGEST (changes with the spec; both make Pulumi re-run
# this script exactly when the service changed).
# The inputs are set ahead of this text (components/scripts.py, render); shellcheck cannot see them.
# shellcheck disable=SC2153
set -eu

fail() {
    echo "service $SERVICE: $*" >&2
    exit 1
}

without_digest() {
    echo "${1%%@*}"
}

# The last task error the swarm recorded for IMAGE, for the failure message.
task_error() {
    docker service ps "$SERVICE" --no-trunc --format '{{.Image}}|{{.Error}}' 2>/dev/null |
        awk -F'|' -v want="$IMAGE" '{ split($1, image, "@") } image[1] == want && $2 != "" { print $2; exit }'
}

# One look: prints running, waiting or rolled-back:<image> or paused:<message>.
look() {
    spec=$(docker service inspect "$SERVICE" \
        --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}|{{if .UpdateStatus}}{{.UpdateStatus.State}}|{{.UpdateStatus.Message}}{{end}}') ||
        fail "not found on this swarm"
    image=$(without_digest "${spec%%|*}")
    update=${spec#*|}
    state=${update%%|*}
    if [ "$image" != "$IMAGE" ]; then
        echo "rolled-back:$image"
        return 0
    fi
    case "$state" in
        paused | rollback_paused) echo "paused:${update#*|}"; return 0 ;;
        updating | rollback_started) echo waiting; return 0 ;;
    esac
    # Tasks meant to run: how many run IMAGE, and how many are on another image.
    counts=$(docker service ps "$SERVICE" --no-trunc --filter desired-state=running \
        --format '{{.Image}}|{{.CurrentState}}' |
        awk -F'|' -v want="$IMAGE" '{ split($1, image, "@") }
            image[1] == want && $2 ~ /^Running/ { running++ } image[1] != want { others++ }
            END { print running + 0, others + 0 }')
    case "$counts" in
        "0 "*) echo waiting ;;
        *" 0") echo running ;;
        *) echo waiting ;;
    esac
}

started=$(date +%s)
while :; do
    seen=$(look)
    case "$seen" in
        running)
            echo "service $SERVICE: running $IMAGE after $(($(date +%s) - started)) s" >&2
            exit 0
            ;;
        rolled-back:*)
            reason=$(task_error)
            fail "the update to $IMAGE failed${reason:+ ($reason)}, so the swarm rolled it back: it runs ${seen#rolled-back:} again, and the services after it were not updated. Fix the image or wipp:version, then run pulumi up again."
            ;;
        paused:*)
            fail "the update to $IMAGE paused: ${seen#paused:}"
            ;;
    esac
    if [ $(($(date +%s) - started)) -ge "$TIMEOUT_S" ]; then
        reason=$(task_error)
        fail "no task running $IMAGE after $TIMEOUT_S s (wipp:convergeTimeout)${reason:+; last task error: $reason}"
    fi
    sleep "$INTERVAL_S"
done

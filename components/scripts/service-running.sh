#!/bin/sh
# Waits until one swarm service runs its task on IMAGE, so that the next service in
# WIPP's order starts only then. Run on the first manager after each create or update.
# Images are compared by what they are (same_image), not by their text: mongo is
# mongo:latest, docker.io/library/mongo:3.4 is mongo:3.4, and a digest the swarm added
# to a tag is the same image.
# Succeeds when: the service's spec has IMAGE, no update of it is in flight, and a task
# with IMAGE is running (and none on another image is meant to run).
# Fails, naming the service and the image, when: the swarm rolled the update back (the
# spec is no longer IMAGE, or its update status says so), the update paused, FAILED_IN_A_ROW tasks on IMAGE failed one
# after another since the wait began (with the newest task's error), or nothing runs
# within TIMEOUT_S. Every PROGRESS_S it prints the newest task's state.
# Input variables: SERVICE, IMAGE, TIMEOUT_S, INTERVAL_S, PROGRESS_S, FAILED_IN_A_ROW,
# SERVICE_ID (changes when the service is created again), SPEC_DIGEST (changes with the
# spec; both make Pulumi re-run this script exactly when the service changed).
# The inputs are set ahead of this text (components/scripts.py, render); shellcheck cannot see them.
# shellcheck disable=SC2153
set -eu

fail() {
    echo "service $SERVICE: $*" >&2
    exit 1
}

# The service's tasks, newest first within the slot (docker service ps sorts them so):
# ID|image|desired state|current state|error.
tasks() {
    docker service ps "$SERVICE" --no-trunc --format '{{.ID}}|{{.Image}}|{{.DesiredState}}|{{.CurrentState}}|{{.Error}}'
}

# Tasks that had ended when the wait began: an old failure does not count against this run.
ended_before=" $(tasks 2>/dev/null | awk -F'|' '$4 ~ /^(Failed|Rejected|Shutdown|Complete)/ { printf "%s ", $1 }')"

# The last task error the swarm recorded for IMAGE, for the failure message.
task_error() {
    tasks 2>/dev/null | while IFS='|' read -r _id task_image _desired _current error; do
        if [ -n "$error" ] && same_image "$task_image" "$IMAGE"; then
            echo "$error"
            break
        fi
    done
}

# One look: prints running, waiting, rolled-back:<image>, paused:<message> or failing:<error>.
look() {
    spec=$(docker service inspect "$SERVICE" \
        --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}|{{if .UpdateStatus}}{{.UpdateStatus.State}}|{{.UpdateStatus.Message}}{{end}}') ||
        fail "not found on this swarm"
    image=${spec%%|*}
    update=${spec#*|}
    state=${update%%|*}
    if ! same_image "$image" "$IMAGE"; then
        echo "rolled-back:${image%%@*}"
        return 0
    fi
    case "$state" in
        paused | rollback_paused) echo "paused:${update#*|}"; return 0 ;;
        updating | rollback_started) echo waiting; return 0 ;;
        # The spec changed only in what is not the image (arguments, mounts): rolled back all the same.
        rollback_completed) echo "rolled-back:${image%%@*}"; return 0 ;;
    esac
    # Tasks meant to run: how many run IMAGE, and how many are on another image; and how many
    # tasks on IMAGE failed in a row, newest first, since the wait began.
    running=0 others=0 failed=0 counting=true newest_error=
    list=$(tasks)
    while IFS='|' read -r id image desired current error; do
        [ -n "$id" ] || continue
        if ! same_image "$image" "$IMAGE"; then
            [ "$desired" != Running ] || others=$((others + 1))
            continue
        fi
        case "$current" in Running*) [ "$desired" != Running ] || running=$((running + 1)) ;; esac
        case "$ended_before" in *" $id "*) counting=false ;; esac
        "$counting" || continue
        case "$current" in
            Failed* | Rejected*)
                failed=$((failed + 1))
                [ -n "$newest_error" ] || newest_error=$error
                ;;
            Running* | Complete*) counting=false ;;
        esac
    done <<TASKS
$list
TASKS
    if [ "$failed" -ge "$FAILED_IN_A_ROW" ]; then
        echo "failing:$newest_error"
    elif [ "$running" -gt 0 ] && [ "$others" -eq 0 ]; then
        echo running
    else
        echo waiting
    fi
}

# The newest task's state, for the progress line (Preparing covers the image's pull).
newest_task() {
    tasks 2>/dev/null | awk -F'|' 'NR == 1 { print $4 ($5 != "" ? " (" $5 ")" : "") }'
}

started=$(date +%s)
reported=$started
while :; do
    seen=$(look)
    now=$(date +%s)
    case "$seen" in
        running)
            echo "service $SERVICE: running $IMAGE after $((now - started)) s" >&2
            exit 0
            ;;
        rolled-back:*)
            reason=$(task_error)
            fail "the update to $IMAGE failed${reason:+ ($reason)}, so the swarm rolled it back: it runs its previous spec (${seen#rolled-back:}) again, and the services after it were not updated. Fix the image, wipp:version or the service's settings, then run pulumi up again."
            ;;
        paused:*)
            fail "the update to $IMAGE paused: ${seen#paused:}"
            ;;
        failing:*)
            fail "its task on $IMAGE failed $FAILED_IN_A_ROW times in a row, the last with: ${seen#failing:}. Fix the cause and run pulumi up again (the swarm keeps retrying meanwhile)."
            ;;
    esac
    if [ $((now - started)) -ge "$TIMEOUT_S" ]; then
        reason=$(task_error)
        fail "no task running $IMAGE after $TIMEOUT_S s (wipp:convergeTimeout)${reason:+; last task error: $reason}"
    fi
    if [ $((now - reported)) -ge "$PROGRESS_S" ]; then
        reported=$now
        echo "service $SERVICE: waiting $((now - started)) s for a task running $IMAGE; newest task: $(newest_task)" >&2
    fi
    sleep "$INTERVAL_S"
done

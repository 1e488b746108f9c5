#!/bin/sh
# The four named volumes of a one-host stack: which are this stack's own, and deleting only those.
# A volume the stack creates carries the label wipp.stack=OWNER (the Docker provider sets it when
# it makes the volume); one that was already there (NIST's setup.sh, made by hand) has none, and
# is adopted as it is.
# MODE=create  says, for each volume, whether it is this stack's, adopted, or about to be made
#              (changes nothing).
# MODE=delete  removes, only when DELETE_DATA is true, the volumes whose label names this stack;
#              every other volume is kept. A volume still held by a stopping container is tried
#              again for up to 120 s.
# Input variables: MODE, VOLUMES (names, one per line), OWNER, DELETE_DATA.
set -eu
set -f
: "$OWNER" "$DELETE_DATA"  # every input set, before anything (the loop may not reach them)

case "$MODE" in
    create | delete) ;;
    *) echo "stack-volumes: MODE must be create or delete, not '$MODE'" >&2; exit 1 ;;
esac

# owner_of NAME: prints the volume's wipp.stack label (empty without one); fails if there is no such volume.
owner_of() {
    found=$(docker volume inspect --format '{{index .Labels "wipp.stack"}}' "$1" 2>/dev/null) || return 1
    [ "$found" = "<no value>" ] && found=
    printf '%s' "$found"
}

# remove NAME: docker volume rm, again while a container that is stopping still holds it.
remove() {
    started=$(date +%s)
    until error=$(docker volume rm "$1" 2>&1 >/dev/null); do
        case "$error" in
            *"in use"*) ;;
            *) echo "stack-volumes: could not delete $1: $error" >&2; return 1 ;;
        esac
        if [ $(($(date +%s) - started)) -ge 120 ]; then
            echo "stack-volumes: could not delete $1 within 120 s: $error" >&2
            return 1
        fi
        sleep 1
    done
}

old_ifs=$IFS
IFS='
'
for volume in $VOLUMES; do
    IFS=$old_ifs
    if ! label=$(owner_of "$volume"); then
        if [ "$MODE" = create ]; then
            echo "stack-volumes: $volume is new: made with the label $OWNER (deleted on destroy only with wipp:deleteDataOnDestroy)" >&2
        else
            echo "stack-volumes: $volume is already gone" >&2
        fi
        continue
    fi
    if [ "$MODE" = create ]; then
        if [ "$label" = "$OWNER" ]; then
            echo "stack-volumes: $volume is this stack's own" >&2
        elif [ -z "$label" ]; then
            echo "stack-volumes: $volume was already there, unlabelled: using it, and it stays on destroy" >&2
        else
            echo "stack-volumes: $volume belongs to stack $label" >&2
            exit 1
        fi
    elif [ "$DELETE_DATA" != true ]; then
        echo "stack-volumes: kept $volume (wipp:deleteDataOnDestroy is false)" >&2
    elif [ "$label" != "$OWNER" ]; then
        echo "stack-volumes: kept $volume: this stack did not create it (its label is '${label:-none}', not $OWNER)" >&2
    else
        remove "$volume"
        echo "stack-volumes: deleted $volume (wipp:deleteDataOnDestroy is true)" >&2
    fi
done

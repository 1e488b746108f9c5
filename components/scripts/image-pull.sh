#!/bin/sh
# Pulls one image onto this host before any service needs it, so that neither a bring-up
# nor an upgrade waits for a pull inside a service's restart.
# On the first manager (PINNED empty) it pulls IMAGE by its tag and prints the reference
# the services run: IMAGE@sha256:... with the digest the registry (or the engine's mirror)
# served, so every node runs the same image. When the registry cannot be reached and the
# image is already on this host (an air-gapped host where it was docker load-ed), it uses
# that copy: with its registry digest if it has one, else the tag alone, and says so.
# On the other hosts (PINNED: what the first manager printed) it pulls that exact image.
# Fails, naming the host, the image and the registry's reason, when the image can be
# neither pulled nor found here (unknown tag, registry down, disk full).
# Input variables: HOST_NAME, IMAGE, PINNED, REGISTRY (the server to log in to, or empty;
# docker.io for Docker Hub), LOGIN (true: the user name and the password arrive on stdin,
# one line each; they go to a private, temporary Docker client config, never to a log).
set -eu

fail() {
    echo "pull: $HOST_NAME: $*" >&2
    exit 1
}

if [ "$LOGIN" = true ]; then
    IFS= read -r user || fail "no registry user name on stdin"
    IFS= read -r password || fail "no registry password on stdin"
    DOCKER_CONFIG=$(mktemp -d)
    export DOCKER_CONFIG
    trap 'rm -rf "$DOCKER_CONFIG"' EXIT
    if ! said=$(printf '%s\n' "$password" | docker login --username "$user" --password-stdin "$REGISTRY" 2>&1 >/dev/null); then
        fail "cannot log in to $REGISTRY as $user (wipp:registryUser, wipp:registryPassword): $said"
    fi
fi

# mirror_answers SOURCE MIRRORS: for each registry mirror (URLs, separated by spaces), what the engine
# answers when it pulls SOURCE (a Docker Hub image) from that mirror directly, each as
# "the registry mirror URL answered: ...; ". An image a mirror does serve is left untagged again.
mirror_answers() {
    path=$(image_repository "$1")
    path=${path#docker.io/}
    if [ -n "$(image_digest "$1")" ]; then
        reference="@$(image_digest "$1")"
    else
        tag=$(image_canonical "$1")
        reference=":${tag##*:}"
    fi
    for mirror in $2; do
        server=${mirror#*://}
        direct="${server%/}/$path$reference"
        if said=$(docker_within 600 pull --quiet "$direct" 2>&1 >/dev/null); then
            docker image rm "$direct" >/dev/null 2>&1 || true
            said="it has the image (the pull failed elsewhere)"
        fi
        printf 'the registry mirror %s answered: %s; ' "$mirror" "$(printf '%s' "$said" | tr '\n' ' ' | sed 's/ *$//')"
    done
}

# Pull a digest without its tag: the engine keeps it under that digest, which the services name.
wanted=${PINNED:-$IMAGE}
if [ -n "$(image_digest "$wanted")" ]; then
    source="$(image_repository "$wanted")@$(image_digest "$wanted")"
else
    source=$wanted
fi

started=$(date +%s)
if reason=$(docker_within "$DATA_BOUND_S" pull --quiet "$source" 2>&1 >/dev/null); then
    echo "pull: $HOST_NAME: $source pulled in $(($(date +%s) - started)) s" >&2
else
    reason=$(printf '%s' "$reason" | tr '\n' ' ')
    # A Docker Hub name goes to the engine's mirrors first; whatever they answered (refused, no such
    # tag, a full disk), the engine then falls back to Docker Hub and reports only that last answer,
    # which in a lab that reaches only its mirror is a DNS error. So the engine is asked again, for
    # the same image from each mirror as a registry of its own: its answer there is the real cause.
    mirrors=$(docker info --format '{{range .RegistryConfig.Mirrors}}{{.}} {{end}}' 2>/dev/null || true)
    case "$(image_repository "$source")" in
        docker.io/*) [ -z "$mirrors" ] || reason="$(mirror_answers "$source" "$mirrors")Docker Hub, asked last, answered: ${reason% }" ;;
    esac
    case "$reason" in
        *"no space left on device"*)
            root_dir=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker)
            reason="the disk that holds Docker's data ($root_dir) is full ($(df -Pk "$root_dir" | awk 'NR == 2 { printf "%d", $4 / 1024 }') MB free): ${reason% }" ;;
    esac
    docker image inspect "$source" >/dev/null 2>&1 ||
        fail "cannot pull $source: ${reason% }. Check the image name and tag (wipp:version, wipp:mongoImage, wipp:imageRegistry), the registry, and the free disk at $(docker info --format '{{.DockerRootDir}}' 2>/dev/null); no service was changed."
    echo "pull: $HOST_NAME: the registry did not serve $source (${reason% }); using the copy already on this host" >&2
fi

[ -z "$PINNED" ] || exit 0

# The digest the registry gave this repository (an image pulled from several places has several).
if [ -n "$(image_digest "$IMAGE")" ]; then
    echo "$IMAGE"
    exit 0
fi
repository=$(image_repository "$IMAGE")
digests=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$IMAGE")
for known in $digests; do
    if [ "$(image_repository "$known")" = "$repository" ]; then
        echo "$IMAGE@$(image_digest "$known")"
        exit 0
    fi
done
echo "pull: $HOST_NAME: note: $IMAGE has no registry digest on this host (loaded by hand, docker load?): the services run the tag $IMAGE, and each host must hold the same image under it" >&2
echo "$IMAGE"

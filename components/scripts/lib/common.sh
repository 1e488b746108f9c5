# Functions every host script may use; `render` puts this text ahead of each script.
# shellcheck shell=sh

# A step the program runs (components/host_command.py) starts with WIPP_STEP, WIPP_HOST and WIPP_BOUND_S,
# and runs under `timeout`, which sends TERM once the bound is reached: the step then says which it was.
if [ -n "${WIPP_STEP:-}" ]; then
    trap 'echo "$WIPP_STEP on $WIPP_HOST: did not finish within $WIPP_BOUND_S s, so it was ended (what it was doing is above)" >&2; exit 124' TERM
fi
# The script's stderr, kept as descriptor 9: the messages below reach it from a call whose stderr is silenced.
exec 9>&2

# docker ARGS...: Docker's CLI, bounded: an engine that stops answering would keep a call waiting forever.
# A call that has not returned within DOCKER_ANSWER_S seconds (120 unless the script sets another) is
# ended and fails, naming the step, the host and the call. Calls whose time grows with the data or the
# link (a pull, a backup's copy) go through docker_within with a bound of their own.
docker() {
    docker_within "${DOCKER_ANSWER_S:-120}" "$@"
}

# The bound of a docker call whose time grows with the data or the link: a backup's copy, a pull.
# shellcheck disable=SC2034 # read by the scripts this text is put ahead of
DATA_BOUND_S=86400

# docker_within SECONDS ARGS...: Docker's CLI, ended after SECONDS (status 124, and a line that says so).
docker_within() {
    _bound=$1
    shift
    command -v timeout >/dev/null 2>&1 || {
        echo "${WIPP_HOST:-this host}: the timeout command is missing: install coreutils (or busybox)" >&9
        return 127
    }
    _status=0
    timeout -k 10 "$_bound" docker "$@" || _status=$?
    if [ "$_status" -eq 124 ] || [ "$_status" -eq 137 ]; then
        echo "${WIPP_STEP:-a host step} on ${WIPP_HOST:-this host}: 'docker $1' got no answer from the Docker" \
            "Engine within $_bound s: is dockerd hung? (systemctl status docker; journalctl -u docker)" >&9
    fi
    return "$_status"
}

# docker_installed: whether Docker's CLI is on PATH (`command -v docker` names the function above).
docker_installed() {
    (
        unset -f docker
        command -v docker >/dev/null 2>&1
    )
}

# as_root COMMAND...: runs COMMAND as root (directly, or with sudo -n).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

# has_command NAME: whether NAME is on this user's PATH or on root's.
has_command() {
    # $1 in single quotes is the inner shell's: the name goes in as an argument, never as code.
    # shellcheck disable=SC2016
    command -v "$1" >/dev/null 2>&1 || as_root sh -c 'command -v "$1"' sh "$1" >/dev/null 2>&1
}

# ipv4_of ADDRESS: an IPv4 literal as it is (getent may find nothing for one on a host without
# addresses configured yet), a host name resolved; empty when it does not resolve.
ipv4_of() {
    case "$1" in
        *[!0-9.]*) getent ahostsv4 "$1" | awk 'NR == 1 { print $1 }' ;;
        *) echo "$1" ;;
    esac
}

# swarm_managers: the managers (address:port) of the swarm this node is in, one space after each.
swarm_managers() {
    docker info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}'
}

# swarm_membership MANAGER_ADDR: whether this node is in no swarm, in the swarm managed at
# MANAGER_ADDR, or in another one: none, this or another.
swarm_membership() {
    if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
        echo none
        return 0
    fi
    case " $(swarm_managers)" in
        *" $(ipv4_of "$1"):2377 "*) echo this ;;
        *) echo another ;;
    esac
}

# image_canonical REF: an image reference in its full form, domain/path[:tag][@digest], as Docker
# reads it: docker.io for a name without a registry, library/ for a one-part name, :latest when
# neither tag nor digest is given (mongo -> docker.io/library/mongo:latest).
image_canonical() {
    _ref=$1 _digest='' _tag=''
    case "$_ref" in *@*) _digest=${_ref#*@} _ref=${_ref%%@*} ;; esac
    case "${_ref##*/}" in *:*) _tag=${_ref##*:} _ref=${_ref%:*} ;; esac
    _domain=
    case "$_ref" in */*) _domain=${_ref%%/*} ;; esac
    case "$_domain" in
        index.docker.io | registry-1.docker.io) _ref="docker.io/${_ref#*/}" ;;
        *.* | *:* | localhost) ;;
        *) _ref="docker.io/$_ref" ;;
    esac
    case "$_ref" in docker.io/*/*) ;; docker.io/*) _ref="docker.io/library/${_ref#docker.io/}" ;; esac
    [ -n "$_tag" ] || [ -n "$_digest" ] || _tag=latest
    echo "$_ref${_tag:+:$_tag}${_digest:+@$_digest}"
}

# image_repository REF: the full repository of REF, without tag or digest (docker.io/library/mongo).
image_repository() {
    _ref=$(image_canonical "$1")
    _ref=${_ref%%@*}
    case "${_ref##*/}" in *:*) _ref=${_ref%:*} ;; esac
    echo "$_ref"
}

# image_digest REF: the digest in REF (sha256:...), or nothing.
image_digest() {
    case "$1" in *@*) echo "${1#*@}" ;; esac
}

# same_image A B: whether two references name one image: the same repository and, when both carry
# a digest, the same digest, else the same tag (mongo, mongo:latest and docker.io/library/mongo:latest
# are one image; mongo:3.4 and mongo:3.4@sha256:... too).
same_image() {
    if [ -n "$(image_digest "$1")" ] && [ -n "$(image_digest "$2")" ]; then
        [ "$(image_repository "$1")" = "$(image_repository "$2")" ] && [ "$(image_digest "$1")" = "$(image_digest "$2")" ]
    else
        _a=$(image_canonical "$1") _b=$(image_canonical "$2")
        [ "${_a%%@*}" = "${_b%%@*}" ]
    fi
}

# read_deployed: reads once what this first manager runs, the swarm's services ($swarm_services)
# and its containers ($containers), for deployed_image. An engine that does not answer stops the
# script (`fail`, the script's own): it must not look like nothing deployed.
read_deployed() {
    swarm_services=$(docker service ls --format '{{.Name}}') ||
        fail "cannot list the swarm's services on this host (is this the first manager, and may this user use docker?)"
    containers=$(docker container ls --all --format '{{.Names}}') || fail "cannot list the containers on this host"
}

# deployed_image SERVICE: the image SERVICE is set to run (a swarm service, or the wipp
# container), empty when it is not deployed (after read_deployed).
deployed_image() {
    if printf '%s\n' "$swarm_services" | grep -qx "$1"; then
        docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$1"
    elif [ "$1" = wipp ] && printf '%s\n' "$containers" | grep -qx wipp; then
        docker container inspect --format '{{.Config.Image}}' wipp
    fi
}

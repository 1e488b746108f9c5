# Functions every host script may use; `render` puts this text ahead of each script.
# shellcheck shell=sh

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

#!/bin/sh
# Checks one host before the program changes anything on it, and prints what it
# found as one JSON line on stdout (the stack exports it per host).
# Fails (what to fix, on which host) when: Docker Engine is missing or not running;
# the host is in another swarm, or the first manager is in a swarm but not as a
# manager; a published port is taken by something other than Docker; ufw is
# missing while the program manages the firewall; the kernel has no IPVS while the
# routing mesh or virtual IPs need it. Memory and disk below NIST's figures, less free disk
# than the images to pull need, and shared folders on the root file system (no mount Docker
# could wait for at boot), are warnings, or failures when STRICT is true.
# Input variables: HOST_NAME, POSITION (first-manager or joining), MANAGER_ADDR,
# PORTS (published ports to find free, may be empty), NEED_UFW, MIN_MEMORY_MB,
# MIN_DISK_GB, STRICT, IPVS_NEEDED_BY (the settings that need IPVS, empty if none),
# SHARED_FOLDERS (bind mode: the folders, separated by spaces; empty with volumes),
# IMAGES (the images the services run, as configured, separated by spaces).
set -eu
set -f

fail() {
    echo "preflight: $HOST_NAME: $*" >&2
    exit 1
}
warnings=
warn() {
    echo "preflight: $HOST_NAME: warning: $*" >&2
    warnings="$warnings${warnings:+; }$*"
}

# has_ipvs: whether the kernel has IPVS (ip_vs): loaded, built in, or a module it can load.
has_ipvs() {
    [ -e /proc/net/ip_vs ] && return 0
    grep -q '^ip_vs ' /proc/modules 2>/dev/null && return 0
    modules=/lib/modules/$(uname -r)
    grep -q '/ip_vs\.ko' "$modules/modules.builtin" "$modules/modules.dep" 2>/dev/null && return 0
    for modprobe in modprobe /usr/sbin/modprobe /sbin/modprobe; do
        if command -v "$modprobe" >/dev/null 2>&1; then
            "$modprobe" -n -q ip_vs 2>/dev/null
            return
        fi
    done
    return 1
}

# Docker Engine, answering.
docker_installed || fail "the docker command is missing: install Docker Engine"
if ! version=$(docker info --format '{{.ServerVersion}}' 2>/dev/null); then
    said=$(docker info --format '{{.ServerVersion}}' 2>&1 | grep -v '^$' | tail -n 1 || true)
    fail "Docker Engine does not answer here (docker info: ${said:-no answer}): check that it runs" \
        "(systemctl status docker; start it with systemctl start docker) and that $(id -un) may use it" \
        "(the docker group, or root)"
fi

# Swarm state: none, this swarm, or another swarm.
state=$(docker info --format '{{.Swarm.LocalNodeState}}')
swarm=$(swarm_membership "$MANAGER_ADDR")
if [ "$state" = active ]; then
    if [ "$POSITION" = first-manager ] && [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
        fail "it is in a swarm as a worker, but it is the first manager in wipp:hosts: make it leave (docker swarm leave) or list a manager first"
    fi
    if [ "$POSITION" = joining ] && [ "$swarm" = another ]; then
        managers=$(swarm_managers)
        fail "it is already in another swarm (its managers: ${managers% }): make it leave that swarm (docker swarm leave), or take it out of wipp:hosts"
    fi
elif [ "$state" != inactive ]; then
    fail "its swarm state is '$state'; expected active or inactive"
fi

# IPVS: the routing mesh (ingress) and service virtual IPs (vip) are IPVS rules; without it the
# services start and the published ports stay silent.
if [ -n "$IPVS_NEEDED_BY" ] && ! has_ipvs; then
    fail "the kernel ($(uname -r)) has no IPVS (no /proc/net/ip_vs, no ip_vs module loaded or" \
        "installed), which $IPVS_NEEDED_BY need: install the kernel's modules (modprobe ip_vs must" \
        "work), or set wipp:publishMode host and wipp:endpointMode dnsrr"
fi

# Memory and the free disk where Docker keeps images and volumes, against NIST's figures.
memory_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
root_dir=$(docker info --format '{{.DockerRootDir}}')
free_mb=$(df -Pk "$root_dir" 2>/dev/null | awk 'NR == 2 { printf "%d", $4 / 1024 }')
[ -n "$free_mb" ] || free_mb=$(df -Pk / | awk 'NR == 2 { printf "%d", $4 / 1024 }')
disk_gb=$((free_mb / 1024))
short=
if [ "$memory_mb" -lt "$MIN_MEMORY_MB" ]; then
    short="memory ${memory_mb} MB is below the ${MIN_MEMORY_MB} MB NIST asks for"
fi
if [ "$disk_gb" -lt "$MIN_DISK_GB" ]; then
    short="$short${short:+; }free disk ${disk_gb} GB at $root_dir is below the ${MIN_DISK_GB} GB NIST asks for"
fi
# The pulls: an image of IMAGES this host does not hold yet needs about as much disk as the largest
# image of the same name it holds (on an upgrade, the version before: a new version's images are
# about as large, and the layers they share make it less). An image with no earlier version here
# is not counted: on a first deployment NIST's figure above is the measure.
pulls_mb=0
for image in $IMAGES; do
    docker image inspect "$image" >/dev/null 2>&1 && continue
    name=${image%%@*}
    case "${name##*/}" in *:*) name=${name%:*} ;; esac
    largest=0
    for id in $(docker image ls --quiet --no-trunc "$name"); do
        size=$(docker image inspect --format '{{.Size}}' "$id")
        [ "$size" -le "$largest" ] || largest=$size
    done
    pulls_mb=$((pulls_mb + largest / 1048576))
done
if [ "$pulls_mb" -gt "$free_mb" ]; then
    short="$short${short:+; }free disk ${free_mb} MB at $root_dir is less than the about ${pulls_mb} MB the"
    short="$short new images need (as large as the versions of them this host holds): free some, or the pulls fail"
fi
# Shared folders: Docker waits at boot for the mounts they are on (RequiresMountsFor=); one on the
# root file system has no mount to wait for, and its data would stay on this host.
on_root=
for folder in $SHARED_FOLDERS; do
    above=$folder
    while [ ! -e "$above" ] && [ -n "${above%/*}" ]; do above=${above%/*}; done
    [ -e "$above" ] || above=/
    if [ "$(df -P -- "$above" 2>/dev/null | awk 'NR == 2 { print $6 }')" = / ]; then
        on_root="$on_root${on_root:+ }$folder"
    fi
done
if [ -n "$on_root" ]; then
    short="$short${short:+; }the shared folders $on_root are on the root file system, not on a mount of"
    short="$short their own (is the shared storage mounted?): Docker cannot wait for them at boot"
fi
if [ -n "$short" ]; then
    if [ "$STRICT" = true ]; then
        fail "$short (wipp:strictPreflight is true)"
    fi
    warn "$short"
fi

# Published ports: free, or Docker's own (a running WIPP publishes them). Any user sees whether
# something listens; naming the program needs root (ss -p), asked for only then.
for port in $PORTS; do
    listening=$(ss -Hltn "sport = :$port") || fail "ss cannot list the listening ports: install iproute2"
    [ -n "$listening" ] || continue
    listeners=$(as_root ss -Hltnp "sport = :$port" 2>&1) ||
        fail "port $port is taken, and naming the program needs ss as root, which failed: $listeners"
    holders=$(printf '%s\n' "$listeners" | grep -o 'users:(("[^"]*"' | cut -d'"' -f2 | sort -u)
    [ -n "$holders" ] || fail "port $port is taken by a program ss does not name: stop it, or choose another wipp:webPort / wipp:dashboardPort"
    for holder in $holders; do
        case "$holder" in
            dockerd | docker-proxy) ;;
            *) fail "port $port is taken by $holder: stop it, or choose another wipp:webPort / wipp:dashboardPort" ;;
        esac
    done
done

# ufw, when the program manages the firewall.
if [ "$NEED_UFW" = true ] && ! has_command ufw; then
    fail "ufw is not installed: install it, or set wipp:manageFirewall false"
fi

echo "preflight: $HOST_NAME: Docker $version, swarm: $swarm, ${memory_mb} MB, ${disk_gb} GB free," \
    "the pulls need about ${pulls_mb} MB" >&2
printf '{"docker": "%s", "swarm": "%s", "memoryMb": %s, "diskFreeGb": %s, "pullsNeedMb": %s, "warnings": "%s"}\n' \
    "$version" "$swarm" "$memory_mb" "$disk_gb" "$pulls_mb" "$warnings"

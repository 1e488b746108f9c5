# Shared by the stand-in entrypoints (test images only, not WIPP).
# shellcheck shell=sh

# Serve /www on each given port in the background; stop cleanly on SIGTERM
# (the shell is PID 1, so without the trap `docker stop` would wait 10 s).
serve_forever() {
    pids=""
    for port in "$@"; do
        httpd -f -p "$port" -h /www &
        pids="$pids $!"
    done
    # shellcheck disable=SC2064,SC2086
    trap "kill $pids 2>/dev/null; exit 0" TERM INT
    wait
}

# Print the IPv4 address a service name resolves to on the overlay network,
# trying for at most 30 s.
resolve() {
    tries=0
    while [ "$tries" -lt 60 ]; do
        ip=$(nslookup "$1" 2>/dev/null | awk '/^Address/ && !/:53$/ { a = $NF } END { print a }')
        if [ -n "$ip" ]; then
            echo "$ip"
            return 0
        fi
        tries=$((tries + 1))
        sleep 0.5
    done
    return 1
}

# Succeed once http://<name>:<port>/ answers, trying for at most 30 s.
reach() {
    tries=0
    until wget -q -O /dev/null "http://$1:$2/"; do
        tries=$((tries + 1))
        [ "$tries" -lt 60 ] || return 1
        sleep 0.5
    done
}

mkdir -p /www

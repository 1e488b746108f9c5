#!/bin/sh
# Waits, on the first manager, until WIPP answers: the web port answers HTTP (any status:
# Tomcat is up) and the dashboard port accepts connections (Pegasus's TLS; no certificate is
# checked, only that something takes the connection). Runs after the last service, so that
# `pulumi up` ends only when the user's webUrl works. Needs curl or wget, bash and timeout.
# Fails, naming each port that does not answer, when TIMEOUT_S passes first.
# Input variables: ADDRESS (where the ports are published: the bind address or the first
# manager's), WEB_PORT, DASHBOARD_PORT, TIMEOUT_S, INTERVAL_S, SERVICES_DIGEST (changes
# whenever a service changes, so that Pulumi runs this wait again after every change).
set -eu

# What asks: curl, else wget (one of them is on most hosts).
if command -v curl >/dev/null 2>&1; then
    client=curl
elif command -v wget >/dev/null 2>&1; then
    client=wget
else
    echo "web-answers: neither curl nor wget is installed on $(hostname): install one of them" >&2
    exit 1
fi
if ! command -v bash >/dev/null 2>&1 || ! command -v timeout >/dev/null 2>&1; then
    echo "web-answers: bash and timeout are needed on $(hostname) to try the dashboard port" >&2
    exit 1
fi

# web_answers: whether http://ADDRESS:WEB_PORT/ answers with any HTTP status.
web_answers() {
    if [ "$client" = curl ]; then
        code=$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://$ADDRESS:$WEB_PORT/" || true)
        [ -n "$code" ] && [ "$code" != 000 ]
    else
        # wget exits 8 when the server answered with an error status: it still answered.
        status=0
        wget -q -O /dev/null -T 2 -t 1 "http://$ADDRESS:$WEB_PORT/" || status=$?
        [ "$status" -eq 0 ] || [ "$status" -eq 8 ]
    fi
}

# dashboard_accepts: whether ADDRESS:DASHBOARD_PORT takes a TCP connection, whatever it speaks
# (bash's /dev/tcp: the only plain connect every Linux host has).
dashboard_accepts() {
    # shellcheck disable=SC2016  # $0 and $1 are bash's, the address and port passed after the text
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$ADDRESS" "$DASHBOARD_PORT" 2>/dev/null
}

started=$(date +%s)
while :; do
    missing=
    web_answers || missing="the web port $WEB_PORT (HTTP)"
    dashboard_accepts || missing="$missing${missing:+ and }the dashboard port $DASHBOARD_PORT"
    if [ -z "$missing" ]; then
        echo "web-answers: WIPP answers on $ADDRESS:$WEB_PORT and $ADDRESS:$DASHBOARD_PORT after $(($(date +%s) - started)) s" >&2
        exit 0
    fi
    if [ $(($(date +%s) - started)) -ge "$TIMEOUT_S" ]; then
        echo "web-answers: WIPP does not answer on $ADDRESS: $missing did not answer within $TIMEOUT_S s" \
            "(wipp:convergeTimeout); look at the wipp service's logs (docker service logs wipp, or docker logs wipp)" >&2
        exit 1
    fi
    sleep "$INTERVAL_S"
done

#!/bin/sh
# Open (ACTION=allow) or close again (ACTION=delete) WIPP's ports with ufw,
# as NIST's step 5 does. ufw skips rules it already has and ignores deletes of
# rules it does not have, so both directions are safe to re-run.
# This script never enables or disables ufw itself.
# Input variables: ACTION, RULES ("port/proto ..."), SOURCES ("any" or CIDRs).
set -eu

case "$ACTION" in
    allow|delete) ;;
    *) echo "firewall: ACTION must be allow or delete, not '$ACTION'" >&2; exit 1 ;;
esac
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}
if ! command -v ufw >/dev/null 2>&1 && ! as_root sh -c 'command -v ufw' >/dev/null 2>&1; then
    echo "firewall: ufw is not installed on $(hostname); install it or set wipp:manageFirewall false" >&2
    exit 1
fi

for source in $SOURCES; do
    for rule in $RULES; do
        port=${rule%/*}
        proto=${rule#*/}
        if [ "$ACTION" = allow ]; then verb="allow"; else verb="delete allow"; fi
        if [ "$source" = any ]; then
            # shellcheck disable=SC2086 # $verb is two words on purpose
            as_root ufw $verb "$port/$proto" >&2
        else
            # shellcheck disable=SC2086
            as_root ufw $verb from "$source" to any port "$port" proto "$proto" >&2
        fi
    done
done
echo "firewall: $ACTION done for $RULES from $SOURCES" >&2

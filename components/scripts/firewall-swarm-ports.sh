#!/bin/sh
# Limit Docker Swarm's ports on this host (2377, 7946, 4789) to the cluster's own
# hosts and wipp:allowedSources with ufw: an allow per source and protocol (its
# ports as one list, "2377,7946") at the top of ufw's rules, then a deny of those
# ports from anywhere else. Every rule carries TAG as its ufw comment, which is how
# remove tells this stack's rules from others. One rule per protocol, not per port:
# each ufw command costs seconds on a slow host.
# ACTION=apply   adds the rules this host lacks. A rule that is already there
#                untagged (or tagged by someone else) is the administrator's: it is
#                left as it is and not taken over. A rule of an earlier rule set of
#                this stack (STACK_TAG prefix) is re-tagged, so that set's remove
#                does not take it away.
# ACTION=remove  deletes the rules tagged TAG, and nothing else.
# This script never enables or disables ufw.
# Input variables: ACTION, PORTS ("port/proto ..."), SOURCES (IPv4 addresses,
# host names or CIDRs), TAG, STACK_TAG.
set -eu
set -f  # sources and ports are split on spaces, never globbed

if ! has_command ufw; then
    echo "firewall: ufw is not installed on $(hostname); install it or set wipp:manageFirewall false" >&2
    exit 1
fi

# ufw lists added rules as its own command lines: "ufw allow from X to any port P proto T comment 'C'".
added_rules() {
    as_root ufw show added | sed -n 's/^ufw //p'
}

# A source as ufw writes it: CIDRs as they are, single addresses bare, host names resolved.
ufw_source() {
    case "$1" in
        */32) echo "${1%/32}" ;;
        */128) echo "${1%/128}" ;;
        */*) echo "$1" ;;
        *) ipv4_of "$1" ;;
    esac
}

# ports_of PROTO: the ports of PORTS with that protocol, as ufw writes a list of them:
# sorted, comma-separated ("2377,7946"); empty when there are none.
ports_of() {
    for port_proto in $PORTS; do
        if [ "${port_proto#*/}" = "$1" ]; then
            echo "${port_proto%/*}"
        fi
    done | sort -n | paste -sd , -
}

# has_line TEXT LINE exact|prefix: whether a line of TEXT is LINE, or starts with it.
has_line() {
    printf '%s\n' "$1" | awk -v want="$2" -v how="$3" '
        (how == "exact" && $0 == want) || (how == "prefix" && index($0, want) == 1) { found = 1 }
        END { exit !found }'
}

# ensure_rule WHERE RULE...: WHERE is prepend (allows, ahead of every deny) or append (denies).
# Looks in $current, ufw's added rules as read once before the first rule (each ufw start costs
# about a second, many on a slow host), and adds each rule it makes there too.
ensure_rule() {
    where=$1
    shift
    rule="$*"
    if has_line "$current" "$rule comment '$TAG'" exact; then
        return 0
    fi
    if has_line "$current" "$rule comment '$STACK_TAG" prefix; then
        # shellcheck disable=SC2086 # the rule's words on purpose
        as_root ufw $rule comment "$TAG" >&2
    elif has_line "$current" "$rule" exact || has_line "$current" "$rule comment " prefix; then
        echo "firewall: '$rule' is already there and not this stack's; left to the administrator" >&2
        return 0
    elif [ "$where" = prepend ]; then
        # shellcheck disable=SC2086
        as_root ufw prepend $rule comment "$TAG" >&2
    else
        # shellcheck disable=SC2086
        as_root ufw $rule comment "$TAG" >&2
    fi
    current="$current
$rule comment '$TAG'"
}

case "$ACTION" in
    apply)
        # Every source resolved before the first rule changes: a name that does not resolve stops it all.
        resolved_sources=
        for source in $SOURCES; do
            resolved=$(ufw_source "$source")
            [ -n "$resolved" ] || { echo "firewall: cannot resolve $source to an IPv4 address" >&2; exit 1; }
            resolved_sources="$resolved_sources $resolved"
        done
        current=$(added_rules)
        for proto in tcp udp; do
            listed=$(ports_of "$proto")
            [ -n "$listed" ] || continue
            for source in $resolved_sources; do
                ensure_rule prepend allow from "$source" to any port "$listed" proto "$proto"
            done
            ensure_rule append deny "$listed/$proto"
        done
        if as_root ufw status | grep -q '^Status: inactive'; then
            echo "firewall: WARNING: ufw is inactive on $(hostname): the swarm port rules are stored but not" \
                "enforced until an administrator enables ufw" >&2
        fi
        echo "firewall: swarm ports $PORTS limited to $SOURCES ($TAG)" >&2 ;;
    remove)
        added_rules | grep -F " comment '$TAG'" | sed "s/ comment '.*'\$//" | while IFS= read -r rule; do
            # shellcheck disable=SC2086
            as_root ufw delete $rule comment "$TAG" >&2
        done
        echo "firewall: removed the rules tagged $TAG" >&2 ;;
    *)
        echo "firewall: ACTION must be apply or remove, not '$ACTION'" >&2
        exit 1 ;;
esac

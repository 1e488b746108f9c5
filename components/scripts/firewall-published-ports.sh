#!/bin/sh
# Limit who reaches the ports WIPP publishes (web and dashboard) to
# wipp:allowedSources, with rules in Docker's DOCKER-USER chain. Docker sends
# published traffic through its own chains ahead of ufw's, so only DOCKER-USER
# restricts it, in ingress and host publish mode alike. The rules match the port
# the client asked for (conntrack's original destination port), before Docker
# rewrites it: per port, a RETURN (on to Docker's rules) for each allowed source,
# then a DROP for everyone else. Each rule carries TAG as an iptables comment.
# ACTION=apply   inserts the rules this host lacks at the top of DOCKER-USER.
# ACTION=remove  deletes every rule tagged TAG, and nothing else.
# Rules in DOCKER-USER last until the host restarts: where systemd runs, apply
# also installs a unit that applies them again after docker.service starts, and
# remove takes that unit away.
# Input variables: ACTION, PORTS ("port ..."), SOURCES (CIDRs), TAG,
# PERSIST_DIR (where the unit's copy of the rules goes, normally /etc/wipp).
# The inputs are set ahead of this text (components/scripts.py, render); shellcheck cannot see them.
# shellcheck disable=SC2153
set -eu
set -f  # ports and sources are split on spaces, never globbed

# has_docker_user BINARY: whether BINARY (iptables or ip6tables) has Docker's DOCKER-USER chain.
# A user whom sudo refuses BINARY is told so: that is not the same as a host without the chain.
has_docker_user() {
    if errors=$(as_root "$1" -w -S DOCKER-USER 2>&1 >/dev/null); then
        return 0
    fi
    case "$errors" in
        *"command not found"*) ;;
        sudo:*)
            echo "firewall: $(id -un) may not run $1 with sudo -n on $(hostname): $errors" >&2
            exit 1 ;;
    esac
    return 1
}

# rule_args SOURCE PORT VERDICT: one rule's match and target, with the tag.
rule_args() {
    if [ -n "$1" ]; then printf '%s ' -s "$1"; fi
    printf '%s ' -p tcp -m conntrack --ctorigdstport "$2" --ctdir ORIGINAL -m comment --comment "$TAG" -j "$3"
}

insert_once() {
    binary=$1
    shift
    if ! as_root "$binary" -w -C DOCKER-USER "$@" 2>/dev/null; then
        as_root "$binary" -w -I DOCKER-USER 1 "$@"
    fi
}

# apply_family BINARY SOURCES: the DROPs first, then the RETURNs above them.
apply_family() {
    binary=$1
    sources=$2
    for port in $PORTS; do
        # shellcheck disable=SC2046 # rule_args prints words without globs or spaces inside
        insert_once "$binary" $(rule_args "" "$port" DROP)
    done
    for port in $PORTS; do
        for source in $sources; do
            # shellcheck disable=SC2046
            insert_once "$binary" $(rule_args "$source" "$port" RETURN)
        done
    done
}

remove_family() {
    binary=$1
    has_docker_user "$binary" || return 0
    # iptables -S quotes a comment with ':' in it; the rule is given back to -D without the quotes.
    as_root "$binary" -w -S DOCKER-USER | awk -v tag="$TAG" '
        $1 == "-A" {
            for (i = 1; i < NF; i++) {
                if ($i == "--comment" && ($(i + 1) == tag || $(i + 1) == "\"" tag "\"")) {
                    $(i + 1) = tag
                    print
                    next
                }
            }
        }
    ' | while IFS= read -r rule; do
        # shellcheck disable=SC2086 # the listed rule's words, "-A" turned into "-D"
        as_root "$binary" -w -D ${rule#-A }
    done
}

unit_name() {
    printf 'wipp-published-ports-%s.service' "$(printf '%s' "$TAG" | tr -c 'A-Za-z0-9_.-' '-')"
}

persist() {
    if [ ! -d /run/systemd/system ]; then
        echo "firewall: no systemd on $(hostname): the DOCKER-USER rules last until the host restarts;" \
            "after a restart, apply them again with pulumi up --replace <URN of this command>" >&2
        return 0
    fi
    unit=$(unit_name)
    copy="$PERSIST_DIR/${unit%.service}.sh"
    as_root mkdir -p "$PERSIST_DIR"
    # The unit runs exactly this apply again: the variables and this script, from a root-owned copy.
    {
        printf 'ACTION=apply\nPORTS=%s\nSOURCES=%s\nTAG=%s\nPERSIST_DIR=%s\nNO_PERSIST=true\n' \
            "'$PORTS'" "'$SOURCES'" "'$TAG'" "'$PERSIST_DIR'"
        printf '%s\n' "$SCRIPT_BODY"
    } | as_root tee "$copy" >/dev/null
    printf '%s\n' \
        "[Unit]" \
        "Description=WIPP: published ports limited to wipp:allowedSources ($TAG)" \
        "After=docker.service" \
        "PartOf=docker.service" \
        "[Service]" \
        "Type=oneshot" \
        "RemainAfterExit=yes" \
        "ExecStart=/bin/sh $copy" \
        "[Install]" \
        "WantedBy=docker.service" | as_root tee "/etc/systemd/system/$unit" >/dev/null
    as_root systemctl daemon-reload
    as_root systemctl enable "$unit" >&2
    echo "firewall: $unit applies these rules again after every start of docker.service" >&2
}

unpersist() {
    [ -d /run/systemd/system ] || return 0
    unit=$(unit_name)
    if [ -f "/etc/systemd/system/$unit" ]; then
        as_root systemctl disable "$unit" >&2 || true
        as_root rm -f "/etc/systemd/system/$unit" "$PERSIST_DIR/${unit%.service}.sh"
        as_root systemctl daemon-reload
    fi
}

v4_sources=
v6_sources=
for source in $SOURCES; do
    case "$source" in
        *:*) v6_sources="$v6_sources $source" ;;
        *) v4_sources="$v4_sources $source" ;;
    esac
done

case "$ACTION" in
    apply)
        if ! has_docker_user iptables; then
            echo "firewall: iptables on $(hostname) has no DOCKER-USER chain: Docker must be running with its" \
                "iptables firewall (the default) for wipp:allowedSources to restrict the published ports" >&2
            exit 1
        fi
        apply_family iptables "$v4_sources"
        if has_docker_user ip6tables; then
            apply_family ip6tables "$v6_sources"
        fi
        [ "${NO_PERSIST:-false}" = true ] || persist
        echo "firewall: ports $PORTS reachable only from $SOURCES ($TAG)" >&2 ;;
    remove)
        unpersist
        remove_family iptables
        remove_family ip6tables
        echo "firewall: removed the DOCKER-USER rules tagged $TAG" >&2 ;;
    *)
        echo "firewall: ACTION must be apply or remove, not '$ACTION'" >&2
        exit 1 ;;
esac

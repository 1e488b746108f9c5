#!/bin/sh
# The stand-in mongod's answers (busybox httpd CGI, installed as /www/cgi-bin/<endpoint>):
#   GET  dump                    the database as an archive (a tar of db/<collection>/<id>)
#   POST restore[?drop=1]        an archive back: each collection in it replaced (drop) or
#                                its missing documents added
#   POST insert?<collection>/<id>  the body as one document
#   GET  find?<collection>/<id>    one document
set -u
DB=/data/db
LOG=$DB/standin-mongod.log

ok() {
    printf 'Content-Type: application/octet-stream\r\n\r\n'
}

refuse() {
    printf 'HTTP/1.0 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\n%s\n' "$*"
    echo "refused ${SCRIPT_NAME##*/} from ${REMOTE_ADDR:-?}: $*" >> "$LOG"
    exit 0
}

document() {  # the collection/id of the query, checked
    case "${QUERY_STRING:-}" in
        */*/* | *[!A-Za-z0-9._/-]* | .* | */.*) refuse "not a collection/id: ${QUERY_STRING:-}" ;;
        ?*/?*) echo "$QUERY_STRING" ;;
        *) refuse "not a collection/id: ${QUERY_STRING:-}" ;;
    esac
}

case "${SCRIPT_NAME##*/}" in
    dump)
        ok
        tar -C "$DB" -cf - db
        echo "dump $(date +%s) served to ${REMOTE_ADDR:-?} by $(hostname)" >> "$LOG" ;;
    restore)
        incoming=$DB/.restore-$$
        rm -rf "$incoming"
        mkdir -p "$incoming"
        # The body is base64 (busybox wget posts a file as text, ending at its first NUL byte).
        head -c "${CONTENT_LENGTH:-0}" | base64 -d | tar -C "$incoming" -xf - || { rm -rf "$incoming"; refuse "not an archive"; }
        [ -d "$incoming/db" ] || { rm -rf "$incoming"; refuse "an archive without a database"; }
        for collection in "$incoming"/db/*; do
            [ -d "$collection" ] || continue
            name=${collection##*/}
            if [ "${QUERY_STRING:-}" = drop=1 ]; then
                rm -rf "$DB/db/$name"
                mv "$collection" "$DB/db/$name"
            else
                mkdir -p "$DB/db/$name"
                for doc in "$collection"/*; do
                    [ -e "$DB/db/$name/${doc##*/}" ] || mv "$doc" "$DB/db/$name/"
                done
            fi
        done
        rm -rf "$incoming"
        echo "restore $(date +%s) from ${REMOTE_ADDR:-?} by $(hostname) query=${QUERY_STRING:-}" >> "$LOG"
        ok
        echo restored ;;
    insert)
        path=$(document)
        mkdir -p "$DB/db/${path%/*}"
        head -c "${CONTENT_LENGTH:-0}" > "$DB/db/$path"
        ok
        echo inserted ;;
    find)
        path=$(document)
        [ -f "$DB/db/$path" ] || refuse "no document $path"
        ok
        cat "$DB/db/$path" ;;
    *) refuse "no such endpoint" ;;
esac

# shellcheck shell=sh
# The stand-in's client tools, reaching the server over the network only:
#   mongodump --host H [--port P] --archive[=FILE]            (stdout without FILE)
#   mongorestore --host H [--port P] [--drop] --archive[=FILE]  (stdin without FILE)
#   standin-insert --host H <collection>/<id> <text>           (test data, as WIPP writes it)
#   standin-find --host H <collection>/<id>
# Any other argument is refused, so the program cannot lean on an option the stand-in ignores.
set -eu
tool=$1
shift
case "$tool" in
    standin-insert | standin-find)
        [ "${1:-}" = --host ] && [ "$#" -ge 3 ] || { echo "$tool stand-in: --host H <collection>/<id> [text]" >&2; exit 2; }
        url="http://$2:27017/cgi-bin"
        if [ "$tool" = standin-find ]; then
            exec wget -q -O - "$url/find?$3"
        fi
        printf '%s' "${4:-}" > "/tmp/document-$$"
        exec wget -q -O /dev/null --post-file "/tmp/document-$$" "$url/insert?$3" ;;
esac
host="" port=27017 archive="" drop=0
while [ "$#" -gt 0 ]; do
    case "$1" in
        --host) host=$2; shift ;;
        --host=*) host=${1#--host=} ;;
        --port) port=$2; shift ;;
        --port=*) port=${1#--port=} ;;
        --archive) archive=- ;;
        --archive=*) archive=${1#--archive=} ;;
        --drop) [ "$tool" = mongorestore ] || { echo "$tool: unknown option --drop" >&2; exit 2; }; drop=1 ;;
        -*) echo "$tool stand-in: unsupported option $1" >&2; exit 2 ;;
        *) echo "$tool stand-in: unexpected argument $1" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$host" ] || { echo "$tool stand-in: --host is required here" >&2; exit 2; }
url="http://$host:$port/cgi-bin"
case "$tool" in
    mongodump)
        [ -n "$archive" ] || { echo "mongodump stand-in: only --archive dumps are supported" >&2; exit 2; }
        if [ "$archive" = - ]; then
            wget -q -O - "$url/dump"
        else
            wget -q -O "$archive" "$url/dump" || { rm -f "$archive"; exit 1; }
        fi
        echo "mongodump stand-in: dumped $host:$port" >&2 ;;
    mongorestore)
        [ -n "$archive" ] || { echo "mongorestore stand-in: only --archive restores are supported" >&2; exit 2; }
        if [ "$archive" = - ]; then
            archive=/tmp/restore-$$
            cat > "$archive"
        fi
        [ -s "$archive" ] || { echo "mongorestore stand-in: $archive is empty or missing" >&2; exit 1; }
        base64 "$archive" > "/tmp/restore-$$.b64"  # busybox wget posts a file as text: no NUL bytes
        wget -q -O /dev/null --post-file "/tmp/restore-$$.b64" "$url/restore?drop=$drop"
        echo "mongorestore stand-in: restored into $host:$port" >&2 ;;
esac

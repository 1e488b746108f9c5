# shellcheck shell=sh
# Stand-in for wipp/wipp_master: started with -m, listens on 9618.
set -eu
# shellcheck source=tests/engine/standins/lib.sh  # /standin/lib.sh in the image
. /standin/lib.sh
[ "${1:-}" = "-m" ] || { echo "master stand-in: expected -m, got: $*" >&2; exit 2; }
echo "master stand-in $STANDIN_VERSION args=$*" > /www/index.html
serve_forever 9618

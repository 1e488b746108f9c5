# shellcheck shell=sh
# Stand-in for wipp/wipp_executor: `-e <master> <memory>`; resolves and
# reaches the master, records its arguments in the WIPP data mount.
set -eu
# shellcheck source=tests/engine/standins/lib.sh  # /standin/lib.sh in the image
. /standin/lib.sh
[ "$#" -eq 3 ] && [ "$1" = "-e" ] || { echo "exec stand-in: expected -e <master> <memory>, got: $*" >&2; exit 2; }
master_ip=$(resolve "$2") || { echo "exec stand-in: cannot resolve $2" >&2; exit 1; }
reach "$2" 9618 || { echo "exec stand-in: master $2 does not answer on 9618" >&2; exit 1; }
mkdir -p /data/WIPP
echo "version=$STANDIN_VERSION master=$2 $master_ip reached memory=$3" > /data/WIPP/standin-executor.txt
echo "exec stand-in $STANDIN_VERSION" > /www/index.html
serve_forever 8081

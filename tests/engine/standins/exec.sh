# Stand-in for wipp/wipp_executor: `-e <master> <memory>`; resolves and
# reaches the master, records its arguments in the WIPP data mount.
set -eu
. /standin/lib.sh
[ "$#" -eq 3 ] && [ "$1" = "-e" ] || { echo "exec stand-in: expected -e <master> <memory>, got: $*" >&2; exit 2; }
master_ip=$(resolve "$2") || { echo "exec stand-in: cannot resolve $2" >&2; exit 1; }
tries=0
until wget -q -O /dev/null "http://$2:9618/"; do
    tries=$((tries + 1))
    [ "$tries" -lt 60 ] || { echo "exec stand-in: master $2 does not answer" >&2; exit 1; }
    sleep 0.5
done
mkdir -p /data/WIPP
echo "version=$STANDIN_VERSION master=$2 $master_ip reached memory=$3" > /data/WIPP/standin-executor.txt
echo "exec stand-in $STANDIN_VERSION" > /www/index.html
serve_forever 8081

# shellcheck shell=sh
# Stand-in for wipp/wipp: takes the master and mongo service names, resolves
# and reaches both on the overlay network, reports what it found, then serves
# the web interface (8080) and the Pegasus dashboard (5005).
# A third argument, for the tests of `up`'s web wait only: answer-after=<seconds> serves only
# that long after the start (a slow Tomcat), never-answer runs without serving at all.
set -eu
# shellcheck source=tests/engine/standins/lib.sh  # /standin/lib.sh in the image
. /standin/lib.sh
[ "$#" -eq 2 ] || [ "$#" -eq 3 ] || { echo "wipp stand-in: expected <master> <mongodb> [answer-after=N|never-answer], got: $*" >&2; exit 2; }
started=$(date +%s)
master_ip=$(resolve "$1") || { echo "wipp stand-in: cannot resolve $1" >&2; exit 1; }
mongo_ip=$(resolve "$2") || { echo "wipp stand-in: cannot resolve $2" >&2; exit 1; }
reach "$1" 9618 || { echo "wipp stand-in: master $1 does not answer on 9618" >&2; exit 1; }
reach "$2" 27017 || { echo "wipp stand-in: mongodb $2 does not answer on 27017" >&2; exit 1; }
{
    echo "version=$STANDIN_VERSION"
    echo "args=$*"
    echo "master=$1 $master_ip"
    echo "mongodb=$2 $mongo_ip"
    echo "reached=$1:9618 $2:27017"
} > /www/report.txt
echo "WIPP stand-in $STANDIN_VERSION" > /www/index.html
case "${3:-}" in
    answer-after=*) trap 'exit 0' TERM INT; sleep "${3#answer-after=}" & wait "$!"; trap - TERM INT ;;
    never-answer) trap 'exit 0' TERM INT; while :; do sleep 1 & wait "$!"; done ;;
esac
{ echo "started=$started"; echo "answering=$(date +%s)"; } >> /www/report.txt
serve_forever 8080 5005

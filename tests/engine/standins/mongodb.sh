# shellcheck shell=sh
# Stand-in for mongo:3.4: keeps its files under /data/db (the wippdb mount)
# and listens on MongoDB's port 27017.
set -eu
# shellcheck source=tests/engine/standins/lib.sh  # /standin/lib.sh in the image
. /standin/lib.sh
mkdir -p /data/db
echo "start $(date +%s) version=$STANDIN_VERSION" >> /data/db/standin-mongod.log
echo "mongodb stand-in $STANDIN_VERSION" > /www/index.html
serve_forever 27017

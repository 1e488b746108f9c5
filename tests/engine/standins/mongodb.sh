# shellcheck shell=sh
# Stand-in for mongo:3.4 (test image only, not MongoDB).
# As the server (no arguments): keeps its database under /data/db/db (the wippdb mount), one
# folder per collection, one file per document, and listens on MongoDB's port 27017, where it
# also answers the dumps and restores of its client tools (HTTP CGI standing in for MongoDB's
# wire protocol); every dump and restore it serves is logged in /data/db/standin-mongod.log.
# As a client (`docker run mongo:3.4 mongodump ...`, as the real image's entrypoint runs any
# command): mongodump, mongorestore, and the test-only standin-insert and standin-find, all
# over the network (mongo-tools.sh).
set -eu
case "${1:-}" in
    mongodump | mongorestore | standin-insert | standin-find) exec /bin/sh /standin/mongo-tools.sh "$@" ;;
esac
# As mongo's image does when started as root, before it drops to its own user: the database folder
# given to that user (999) at every start. Where root may not (NFS with root_squash) the start
# fails here, as the real one does; run as another user (wipp:mongoUser) it skips this.
if [ "$(id -u)" -eq 0 ]; then
    chown -R 999:999 /data/db
fi
# shellcheck source=tests/engine/standins/lib.sh  # /standin/lib.sh in the image
. /standin/lib.sh
mkdir -p /data/db/db /www/cgi-bin
echo "start $(date +%s) version=$STANDIN_VERSION" >> /data/db/standin-mongod.log
echo "mongodb stand-in $STANDIN_VERSION" > /www/index.html
for endpoint in dump restore insert find; do
    cp /standin/mongo-cgi.sh "/www/cgi-bin/$endpoint"
    chmod 755 "/www/cgi-bin/$endpoint"
done
serve_forever 27017

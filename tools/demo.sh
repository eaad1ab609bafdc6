#!/usr/bin/env bash
# A throwaway PostgreSQL cluster in ./.demo with apikit preloaded, and the
# scripted tour of demo/tour.sql run against it.
#
#   tools/demo.sh start [PG_CONFIG]    (make demo)
#   tools/demo.sh stop  [PG_CONFIG]    (make demo-stop: stop it and remove ./.demo)
#
# The server listens on 127.0.0.1 and on a socket in ./.demo, port
# $APIKIT_DEMO_PORT (default 54329), with trust authentication for local
# connections: it is for trying apikit, never for data you want to keep.
set -euo pipefail
action=${1:-start}
pg_config=${2:-pg_config}
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tools/common.sh"

dir=$top/.demo
# ./.demo may be a link (see below); the server is given the real path.
data=$(readlink -f "$dir" 2>/dev/null || echo "$dir")/data
port=${APIKIT_DEMO_PORT:-54329}
bindir=$("$pg_config" --bindir)
major=$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')

running() {
	[ -f "$data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

case $action in
stop)
	if running; then
		as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop
	fi
	if [ -L "$dir" ]; then rm -rf "$(readlink -f "$dir")"; fi
	rm -rf "$dir"
	echo "demo: stopped and removed $dir"
	exit 0
	;;
start) ;;
*)
	echo "usage: tools/demo.sh start|stop [PG_CONFIG]" >&2
	exit 2
	;;
esac

ensure_user
# As root, the server runs as the unprivileged user, who may not be able to
# reach a checkout under /root: the cluster then lives in that user's home
# and ./.demo is a link to it.
if [ "$(id -u)" = 0 ] && [ ! -e "$dir" ] && ! runuser -u "$apikit_user" -- test -x "$top"; then
	home=$(getent passwd "$apikit_user" | cut -d: -f6)
	mkdir -p "$home/demo"
	chown "$apikit_user": "$home/demo"
	ln -s "$home/demo" "$dir"
fi
if [ -f "$data/PG_VERSION" ] && [ "$(cat "$data/PG_VERSION")" != "$major" ]; then
	echo "demo: $dir holds a PostgreSQL $(cat "$data/PG_VERSION") cluster; replacing it"
	running && as_owner "$bindir/pg_ctl" -D "$data" -m immediate -w stop
	rm -rf "$data"
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)
data=$dir/data
if [ "$(id -u)" = 0 ]; then chown "$apikit_user": "$dir"; fi

if [ ! -f "$data/PG_VERSION" ]; then
	as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 \
		--locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; exit 1; }
	cat >>"$data/postgresql.conf" <<CONF

# apikit demo
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_preload_libraries = 'apikit'
apikit.database = 'postgres'
apikit.heartbeat_interval = '2s'
CONF
fi

if ! running; then
	as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w start >/dev/null
fi

"$bindir/psql" -X -q -h "$dir" -p "$port" -U postgres -d postgres \
	-v ON_ERROR_STOP=1 -f "$top/demo/tour.sql"

cat <<MSG

The demo server is running (PostgreSQL $major, apikit preloaded).
Connect:    $bindir/psql -h $dir -p $port -U postgres postgres
Server log: $dir/server.log
Stop it:    make demo-stop
MSG

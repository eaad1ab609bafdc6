# Shared by the audit A/B benchmarks (sourced): several throwaway servers
# at once, each from its own installation, on Unix sockets in one scratch
# directory, stopped and removed on exit; and a baseline revision built
# into a second installation.
#
#   servers_init                           the scratch directory ($work)
#   server_start NAME PG_CONFIG PORT [conf lines]
#   sq NAME psql-args...                   psql -X -At -q as postgres
#   sms NAME statement                     the statement's server-side ms
#   build_base PG_CONFIG REV               git archive REV, make install
#
# A second installation is a copy of the first (PostgreSQL's installations
# are relocatable): cp -a <prefix> /tmp/pgbase.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$top/tools/common.sh"

servers=()
servers_init() {
	work=$(mktemp -d /tmp/apikit-ab.XXXXXX)
	chmod 755 "$work"
	ensure_user
	if [ "$(id -u)" = 0 ]; then chown "$apikit_user": "$work"; fi
	trap servers_stop EXIT
}
servers_stop() {
	local s
	for s in "${servers[@]}"; do
		as_owner "$(cat "$work/$s.bindir")/pg_ctl" -D "$work/$s" -m immediate stop >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
server_start() {	# name pg_config port [extra conf]
	local bindir
	bindir=$("$2" --bindir)
	echo "$bindir" >"$work/$1.bindir"
	echo "$3" >"$work/$1.port"
	as_owner "$bindir/initdb" -D "$work/$1" -U postgres --auth=trust >/dev/null
	cat >>"$work/$1/postgresql.conf" <<CONF
port = $3
listen_addresses = ''
unix_socket_directories = '$work'
${4:-}
CONF
	as_owner "$bindir/pg_ctl" -D "$work/$1" -l "$work/$1.log" -w start >/dev/null
	servers+=("$1")
}
sq() {	# server psql-args...
	local s=$1
	shift
	"$(cat "$work/$s.bindir")/psql" -X -At -q -h "$work" -p "$(cat "$work/$s.port")" -U postgres -d postgres "$@"
}
sms() {	# server statement
	sq "$1" -c "DO \$\$ DECLARE t0 timestamptz := clock_timestamp();
		BEGIN EXECUTE \$q\$$2\$q\$; RAISE NOTICE 'ms=%', extract(epoch FROM clock_timestamp() - t0) * 1000; END \$\$" 2>&1 |
		sed -nE 's/.*ms=([0-9.]+).*/\1/p'
}
build_base() {	# pg_config rev
	mkdir -p "$work/src"
	git -C "$top" archive "$2" | tar -x -C "$work/src"
	make -C "$work/src" -s install PG_CONFIG="$1" >/dev/null
}
# The median of the arguments, one decimal.
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {printf "%.3f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# Shared by the benchmark scripts (sourced): a throwaway server with apikit
# preloaded, on a Unix socket in a scratch directory, removed on exit.
#
#   bench_server_start PG_CONFIG PORT [extra postgresql.conf lines]
#   bench_psql ARGS...            psql -X -At as postgres on that server
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$top/tools/common.sh"

bench_server_start() {
	local pg_config=$1 port=$2 extra=${3:-}
	bench_bindir=$("$pg_config" --bindir)
	bench_port=$port
	ensure_user
	bench_dir=$(mktemp -d /tmp/apikit-bench.XXXXXX)
	if [ "$(id -u)" = 0 ]; then chown "$apikit_user": "$bench_dir"; fi
	trap bench_server_stop EXIT
	as_owner "$bench_bindir/initdb" -D "$bench_dir/data" -U postgres --auth=trust >/dev/null
	cat >>"$bench_dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$bench_dir'
shared_preload_libraries = 'apikit'
$extra
CONF
	as_owner "$bench_bindir/pg_ctl" -D "$bench_dir/data" -l "$bench_dir/log" -w start >/dev/null
	bench_psql -qc 'CREATE EXTENSION apikit'
}

bench_server_stop() {
	as_owner "$bench_bindir/pg_ctl" -D "$bench_dir/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$bench_dir"
}

bench_psql() {
	"$bench_bindir/psql" -X -At -h "$bench_dir" -p "$bench_port" -U postgres -d postgres "$@"
}

# Median of numbers on standard input, one a line.
median() {
	sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

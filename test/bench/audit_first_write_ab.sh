#!/usr/bin/env bash
# The first audited write of a backend (its trigger settings are built and
# the table's AUDIT row looked up then): one INSERT into an audited table
# in a new connection, against one into an unaudited table, with this
# tree's apikit and a baseline revision's side by side (two servers, the
# baseline's from a second installation, BENCH_BASE_PG_CONFIG, where this
# script builds and installs BASE_REV), alternating.  Timed by the server
# (clock_timestamp() around the INSERT in a DO block).  Prints the medians.
#
#   test/bench/audit_first_write_ab.sh [PG_CONFIG]   (this tree installed first)
#   BENCH_BASE_PG_CONFIG=/path/to/other/pg_config BASE_REV=main
#   BENCH_ROUNDS=5 BENCH_CONNECTIONS=40 BENCH_PORT=54338
set -euo pipefail
pg_config=${1:-pg_config}
. "$(dirname "$0")/servers.sh"
rounds=${BENCH_ROUNDS:-5}
conns=${BENCH_CONNECTIONS:-40}
port=${BENCH_PORT:-54338}
base_pg_config=${BENCH_BASE_PG_CONFIG:?name a second installation: BENCH_BASE_PG_CONFIG=/path/to/pg_config}
base_rev=${BASE_REV:-main}

servers_init
build_base "$base_pg_config" "$base_rev"
server_start base "$base_pg_config" $((port + 1)) "shared_preload_libraries = 'apikit'"
server_start tree "$pg_config" "$port" "shared_preload_libraries = 'apikit'"
for s in base tree; do
	sq "$s" -c 'CREATE EXTENSION apikit' -c 'CREATE TABLE t (id int PRIMARY KEY, v text)' \
		-c 'CREATE TABLE u (id int PRIMARY KEY, v text)' -c "SELECT apikit.audit_enable('t')" \
		-c "INSERT INTO t SELECT g, 'x' FROM generate_series(1, 100000) g" >/dev/null
done
declare -A audited plain
n=0
for ((r = 0; r < rounds; r++)); do
	for ((i = 0; i < conns; i++)); do
		n=$((n + 1))
		for s in base tree; do
			audited[$s]+="$(sms "$s" "INSERT INTO t VALUES (-$n, 'y')") "
			plain[$s]+="$(sms "$s" "INSERT INTO u VALUES ($n, 'y')") "
		done
	done
done
echo "first INSERT of a new connection, median of $((rounds * conns)) ($("$pg_config" --version)):"
for s in base tree; do
	# shellcheck disable=SC2086
	printf '  %-10s audited %s ms, unaudited %s ms\n' "$([ $s = base ] && echo "$base_rev" || echo "this tree")" \
		"$(med ${audited[$s]})" "$(med ${plain[$s]})"
done

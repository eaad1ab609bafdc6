#!/usr/bin/env bash
# pgbench, single-row UPDATE by primary key on a 10-column table of
# 100,000 rows: unaudited, audited by apikit, audited by the plpgsql
# to_jsonb trigger of ../shared/research/audit_bench.sh.  The figure is the
# server's CPU time per transaction (all postmaster children, exited ones
# included), which a shared machine disturbs far less than TPS; TPS is
# printed too.  Rounds interleave the three configurations; the ratios are
# medians of per-round ratios.  synchronous_commit = off, so the run is
# bound by CPU, not by fsync.
#
#   test/bench/audit_pgbench.sh [PG_CONFIG]   (apikit installed first)
#   BENCH_SECONDS=10 BENCH_ROUNDS=5 BENCH_CLIENTS=2   (defaults)
set -euo pipefail
pg_config=${1:-pg_config}
. "$(dirname "$0")/lib.sh"
seconds=${BENCH_SECONDS:-10}
rounds=${BENCH_ROUNDS:-5}
clients=${BENCH_CLIENTS:-2}

bench_server_start "$pg_config" "${BENCH_PORT:-54334}" "synchronous_commit = off
max_wal_size = 4GB
checkpoint_timeout = 30min
apikit.audit_seal_interval = 0"

bench_psql -q -f "$(dirname "$0")/audit_plpgsql.sql"
for t in plain apikit plpgsql; do
	bench_psql -q -c "CREATE TABLE items_$t (LIKE items_template INCLUDING ALL)" \
		-c "INSERT INTO items_$t (id, a, b, c, d, e, f, g, h, i)
			SELECT g, g, g % 1000, 'name ' || g, 'user' || g || '@example.com', g * 1.5,
				   now(), g % 2 = 0, md5(g::text), 'payload text for row ' || g
			  FROM generate_series(1, 100000) g"
	cat >"$bench_dir/update_$t.sql" <<SQL
\\set id random(1, 100000)
UPDATE items_$t SET a = a + 1, h = md5(:id::text || a) WHERE id = :id;
SQL
done
if [ "$(id -u)" = 0 ]; then chown "$apikit_user": "$bench_dir"/*.sql; fi
bench_psql -q -c "SELECT apikit.audit_enable('items_apikit')" \
	-c "CREATE TRIGGER items_audit AFTER INSERT OR UPDATE OR DELETE ON items_plpgsql
		FOR EACH ROW EXECUTE FUNCTION audit.row_trigger()" \
	-c "VACUUM ANALYZE"
# For experiments: SQL run once the tables are set up.
[ -n "${BENCH_EXTRA_SQL:-}" ] && bench_psql -q -c "$BENCH_EXTRA_SQL"

# CPU ticks of the whole cluster: the postmaster, its live children, and
# (cutime/cstime) the children that have exited.
cluster_ticks() {
	local pm total c
	pm=$(head -1 "$bench_dir/data/postmaster.pid")
	total=$(sed 's/^.*) //' "/proc/$pm/stat" | awk '{print $12 + $13 + $14 + $15}')
	for c in $(pgrep -P "$pm"); do
		[ -r "/proc/$c/stat" ] && total=$((total + $(sed 's/^.*) //' "/proc/$c/stat" | awk '{print $12 + $13}')))
	done
	echo "$total"
}
tck=$(getconf CLK_TCK)

run() {	# config -> "cpu_us_per_xact tps"
	local t0 t1 out n tps
	bench_psql -q -c "CHECKPOINT" >/dev/null
	t0=$(cluster_ticks)
	out=$(as_owner "$bench_bindir/pgbench" -n -M prepared -c "$clients" -j "$clients" -T "$seconds" \
		-h "$bench_dir" -p "$bench_port" -U postgres -f "$bench_dir/update_$1.sql" postgres 2>&1)
	sleep 1
	t1=$(cluster_ticks)
	[ -n "${BENCH_DEBUG:-}" ] && echo "$out" >&2
	n=$(echo "$out" | awk '/number of transactions actually processed/ {print $NF}')
	tps=$(echo "$out" | awk '/^tps = / {printf "%.0f", $3; exit}')
	awk -v d=$((t1 - t0)) -v n="$n" -v t="$tck" -v tps="$tps" 'BEGIN {printf "%.1f %s", d * 1e6 / t / n, tps}'
}

declare -a cp ca cl ra rl
for ((i = 0; i < rounds; i++)); do
	read -r p ptps <<<"$(run plain)"
	read -r a atps <<<"$(run apikit)"
	read -r l ltps <<<"$(run plpgsql)"
	cp+=("$p"); ca+=("$a"); cl+=("$l")
	ra+=("$(awk -v a="$a" -v p="$p" 'BEGIN {printf "%.3f", a / p}')")
	rl+=("$(awk -v l="$l" -v p="$p" 'BEGIN {printf "%.3f", l / p}')")
	echo "round $((i + 1)): CPU us/xact unaudited $p ($ptps tps), apikit $a ($atps tps), plpgsql $l ($ltps tps)"
done
logged=$(bench_psql -c "SELECT count(*) FROM apikit.audit_log")

med() { printf '%s\n' "$@" | median; }
echo
echo "pgbench single-row UPDATE, $clients clients, ${seconds}s x $rounds rounds ($("$pg_config" --version)):"
echo "  server CPU per transaction: unaudited $(med "${cp[@]}") us, apikit $(med "${ca[@]}") us, plpgsql $(med "${cl[@]}") us"
echo "  apikit / unaudited   $(med "${ra[@]}")  (median of per-round ratios; target <= 1.3)"
echo "  plpgsql / unaudited  $(med "${rl[@]}")  (apikit must be below this)"
echo "  apikit audit rows written: $logged"

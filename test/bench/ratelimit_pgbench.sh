#!/usr/bin/env bash
# Throughput with one rate-limit check per transaction, beside the floor
# (SELECT 1) and the plpgsql upsert limiter of the research notes, in the
# same server and run: pgbench, 2 clients, prepared statements, over a Unix
# socket, on 10,000 keys and on one hot key.  Runs are interleaved (each
# round runs every script once) and the median tps is reported.
#
#   test/bench/ratelimit_pgbench.sh [PG_CONFIG]   (apikit installed first)
#   BENCH_SECONDS=10 BENCH_ROUNDS=3 BENCH_CLIENTS=2   (defaults)
set -euo pipefail
pg_config=${1:-pg_config}
. "$(dirname "$0")/lib.sh"
seconds=${BENCH_SECONDS:-10}
rounds=${BENCH_ROUNDS:-3}
clients=${BENCH_CLIENTS:-2}

bench_server_start "$pg_config" "${BENCH_PORT:-54333}" "max_connections = 20"

bench_psql -q -f "$(dirname "$0")/table_limiter.sql"

scripts=$bench_dir/scripts
mkdir -p "$scripts"
echo 'SELECT 1;' >"$scripts/select1"
# The same shape as apikit_keys without the check: a random key sent as a
# parameter (pgbench shares the 2 cores with the server).
printf '\\set k random(1, 10000)\nSELECT :k::text;\n' >"$scripts/select_param"
printf '\\set k random(1, 10000)\nSELECT apikit.rate_limit(:k::text, %s);\n' "'bench'" >"$scripts/apikit_keys"
echo "SELECT apikit.rate_limit('hot', 'bench');" >"$scripts/apikit_hot"
printf '\\set k random(1, 10000)\nSELECT rl_check(:k::text, 1000000000, 60);\n' >"$scripts/table_keys"
echo "SELECT rl_check('hot', 1000000000, 60);" >"$scripts/table_hot"
chmod -R a+r "$scripts"

names="select1 select_param apikit_keys apikit_hot table_keys table_hot"
declare -A tps
for ((r = 1; r <= rounds; r++)); do
	for s in $names; do
		t=$("$bench_bindir/pgbench" -n -M prepared -c "$clients" -j "$clients" -T "$seconds" \
			-f "$scripts/$s" -h "$bench_dir" -p "$bench_port" -U postgres postgres 2>/dev/null |
			sed -nE 's/^tps = ([0-9.]+).*/\1/p')
		tps[$s]+="$t "
	done
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
floor=$(med "${tps[select1]}")
echo "$("$pg_config" --version); pgbench -M prepared -c $clients -j $clients -T $seconds, $rounds interleaved rounds, median tps"
echo
param=$(med "${tps[select_param]}")
# The machine's speed drifts between rounds: the ratio to SELECT 1 within
# each round, then its median, is the steadier figure.
paired() {	# script -> median over rounds of tps / select1 tps
	paste -d' ' <(tr ' ' '\n' <<<"${tps[$1]}" | grep .) <(tr ' ' '\n' <<<"${tps[select1]}" | grep .) |
		awk '{print 100 * $1 / $2}' | median
}
echo "| script | tps (median) | of SELECT 1 | of SELECT 1, paired by round | of SELECT \$1 (same shape) | runs |"
echo "|---|---|---|---|---|---|"
for s in $names; do
	m=$(med "${tps[$s]}")
	printf '| %s | %.0f | %s | %.1f %% | %s | %s|\n' "$s" "$m" \
		"$(awk -v a="$m" -v b="$floor" 'BEGIN {printf "%.1f %%", 100 * a / b}')" \
		"$(paired "$s")" \
		"$(awk -v a="$m" -v b="$param" 'BEGIN {printf "%.1f %%", 100 * a / b}')" "${tps[$s]}"
done

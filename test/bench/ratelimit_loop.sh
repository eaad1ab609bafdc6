#!/usr/bin/env bash
# The cost of one rate-limit check inside a statement, beside the plpgsql
# upsert limiter of ../shared/research/ratelimit.md (rl_check: one row per
# key and window, INSERT ... ON CONFLICT DO UPDATE) in the same server and
# run.  Each is a loop over generate_series with keys 'k' || (g % 10000);
# the same loop without any check is timed too and subtracted.
#
#   test/bench/ratelimit_loop.sh [PG_CONFIG]   (apikit installed first)
#   BENCH_ROWS=1000000 BENCH_TABLE_ROWS=100000 BENCH_REPEAT=5   (defaults)
#
# The table limiter does far fewer rows (it is ~100x slower); all figures
# are per check.  Medians of BENCH_REPEAT runs.
set -euo pipefail
pg_config=${1:-pg_config}
. "$(dirname "$0")/lib.sh"
rows=${BENCH_ROWS:-1000000}
table_rows=${BENCH_TABLE_ROWS:-100000}
repeat=${BENCH_REPEAT:-5}

bench_server_start "$pg_config" "${BENCH_PORT:-54332}"

bench_psql -q -f "$(dirname "$0")/table_limiter.sql"

# Milliseconds one statement takes, as the server measures it.
time_ms() {
	bench_psql -c "
		DO \$\$
		DECLARE t0 timestamptz := clock_timestamp();
		BEGIN
			PERFORM $1;
			RAISE NOTICE 'ms=%', extract(epoch FROM clock_timestamp() - t0) * 1000;
		END \$\$;" 2>&1 | sed -nE 's/.*ms=([0-9.]+).*/\1/p'
}

loop() {	# rows, expression per row
	echo "count(*) FILTER (WHERE $2) FROM generate_series(1, $1) g"
}

declare -a base apikit base_t table
for ((i = 0; i < repeat; i++)); do
	base+=("$(time_ms "$(loop "$rows" "('k' || (g % 10000)) IS NOT NULL")")")
	apikit+=("$(time_ms "$(loop "$rows" "apikit.rate_limit('k' || (g % 10000), 'bench')")")")
	base_t+=("$(time_ms "$(loop "$table_rows" "('k' || (g % 10000)) IS NOT NULL")")")
	table+=("$(time_ms "$(loop "$table_rows" "rl_check('k' || (g % 10000), 1000000000, 60)")")")
done

med() { printf '%s\n' "$@" | median; }
per_check_us() {	# total_ms base_ms rows
	awk -v t="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.3f", (t - b) * 1000 / n}'
}
a_us=$(per_check_us "$(med "${apikit[@]}")" "$(med "${base[@]}")" "$rows")
t_us=$(per_check_us "$(med "${table[@]}")" "$(med "${base_t[@]}")" "$table_rows")

echo "$("$pg_config" --version); 10,000 keys; median of $repeat runs"
echo
echo "| limiter | rows per statement | statement ms (median) | loop without check ms | per check µs |"
echo "|---|---|---|---|---|"
echo "| apikit.rate_limit | $rows | $(med "${apikit[@]}") | $(med "${base[@]}") | $a_us |"
echo "| plpgsql upsert limiter (rl_check) | $table_rows | $(med "${table[@]}") | $(med "${base_t[@]}") | $t_us |"
echo
awk -v a="$a_us" -v t="$t_us" 'BEGIN {printf "The table limiter costs %.0fx as much per check.\n", t / a}'

#!/usr/bin/env bash
# A victim's check latency while another role floods the full rate-limit
# table with new keys, beside the same victim alone, in paired rounds.
#
# The table (apikit.ratelimit_max_keys, default 100,000) is first filled
# with live states: one use each of a quota of 10 a day, which lasts 2.4
# hours, so the table stays full of live states for the whole run.  Each
# round then runs, one after the other on the same server:
#   alone  the role "victim" checks its own key with pgbench, 1 client;
#          half of its transactions, chosen at random, are a pause of
#          BENCH_PAUSE_MS instead (a closed loop: a check that waits delays
#          the next one rather than piling checks up behind it, as a
#          throttled pgbench would);
#   flood  the same, while the role "flooder" sends BENCH_FLOOD_RATE checks
#          per second of new random keys on that quota (1 client), each of
#          which needs room in the full table.
# The victim's own policy (1000 a second, burst 999) keeps its state live
# and about half used, so that it is a key in use, not one to reclaim.
# BENCH_FLOOD=existing floods with keys already in the table instead: the
# same CPU load without the need for room, to tell CPU contention (on a
# small machine) from waiting for locks.
# The victim's latency is taken from pgbench's per-transaction log (the
# check script's transactions only), so it is what a client sees: one round
# trip and one check.  Per round the median and 90th percentile of each
# phase, and the ratio of the medians, are printed; the table at the end
# has the medians over rounds.
#
#   test/bench/ratelimit_flood.sh [PG_CONFIG]   (apikit installed first)
#   BENCH_SECONDS=10 BENCH_ROUNDS=5 BENCH_PAUSE_MS=2 BENCH_FLOOD_RATE=2000
#   BENCH_MAX_KEYS=100000 BENCH_WHEN_FULL=   (evict or deny; empty: the default)
#   BENCH_FLOOD=new   (or existing)
#
# It works against any apikit build, so that an older one can be measured
# the same way (install it, run this, install the new one, run this again).
set -euo pipefail
pg_config=${1:-pg_config}
. "$(dirname "$0")/lib.sh"
seconds=${BENCH_SECONDS:-10}
rounds=${BENCH_ROUNDS:-5}
pause_ms=${BENCH_PAUSE_MS:-2}
flood_rate=${BENCH_FLOOD_RATE:-2000}
max_keys=${BENCH_MAX_KEYS:-100000}
conf="max_connections = 20
apikit.ratelimit_max_keys = $max_keys"
[ -n "${BENCH_WHEN_FULL:-}" ] && conf="$conf
apikit.ratelimit_when_full = $BENCH_WHEN_FULL"

bench_server_start "$pg_config" "${BENCH_PORT:-54334}" "$conf"

bench_psql -q >/dev/null <<SQL
INSERT INTO apikit.rate_limit_policies (name, rate, period, burst)
VALUES ('quota', 10, '1 day', 9), ('victim', 1000, '1 second', 999);
CREATE ROLE victim LOGIN;
CREATE ROLE flooder LOGIN;
-- Fill every place with a live state.
SELECT count(*) FILTER (WHERE apikit.rate_limit('fill' || g, 'quota'))
FROM generate_series(1, $max_keys) g;
SQL

scripts=$bench_dir/scripts
mkdir -p "$scripts"
echo "SELECT apikit.rate_limit('victim', 'victim');" >"$scripts/victim"
echo "\\sleep $pause_ms ms" >"$scripts/pause"
if [ "${BENCH_FLOOD:-new}" = existing ]; then
	printf '\\set k random(1, %d)\nSELECT apikit.rate_limit(%s || :k, %s);\n' "$max_keys" "'fill'" "'quota'" >"$scripts/flood"
else
	printf '\\set k random(1, 2000000000)\nSELECT apikit.rate_limit(:k::text, %s);\n' "'quota'" >"$scripts/flood"
fi
chmod -R a+rwx "$scripts"

pgbench() {
	"$bench_bindir/pgbench" -n -h "$bench_dir" -p "$bench_port" "$@" postgres
}

# The victim's latencies in µs of one phase, from the pgbench log, one a
# line, sorted; "median 90th-percentile checks" of them on standard output.
victim_phase() {	# name
	rm -f "$scripts/victim_$1".*
	pgbench -U victim -c 1 -j 1 -T "$seconds" -f "$scripts/victim" -f "$scripts/pause" \
		-l --log-prefix="$scripts/victim_$1" >"$scripts/victim_$1.out" 2>&1
	# client transaction latency_us script epoch epoch_us: checks are script 0
	cat "$scripts/victim_$1".[0-9]* | awk '$4 == 0 {print $3}' | sort -g >"$scripts/victim_$1.lat"
	echo "$(median <"$scripts/victim_$1.lat")" \
		"$(awk '{a[NR] = $1} END {print a[int(NR * 0.9) + (NR * 0.9 > int(NR * 0.9))]}' "$scripts/victim_$1.lat")" \
		"$(wc -l <"$scripts/victim_$1.lat")"
}

declare -a alone flood ratio flood_tps
for ((r = 1; r <= rounds; r++)); do
	read -r a a90 an <<<"$(victim_phase alone)"
	pgbench -U flooder -c 1 -j 1 -R "$flood_rate" -T "$((seconds + 2))" -f "$scripts/flood" \
		>"$scripts/flood.out" 2>&1 &
	flood_pid=$!
	sleep 1
	read -r f f90 fn <<<"$(victim_phase flood)"
	wait "$flood_pid" || true
	t=$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$scripts/flood.out")
	alone+=("$a")
	flood+=("$f")
	t=$(printf '%.0f' "${t:-0}")
	flood_tps+=("$t")
	ratio+=("$(awk -v a="$a" -v f="$f" 'BEGIN {printf "%.2f", f / a}')")
	printf 'round %d: alone %s µs (p90 %s, %s checks), during the flood %s µs (p90 %s, %s checks; flood %s checks/s): %sx\n' \
		"$r" "$a" "$a90" "$an" "$f" "$f90" "$fn" "$t" "${ratio[-1]}"
done

med() { printf '%s\n' "$@" | median; }
echo
echo "$("$pg_config" --version); apikit.ratelimit_max_keys = $max_keys, full of live states;" \
	"victim pausing $pause_ms ms between checks half the time, flood at up to $flood_rate ${BENCH_FLOOD:-new} keys/s; $rounds rounds of $seconds s"
echo
echo "| victim's median check latency | µs (median of rounds) |"
echo "|---|---|"
echo "| alone | $(med "${alone[@]}") |"
echo "| during the flood | $(med "${flood[@]}") |"
echo "| ratio, paired by round | **$(med "${ratio[@]}")x** |"
echo "| flood achieved, checks/s | $(med "${flood_tps[@]}") |"
echo
echo "evicted / denied_full during the run: $(bench_psql -c \
	"SELECT sum(evicted) || ' / ' || coalesce(sum((to_jsonb(s) ->> 'denied_full')::bigint), 0)
	 FROM apikit.rate_limit_stats s")"

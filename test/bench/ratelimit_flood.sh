#!/usr/bin/env bash
# A victim's check latency while another role floods the full rate-limit
# table with new keys, beside the same victim alone, in paired rounds; and,
# with BENCH_BASELINE, the same on a second server running a baseline build,
# the two measured in turn within each round.
#
# The table (apikit.ratelimit_max_keys, default 100,000) is first filled
# with live states: the victim's, then one use each of a quota of 10 a day,
# which lasts 2.4 hours, so the table stays full of live states for the
# whole run.  Each round then runs, one after the other on each server:
#   alone  the role "victim" checks its own key with pgbench, 1 client;
#          half of its transactions, chosen at random, are a pause of
#          BENCH_PAUSE_MS instead (a closed loop: a check that waits delays
#          the next one rather than piling checks up behind it, as a
#          throttled pgbench would);
#   flood  the same, while the role "flooder" sends BENCH_FLOOD_RATE checks
#          per second of new random keys on that quota (1 client), each of
#          which needs room in the full table.
# The victim is a key in use, never one to reclaim or evict: its policy
# admits 1,000,000 a day with a burst of 999,999, and 600,000 of it are used
# before the run, so its state stays live and about 60 % used (the flood's
# and the filling's states use 10 %, and go first).  The end of the run
# says whether it was ever evicted.
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
#   BENCH_BASELINE=/other/install/bin/pg_config   (the same PostgreSQL, with
#       the baseline apikit installed: a copy of the installation works, as
#       pg_config finds its files relative to itself)
#
# It works against any apikit build, so that an older one can be measured
# the same way.
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

builds=(this)
declare -A config=([this]=$pg_config)
if [ -n "${BENCH_BASELINE:-}" ]; then
	builds=(base this)
	config[base]=$BENCH_BASELINE
fi
declare -A dirs ports bindirs
use() {	# build: the server that bench_psql and pgbench talk to
	bench_dir=${dirs[$1]}
	bench_port=${ports[$1]}
	bench_bindir=${bindirs[$1]}
}
stop_all() {
	for b in "${!dirs[@]}"; do use "$b"; bench_server_stop; done
}
port=${BENCH_PORT:-54334}
for b in "${builds[@]}"; do
	bench_server_start "${config[$b]}" "$port" "$conf"
	dirs[$b]=$bench_dir
	ports[$b]=$bench_port
	bindirs[$b]=$bench_bindir
	trap stop_all EXIT
	port=$((port + 1))

	bench_psql -q >/dev/null <<SQL
INSERT INTO apikit.rate_limit_policies (name, rate, period, burst)
VALUES ('quota', 10, '1 day', 9), ('victim', 1000000, '1 day', 999999);
CREATE ROLE victim LOGIN;
CREATE ROLE flooder LOGIN;
GRANT EXECUTE ON FUNCTION apikit.rate_limit(text, text, integer) TO victim, flooder;
-- The victim's state first, 60 % used; then every other place, live.
SELECT apikit.rate_limit('victim', 'victim', 600000);
SELECT count(*) FILTER (WHERE apikit.rate_limit('fill' || g, 'quota'))
FROM generate_series(1, $max_keys - 1) g;
SQL

	scripts=$bench_dir/scripts
	mkdir -p "$scripts"
	echo "SELECT apikit.rate_limit('victim', 'victim');" >"$scripts/victim"
	echo "\\sleep $pause_ms ms" >"$scripts/pause"
	if [ "${BENCH_FLOOD:-new}" = existing ]; then
		printf '\\set k random(1, %d)\nSELECT apikit.rate_limit(%s || :k, %s);\n' "$((max_keys - 1))" "'fill'" "'quota'" >"$scripts/flood"
	else
		printf '\\set k random(1, 2000000000)\nSELECT apikit.rate_limit(:k::text, %s);\n' "'quota'" >"$scripts/flood"
	fi
	chmod -R a+rwx "$scripts"
done

pgbench() {
	"$bench_bindir/pgbench" -n -h "$bench_dir" -p "$bench_port" "$@" postgres
}

# The victim's latencies in µs of one phase, from the pgbench log, one a
# line, sorted; "median 90th-percentile checks" of them on standard output.
victim_phase() {	# name
	local scripts=$bench_dir/scripts
	rm -f "$scripts/victim_$1".*
	pgbench -U victim -c 1 -j 1 -T "$seconds" -f "$scripts/victim" -f "$scripts/pause" \
		-l --log-prefix="$scripts/victim_$1" >"$scripts/victim_$1.out" 2>&1
	# client transaction latency_us script epoch epoch_us: checks are script 0
	cat "$scripts/victim_$1".[0-9]* | awk '$4 == 0 {print $3}' | sort -g >"$scripts/victim_$1.lat"
	echo "$(median <"$scripts/victim_$1.lat")" \
		"$(awk '{a[NR] = $1} END {print a[int(NR * 0.9) + (NR * 0.9 > int(NR * 0.9))]}' "$scripts/victim_$1.lat")" \
		"$(wc -l <"$scripts/victim_$1.lat")"
}

declare -A alone flood ratio flood_tps
for ((r = 1; r <= rounds; r++)); do
	# The builds take turns going first.
	order=("${builds[@]}")
	if ((${#builds[@]} == 2 && r % 2 == 0)); then order=(this base); fi
	for b in "${order[@]}"; do
		use "$b"
		read -r a a90 an <<<"$(victim_phase alone)"
		pgbench -U flooder -c 1 -j 1 -R "$flood_rate" -T "$((seconds + 2))" -f "$bench_dir/scripts/flood" \
			>"$bench_dir/scripts/flood.out" 2>&1 &
		flood_pid=$!
		sleep 1
		read -r f f90 fn <<<"$(victim_phase flood)"
		wait "$flood_pid" || true
		t=$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$bench_dir/scripts/flood.out")
		t=$(printf '%.0f' "${t:-0}")
		alone[$b]+=" $a"
		flood[$b]+=" $f"
		flood_tps[$b]+=" $t"
		x=$(awk -v a="$a" -v f="$f" 'BEGIN {printf "%.2f", f / a}')
		ratio[$b]+=" $x"
		printf 'round %d, %s: alone %s µs (p90 %s, %s checks), during the flood %s µs (p90 %s, %s checks; flood %s checks/s): %sx\n' \
			"$r" "$b" "$a" "$a90" "$an" "$f" "$f90" "$fn" "$t" "$x"
	done
done

med() { printf '%s\n' $@ | median; }
echo
echo "$("$pg_config" --version); apikit.ratelimit_max_keys = $max_keys, full of live states;" \
	"victim pausing $pause_ms ms between checks half the time, flood at up to $flood_rate ${BENCH_FLOOD:-new} keys/s; $rounds rounds of $seconds s"
echo
echo "| build | victim alone, µs | victim during the flood, µs | ratio, paired by round | flood achieved, checks/s | victim evicted | evicted / denied_full |"
echo "|---|---|---|---|---|---|---|"
for b in "${builds[@]}"; do
	use "$b"
	echo "| $b | $(med ${alone[$b]}) | $(med ${flood[$b]}) | **$(med ${ratio[$b]})x** | $(med ${flood_tps[$b]}) |" \
		"$(bench_psql -c "SELECT coalesce(sum(evicted), 0) FROM apikit.rate_limit_stats WHERE policy = 'victim'") |" \
		"$(bench_psql -c "SELECT sum(evicted) || ' / ' || coalesce(sum((to_jsonb(s) ->> 'denied_full')::bigint), 0)
			FROM apikit.rate_limit_stats s") |"
done
if ((${#builds[@]} == 2)); then
	paired=$(paste -d' ' <(printf '%s\n' ${flood[this]}) <(printf '%s\n' ${flood[base]}) |
		awk '{printf "%.2f\n", $1 / $2}' | median)
	echo
	echo "victim during the flood, this build / baseline, paired by round: ${paired}x"
fi

#!/usr/bin/env bash
# What the idle scheduler costs, beside PostgreSQL's own idle background
# processes in the same server and the same windows: wake-ups (voluntary
# context switches) and CPU time, per minute, median of several windows.
#
#   test/bench/scheduler_idle.sh [PG_CONFIG]      (apikit installed first: make install)
#   BENCH_WINDOWS=3 BENCH_SECONDS=60              (defaults)
#
# Run as root, the server runs as the unprivileged test user (tools/common.sh).
set -euo pipefail
pg_config=${1:-pg_config}
. "$(dirname "$0")/lib.sh"
windows=${BENCH_WINDOWS:-3}
seconds=${BENCH_SECONDS:-60}

bench_server_start "$pg_config" "${BENCH_PORT:-54331}"
psql() { bench_psql "$@"; }
sleep 2

procs="apikit scheduler|autovacuum launcher|logical replication launcher"
declare -A pid
while IFS='|' read -r p t; do pid[$t]=$p; done < <(psql -c \
	"SELECT pid, backend_type FROM pg_stat_activity WHERE backend_type IN ('apikit scheduler', 'autovacuum launcher', 'logical replication launcher')")

sample() {	# pid -> "switches cpu_ns"
	local sw ns
	sw=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$1/status")
	ns=$(awk '{print $1}' "/proc/$1/schedstat")
	echo "$sw $ns"
}

declare -A wakes cpu
for ((w = 1; w <= windows; w++)); do
	declare -A before
	for t in "${!pid[@]}"; do before[$t]=$(sample "${pid[$t]}"); done
	sleep "$seconds"
	for t in "${!pid[@]}"; do
		read -r s0 c0 <<<"${before[$t]}"
		read -r s1 c1 <<<"$(sample "${pid[$t]}")"
		wakes[$t]+="$(( (s1 - s0) * 60 / seconds )) "
		cpu[$t]+="$(awk -v d=$((c1 - c0)) -v s="$seconds" 'BEGIN {printf "%.3f", d / 1e6 * 60 / s}') "
	done
done

echo "$("$pg_config" --version), apikit.heartbeat_interval = $(psql -c 'SHOW apikit.heartbeat_interval'), $windows windows of $seconds s"
echo
echo "| process | wake-ups per minute (median) | CPU ms per minute (median) |"
echo "|---|---|---|"
IFS='|'
for t in $procs; do
	[ -n "${pid[$t]:-}" ] || continue
	printf '| %s | %s | %s |\n' "$t" \
		"$(tr ' ' '\n' <<<"${wakes[$t]}" | grep . | median)" \
		"$(tr ' ' '\n' <<<"${cpu[$t]}" | grep . | median)"
done

#!/usr/bin/env bash
# Bulk INSERT of BENCH_ROWS rows (default 200,000) into the 10-column table
# of audit_bulk.sh, unaudited and audited by apikit, with this tree's apikit
# and with a baseline revision's, side by side: two servers, the
# baseline's from a second installation (BENCH_BASE_PG_CONFIG, where this
# script builds and installs BASE_REV), the four inserts of a round
# interleaved, which server goes first alternating from round to round.
# Every table and the log start each insert empty and vacuumed.  Prints,
# per side, the median times and the median of the per-round ratios
# apikit / unaudited, and the median per-round ratio of this tree's apikit
# time to the baseline's.
#
#   test/bench/audit_bulk_ab.sh [PG_CONFIG]     (this tree installed first)
#   BENCH_BASE_PG_CONFIG=/path/to/other/pg_config BASE_REV=main
#   BENCH_ROWS=200000 BENCH_ROUNDS=5 BENCH_PORT=54337
set -euo pipefail
pg_config=${1:-pg_config}
. "$(dirname "$0")/servers.sh"
rows=${BENCH_ROWS:-200000}
rounds=${BENCH_ROUNDS:-5}
port=${BENCH_PORT:-54337}
base_pg_config=${BENCH_BASE_PG_CONFIG:?name a second installation: BENCH_BASE_PG_CONFIG=/path/to/pg_config}
base_rev=${BASE_REV:-main}

servers_init
build_base "$base_pg_config" "$base_rev"
conf="max_wal_size = 4GB
checkpoint_timeout = 30min
shared_preload_libraries = 'apikit'
apikit.audit_seal_interval = 0"
server_start base "$base_pg_config" $((port + 1)) "$conf"
server_start tree "$pg_config" "$port" "$conf"
for s in base tree; do
	sq "$s" -c 'CREATE EXTENSION apikit' -f "$(dirname "$0")/audit_plpgsql.sql"
	sq "$s" -c 'CREATE TABLE items_plain (LIKE items_template INCLUDING ALL)' \
		-c 'CREATE TABLE items_apikit (LIKE items_template INCLUDING ALL)' \
		-c "SELECT apikit.audit_enable('items_apikit')" >/dev/null
done

insert_ms() {	# server table
	sq "$1" -c 'TRUNCATE items_plain, items_apikit, apikit.audit_log' -c 'VACUUM ANALYZE' -c 'CHECKPOINT'
	sms "$1" "INSERT INTO $2 (a, b, c, d, e, f, g, h, i)
		SELECT g, g % 1000, 'name ' || g, 'user' || g || '@example.com', g * 1.5,
			   now(), g % 2 = 0, md5(g::text), 'payload text for row ' || g
		  FROM generate_series(1, $rows) g"
}

declare -a bp ba tp ta rb rt rta
for ((i = 0; i < rounds; i++)); do
	order=(base tree)
	if ((i % 2)); then order=(tree base); fi
	for s in "${order[@]}"; do
		p=$(insert_ms "$s" items_plain)
		a=$(insert_ms "$s" items_apikit)
		if [ "$s" = base ]; then bp+=("$p"); ba+=("$a"); else tp+=("$p"); ta+=("$a"); fi
	done
	rb+=("$(awk -v a="${ba[i]}" -v p="${bp[i]}" 'BEGIN {printf "%.3f", a / p}')")
	rt+=("$(awk -v a="${ta[i]}" -v p="${tp[i]}" 'BEGIN {printf "%.3f", a / p}')")
	rta+=("$(awk -v t="${ta[i]}" -v b="${ba[i]}" 'BEGIN {printf "%.3f", t / b}')")
	echo "round $((i + 1)): $base_rev unaudited ${bp[i]} ms, apikit ${ba[i]} ms; this tree unaudited ${tp[i]} ms, apikit ${ta[i]} ms"
done
echo
echo "bulk INSERT of $rows rows, median of $rounds rounds ($("$pg_config" --version)):"
printf '  %-10s unaudited %8s ms, apikit %8s ms, apikit / unaudited %s\n' \
	"$base_rev" "$(med "${bp[@]}")" "$(med "${ba[@]}")" "$(med "${rb[@]}")" \
	"this tree" "$(med "${tp[@]}")" "$(med "${ta[@]}")" "$(med "${rt[@]}")"
echo "  this tree's apikit / $base_rev's apikit   $(med "${rta[@]}")  (median of per-round ratios)"

#!/usr/bin/env bash
# Bulk INSERT of BENCH_ROWS rows (default 200,000) into a 10-column table:
# unaudited, audited by apikit, and audited by the plpgsql to_jsonb trigger
# of ../shared/research/audit_bench.sh (audit_plpgsql.sql), in the same
# server, rounds interleaved; also the same plpgsql trigger writing rows of
# apikit.audit_log's shape, which separates the trigger's cost from the
# log's.  Prints the median time of each and the median
# of the per-round ratios (the machine's speed drifts between rounds).
#
#   test/bench/audit_bulk.sh [PG_CONFIG]      (apikit installed first)
#   BENCH_ROWS=200000 BENCH_ROUNDS=5          (defaults)
set -euo pipefail
pg_config=${1:-pg_config}
. "$(dirname "$0")/lib.sh"
rows=${BENCH_ROWS:-200000}
rounds=${BENCH_ROUNDS:-5}

bench_server_start "$pg_config" "${BENCH_PORT:-54333}" "max_wal_size = 4GB
checkpoint_timeout = 30min
apikit.audit_seal_interval = 0"

bench_psql -q -f "$(dirname "$0")/audit_plpgsql.sql"
bench_psql -q <<'SQL'
CREATE TABLE items_plain (LIKE items_template INCLUDING ALL);
CREATE TABLE items_apikit (LIKE items_template INCLUDING ALL);
CREATE TABLE items_plpgsql (LIKE items_template INCLUDING ALL);
CREATE TABLE items_shape (LIKE items_template INCLUDING ALL);
SELECT apikit.audit_enable('items_apikit');
CREATE TRIGGER items_audit AFTER INSERT OR UPDATE OR DELETE ON items_plpgsql
	FOR EACH ROW EXECUTE FUNCTION audit.row_trigger();
CREATE TABLE audit.log_apikit_shape (LIKE apikit.audit_log INCLUDING ALL);
CREATE SEQUENCE audit.log_apikit_shape_id_seq;
CREATE TRIGGER items_audit AFTER INSERT OR UPDATE OR DELETE ON items_shape
	FOR EACH ROW EXECUTE FUNCTION audit.row_trigger_apikit_shape();
SQL
# Milliseconds one statement takes, as the server measures it.
statement_ms() {
	bench_psql -c "
		DO \$\$
		DECLARE t0 timestamptz := clock_timestamp();
		BEGIN
			$1;
			RAISE NOTICE 'ms=%', extract(epoch FROM clock_timestamp() - t0) * 1000;
		END \$\$;" 2>&1 | sed -nE 's/.*ms=([0-9.]+).*/\1/p'
}

# The floor: apikit's own log rows of the round, already computed, copied
# by one INSERT ... SELECT (one heap_insert per row, as the trigger does) into
# tables shaped like apikit.audit_log: heap only, and with its indexes.  No
# trigger, no jsonb, no hashing: only the writing, which any row-per-change
# log of the issue's shape pays whoever computes it.
bench_psql -q -c "CREATE TABLE log_heap (LIKE apikit.audit_log)" \
	-c "CREATE TABLE log_indexed (LIKE apikit.audit_log INCLUDING ALL)" \
	-c "CREATE TABLE log_rows (LIKE apikit.audit_log)"
floor_ms() {	# table
	bench_psql -q -c "TRUNCATE $1" -c "VACUUM ANALYZE $1" -c "CHECKPOINT" >/dev/null
	statement_ms "INSERT INTO $1 SELECT * FROM log_rows"
}

# For experiments: SQL run once the tables are set up.
[ -n "${BENCH_EXTRA_SQL:-}" ] && bench_psql -q -c "$BENCH_EXTRA_SQL"

# Milliseconds the INSERT takes, as the server measures it; every table
# and log starts empty and vacuumed.
insert_ms() {
	bench_psql -q -c "TRUNCATE items_plain, items_apikit, items_plpgsql, items_shape, audit.log, audit.log_apikit_shape, apikit.audit_log" \
		-c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
	statement_ms "INSERT INTO $1 (a, b, c, d, e, f, g, h, i)
		SELECT g, g % 1000, 'name ' || g, 'user' || g || '@example.com', g * 1.5,
			   now(), g % 2 = 0, md5(g::text), 'payload text for row ' || g
		  FROM generate_series(1, $rows) g"
}

declare -a plain apikit plpgsql shape r_apikit r_plpgsql r_shape r_floor fheap findexed
for ((i = 0; i < rounds; i++)); do
	p=$(insert_ms items_plain)
	a=$(insert_ms items_apikit)
	audited=$(bench_psql -c "SELECT count(*) FROM apikit.audit_log")
	bench_psql -q -c "TRUNCATE log_rows" -c "INSERT INTO log_rows SELECT * FROM apikit.audit_log"
	sh=$(insert_ms items_shape)
	l=$(insert_ms items_plpgsql)
	fh=$(floor_ms log_heap)
	fi=$(floor_ms log_indexed)
	plain+=("$p"); apikit+=("$a"); plpgsql+=("$l"); shape+=("$sh"); fheap+=("$fh"); findexed+=("$fi")
	r_floor+=("$(awk -v p="$p" -v f="$fi" 'BEGIN {printf "%.3f", (p + f) / p}')")
	r_shape+=("$(awk -v a="$a" -v s="$sh" 'BEGIN {printf "%.3f", s / a}')")
	r_apikit+=("$(awk -v a="$a" -v p="$p" 'BEGIN {printf "%.3f", a / p}')")
	r_plpgsql+=("$(awk -v a="$a" -v l="$l" 'BEGIN {printf "%.3f", l / a}')")
	echo "round $((i + 1)): unaudited ${p} ms, apikit ${a} ms, plpgsql ${l} ms, plpgsql into apikit's log shape ${sh} ms (log rows: $audited); floor: heap ${fh} ms, indexed ${fi} ms"
done

med() { printf '%s\n' "$@" | median; }
echo
echo "bulk INSERT of $rows rows, median of $rounds rounds ($("$pg_config" --version)):"
echo "  unaudited        $(med "${plain[@]}") ms"
echo "  apikit           $(med "${apikit[@]}") ms"
echo "  plpgsql trigger  $(med "${plpgsql[@]}") ms"
echo "  plpgsql trigger writing apikit's log shape (no hashes)  $(med "${shape[@]}") ms"
echo "  floor: apikit's log rows, precomputed, copied with no trigger: heap only $(med "${fheap[@]}") ms, with the log's indexes $(med "${findexed[@]}") ms"
echo "  apikit / unaudited   $(med "${r_apikit[@]}")  (median of per-round ratios; target <= 2.0)"
echo "  (unaudited + indexed floor) / unaudited   $(med "${r_floor[@]}")  (the least any trigger could reach)"
echo "  plpgsql / apikit     $(med "${r_plpgsql[@]}")  (median of per-round ratios; target >= 3.0)"
echo "  plpgsql in apikit's log shape / apikit  $(med "${r_shape[@]}")  (median of per-round ratios)"

#!/usr/bin/env bash
# JSON Schema validation throughput: apikit.json_validate inside PostgreSQL
# against ajv (Ajv2020 + ajv-formats, compiled once, pre-parsed documents)
# in node, on the same generated order bodies (test/bench/jsonschema/, the
# kit of ../shared/bench/jsonschema), in one run with the rounds interleaved;
# beside them the research notes' postgres-json-schema figure and
# pg_jsonschema's published 20k-insert benchmark, run here in its own shape.
#
#   test/bench/jsonschema_bench.sh [PG_CONFIG]      (apikit installed first)
#   BENCH_DOCS=20000 BENCH_ROUNDS=5 BENCH_PORT=54334  (defaults)
#
# Workloads: BENCH_DOCS orders from gen_orders.js with seed 42 (all valid),
# and with seed 43 and --invalid-ratio 0.1 (mixed; apikit's verdict on every
# document must equal ajv's, and ajv's the generator's, or this exits 1).
#
# How time is measured:
# - ajv: process.cpuUsage() (getrusage, user + system) around one pass over
#   the parsed documents (as many validations as apikit's statement; more
#   passes if BENCH_DOCS is under 20,000), after warm-up passes, in a node
#   process of its own each round
#   (test/bench/jsonschema/ajv_rate.js).
# - apikit: the documents are COPYed into orders(doc jsonb), as an API would
#   store them (about 2.4 KB each, so TOASTed and compressed), and
#     SELECT count(*) FILTER (WHERE apikit.json_validate(:'schema', doc)) FROM orders
#   runs with the schema as a constant (a psql variable), in one backend,
#   after a warm-up call that compiles it.  The backend's CPU time is read
#   by the backend itself, before and after the statement, from
#   /proc/self/schedstat (the scheduler's nanosecond count of time on CPU;
#   /proc/self/stat's utime + stime, in clock ticks, where schedstat is
#   missing) with pg_read_file, as superuser.  Reading its own /proc entry
#   needs no process id from outside, counts exactly the process that did
#   the work, and does not depend on the load of the machine the way wall
#   time does.  Parallel query and JIT are off, so one process does all of
#   it, as one node thread does for ajv.  Wall time (clock_timestamp()) is
#   reported too.  The same measurement of
#     SELECT count(*) FILTER (WHERE jsonb_typeof(doc) = 'object') FROM orders
#   gives the floor any function that reads the documents pays (scan,
#   detoast, decompress), so validation's own rate is printed as well.
#   The valid documents are also measured stored uncompressed (orders_raw,
#   STORAGE PLAIN) and compressed with lz4 (orders_lz4) instead of the
#   default pglz, whose decompression costs more than validating.
# The machine is shared and its speed drifts: each side is reported as the
# median of the rounds and as its best round, and ratios as the median of
# the per-round ratios (ajv and apikit run next to each other in a round).
set -euo pipefail
pg_config=${1:-pg_config}
. "$(dirname "$0")/lib.sh"
kit=$top/test/bench/jsonschema
n=${BENCH_DOCS:-20000}
rounds=${BENCH_ROUNDS:-5}

if ! node_modules=$("$top/tools/node-deps.sh"); then
	echo "jsonschema_bench: tools/node-deps.sh could not provide node and ajv" >&2
	exit 1
fi
export NODE_PATH=$node_modules

bench_server_start "$pg_config" "${BENCH_PORT:-54334}" "shared_buffers = 512MB
max_parallel_workers_per_gather = 0
jit = off"
work=$(mktemp -d /tmp/apikit-jsbench.XXXXXX)
cleanup() {
	local rc=$?
	if [ "$rc" != 0 ] && [ -f "$bench_dir/log" ]; then
		echo "jsonschema_bench: failed (exit $rc); the server's log ends:" >&2
		tail -n 20 "$bench_dir/log" >&2
	fi
	bench_server_stop
	rm -rf "$work"
}
trap cleanup EXIT

# --- documents ------------------------------------------------------------
node "$kit/gen_orders.js" --count "$n" --seed 42 --out "$work/valid.jsonl" 2>&1 | sed 's/^/gen_orders: /'
node "$kit/gen_orders.js" --count "$n" --seed 43 --invalid-ratio 0.1 \
	--out "$work/mixed.jsonl" --expected "$work/mixed.expected.jsonl" 2>&1 | sed 's/^/gen_orders: /'
schema=$(node -e 'process.stdout.write(JSON.stringify(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))))' "$kit/order.schema.json")
bytes=$(wc -c <"$work/valid.jsonl")

bench_psql -q <<SQL
CREATE TABLE orders (doc jsonb);
CREATE TABLE orders_mixed (i bigint GENERATED ALWAYS AS IDENTITY, doc jsonb);
-- The same documents stored uncompressed (they fit in a page): what a
-- validator reads when the body arrives from the client, not from disk.
CREATE TABLE orders_raw (doc jsonb);
ALTER TABLE orders_raw ALTER COLUMN doc SET STORAGE PLAIN;
-- And compressed with lz4 (PostgreSQL's faster TOAST compression, when
-- the server was built with it) instead of the default pglz.
CREATE TABLE orders_lz4 (doc jsonb);
SELECT 'lz4' = ANY (enumvals) AS has_lz4 FROM pg_settings WHERE name = 'default_toast_compression' \gset
\if :has_lz4
ALTER TABLE orders_lz4 ALTER COLUMN doc SET COMPRESSION lz4;
\endif
\copy orders (doc) FROM '$work/valid.jsonl'
\copy orders_raw (doc) FROM '$work/valid.jsonl'
\copy orders_lz4 (doc) FROM '$work/valid.jsonl'
\copy orders_mixed (doc) FROM '$work/mixed.jsonl'
VACUUM ANALYZE orders;
VACUUM ANALYZE orders_mixed;
VACUUM ANALYZE orders_raw;
VACUUM ANALYZE orders_lz4;
SQL
table_size=$(bench_psql -c "SELECT pg_size_pretty(pg_total_relation_size('orders'))")

# --- verdicts (untimed) ---------------------------------------------------
# ajv's verdicts (and ajv against the generator), apikit's, compared per document.
ajv_check=$(node "$kit/ajv_rate.js" --schema "$kit/order.schema.json" --docs "$work/mixed.jsonl" \
	--rounds 0 --verdicts "$work/ajv.verdicts" --expected "$work/mixed.expected.jsonl")
ajv_vs_generator=$(echo "$ajv_check" | awk '$1 == "expected" {print $3}')
bench_psql -v schema="$schema" >"$work/apikit.verdicts" <<'SQL'
COPY (SELECT i - 1, apikit.json_validate(:'schema', doc) FROM orders_mixed ORDER BY i) TO STDOUT;
SQL
verdict_diffs=$(diff "$work/ajv.verdicts" "$work/apikit.verdicts" | grep -c '^>' || true)
mixed_invalid=$(grep -c 'f$' "$work/ajv.verdicts" || true)
valid_invalid=$(bench_psql -v schema="$schema" <<'SQL'
SELECT count(*) FILTER (WHERE NOT apikit.json_validate(:'schema', doc)) FROM orders;
SQL
)

# --- timing ---------------------------------------------------------------
if bench_psql -c "SELECT pg_read_file('/proc/self/schedstat')" >/dev/null 2>&1; then
	cpu_ns="split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint"
	cpu_source="/proc/self/schedstat"
else
	tck=$(getconf CLK_TCK)
	cpu_ns="(SELECT (f[12]::bigint + f[13]::bigint) * (1000000000 / $tck) FROM regexp_split_to_array(regexp_replace(pg_read_file('/proc/self/stat'), '^.*\) ', ''), ' ') f)"
	cpu_source="/proc/self/stat utime+stime (1/$tck s)"
fi

# One statement, measured by the backend that runs it: prints
# "<label> <cpu seconds> <wall seconds> <result>", the result being the
# statement's column r, or with a third argument that text.
measure() {	# label statement [result]
	local run='\gset r_'
	[ -n "${3:-}" ] && run=';'
	cat <<SQL
SELECT $cpu_ns AS c0, clock_timestamp() AS w0 \gset
$2 $run
SELECT ($cpu_ns - :c0) / 1e9 AS dc, extract(epoch FROM clock_timestamp() - :'w0'::timestamptz) AS dw \gset
\echo $1 :dc :dw ${3:-:r_r}
SQL
}

apikit_round() {
	{
		echo "SELECT apikit.json_validate(:'schema', '{}') \gset"
		measure floor_valid "SELECT count(*) FILTER (WHERE jsonb_typeof(doc) = 'object') AS r FROM orders"
		measure apikit_valid "SELECT count(*) FILTER (WHERE apikit.json_validate(:'schema', doc)) AS r FROM orders"
		measure floor_mixed "SELECT count(*) FILTER (WHERE jsonb_typeof(doc) = 'object') AS r FROM orders_mixed"
		measure apikit_mixed "SELECT count(*) FILTER (WHERE apikit.json_validate(:'schema', doc)) AS r FROM orders_mixed"
		measure floor_raw "SELECT count(*) FILTER (WHERE jsonb_typeof(doc) = 'object') AS r FROM orders_raw"
		measure apikit_raw "SELECT count(*) FILTER (WHERE apikit.json_validate(:'schema', doc)) AS r FROM orders_raw"
		measure floor_lz4 "SELECT count(*) FILTER (WHERE jsonb_typeof(doc) = 'object') AS r FROM orders_lz4"
		measure apikit_lz4 "SELECT count(*) FILTER (WHERE apikit.json_validate(:'schema', doc)) AS r FROM orders_lz4"
	} | bench_psql -v schema="$schema" -v ON_ERROR_STOP=1
}

# pg_jsonschema's README benchmark, in its shape: 20,000 inserts of
# {"a": i, "b": "i"} into a table whose CHECK validates them.
pgjs_schema='{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"string"}}}'
bench_psql -q -c "CREATE TABLE t (meta jsonb CHECK (apikit.json_validate('$pgjs_schema', meta)))" \
	-c "CREATE TABLE t_plain (meta jsonb)"
# The CHECK must be doing its work.
if bench_psql -q -c "INSERT INTO t VALUES ('{\"a\": \"1\"}')" 2>/dev/null; then
	echo "jsonschema_bench: the CHECK accepted {\"a\": \"1\"}" >&2
	exit 1
fi
# Both tables start empty and vacuumed after a checkpoint; which goes first
# alternates between rounds.
insert_round() {	# round
	local plain check
	bench_psql -q -c "TRUNCATE t, t_plain" -c "VACUUM ANALYZE t, t_plain" -c "CHECKPOINT" >/dev/null
	plain=$(measure insert_plain "INSERT INTO t_plain SELECT json_build_object('a', i, 'b', i::text) FROM generate_series(1, 20000) i" 20000)
	check=$(measure insert_check "INSERT INTO t SELECT json_build_object('a', i, 'b', i::text) FROM generate_series(1, 20000) i" 20000)
	if (($1 % 2)); then
		printf '%s\n%s\n' "$plain" "$check"
	else
		printf '%s\n%s\n' "$check" "$plain"
	fi | bench_psql -q -v ON_ERROR_STOP=1
	# The CHECK's own cost is small beside one insert's noise: the same
	# validation on 200,000 such values without the table, and the same
	# loop building the values only.
	{
		measure pgjs_calls "SELECT count(*) FILTER (WHERE apikit.json_validate('$pgjs_schema', json_build_object('a', i, 'b', i::text)::jsonb)) AS r FROM generate_series(1, 200000) i"
		measure pgjs_loop "SELECT count(*) FILTER (WHERE json_build_object('a', i, 'b', i::text)::jsonb IS NOT NULL) AS r FROM generate_series(1, 200000) i"
	} | bench_psql -q -v ON_ERROR_STOP=1
}

ajv_round() {	# label docs
	node "$kit/ajv_rate.js" --schema "$kit/order.schema.json" --docs "$2" --rounds 1 --passes $(((20000 + n - 1) / n)) |
		awk -v l="$1" '$1 == "round" {print l, $4, $5, $6, $3}'
}

ajv_version=$(node "$kit/ajv_rate.js" --schema "$kit/order.schema.json" --docs "$work/mixed.jsonl" --rounds 0 |
	awk '$1 == "ajv" {print "ajv " $2 " + ajv-formats " $4 ", node " $6}')

declare -A m	# m[label,round] = "cpu wall result [validations]"
rate() { awk -v n="$1" -v s="$2" 'BEGIN {printf "%.0f", n / s}'; }
for ((k = 1; k <= rounds; k++)); do
	while read -r label cpu wall result count; do
		m[$label,$k]="$cpu $wall $result ${count:-$n}"
	done < <(ajv_round ajv_valid "$work/valid.jsonl"; apikit_round; ajv_round ajv_mixed "$work/mixed.jsonl"; insert_round "$k")
	line="round $k:"
	for l in ajv_valid apikit_valid floor_valid ajv_mixed apikit_mixed floor_mixed apikit_raw floor_raw apikit_lz4 floor_lz4; do
		read -r cpu wall result count <<<"${m[$l,$k]}"
		line="$line $l $(rate "$count" "$cpu")/cpu-s"
	done
	for l in insert_plain insert_check; do
		read -r cpu wall result count <<<"${m[$l,$k]}"
		line="$line $l $(awk -v w="$wall" 'BEGIN {printf "%.1f", w * 1000}') ms"
	done
	echo "$line"
done

# Medians over the rounds.
col() {	# label field(1 cpu, 2 wall, 3 result, 4 count) -> one value a line
	local k
	for ((k = 1; k <= rounds; k++)); do echo "${m[$1,$k]}" | awk -v f="$2" '{print $f}'; done
}
per_round() {	# awk expression over c[label] (cpu), w[label] (wall), v[label] (count)
	local k l
	for ((k = 1; k <= rounds; k++)); do
		for l in ajv_valid apikit_valid floor_valid ajv_mixed apikit_mixed floor_mixed apikit_raw floor_raw apikit_lz4 floor_lz4 insert_plain insert_check pgjs_calls pgjs_loop; do
			echo "$l ${m[$l,$k]}"
		done | awk "{c[\$1] = \$2; w[\$1] = \$3; v[\$1] = \$5} END {print $1}"
	done | ${2:-median}
}
# The best round: on a shared machine, the one least disturbed by others.
highest() { sort -g | tail -n 1; }
lowest() { sort -g | head -n 1; }
cpu_rate() { per_round "v[\"$1\"] / c[\"$1\"]" "${2:-}"; }
wall_rate() { per_round "v[\"$1\"] / w[\"$1\"]"; }
f0() { printf "%.0f" "$1" | sed -E ':a; s/([0-9])([0-9]{3})($|,)/\1,\2\3/; ta'; }
f2() { printf "%.2f" "$1"; }

ajv_v=$(cpu_rate ajv_valid); ajv_m=$(cpu_rate ajv_mixed)
ak_v=$(cpu_rate apikit_valid); ak_m=$(cpu_rate apikit_mixed)
ak_vw=$(wall_rate apikit_valid); ak_mw=$(wall_rate apikit_mixed)
fl_v=$(cpu_rate floor_valid); fl_m=$(cpu_rate floor_mixed)
ajv_vb=$(cpu_rate ajv_valid highest); ajv_mb=$(cpu_rate ajv_mixed highest)
ak_vb=$(cpu_rate apikit_valid highest); ak_mb=$(cpu_rate apikit_mixed highest)
# validation alone: the statement's CPU time less the floor's, per document
own_v=$(per_round 'v["apikit_valid"] / (c["apikit_valid"] - c["floor_valid"])')
own_m=$(per_round 'v["apikit_mixed"] / (c["apikit_mixed"] - c["floor_mixed"])')
r_v=$(per_round '(v["apikit_valid"] / c["apikit_valid"]) / (v["ajv_valid"] / c["ajv_valid"])')
r_m=$(per_round '(v["apikit_mixed"] / c["apikit_mixed"]) / (v["ajv_mixed"] / c["ajv_mixed"])')
ak_r=$(cpu_rate apikit_raw); fl_r=$(cpu_rate floor_raw)
ak_l=$(cpu_rate apikit_lz4); fl_l=$(cpu_rate floor_lz4)
r_lz4=$(per_round '(v["apikit_lz4"] / c["apikit_lz4"]) / (v["ajv_valid"] / c["ajv_valid"])')
lz4_used=$(bench_psql -c "SELECT coalesce(pg_column_compression(doc), 'none') FROM orders_lz4 LIMIT 1")
r_raw=$(per_round '(v["apikit_raw"] / c["apikit_raw"]) / (v["ajv_valid"] / c["ajv_valid"])')
r_own=$(per_round '(v["apikit_valid"] / (c["apikit_valid"] - c["floor_valid"])) / (v["ajv_valid"] / c["ajv_valid"])')
ms_doc=$(per_round 'w["apikit_valid"] * 1000 / v["apikit_valid"]')
ms_doc_cpu=$(per_round 'c["apikit_valid"] * 1000 / v["apikit_valid"]')
ins_plain=$(per_round 'w["insert_plain"] * 1000')
ins_check=$(per_round 'w["insert_check"] * 1000')
ins_plain_b=$(per_round 'w["insert_plain"] * 1000' lowest)
ins_check_b=$(per_round 'w["insert_check"] * 1000' lowest)
ins_cost=$(per_round '(w["insert_check"] - w["insert_plain"]) * 1000')
ins_cost_cpu=$(per_round '(c["insert_check"] - c["insert_plain"]) * 1000')
call_us=$(per_round '(c["pgjs_calls"] - c["pgjs_loop"]) * 1e6 / 200000')
apikit_valid_count=$(col apikit_valid 3 | sort -u | paste -sd/)
apikit_mixed_count=$(col apikit_mixed 3 | sort -u | paste -sd/)

echo
echo "JSON Schema validation, $n order bodies of $((bytes / n)) bytes on average (order.schema.json, 2020-12, formats asserted),"
echo "median of $rounds rounds; $("$pg_config" --version), $ajv_version, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "table orders: $table_size; backend CPU time from $cpu_source"
echo
echo "valid workload (seed 42, all $n valid; apikit counted $apikit_valid_count valid, $valid_invalid invalid):"
echo "  ajv, pre-parsed, 1 thread         $(f0 "$ajv_v") validations per CPU-second (best round $(f0 "$ajv_vb"))"
echo "  apikit, json_validate over table  $(f0 "$ak_v") validations per CPU-second (best round $(f0 "$ak_vb"); $(f0 "$ak_vw") per wall-second)"
echo "    scan + detoast floor alone      $(f0 "$fl_v") rows per CPU-second"
echo "    validation alone (less floor)   $(f0 "$own_v") validations per CPU-second"
echo "  apikit / ajv                      $(f2 "$r_v") (whole statement), $(f2 "$r_own") (validation alone); median of per-round ratios"
echo "                                    $(awk -v a="$ak_vb" -v b="$ajv_vb" 'BEGIN {printf "%.2f", a / b}') (whole statement), best round against best round"
echo "  the same documents stored uncompressed (orders_raw, STORAGE PLAIN: no decompression per row):"
echo "    apikit                          $(f0 "$ak_r") validations per CPU-second; scan floor $(f0 "$fl_r") rows per CPU-second"
echo "    apikit / ajv                    $(f2 "$r_raw") (median of per-round ratios)"
echo "  the same documents compressed with $lz4_used (orders_lz4; pglz above is PostgreSQL's default):"
echo "    apikit                          $(f0 "$ak_l") validations per CPU-second; scan floor $(f0 "$fl_l") rows per CPU-second"
echo "    apikit / ajv                    $(f2 "$r_lz4") (median of per-round ratios)"
echo
echo "mixed workload (seed 43, --invalid-ratio 0.1: $mixed_invalid of $n invalid for ajv):"
echo "  ajv                               $(f0 "$ajv_m") validations per CPU-second (best round $(f0 "$ajv_mb"))"
echo "  apikit                            $(f0 "$ak_m") validations per CPU-second (best round $(f0 "$ak_mb"); $(f0 "$ak_mw") per wall-second; counted $apikit_mixed_count valid)"
echo "    scan + detoast floor alone      $(f0 "$fl_m") rows per CPU-second"
echo "    validation alone (less floor)   $(f0 "$own_m") validations per CPU-second"
echo "  apikit / ajv                      $(f2 "$r_m") (median of per-round ratios), $(awk -v a="$ak_mb" -v b="$ajv_mb" 'BEGIN {printf "%.2f", a / b}') (best against best)"
echo "  verdicts: apikit differs from ajv on $verdict_diffs of $n documents; ajv differs from the generator on $ajv_vs_generator"
echo
echo "postgres-json-schema (PL/pgSQL): 1.58 ms per order by wall clock, PostgreSQL 15.20 on this kind of machine,"
echo "  from ../shared/research/jsonschema.md section 5 (its code is not available here, so it was not run in this run)"
echo "  apikit: $(printf "%.4f" "$ms_doc") ms per order by wall clock ($(printf "%.4f" "$ms_doc_cpu") ms CPU): $(awk -v a="$ms_doc" 'BEGIN {printf "%.0f", 1.58 / a}')x faster"
echo
echo "pg_jsonschema's README benchmark shape: INSERT of 20,000 json_build_object('a', i, 'b', i::text) rows"
echo "  without a CHECK                   $(printf "%.1f" "$ins_plain") ms (fastest round $(printf "%.1f" "$ins_plain_b") ms)"
echo "  with CHECK (apikit.json_validate) $(printf "%.1f" "$ins_check") ms (fastest round $(printf "%.1f" "$ins_check_b") ms; the CHECK costs $(printf "%.1f" "$ins_cost") ms,"
echo "                                    $(printf "%.1f" "$ins_cost_cpu") ms of backend CPU; medians of per-round differences)"
echo "  one json_validate of such a value, without the table: $(printf "%.3f" "$call_us") µs of CPU (200,000 calls less the same loop"
echo "  without them), i.e. $(awk -v u="$call_us" 'BEGIN {printf "%.1f", u * 20000 / 1000}') ms for the 20,000 rows"
echo "  published for pg_jsonschema: ~195 ms (jsonb_matches_schema) and ~110 ms (compiled, cached),"
echo "  on a 2024 MacBook Pro M4 Max with PostgreSQL 16.13 (a different machine: compare the shape, not the milliseconds)"

if [ "$verdict_diffs" != 0 ] || [ "$ajv_vs_generator" != 0 ] || [ "$valid_invalid" != 0 ]; then
	echo
	echo "jsonschema_bench: verdicts disagree (first differences, '<' ajv, '>' apikit):"
	diff "$work/ajv.verdicts" "$work/apikit.verdicts" | head -n 20
	exit 1
fi

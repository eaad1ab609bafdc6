#!/usr/bin/env bash
# JSON Schema evaluator, A/B: the working tree's json_validate and
# json_validation_errors against a baseline revision's, on the same order
# bodies, in one server, the two measured in turn within each round.
#
#   test/bench/jsonschema_ab.sh [PG_CONFIG [BASE_REV]]
#       BASE_REV: default the commit where HEAD left main (git merge-base)
#   BENCH_ROUNDS=12 BENCH_DOCS=20000 BENCH_PORT=54335        (defaults)
#
# Both libraries are built here (the baseline from `git archive BASE_REV`)
# and loaded by explicit path into two databases of a server that preloads
# neither: a backend only ever loads one of them.  Workloads (gen_orders.js,
# test/bench/jsonschema/): the valid documents (seed 42) through
# json_validate, the mixed ones (seed 43, 10 % invalid) through
# json_validation_errors, stored uncompressed so that the validation is
# most of the time.  A round measures each side's best of three
# statements by the backend's own CPU time (/proc/self/schedstat), the side
# that goes first alternating from round to round; the result is the
# median of the per-round ratios.  The shared machine's speed drifts over
# minutes, not within a round.
set -euo pipefail
pg_config=${1:-pg_config}
. "$(dirname "$0")/lib.sh"
base_rev=${2:-$(git -C "$top" merge-base HEAD main)}
kit=$top/test/bench/jsonschema
n=${BENCH_DOCS:-20000}
rounds=${BENCH_ROUNDS:-12}

if ! node_modules=$("$top/tools/node-deps.sh"); then
	echo "jsonschema_ab: tools/node-deps.sh could not provide node" >&2
	exit 1
fi
export NODE_PATH=$node_modules

work=$(mktemp -d /tmp/apikit-jsab.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
cleanup() {
	bench_server_stop
	rm -rf "$work"
}

# --- the two libraries ------------------------------------------------------
mkdir -p "$work/src" "$work/lib/base" "$work/lib/tree"
git -C "$top" archive "$base_rev" | tar -x -C "$work/src"
make -C "$work/src" -s PG_CONFIG="$pg_config" >/dev/null
make -C "$top" -s PG_CONFIG="$pg_config" >/dev/null
cp "$work/src/apikit.so" "$work/lib/base/"
cp "$top/apikit.so" "$work/lib/tree/"
chmod -R a+rX "$work/lib"
base_desc=$(git -C "$top" rev-parse --short "$base_rev")
tree_desc="$(git -C "$top" rev-parse --short HEAD)$(git -C "$top" diff --quiet HEAD -- src include || echo '+changes')"

bench_server_start "$pg_config" "${BENCH_PORT:-54335}" "max_parallel_workers_per_gather = 0
jit = off"
trap cleanup EXIT
# the last line wins (ALTER SYSTEM would store an empty string as '""')
echo "shared_preload_libraries = ''" >>"$bench_dir/data/postgresql.conf"
as_owner "$bench_bindir/pg_ctl" -D "$bench_dir/data" -l "$bench_dir/log" -w restart >/dev/null || { tail -n 20 "$bench_dir/log" >&2; exit 1; }

# --- documents ----------------------------------------------------------------
node "$kit/gen_orders.js" --count "$n" --seed 42 --out "$work/valid.jsonl" >/dev/null 2>&1
node "$kit/gen_orders.js" --count "$n" --seed 43 --invalid-ratio 0.1 --out "$work/mixed.jsonl" >/dev/null 2>&1
node -e 'process.stdout.write(JSON.stringify(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))))' \
	"$kit/order.schema.json" >"$work/schema.json"
chmod 644 "$work"/*.jsonl "$work/schema.json"
for side in base tree; do
	bench_psql -qc "CREATE DATABASE ab_$side TEMPLATE template0"
	bench_psql -d "ab_$side" -q <<SQL
CREATE TABLE valid (doc jsonb);
ALTER TABLE valid ALTER COLUMN doc SET STORAGE PLAIN;
CREATE TABLE mixed (doc jsonb);
ALTER TABLE mixed ALTER COLUMN doc SET STORAGE PLAIN;
\\copy valid FROM '$work/valid.jsonl'
\\copy mixed FROM '$work/mixed.jsonl'
VACUUM ANALYZE;
CREATE FUNCTION v(jsonb, jsonb) RETURNS boolean
	AS '$work/lib/$side/apikit.so', 'apikit_json_validate' LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION e(jsonb, jsonb) RETURNS jsonb
	AS '$work/lib/$side/apikit.so', 'apikit_json_validation_errors' LANGUAGE C IMMUTABLE STRICT;
SQL
done

# One side's round: the best of three statements of each workload, in ns
# of backend CPU: "<validate> <errors>".
cpu="split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint"
best_of_three() {	# statement
	cat <<SQL
$1 \\g /dev/null
SELECT $cpu AS c0 \\gset
$1 \\g /dev/null
SELECT $cpu - :c0 AS t1, $cpu AS c0 \\gset
$1 \\g /dev/null
SELECT $cpu - :c0 AS t2, $cpu AS c0 \\gset
$1 \\g /dev/null
SELECT $cpu - :c0 AS t3 \\gset
SELECT least(:t1, :t2, :t3) AS best \\gset
SQL
}
{
	echo "\\set schema \`cat $work/schema.json\`"
	best_of_three "SELECT count(*) FILTER (WHERE v(:'schema', doc)) FROM valid"
	echo 'SELECT :best AS validate \gset'
	best_of_three "SELECT sum(jsonb_array_length(e(:'schema', doc))) FROM mixed"
	echo 'SELECT :validate, :best;'
} >"$work/round.sql"
chmod 644 "$work/round.sql"

: >"$work/rounds"
for r in $(seq 1 "$rounds"); do
	if [ $((r % 2)) = 1 ]; then order="base tree"; else order="tree base"; fi
	for side in $order; do
		read -r "v_$side" "e_$side" <<<"$(bench_psql -d "ab_$side" -f "$work/round.sql" | tr '|' ' ')"
	done
	echo "$v_base $v_tree $e_base $e_tree" | tee -a "$work/rounds" |
		awk -v r="$r" '{printf "round %d: json_validate %.1f / %.1f ms, json_validation_errors %.1f / %.1f ms (base / tree)\n", r, $1 / 1e6, $2 / 1e6, $3 / 1e6, $4 / 1e6}'
done

ms() { awk '{printf "%.1f", $1 / 1e6}'; }
echo
echo "JSON Schema evaluator A/B, $n order bodies per statement, PostgreSQL $("$pg_config" --version | sed 's/^PostgreSQL //'),"
echo "base $base_desc against the working tree ($tree_desc); $rounds rounds, best of 3 per side per round,"
echo "backend CPU per statement (ms), medians over rounds; ratio = median of per-round tree / base (below 1: faster)"
printf '  json_validate, all valid:            base %s  tree %s  ratio %s\n' \
	"$(awk '{print $1}' "$work/rounds" | median | ms)" "$(awk '{print $2}' "$work/rounds" | median | ms)" \
	"$(awk '{printf "%.3f\n", $2 / $1}' "$work/rounds" | median | awk '{printf "%.3f", $1}')"
printf '  json_validation_errors, 10%% invalid: base %s  tree %s  ratio %s\n' \
	"$(awk '{print $3}' "$work/rounds" | median | ms)" "$(awk '{print $4}' "$work/rounds" | median | ms)" \
	"$(awk '{printf "%.3f\n", $4 / $3}' "$work/rounds" | median | awk '{printf "%.3f", $1}')"

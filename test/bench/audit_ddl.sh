#!/usr/bin/env bash
# DDL on a partitioned table with many partitions (BENCH_PARTITIONS, default
# 2,000), one not audited and one audited: what apikit's event triggers
# (apikit_audit_track_ddl, apikit_audit_track_drop) add to RENAME COLUMN,
# SET STATISTICS, DROP COLUMN and ADD COLUMN, each of which recurses to
# every partition.  Each command is timed by the server (clock_timestamp()
# around EXECUTE in a DO block, event triggers included) and undone, untimed.
#
# Each round measures, in turn: this tree's apikit with its event triggers
# enabled, the same server with them disabled (ALTER EVENT TRIGGER ...
# DISABLE: what the command costs by itself), and, when
# BENCH_BASE_PG_CONFIG names a second installation, BASE_REV's apikit in a
# server of that installation (this script builds and installs BASE_REV
# there).  Prints the median of each over the rounds.
#
#   test/bench/audit_ddl.sh [PG_CONFIG]       (this tree installed first)
#   BENCH_PARTITIONS=2000 BENCH_ROUNDS=5 BENCH_PORT=54336
#   BENCH_BASE_PG_CONFIG=/path/to/other/pg_config BASE_REV=main
#   (a second installation: see servers.sh)
set -euo pipefail
pg_config=${1:-pg_config}
. "$(dirname "$0")/servers.sh"
parts=${BENCH_PARTITIONS:-2000}
rounds=${BENCH_ROUNDS:-5}
port=${BENCH_PORT:-54336}
base_pg_config=${BENCH_BASE_PG_CONFIG:-}
base_rev=${BASE_REV:-main}
conf="max_locks_per_transaction = 512
shared_buffers = 256MB"

servers_init
q() { sq "$@"; }
ms() { sms "$@"; }
setup() {	# server
	q "$1" -c 'CREATE EXTENSION apikit' \
		-c 'CREATE TABLE wide (id int, k int, v text, extra int) PARTITION BY RANGE (k)' \
		-c 'CREATE TABLE wide_a (id int, k int, v text, extra int, PRIMARY KEY (id, k)) PARTITION BY RANGE (k)'
	q "$1" -c "SELECT format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s);', t || '_' || g, t, g, g + 1)
		FROM generate_series(1, $parts) g, unnest('{wide,wide_a}'::text[]) t" -o "$work/parts.sql"
	q "$1" -f "$work/parts.sql" >/dev/null
	q "$1" -c "SELECT apikit.audit_enable('wide_a', mask_columns => '{v}')" >/dev/null
	q "$1" -c 'VACUUM ANALYZE' -c 'CHECKPOINT'
}
event_triggers() {	# server ENABLE|DISABLE
	q "$1" -c "ALTER EVENT TRIGGER apikit_audit_track_ddl $2" -c "ALTER EVENT TRIGGER apikit_audit_track_drop $2"
}

if [ -n "$base_pg_config" ]; then
	build_base "$base_pg_config" "$base_rev"
	server_start base "$base_pg_config" $((port + 1)) "$conf"
	setup base
fi
server_start tree "$pg_config" "$port" "$conf"
setup tree

cmds=(rename stats drop add)
declare -A sql=(
	[rename]='ALTER TABLE %s RENAME COLUMN v TO v2'
	[stats]='ALTER TABLE %s ALTER COLUMN v SET STATISTICS 200'
	[drop]='ALTER TABLE %s DROP COLUMN extra'
	[add]='ALTER TABLE %s ADD COLUMN extra int'
)
declare -A undo=(
	[rename]='ALTER TABLE %s RENAME COLUMN v2 TO v'
	[stats]='ALTER TABLE %s ALTER COLUMN v SET STATISTICS -1'
	[drop]=''
	[add]=''
)
declare -A results
run() {	# label server table
	local c
	for c in "${cmds[@]}"; do
		# shellcheck disable=SC2059
		results["$1 $3 $c"]+="$(ms "$2" "$(printf "${sql[$c]}" "$3")") "
		if [ -n "${undo[$c]}" ]; then
			# shellcheck disable=SC2059
			q "$2" -c "$(printf "${undo[$c]}" "$3")"
		fi
	done
}

labels=(tree off)
if [ -n "$base_pg_config" ]; then labels+=(base); fi
for ((i = 0; i < rounds; i++)); do
	for t in wide wide_a; do
		run tree tree "$t"
		event_triggers tree DISABLE
		run off tree "$t"
		event_triggers tree ENABLE
		if [ -n "$base_pg_config" ]; then run base base "$t"; fi
	done
	echo "round $((i + 1)) done" >&2
done

echo "DDL on a table with $parts partitions, median ms of $rounds rounds ($("$pg_config" --version)):"
printf '%-8s %-9s' table command
for l in "${labels[@]}"; do
	case $l in
		tree) printf ' %14s' "this tree" ;;
		off) printf ' %14s' "triggers off" ;;
		base) printf ' %14s' "$base_rev" ;;
	esac
done
echo
for t in wide wide_a; do
	for c in "${cmds[@]}"; do
		printf '%-8s %-9s' "$t" "$c"
		for l in "${labels[@]}"; do
			# shellcheck disable=SC2086
			printf ' %14s' "$(med ${results["$l $t $c"]})"
		done
		echo
	done
done
echo "(wide: not audited; wide_a: audited, mask_columns {v})"

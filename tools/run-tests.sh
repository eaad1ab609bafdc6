#!/usr/bin/env bash
# Run every apikit test suite: unit (plain C), pg_regress, isolation and TAP,
# each on temporary server instances started here with apikit preloaded (and
# one without, for the not-preloaded errors).  Prints one line per suite and
# ends with "N passed, N failed" over all of them; exits non-zero on any
# failure.
#
#   tools/run-tests.sh [PG_CONFIG]        (make test calls this after install)
#
# PostgreSQL refuses to run as root.  Run as root, this copies the tree to a
# scratch directory owned by an unprivileged user ($APIKIT_TEST_USER, default
# "apikit", created if missing) and runs the suites as that user there.
# With $APIKIT_RESULTS set, the two counts are also appended to that file,
# for .ci/run to add up over PostgreSQL versions.
set -uo pipefail
pg_config=${1:-pg_config}
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tools/common.sh"

if [ "$(id -u)" = 0 ]; then
	ensure_user || exit 1
	work=$(mktemp -d /tmp/apikit-test.XXXXXX)
	tar -C "$top" --exclude=./.git --exclude=./.demo --exclude=./tmp_check -cf - . | tar -C "$work" -xf -
	chown -R "$apikit_user": "$work"
	chmod 755 "$work"
	runuser -u "$apikit_user" -- env PATH="$PATH" APIKIT_RESULTS= PG_TEST_EXTRA="${PG_TEST_EXTRA:-}" \
		"$work/tools/run-tests.sh" "$pg_config"
	rc=$?
	[ -n "${APIKIT_RESULTS:-}" ] && [ -f "$work/tmp_check/counts" ] && cat "$work/tmp_check/counts" >> "$APIKIT_RESULTS"
	if [ "$rc" = 0 ]; then
		rm -rf "$work"
	else
		echo "run-tests: the failed run's files are kept in $work/tmp_check"
	fi
	exit "$rc"
fi

cd "$top" || exit 1
bindir=$("$pg_config" --bindir)
pgxs=$(cd "$(dirname "$("$pg_config" --pgxs)")/../.." && pwd)
pg_regress=$pgxs/src/test/regress/pg_regress
pg_isolation_regress=$pgxs/src/test/isolation/pg_isolation_regress
out=$top/tmp_check
rm -rf "$out"
mkdir -p "$out"
version=$("$pg_config" --version)
echo "apikit tests on $version, as $(id -un)"

total_passed=0
total_failed=0
# Whatever happens, leave the counts behind; a run that stops early has
# failed, and says so.
finished=no
write_counts() {
	[ "$finished" = yes ] || total_failed=$((total_failed + 1))
	echo "$total_passed $total_failed" >"$out/counts"
	[ -n "${APIKIT_RESULTS:-}" ] && echo "$total_passed $total_failed" >>"$APIKIT_RESULTS"
}
trap write_counts EXIT

record() {	# suite passed failed
	echo "$1: $2 passed, $3 failed"
	total_passed=$((total_passed + $2))
	total_failed=$((total_failed + $3))
}

# --- unit ---------------------------------------------------------------
unit_passed=0
unit_failed=0
# Every test/unit/test_*.c must have been built; a missing one fails.
for src in test/unit/test_*.c; do
	name=$(basename "$src" .c)
	[ "$name" = test_selftest ] && continue
	t=test/unit/bin/$name
	if [ ! -x "$t" ]; then
		echo "unit: $t was not built (add it to UNIT_TESTS in the Makefile)"
		unit_failed=$((unit_failed + 1))
		continue
	fi
	output=$("$t" 2>&1)
	rc=$?
	echo "$output" | grep '^FAIL' || true
	p=$(echo "$output" | sed -nE 's/^unit .*: ([0-9]+) passed, ([0-9]+) failed$/\1/p')
	f=$(echo "$output" | sed -nE 's/^unit .*: ([0-9]+) passed, ([0-9]+) failed$/\2/p')
	p=${p:-0}
	f=${f:-0}
	[ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
	unit_passed=$((unit_passed + p))
	unit_failed=$((unit_failed + f))
done
# The harness must report a failing test as a failure.
output=$(test/unit/bin/test_selftest_fails 2>&1)
rc=$?
if [ "$rc" != 0 ] && echo "$output" | grep -q '^unit selftest: 2 passed, 1 failed$'; then
	unit_passed=$((unit_passed + 1))
else
	echo "unit: the deliberately failing self-test was not reported as failing (exit $rc):"
	echo "$output"
	unit_failed=$((unit_failed + 1))
fi
record unit "$unit_passed" "$unit_failed"

# --- pg_regress and isolation -------------------------------------------
# Both print one summary: "All N tests passed." or "F of N tests failed."
regress_counts() {	# logfile ntests
	local all failed of
	all=$(sed -nE 's/.*All ([0-9]+) tests passed.*/\1/p' "$1" | tail -n 1)
	failed=$(sed -nE 's/.* ([0-9]+) of ([0-9]+) tests failed.*/\1/p' "$1" | tail -n 1)
	of=$(sed -nE 's/.* ([0-9]+) of ([0-9]+) tests failed.*/\2/p' "$1" | tail -n 1)
	if [ -n "$all" ]; then
		echo "$all 0"
	elif [ -n "$failed" ]; then
		echo "$((of - failed)) $failed"
	else
		echo "0 $2"	# the instance did not even start
	fi
}

run_pg_regress() {	# suite program inputdir config tests...
	local suite=$1 program=$2 inputdir=$3 config=$4
	shift 4
	local dir=$out/$suite
	mkdir -p "$dir"
	"$program" --bindir="$bindir" --inputdir="$inputdir" --outputdir="$dir" \
		--temp-instance="$dir/instance" ${config:+--temp-config="$config"} \
		--dbname=contrib_regression "$@" >"$dir/run.log" 2>&1
	local rc=$?
	read -r p f <<<"$(regress_counts "$dir/run.log" $#)"
	if [ "$rc" != 0 ] || [ "$f" != 0 ]; then
		[ "$f" = 0 ] && f=1
		cat "$dir/run.log"
		[ -f "$dir/regression.diffs" ] && head -n 300 "$dir/regression.diffs"
		[ -f "$dir/log/postmaster.log" ] && tail -n 50 "$dir/log/postmaster.log"
	fi
	record "$suite" "$p" "$f"
}

run_pg_regress regress "$pg_regress" . test/preload.conf extension settings worker_status heartbeat_error ratelimit audit jsonschema jsonschema_suite null_arguments trigger_functions
run_pg_regress regress-not-preloaded "$pg_regress" . "" not_preloaded
run_pg_regress isolation "$pg_isolation_regress" test/isolation test/preload.conf extension_install ratelimit_concurrency audit_concurrency jsonschema_registry

# --- TAP ----------------------------------------------------------------
mkdir -p "$out/tap"
(
	# PostgreSQL 15 and 16 read TESTDIR; 17 and later TESTDATADIR and TESTLOGDIR.
	export PATH="$bindir:$PATH" PG_REGRESS="$pg_regress" TESTDIR="$out/tap" \
		TESTDATADIR="$out/tap/tmp_check" TESTLOGDIR="$out/tap/tmp_check/log"
	prove -I "$pgxs/src/test/perl" -I test/t test/t/*.pl
) >"$out/tap/prove.log" 2>&1
rc=$?
tests=$(sed -nE 's/^Files=[0-9]+, Tests=([0-9]+),.*/\1/p' "$out/tap/prove.log")
tests=${tests:-0}
f=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$out/tap/prove.log" | awk -F'[ /]' '{s += $2} END {print s + 0}')
if [ "$rc" != 0 ] || [ "$f" != 0 ] || [ "$tests" = 0 ]; then
	[ "$f" = 0 ] && f=1
	cat "$out/tap/prove.log"
	for l in "$out"/tap/tmp_check/log/*.log; do
		[ -f "$l" ] && { echo "=== $l (tail)"; tail -n 40 "$l"; }
	done
fi
record tap "$((tests - (f < tests ? f : tests)))" "$f"

finished=yes
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" = 0 ]

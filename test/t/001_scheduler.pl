# The scheduler worker: starts with the server in apikit.database, records
# and logs a failing job without stopping, applies a changed interval on
# SIGHUP, is back within seconds after kill -9, stops with a clean shutdown
# and exits by itself when the postmaster dies.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('scheduler');
$node->init;
# An hour: the heartbeat runs once at start, then only if SIGHUP works.
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'apikit'
apikit.heartbeat_interval = '1h'
restart_after_crash = on
});
$node->start;

# Status is read from another database, so that apikit can be missing from
# apikit.database ("postgres") at first.
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION apikit');

sub heartbeat
{
	my ($expr) = @_;
	return $node->safe_psql('other',
		"SELECT $expr FROM apikit.worker_status() WHERE name = 'heartbeat'");
}

sub poll_heartbeat
{
	my ($cond) = @_;
	return $node->poll_query_until('other',
		"SELECT $cond FROM apikit.worker_status() WHERE name = 'heartbeat'");
}

# --- it starts, in the right database, under its own backend_type --------
ok( $node->poll_query_until('postgres',
		"SELECT datname FROM pg_stat_activity WHERE backend_type = 'apikit scheduler'",
		'postgres'),
	'the scheduler runs, connected to apikit.database');
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'apikit scheduler'");
is(heartbeat('pid'), $pid, 'worker_status() reports the running worker');

# --- a failing job is recorded, logged once, and the loop goes on --------
ok(poll_heartbeat('failures >= 1'), 'the first heartbeat ran and failed');
like(
	heartbeat('last_error'),
	qr/extension "apikit" is not installed in database "postgres"/,
	'the failure says why');
is(heartbeat('runs'), '1', 'with an hour-long interval it ran once');

# --- idle means asleep on the latch, not polling --------------------------
# Between runs the worker should not wake at all; a busy loop or a short
# nap would show as context switches.  (Linux /proc; skipped elsewhere.)
SKIP:
{
	skip 'no /proc/<pid>/status here', 1 unless -r "/proc/$pid/status";
	my $switches = sub {
		my ($n) = slurp_file("/proc/$pid/status") =~ /^voluntary_ctxt_switches:\s+(\d+)/m;
		return $n;
	};
	my $before = $switches->();
	sleep 3;
	my $woke = $switches->() - $before;
	cmp_ok($woke, '<=', 2, "the idle worker slept on its latch ($woke wake-ups in 3 s)");
}

# --- SIGHUP: a shorter interval applies at once, not after the hour -------
$node->safe_psql('postgres',
	"ALTER SYSTEM SET apikit.heartbeat_interval = '200ms'");
$node->reload;
ok(poll_heartbeat(q{"interval" = '200ms' AND runs >= 5}),
	'after SIGHUP the new interval is in force');
is(heartbeat('failures = runs'), 't', 'every run failed and was counted');
is($node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'apikit scheduler'"),
	$pid, 'the reload did not restart the worker');

my $log = slurp_file($node->logfile);
my $logged = () = $log =~ /extension "apikit" is not installed in database "postgres"/g;
is($logged, 1, 'the repeated error was logged once');
like($log, qr/CONTEXT:\s+apikit scheduler job "heartbeat"/,
	'the log names the failing job');

# --- the job recovers, and says so --------------------------------------
my $offset = -s $node->logfile;
$node->safe_psql('postgres', 'CREATE EXTENSION apikit');
ok(poll_heartbeat('last_error IS NULL'), 'the heartbeat succeeds once apikit is installed');
ok($node->wait_for_log(qr/job "heartbeat" succeeded after \d+ failed runs/, $offset),
	'the recovery is logged');

# --- kill -9: the postmaster restarts it within seconds ------------------
my $killed_at = time;
kill 'KILL', $pid;
ok( $node->poll_query_until('other',
		"SELECT pid IS NOT NULL AND pid <> $pid AND runs >= 1 AND last_error IS NULL "
		  . "FROM apikit.worker_status() WHERE name = 'heartbeat'"),
	'a new scheduler runs heartbeats after kill -9');
my $took = time - $killed_at;
cmp_ok($took, '<', 30, 'and it was back within seconds');
note(sprintf('restart after kill -9 took %.1f s', $took));
is(heartbeat(q{"interval"}), '00:00:00.2', 'the interval set before the crash still holds');

# --- a clean shutdown stops it without a crash ---------------------------
$offset = -s $node->logfile;
$node->stop('fast');
$log = slurp_file($node->logfile, $offset);
like($log, qr/database system is shut down/, 'the server shut down');
unlike($log, qr/terminated by signal|was terminated by exception|server process .* exited with exit code [^0]/,
	'no process crashed on the way');

# --- postmaster death: the worker exits on its own -----------------------
$node->start;
ok( $node->poll_query_until('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'apikit scheduler'",
		'1'),
	'the scheduler is back after a restart');
$pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'apikit scheduler'");
$node->kill9;
my $gone = 0;
for (1 .. 300)
{
	if (!kill(0, $pid)) { $gone = 1; last; }
	select(undef, undef, undef, 0.1);
}
ok($gone, 'the scheduler exits when the postmaster dies');

# The data directory is reusable after all that.
$node->start;
is($node->safe_psql('other', 'SELECT count(*) FROM apikit.worker_status()'),
	'1', 'the server starts again after the postmaster was killed');
$node->stop;

done_testing();

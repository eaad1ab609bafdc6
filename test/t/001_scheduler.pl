# The scheduler worker: starts with the server in apikit.database, sleeps
# between runs, survives a cancel, records and logs a failing job without
# stopping, applies a changed interval on SIGHUP, is back within seconds
# after kill -9, stops with a clean shutdown, exits by itself when the
# postmaster dies, and says so when it cannot reach its database.
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
ok(poll_heartbeat('failures >= 1 AND running_since IS NULL'),
	'the first heartbeat ran and failed');
like(
	heartbeat('last_error'),
	qr/extension "apikit" is not installed in database "postgres"/,
	'the failure says why');
is(heartbeat('runs'), '1', 'with an hour-long interval it ran once');

# --- idle means asleep on the latch, not polling --------------------------
# Between runs the worker should not wake at all (a short nap shows as
# context switches) nor spin (which shows as CPU time).  Linux /proc.
SKIP:
{
	skip 'no /proc/<pid>/schedstat here', 2 unless -r "/proc/$pid/schedstat";
	my $switches = sub {
		my ($n) = slurp_file("/proc/$pid/status") =~ /^voluntary_ctxt_switches:\s+(\d+)/m;
		return $n;
	};
	my $cpu_ns = sub { (split ' ', slurp_file("/proc/$pid/schedstat"))[0] };
	my ($sw0, $cpu0) = ($switches->(), $cpu_ns->());
	sleep 3;
	my $woke = $switches->() - $sw0;
	my $cpu_ms = ($cpu_ns->() - $cpu0) / 1e6;
	cmp_ok($woke, '<=', 2, "the idle worker slept on its latch ($woke wake-ups in 3 s)");
	cmp_ok($cpu_ms, '<', 20, sprintf('and used no CPU to speak of (%.2f ms in 3 s)', $cpu_ms));
}

# --- a cancel between jobs means nothing ----------------------------------
# (An error raised outside a job would make the worker exit.)
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
sleep 1;
is($node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'apikit scheduler'"),
	$pid, 'a cancel while idle does not stop the worker');

# --- SIGHUP: a shorter interval applies at once, not after the hour -------
$node->safe_psql('postgres',
	"ALTER SYSTEM SET apikit.heartbeat_interval = '1s'");
$node->reload;
ok(poll_heartbeat(q{"interval" = '1s' AND runs >= 3}),
	'after SIGHUP the new interval is in force');
is(heartbeat('failures = runs'), 't',
	'every run failed and was counted (a finished run is published whole)');
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
is(heartbeat(q{"interval"}), '00:00:01', 'the interval set before the crash still holds');

# --- a clean shutdown stops it without a crash ---------------------------
$offset = -s $node->logfile;
$node->stop('fast');
$log = slurp_file($node->logfile, $offset);
like($log, qr/database system is shut down/, 'the server shut down');
unlike($log, qr/terminated by signal|was terminated by exception|server process .* exited with exit code [^0]/,
	'no process crashed on the way');

# --- a database it cannot reach: said in worker_status() -----------------
$node->append_conf('postgresql.conf', "apikit.database = 'no_such_db'");
$node->start;
ok( $node->poll_query_until('other',
		"SELECT pid IS NULL AND last_error ~ 'could not connect to database \"no_such_db\"' "
		  . "FROM apikit.worker_status() WHERE name = 'heartbeat'"),
	'a scheduler that cannot connect says so in worker_status()');
$node->stop;

# --- postmaster death: the worker exits on its own (last: see the end) ---
$node->append_conf('postgresql.conf', "apikit.database = 'postgres'");
$node->start;
ok( $node->poll_query_until('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'apikit scheduler'",
		'1'),
	'the scheduler is back after a restart');
$pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'apikit scheduler'");
$node->kill9;

# Gone, or a zombie nobody has reaped yet (its parent died): either way it
# no longer runs.
sub running
{
	my ($p) = @_;
	return 0 unless -r "/proc/$p/stat";
	my $stat = eval { slurp_file("/proc/$p/stat") } // '';
	return $stat !~ /^\d+ \(.*\) [ZX] /;
}
my $gone = 0;
for (1 .. 300)
{
	if (!running($pid)) { $gone = 1; last; }
	select(undef, undef, undef, 0.1);
}
ok($gone, 'the scheduler exits when the postmaster dies');

# Nothing follows: where nothing reaps the killed postmaster (a container
# without an init), its zombie keeps postmaster.pid looking alive.
done_testing();

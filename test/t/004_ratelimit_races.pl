# The rate-limit table at the moments that matter, made to happen on cue:
# gdb stops a backend at a chosen function, and what another session does
# then, or an interrupt arriving then, is exactly the race in question.
# Without a gdb that can attach to the server's backends, the test skips.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('races');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'apikit'
apikit.ratelimit_max_keys = 200
apikit.ratelimit_when_full = deny
max_connections = 40
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION apikit;
INSERT INTO apikit.rate_limit_policies (name, rate, period, burst)
VALUES ('day', 1, '1 day', 0), ('slow', 100000, '366 days', 99999);
});

# Runs $sql in a session of its own whose backend gdb has attached to and
# given $script (breakpoints and their commands) before the SQL starts;
# returns the session's standard output and error, and gdb's output.  The
# session ends after the SQL, which ends gdb.  gdb's "shell" command runs
# another session's SQL while the backend is stopped.
sub under_gdb
{
	my ($sql, $script) = @_;
	my ($in, $out, $err) = ('', '', '');
	my $timer = IPC::Run::timeout(300);
	my $psql = IPC::Run::start(
		[ 'psql', '-X', '-q', '-At', '-h', $node->host, '-p', $node->port, '-d', 'postgres' ],
		'<', \$in, '>', \$out, '2>', \$err, $timer);
	$in .= "SELECT 'pid=' || pg_backend_pid();\n";
	$psql->pump until $out =~ /pid=(\d+)/;
	my $pid = $1;
	$out = '';
	my $file = $node->basedir . "/gdb.$pid";
	PostgreSQL::Test::Utils::append_to_file($file,
		"set pagination off\nset confirm off\nset breakpoint pending off\n$script\necho gdb-ready\\n\ncontinue\n");
	my ($gout, $gerr) = ('', '');
	my $gdb = IPC::Run::start([ 'gdb', '-q', '-nx', '-batch', '-p', $pid, '-x', $file ],
		'>', \$gout, '2>', \$gerr, $timer);
	$gdb->pump until $gout =~ /gdb-ready/ || !$gdb->pumpable;
	$in .= "$sql\n\\q\n";
	$psql->finish;
	$gdb->finish;
	return ($out, $err, $gout . $gerr);
}

# Another session's SQL, for gdb's shell command: psql in the background of
# a stopped backend, with a time limit (it may have to wait for that one).
sub shell_psql
{
	my ($sql, $file, $seconds) = @_;
	$seconds //= 60;
	my $host = $node->host;
	my $port = $node->port;
	$sql =~ s/"/\\"/g;
	return qq{shell timeout $seconds psql -X -q -At -h $host -p $port -d postgres -c "$sql" >>$file 2>&1; echo "rc=\$?" >>$file};
}

# A server with an empty table, whose log says the table is full again the
# first time it is (the log line is written at most once a minute).
sub fresh_server
{
	$node->stop;
	unlink $node->data_dir . '/pg_stat/apikit_ratelimit.stat';
	$node->start;
}

sub fill
{
	my ($n, $prefix) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FILTER (WHERE apikit.rate_limit('$prefix' || g, 'day')) FROM generate_series(1, $n) g");
}

sub usage
{
	my ($ret, $out, $err) = $node->psql('postgres',
		q{SELECT format('%s places, %s entries, %s live', places_used, entries, live_entries)
		  FROM apikit.rate_limit_usage()});
	return $ret == 0 ? $out : $err;
}

# Can gdb stop one of this server's backends?
{
	my ($out, $err, $gdb) = eval { under_gdb('SELECT 1;', '') };
	plan skip_all => 'gdb cannot attach to a backend here: ' . ($@ || $gdb // '')
	  unless defined $out && $out =~ /^1$/m && $gdb =~ /gdb-ready/;
}

# A gdb script that makes an interrupt pending (QueryCancelPending or
# ProcDiePending) as the backend enters that function.
sub interrupt_at
{
	my ($function, $flag) = @_;
	return qq{
break $function
commands
silent
set var *(int *) &$flag = 1
set var *(int *) &InterruptPending = 1
continue
end
};
}

# 100 new keys at once, of which 99 fit.
my $check_all_100 = q{SELECT count(*) FROM apikit.rate_limit_check_all(
	array(SELECT 'new' || g FROM generate_series(1, 100) g), array_fill('day'::text, ARRAY[100]));};

# --- an interrupt while a check_all holds places ---------------------------
# The backend is stopped as it enters the C function of rate_limit_check_all
# and given a pending cancel (or termination), which the first ereport() it
# makes acts on.  The places it took must not be lost with it: afterwards
# places used equal entries, and new keys get every free place.
fresh_server();
is(fill(101, 'fill'), '101', 'deny: 101 of 200 places hold live states');
my $offset = -s $node->logfile;
my ($out, $err) = under_gdb($check_all_100, interrupt_at('apikit_ratelimit_consume_all', 'QueryCancelPending'));
like($err, qr/canceling statement due to user request/,
	'a check_all of 100 new keys, 99 of which fit, is cancelled');
ok($node->log_contains(qr/the rate-limit table is full/, $offset),
	'after it looked for room (its log line is where the cancel is acted on)');
is(fill(150, 'probe'), '99', 'new keys get all 99 free places after the cancel');
is(usage(), '200 places, 200 entries, 200 live', 'and places used equal entries');

$node->append_conf('postgresql.conf', 'apikit.ratelimit_when_full = evict');
fresh_server();
is(fill(101, 'fill'), '101', 'evict: 101 of 200 places hold live states');
$offset = -s $node->logfile;
($out, $err) = under_gdb($check_all_100, interrupt_at('apikit_ratelimit_consume_all', 'ProcDiePending'));
like($err, qr/terminating connection due to administrator command/,
	'a check_all of 100 new keys, one of which needs an eviction, is terminated');
ok($node->log_contains(qr/the rate-limit table is full/, $offset), 'after it looked for room');
is($node->safe_psql('postgres', 'SELECT count(*) FROM apikit.rate_limit_state'), '200',
	'every place holds a state after the termination');
is(usage(), '200 places, 200 entries, 200 live', 'places used equal entries');

# --- a victim used between its examination and its eviction ---------------
# A full table (evict): 199 states that have used all of their capacity and
# one, "v", that has used a hundred-thousandth of it, so that a search for
# room that examines "v" chooses it.  A backend adds 80 new keys, each of
# which evicts one state; the hand that says where to search moves on each
# time, so "v" is examined and chosen within the first 16 or so.
sub victim_table
{
	fresh_server();
	$node->safe_psql('postgres', q{SELECT apikit.rate_limit('v', 'slow')});
	fill(199, 'fill');
}
sub used_by_v
{
	return $node->safe_psql('postgres',
		q{SELECT 100000 - remaining FROM apikit.rate_limit_check('v', 'slow', 0)});
}
my $add_80 = q{SELECT count(*) FILTER (WHERE apikit.rate_limit('new' || g, 'day')) FROM generate_series(1, 80) g;};
my $evicted_slow = q{SELECT coalesce(sum(evicted), 0) FROM apikit.rate_limit_stats WHERE policy = 'slow'};

victim_table();
is($node->safe_psql('postgres', $add_80), '80', 'alone, 80 new keys in a full table are admitted');
cmp_ok($node->safe_psql('postgres', $evicted_slow), '>=', 1,
	'by evictions, one of which chooses "v" (so the next part is not empty)');

# Now, each time the backend has chosen its victim and let go of the
# partition's lock, another session uses "v" once: if "v" is the victim,
# it has just been used, and evicting it would lose that use.
victim_table();
my $uses = $node->basedir . '/uses_of_v';
my ($adds) = under_gdb($add_80, qq{
break rl_evict_victim
commands
silent
@{[ shell_psql(q{SELECT apikit.rate_limit('v', 'slow')}, $uses) ]}
continue
end
});
my $n_uses = () = PostgreSQL::Test::Utils::slurp_file($uses) =~ /^rc=0$/mg;
is($adds, "80\n", 'with "v" used at every eviction, the 80 new keys are admitted');
cmp_ok($n_uses, '>', 80,
	"and \"v\" was used $n_uses times, once per eviction tried: more than 80, as a victim was left");
is(used_by_v(), 1 + $n_uses, '"v" keeps every use (a state used since it was examined is not evicted)');
is($node->safe_psql('postgres', $evicted_slow), '0', 'and is never evicted');

# --- a check_all that stores nothing takes its locks SHARED -----------------
# A single check holds its key's partition SHARED while it decides; gdb
# stops one there.  A check_all of the same key that cannot store anything
# (cost 0, or limiting switched off) must not wait for it; one that
# consumes must (EXCLUSIVE), which shows that the wait would be seen.
$node->safe_psql('postgres', q{SELECT apikit.rate_limit('k6', 'slow')});
my $waits = $node->basedir . '/waits';
under_gdb(q{SELECT apikit.rate_limit('k6', 'slow', 0);}, qq{
break gcra_apply
commands
silent
@{[ shell_psql(q{SELECT 'cost0 ' || count(*) FROM apikit.rate_limit_check_all(ARRAY['k6'], ARRAY['slow'], 0)}, $waits, 20) ]}
@{[ shell_psql(q{SET apikit.ratelimit_enabled = off; SELECT 'off ' || count(*) FROM apikit.rate_limit_check_all(ARRAY['k6'], ARRAY['slow'])}, $waits, 20) ]}
@{[ shell_psql(q{SELECT 'cost1 ' || count(*) FROM apikit.rate_limit_check_all(ARRAY['k6'], ARRAY['slow'])}, $waits, 3) ]}
continue
end
});
is(PostgreSQL::Test::Utils::slurp_file($waits), "cost0 1\nrc=0\noff 1\nrc=0\nrc=124\n",
	'while a check holds the partition SHARED, check_all with cost 0 or switched off goes ahead; with cost 1 it waits');

# --- reading apikit.rate_limit_state holds up no new key ----------------------
# gdb stops a backend reading the view at the first lock it lets go of,
# holding what it holds while copying; 16 new keys are added meanwhile,
# each by a session of its own.  The copy holds one partition at a time:
# keys of the other partitions go ahead (before, it held all 16 while it
# allocated and copied, and every new key waited).
fresh_server();
fill(50, 'fill');
my $added = $node->basedir . '/added';
my ($host, $port) = ($node->host, $node->port);
under_gdb(q{SELECT count(*) FROM apikit.rate_limit_state;}, qq{
break apikit_ratelimit_snapshot
commands
silent
enable 2
continue
end
break LWLockRelease
disable 2
commands
silent
disable 2
shell for i in \$(seq 1 16); do (timeout 5 psql -X -q -At -h $host -p $port -d postgres -c "SELECT apikit.rate_limit('f9_\$i', 'day')" >/dev/null 2>&1 && echo added >>$added) & done; wait
continue
end
});
my $n_added = () = (-e $added ? PostgreSQL::Test::Utils::slurp_file($added) : '') =~ /^added$/mg;
cmp_ok($n_added, '>=', 8, "while the view was read, $n_added of 16 new keys were added without waiting");
is($node->safe_psql('postgres', q{SELECT count(*) FROM apikit.rate_limit_state WHERE key LIKE 'f9_%'}),
	'16', 'and all 16 are there afterwards');

$node->stop;
done_testing();

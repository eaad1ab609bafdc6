# Rate limiting with real servers: a PostgREST replay of pre_request(),
# state kept across a clean restart and dropped by a crash, use on a hot
# standby (each node counts its own), and pgbench stress runs whose
# admissions are checked against the exact GCRA bound.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'apikit'
restart_after_crash = on
max_connections = 20
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION apikit;
INSERT INTO apikit.rate_limit_policies (name, rate, period, burst)
VALUES ('daily', 1, '1 day', 2), ('stress', 1, '1 day', 99), ('flow', 50, '1 second', 9);
CREATE ROLE web_anon NOLOGIN;
GRANT USAGE ON SCHEMA apikit TO web_anon;
INSERT INTO apikit.rate_limit_rules (name, method, path_pattern, policy, key_source)
VALUES ('items', 'GET', '/items%', 'daily', 'ip');
});

sub remaining
{
	my ($n, $key, $policy) = @_;
	return $n->safe_psql('postgres',
		"SELECT remaining FROM apikit.rate_limit_check('$key', '$policy', 0)");
}

# --- PostgREST replay ------------------------------------------------------
# What PostgREST sends for GET /items: a READ ONLY transaction, one SELECT
# of set_config calls in its order, then the pre-request function.
my $request = q{
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
select set_config('search_path', 'public', true), set_config('role', 'web_anon', true),
	set_config('request.jwt.claims', '{"role":"web_anon"}', true),
	set_config('request.method', 'GET', true), set_config('request.path', '/items', true),
	set_config('request.headers', '{"x-forwarded-for":"203.0.113.9, 10.0.0.1","accept":"*/*"}', true);
select apikit.pre_request();
select current_setting('response.headers', true);
COMMIT;
};

for my $i (1 .. 3)
{
	my ($ret, $out, $err) = $node->psql('postgres', $request, extra_params => ['-v', 'VERBOSITY=verbose']);
	is($ret, 0, "request $i of 3 is allowed");
	my ($json) = $out =~ /^(\[.*\])$/m;
	my $headers = eval { decode_json($json // '') } // [];
	is_deeply([map { keys %$_ } @$headers], ['RateLimit-Policy', 'RateLimit'],
		"request $i: response.headers is an array of single-key objects");
	like($headers->[1]{RateLimit} // '', qr/^"daily";r=${\(3 - $i)};t=\d+$/,
		"request $i: RateLimit counts down");
}

my ($ret, $out, $err) = $node->psql('postgres', $request, extra_params => ['-v', 'VERBOSITY=verbose']);
isnt($ret, 0, 'the fourth request is denied');
my ($sqlstate, $message) = $err =~ /ERROR:\s+(\w+): (\{.*\})$/m;
my ($detail) = $err =~ /DETAIL:\s+(\{.*\})$/m;
is($sqlstate, 'PGRST', 'with SQLSTATE PGRST');
$message = eval { decode_json($message // '') } // {};
$detail = eval { decode_json($detail // '') } // {};
is($message->{code}, 'AK429', 'the message JSON has the code PostgREST requires');
is($message->{message}, 'Too many requests', 'and the message');
is($detail->{status}, 429, 'the detail JSON asks for status 429');
like($detail->{headers}{'Retry-After'} // '', qr/^\d+$/, 'Retry-After is whole seconds');
cmp_ok($detail->{headers}{'Retry-After'} // 0, '>=', 86000, 'rounded up from the next slot');
is($detail->{headers}{'RateLimit-Policy'}, '"daily";q=1;w=86400;apikit-burst=2',
	'RateLimit-Policy in the draft syntax');
like($detail->{headers}{RateLimit} // '', qr/^"daily";r=0;t=\d+$/, 'RateLimit says none left');
ok(!grep({ ref($detail->{headers}{$_}) } keys %{ $detail->{headers} }),
	'every header value is a string');
is(remaining($node, 'ip:203.0.113.9', 'daily'), '0', 'the key is the first X-Forwarded-For address');

# --- a clean restart keeps the state; a crash does not ----------------------
$node->safe_psql('postgres', q{SELECT apikit.rate_limit('kept', 'daily') FROM generate_series(1, 2)});
is(remaining($node, 'kept', 'daily'), '1', 'two of three used');
my $offset = -s $node->logfile;
$node->restart;
ok($node->log_contains(qr/apikit restored \d+ rate-limit states/, $offset),
	'start-up reports the restored states');
is(remaining($node, 'kept', 'daily'), '1', 'a clean restart keeps the state');
is(remaining($node, 'ip:203.0.113.9', 'daily'), '0', 'of every key');

# Crash: kill -9 a backend (PostgreSQL 15 and 18 differ in background_psql,
# so a plain psql running pg_sleep is the victim).
my $sleeper = IPC::Run::start(
	[ 'psql', '-X', '-h', $node->host, '-p', $node->port, '-d', 'postgres',
	  '-c', 'SELECT pg_sleep(120)' ],
	'>', \my $sleep_out, '2>', \my $sleep_err);
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(120)'}),
	'a backend to kill is running');
my $victim = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(120)'});
kill 'KILL', $victim;
$sleeper->finish;
ok($node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset),
	'the postmaster reinitialises after the crash');
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server recovers from the crash');
is(remaining($node, 'kept', 'daily'), '3', 'after a crash the table starts empty');

# --- exactness under concurrency ------------------------------------------
# No refill within a day: exactly burst + 1 = 100 of all attempts pass.
my $script = $node->basedir . '/check.sql';
PostgreSQL::Test::Utils::append_to_file($script,
	"SELECT apikit.rate_limit('hot', 'stress');\n");
my @pgbench = ('pgbench', '-n', '-c', '8', '-j', '2', '-f', $script,
	'-h', $node->host, '-p', $node->port, 'postgres');
system_or_bail(@pgbench, '-t', '200');
my ($allowed, $denied) = split /\|/, $node->safe_psql('postgres',
	"SELECT allowed, denied FROM apikit.rate_limit_stats WHERE policy = 'stress'");
is($allowed, 100, "8 clients, 1600 attempts on one key: exactly 100 admitted");
is($allowed + $denied, 1600, 'and every attempt was counted');

# With refill (50 per second, burst 9): over any run of length L, GCRA admits
# at most burst + 1 + floor(L / T) + 1, and a steady stream of attempts gets
# close to that.
my $flow = $node->basedir . '/flow.sql';
PostgreSQL::Test::Utils::append_to_file($flow, "SELECT apikit.rate_limit('hot', 'flow');\n");
my $t0 = time;
system_or_bail('pgbench', '-n', '-c', '4', '-j', '2', '-T', '3', '-f', $flow,
	'-h', $node->host, '-p', $node->port, 'postgres');
my $elapsed = time - $t0;
$allowed = $node->safe_psql('postgres',
	"SELECT allowed FROM apikit.rate_limit_stats WHERE policy = 'flow'");
my $bound = 10 + int($elapsed * 50) + 1;
cmp_ok($allowed, '<=', $bound, "4 clients for ${\ sprintf('%.1f', $elapsed)} s: $allowed admitted, at most $bound");
cmp_ok($allowed, '>=', 10 + int(2.5 * 50), 'and the steady rate was reached');

# --- several rules, one decision, under concurrency -----------------------
# Each request passes a per-client rule (5 a day) and a global one (30 a
# day), as one decision: 8 clients x 5 > 30, so both refuse at times.  A
# refused request must consume nothing from the other rule, so afterwards
# every bucket's use equals exactly the admitted requests that named it.
$node->safe_psql('postgres', q{
INSERT INTO apikit.rate_limit_policies (name, rate, period, burst)
VALUES ('client5', 5, '1 day', 4), ('global30', 30, '1 day', 29);
INSERT INTO apikit.rate_limit_rules (name, priority, path_pattern, policy, key_source)
VALUES ('per_client', 1, '/conc%', 'client5', 'header:x-client'),
       ('global', 2, '/conc%', 'global30', 'const:all');
CREATE TABLE outcomes (client integer, allowed boolean);
CREATE FUNCTION try_request(c integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('request.method', 'GET', true),
			set_config('request.path', '/conc', true),
			set_config('request.jwt.claims', '{}', true),
			set_config('request.headers', format('{"x-client": "c%s"}', c), true);
	BEGIN
		PERFORM apikit.pre_request();
		INSERT INTO outcomes VALUES (c, true);
	EXCEPTION WHEN SQLSTATE 'PGRST' THEN
		INSERT INTO outcomes VALUES (c, false);
	END;
END $$;
});
my $conc = $node->basedir . '/conc.sql';
PostgreSQL::Test::Utils::append_to_file($conc,
	"\\set c random(1, 8)\nSELECT try_request(:c);\n");
system_or_bail('pgbench', '-n', '-c', '4', '-j', '2', '-t', '60', '-f', $conc,
	'-h', $node->host, '-p', $node->port, 'postgres');
is($node->safe_psql('postgres', 'SELECT count(*) FROM outcomes'), '240',
	'240 requests of 8 clients through two rules');
is($node->safe_psql('postgres', 'SELECT count(*) FILTER (WHERE allowed) FROM outcomes'),
	'30', 'the global rule admits exactly its 30');
is($node->safe_psql('postgres',
		q{SELECT 30 - remaining FROM apikit.rate_limit_check('const:all', 'global30', 0)}),
	'30', 'and its bucket holds exactly the admitted requests');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('c%s %s/%s', c, admitted, used), ', ' ORDER BY c)
	FROM (SELECT c, count(*) FILTER (WHERE o.allowed) AS admitted,
	             5 - (SELECT remaining FROM apikit.rate_limit_check('header:x-client:c' || c, 'client5', 0)) AS used
	      FROM generate_series(1, 8) c LEFT JOIN outcomes o ON o.client = c
	      GROUP BY c) s
	WHERE admitted <> used}),
	'', "every client's bucket holds exactly its admitted requests (refusals consumed nothing)");
ok($node->safe_psql('postgres',
		q{SELECT count(*) FILTER (WHERE NOT allowed AND admitted_before < 5) > 0
		  FROM (SELECT client, allowed,
		               count(*) FILTER (WHERE allowed) OVER (PARTITION BY client) AS admitted_before
		        FROM outcomes) s}) eq 't',
	'some requests were refused by the global rule alone');
$node->safe_psql('postgres', q{DELETE FROM apikit.rate_limit_rules WHERE name IN ('per_client', 'global')});

# The same straight through rate_limit_check_all, at full speed: 4 clients
# make 1,000 requests each, as 40 users, through a per-user rule (50 a day)
# and a global one (1,000 a day); both refuse at times.  Every admitted
# request consumed from both buckets, and no refused one from either, so
# the users' buckets hold exactly what the global one holds: 1,000.  (A
# check_all that let go of its locks between deciding and storing fails
# this every time: two requests decide against the same global state.)
$node->safe_psql('postgres', q{
INSERT INTO apikit.rate_limit_policies (name, rate, period, burst)
VALUES ('c50', 50, '1 day', 49), ('g1000', 1000, '1 day', 999);
});
my $pairs = $node->basedir . '/pairs.sql';
PostgreSQL::Test::Utils::append_to_file($pairs,
	"\\set c random(1, 40)\nSELECT count(*) FROM apikit.rate_limit_check_all(ARRAY['c' || :c, 'all'], ARRAY['c50', 'g1000']);\n");
system_or_bail('pgbench', '-n', '-c', '4', '-j', '2', '-t', '1000', '-f', $pairs,
	'-h', $node->host, '-p', $node->port, 'postgres');
is($node->safe_psql('postgres', q{
	SELECT format('global %s, users %s, admitted %s/%s',
		(SELECT 1000 - remaining FROM apikit.rate_limit_check('all', 'g1000', 0)),
		(SELECT sum(50 - remaining) FROM generate_series(1, 40) c,
				apikit.rate_limit_check('c' || c, 'c50', 0)),
		(SELECT allowed FROM apikit.rate_limit_stats WHERE policy = 'g1000'),
		(SELECT allowed FROM apikit.rate_limit_stats WHERE policy = 'c50'))}),
	'global 1000, users 1000, admitted 1000/1000',
	"4,000 requests of 40 users through two rules: the users' buckets hold exactly the global one's 1,000");
# (Their 41 states would otherwise fill the small table of a later test.)
$node->safe_psql('postgres',
	q{SELECT apikit.rate_limit_reset(k) FROM unnest(array_append(array(SELECT 'c' || g FROM generate_series(1, 40) g), 'all')) k});

# --- a hot standby limits on its own --------------------------------------
$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
is($standby->safe_psql('postgres',
		q{SELECT string_agg(apikit.rate_limit('on-standby', 'daily')::text, ',') FROM generate_series(1, 4)}),
	'true,true,true,false', 'checks work on a hot standby');
is(remaining($node, 'on-standby', 'daily'), '3', 'and count on that node only');
# A policy change on the primary reaches a standby backend that cached the
# old policy: one session loads it, waits for the change to be replayed,
# and checks again.
my $standby_session = IPC::Run::start(
	[ 'psql', '-X', '-q', '-At', '-h', $standby->host, '-p', $standby->port, '-d', 'postgres',
	  '-c', q{SELECT 'before ' || "limit" FROM apikit.rate_limit_check('inval', 'daily', 0)},
	  '-c', q{DO $$ BEGIN
	            FOR i IN 1..600 LOOP
	              EXIT WHEN (SELECT burst FROM apikit.rate_limit_policies WHERE name = 'daily') = 5;
	              PERFORM pg_sleep(0.1);
	            END LOOP;
	          END $$},
	  '-c', q{SELECT 'after ' || "limit" FROM apikit.rate_limit_check('inval', 'daily', 0)} ],
	'>', \my $session_out, '2>', \my $session_err);
ok($standby->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE 'DO $$ BEGIN%'}),
	'a standby session has cached the policy and waits');
$node->safe_psql('postgres', q{UPDATE apikit.rate_limit_policies SET burst = 5 WHERE name = 'daily'});
$node->wait_for_catchup($standby);
$standby_session->finish;
is($session_out, "before 3\nafter 6\n",
	'a policy change replayed on the standby reaches a session that had cached it')
  or diag($session_err);

$standby->stop;

# --- each database has its own policies, states and counters ------------
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', q{CREATE EXTENSION apikit;
	INSERT INTO apikit.rate_limit_policies VALUES ('daily', 1, '1 day', 2)});
is($node->safe_psql('other', q{SELECT remaining FROM apikit.rate_limit_check('kept', 'daily', 0)}),
	'3', 'a key used in one database is fresh in another');
is($node->safe_psql('other', q{SELECT count(*) FROM apikit.rate_limit_stats WHERE policy = 'stress'}),
	'0', "and another database's counters are not shown");
is($node->safe_psql('other', q{SELECT count(*) FROM apikit.rate_limit_state}),
	'0', "nor its keys");

# --- pg_dump keeps policies and rules, the changed "default" too ---------
$node->safe_psql('postgres', q{UPDATE apikit.rate_limit_policies SET rate = 77 WHERE name = 'default'});
my $dump = $node->basedir . '/apikit.dump';
system_or_bail('pg_dump', '-Fc', '-f', $dump, '-h', $node->host, '-p', $node->port, 'postgres');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
my ($rc, $rout, $rerr) = (0, '', '');
$rc = IPC::Run::run(['pg_restore', '-d', 'restored', '-h', $node->host, '-p', $node->port, $dump],
	'>', \$rout, '2>', \$rerr) ? 0 : 1;
is($rc, 0, 'pg_restore succeeds') or diag($rerr);
is($node->safe_psql('restored',
		q{SELECT string_agg(name || '=' || rate || '/' || burst, ',' ORDER BY name) FROM apikit.rate_limit_policies}),
	$node->safe_psql('postgres',
		q{SELECT string_agg(name || '=' || rate || '/' || burst, ',' ORDER BY name) FROM apikit.rate_limit_policies}),
	'every policy is restored, the changed default among them');
is($node->safe_psql('restored', q{SELECT rate FROM apikit.rate_limit_policies WHERE name = 'default'}),
	'77', 'the default policy keeps its change');
is($node->safe_psql('restored', q{SELECT name || ':' || policy || ':' || key_source FROM apikit.rate_limit_rules}),
	'items:daily:ip', 'the rules are restored');
is($node->safe_psql('restored', q{SELECT apikit.rate_limit('x', 'daily')}), 't',
	'and limiting works in the restored database');

# --- a full table: reclaim first, then ratelimit_when_full decides -------
$node->append_conf('postgresql.conf', 'apikit.ratelimit_max_keys = 100');
$node->restart;
$node->safe_psql('postgres', q{
INSERT INTO apikit.rate_limit_policies (name, rate, period, burst)
VALUES ('quick', 1000, '1 second', 0), ('short5', 5, '80 seconds', 4),
       ('daily1000', 1000, '1 day', 999);
});
# 'quick' states are worth 1 ms: 300 keys through 100 places, pausing now and
# then, only ever reclaim states that have recovered.
$node->safe_psql('postgres', q{
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		PERFORM apikit.rate_limit('q' || i, 'quick');
		IF i % 20 = 0 THEN PERFORM pg_sleep(0.01); END IF;
	END LOOP;
END $$;
});
is($node->safe_psql('postgres',
		q{SELECT coalesce(sum(evicted), 0) FROM apikit.rate_limit_stats}),
	'0', 'states that have recovered are reclaimed, not counted as evicted');

sub stat_of
{
	my ($policy, $column) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum($column), 0) FROM apikit.rate_limit_stats WHERE policy = '$policy'");
}

# evict (the default): an exhausted bucket of a short policy (5 per 80 s)
# is worth more than a single use of a daily quota (1000 a day, one use
# lasting 86.4 s), although it expires sooner.  A flood of new keys on the
# daily quota, from 4 sessions at once, evicts its own kind and leaves the
# exhausted bucket alone.  (It recovers one request every 16 s: while it
# is in the table, remaining stays below 5 for over a minute.)
sub victim_kept
{
	return $node->safe_psql('postgres', q{
		SELECT format('%s %s', count(*), bool_and(remaining < 5))
		FROM apikit.rate_limit_state WHERE key = 'victim' AND policy = 'short5'});
}
is($node->safe_psql('postgres',
		q{SELECT string_agg(apikit.rate_limit('victim', 'short5')::text, ',') FROM generate_series(1, 6)}),
	'true,true,true,true,true,false', 'the victim exhausts its bucket');
my $flood = $node->basedir . '/flood.sql';
PostgreSQL::Test::Utils::append_to_file($flood,
	"\\set k random(1, 1000000000)\nSELECT apikit.rate_limit('flood' || :k, 'daily1000');\n");
system_or_bail('pgbench', '-n', '-c', '4', '-j', '2', '-t', '250', '-f', $flood,
	'-h', $node->host, '-p', $node->port, 'postgres');
is(stat_of('daily1000', 'allowed'), '1000', 'evict: every new key of the flood is admitted');
cmp_ok(stat_of('daily1000', 'evicted'), '>=', 900, 'by evicting states of the flood, counted');
is(victim_kept(), '1 t', 'evict: the exhausted bucket survives the flood (its limit is not reset)');
is(stat_of('short5', 'evicted'), '0', 'and was never evicted');
ok($node->log_contains(qr/the rate-limit table is full: all 100 places hold live states/),
	'the server log says that the table is full');

# deny: a new key is refused while the table is full of live states, and no
# live state is ever dropped.
my $evicted_before = $node->safe_psql('postgres', 'SELECT sum(evicted) FROM apikit.rate_limit_stats');
$node->append_conf('postgresql.conf', 'apikit.ratelimit_when_full = deny');
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT current_setting('apikit.ratelimit_when_full') = 'deny'}),
	'apikit.ratelimit_when_full = deny after a reload');
system_or_bail('pgbench', '-n', '-c', '4', '-j', '2', '-t', '100', '-f', $flood,
	'-h', $node->host, '-p', $node->port, 'postgres');
is(stat_of('daily1000', 'allowed'), '1000', 'deny: no new key of the second flood is admitted');
is(stat_of('daily1000', 'denied_full'), '400', 'each is denied for want of room, and counted');
is(victim_kept(), '1 t', 'deny: the exhausted bucket is untouched');
is($node->safe_psql('postgres',
		q{SELECT format('%s %s %s', allowed, table_full, retry_after > '0')
		  FROM apikit.rate_limit_check_all(ARRAY['newcomer'], ARRAY['short5'])}),
	'f t t', 'a refused new key is told that the table is full, and when to retry');
is($node->safe_psql('postgres',
		q{SELECT format('%s %s %s', allowed, remaining, retry_after > '0')
		  FROM apikit.rate_limit_check('newcomer', 'short5')}),
	'f 0 t', 'rate_limit_check refuses it too, with a retry time');
is($node->safe_psql('postgres', 'SELECT sum(evicted) FROM apikit.rate_limit_stats'),
	$evicted_before, 'deny never evicts');
# Room comes back when a state goes: the next new key takes it.
$node->safe_psql('postgres', q{SELECT apikit.rate_limit_reset('victim')});
is($node->safe_psql('postgres', q{SELECT apikit.rate_limit('newcomer', 'short5')}), 't',
	'a place freed by a reset goes to the next new key');
is($node->safe_psql('postgres', q{SELECT apikit.rate_limit('newcomer2', 'short5')}), 'f',
	'and only one');

# --- apikit.ratelimit_database_share: one database cannot take the table ---
# The table is the cluster's.  "postgres" keeps 40 states that have used
# all of their capacity; in database "other", a role that may call checks
# floods new keys, with cost 1000 on a quota of 1000 so that each new state
# is worth a full bucket (which beats any state that has recovered a little).
$node->safe_psql('postgres', q{
INSERT INTO apikit.rate_limit_policies (name, rate, period, burst) VALUES ('hold', 1, '1 day', 0)});
$node->safe_psql('other', q{
INSERT INTO apikit.rate_limit_policies (name, rate, period, burst) VALUES ('flood1000', 1000, '1 day', 999)});
sub empty_table
{
	my ($conf) = @_;
	$node->append_conf('postgresql.conf', $conf);
	$node->stop;
	unlink $node->data_dir . '/pg_stat/apikit_ratelimit.stat';
	$node->start;
	$node->safe_psql('postgres',
		q{SELECT count(*) FROM generate_series(1, 40) g WHERE apikit.rate_limit('user' || g, 'hold')});
}
sub flood_other
{
	my ($prefix, $keys, $cost) = @_;
	return $node->safe_psql('other',
		"SELECT count(*) FILTER (WHERE apikit.rate_limit('$prefix' || g, 'flood1000', $cost)) FROM generate_series(1, $keys) g");
}
my $users_left = q{SELECT count(*) FROM apikit.rate_limit_state WHERE policy = 'hold' AND remaining = 0};

# Without a share (100 %, the default), evict: the flood evicts the users.
empty_table("apikit.ratelimit_when_full = evict\napikit.ratelimit_database_share = 100");
is(flood_other('a', 300, 1000), '300', 'share 100 %, evict: the flood of 300 new keys is admitted');
cmp_ok($node->safe_psql('postgres', $users_left), '<', 40,
	"and evicts other databases' exhausted states: " . $node->safe_psql('postgres', $users_left) . ' of 40 left');

# A share of 50 %, deny: the flood gets 50 places, "postgres" keeps its
# states and still admits new clients.
empty_table("apikit.ratelimit_when_full = deny\napikit.ratelimit_database_share = 50");
is(flood_other('b', 300, 1000), '50', 'share 50 %, deny: the flood gets the 50 places its database may use');
is($node->safe_psql('postgres', $users_left), '40', 'the users of "postgres" keep their states');
is($node->safe_psql('other',
		q{SELECT string_agg(format('%s %s', allowed, table_full), ', ' ORDER BY ord)
		  FROM apikit.rate_limit_check_all(ARRAY['g1', 'g2'], ARRAY['flood1000', 'flood1000'])}),
	'f t, f t', 'rate_limit_check_all of new keys in that database is refused for want of room too');
is($node->safe_psql('postgres',
		q{SELECT count(*) FILTER (WHERE apikit.rate_limit('newcomer' || g, 'hold')) FROM generate_series(1, 20) g}),
	'10', 'and "postgres" admits new clients into its 10 free places (the table is then full)');
is($node->safe_psql('other',
		q{SELECT format('%s %s', database_entries, database_max_keys) FROM apikit.rate_limit_usage()}),
	'50 50', 'rate_limit_usage shows the database at its share');
ok($node->log_contains(qr/database "other" holds its whole share of the rate-limit table: 50 of 100 places/),
	'and the server log says so');

# Evict: the database at its share replaces its own states only.
$node->append_conf('postgresql.conf', 'apikit.ratelimit_when_full = evict');
$node->reload;
ok($node->poll_query_until('other', q{SELECT current_setting('apikit.ratelimit_when_full') = 'evict'}),
	'evict after a reload');
is(flood_other('c', 300, 1000), '300', 'share 50 %, evict: the flood is admitted');
is($node->safe_psql('postgres', $users_left), '50', 'by evicting only its own states: the 50 of "postgres" stay');
is($node->safe_psql('postgres', q{SELECT coalesce(sum(evicted), 0) FROM apikit.rate_limit_stats WHERE policy = 'hold'}),
	'0', 'none of which was evicted');
cmp_ok($node->safe_psql('other', q{SELECT evicted FROM apikit.rate_limit_stats WHERE policy = 'flood1000'}),
	'>=', 300, "the flood's own states were");

$node->stop;
done_testing();

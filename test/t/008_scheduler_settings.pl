# The scheduler connects as the bootstrap superuser: nothing the owner of
# apikit.database can store with ALTER DATABASE ... SET may change what its
# jobs do.  The owner here is an ordinary role who shadows, in a schema put
# before pg_catalog on the database's search_path, every function, operator
# and type the jobs' SQL uses or could use unqualified -- functions that
# make the owner a superuser when a superuser calls them, operators built on
# them, and domains over the types of the jobs' casts whose CHECK calls them
# -- and who sets the role, read-only transactions, serializable isolation
# and a 1 ms statement timeout for the database.  The jobs must go on
# working, call none of it, and say in the log which settings they ignored.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('scheduler_settings');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'apikit'
apikit.database = 'rt'
apikit.heartbeat_interval = '1s'
apikit.audit_seal_interval = '1s'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE ROLE dbown LOGIN;
CREATE DATABASE rt OWNER dbown;
});
$node->safe_psql('rt', q{
CREATE EXTENSION apikit;
CREATE TABLE public.orders (id int PRIMARY KEY, total numeric);
ALTER TABLE public.orders OWNER TO dbown;
SELECT apikit.audit_enable('public.orders');
});

ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity a
		  WHERE backend_type = 'apikit scheduler' AND datname = 'rt'}),
	'the scheduler runs in rt');

# --- the database owner's trap ---------------------------------------------
$node->safe_psql('rt', q{
CREATE SCHEMA evil;
CREATE TABLE evil.calls (what text, by_superuser boolean, at timestamptz DEFAULT now());
GRANT INSERT ON evil.calls TO PUBLIC;

-- Called as a superuser, it makes dbown one; in any case it leaves a trace.
CREATE FUNCTION evil.trap(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO evil.calls (what, by_superuser)
	VALUES (what, pg_catalog.current_setting('is_superuser') = 'on');
	IF pg_catalog.current_setting('is_superuser') = 'on' THEN
		EXECUTE 'ALTER ROLE dbown SUPERUSER';
	END IF;
	RETURN true;
END $$;

-- Functions the jobs' SQL named, or might, without a schema.
CREATE FUNCTION evil.to_regclass(text) RETURNS regclass LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('to_regclass'); RETURN pg_catalog.to_regclass($1); END $$;
CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('now'); RETURN pg_catalog.now(); END $$;

-- Operators on the types the jobs compare: name, oid, bigint.
CREATE FUNCTION evil.name_eq(name, name) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('= (name)'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR evil.= (LEFTARG = name, RIGHTARG = name, FUNCTION = evil.name_eq);
CREATE FUNCTION evil.name_text_eq(name, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('= (name, text)'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR evil.= (LEFTARG = name, RIGHTARG = text, FUNCTION = evil.name_text_eq);
CREATE FUNCTION evil.oid_eq(oid, oid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('= (oid)'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = evil.oid_eq);
CREATE FUNCTION evil.int8_gt(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('> (bigint)'); RETURN $1 OPERATOR(pg_catalog.>) $2; END $$;
CREATE OPERATOR evil.> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8_gt);
CREATE FUNCTION evil.int8_le(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('<= (bigint)'); RETURN $1 OPERATOR(pg_catalog.<=) $2; END $$;
CREATE OPERATOR evil.<= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8_le);
CREATE FUNCTION evil.int84_mi(bigint, integer) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('- (bigint, integer)'); RETURN $1 OPERATOR(pg_catalog.-) $2; END $$;
CREATE OPERATOR evil.- (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = evil.int84_mi);
CREATE FUNCTION evil.int8_mi(bigint, bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('- (bigint)'); RETURN $1 OPERATOR(pg_catalog.-) $2; END $$;
CREATE OPERATOR evil.- (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8_mi);

-- Casts: a domain that shadows a type runs its CHECK on every cast to it.
CREATE DOMAIN evil.name AS pg_catalog.name CHECK (evil.trap('::name'));
CREATE DOMAIN evil.text AS pg_catalog.text CHECK (evil.trap('::text'));
CREATE DOMAIN evil.int8 AS pg_catalog.int8 CHECK (evil.trap('::int8'));
CREATE DOMAIN evil.bigint AS pg_catalog.int8 CHECK (evil.trap('::bigint'));
CREATE DOMAIN evil.regclass AS pg_catalog.regclass CHECK (evil.trap('::regclass'));
CREATE DOMAIN evil.timestamptz AS pg_catalog.timestamptz CHECK (evil.trap('::timestamptz'));
}, extra_params => [ '-U', 'dbown' ]);

# The trap works: an unqualified call in a session on that search_path
# springs it (here as dbown, so it is only recorded).
$node->safe_psql('rt', q{
SET search_path = evil, pg_catalog, public;
SELECT to_regclass('apikit.audit_seals');
SELECT extname FROM pg_extension WHERE extname = 'apikit';
SELECT 'x'::name;
DELETE FROM evil.calls RETURNING what;
}, extra_params => [ '-U', 'dbown' ]) =~ /to_regclass/ or BAIL_OUT('the trap does not work');

# Sessions of the test itself are exempt from the database's settings
# (options from the client outrank the database's).
$ENV{PGOPTIONS} = '-c role=none -c statement_timeout=0 -c lock_timeout=0 '
  . '-c default_transaction_read_only=off -c default_transaction_isolation=read\\ committed '
  . '-c search_path=pg_catalog,public';
# (Triggers must fire for the test's own writes, whatever the database says.)
sub rt
{
	my ($sql) = @_;
	return $node->safe_psql('rt', "SET session_replication_role = origin; $sql");
}

# Restart (the worker reads the settings when it connects), write rows to
# seal, let both jobs run a few times, and look for traces.
sub jobs_run_clean
{
	my ($what) = @_;
	my $offset = -s $node->logfile;
	$node->restart;
	rt("INSERT INTO public.orders SELECT g, g FROM generate_series(1, 50) g "
		  . "ON CONFLICT (id) DO UPDATE SET total = excluded.total + 1");
	ok( $node->poll_query_until('rt',
			q{SELECT bool_and(runs >= 3) FROM apikit.worker_status()
			   WHERE name IN ('heartbeat', 'audit_seal')}),
		"$what: both jobs ran");
	is(rt(q{SELECT coalesce(string_agg(name || ': ' || last_error, '; '), '')
		   FROM apikit.worker_status() WHERE failures > 0}),
		'', "$what: no job failed");
	is(rt('SELECT string_agg(DISTINCT what, \', \') FROM evil.calls'), '',
		"$what: none of the owner's functions, operators or domains was called");
	is(rt("SELECT rolsuper FROM pg_roles WHERE rolname = 'dbown'"), 'f',
		"$what: the database owner did not become a superuser");
	is(rt('SELECT max(last_id) >= (SELECT max(id) FROM apikit.audit_log) FROM apikit.audit_seals'),
		't', "$what: the audit rows were sealed");
	return slurp_file($node->logfile, $offset);
}

# The attack as reported: the owner's schema first on the search_path.
$node->safe_psql('rt', 'ALTER DATABASE rt SET search_path = evil, pg_catalog, public',
	extra_params => [ '-U', 'dbown' ]);
my $log = jobs_run_clean('search_path');
like($log,
	qr/apikit scheduler ignores the settings that database "rt" and its roles store: [^\n]*\bsearch_path\b/,
	'the log says which database settings the scheduler ignored');

# Everything else a database owner may set that would change what a job
# does (or whether it can do it at all).
$node->safe_psql('rt', q{
ALTER DATABASE rt SET role = dbown;
ALTER DATABASE rt SET default_transaction_read_only = on;
ALTER DATABASE rt SET default_transaction_isolation = serializable;
ALTER DATABASE rt SET statement_timeout = '1ms';
ALTER DATABASE rt SET lock_timeout = '1ms';
ALTER DATABASE rt SET apikit.actor = 'mallory';
}, extra_params => [ '-U', 'dbown' ]);
# (And a superuser-only one a superuser stored.)
$node->safe_psql('postgres', "ALTER DATABASE rt SET session_replication_role = replica");
$log = jobs_run_clean('role, read-only, serializable, timeouts');
like($log, qr/store: [^\n]*\brole\b[^\n]*\bstatement_timeout\b/, 'the role and timeout among them');
unlike($log, qr/WARNING:[^\n]*(parameter|setting)/, 'every one of them was put back without a warning');

# A fraction of a second is honoured, not rounded to 0 (which is "off").
$node->safe_psql('postgres', "ALTER SYSTEM SET apikit.heartbeat_interval = '500ms'");
$node->reload;
ok( $node->poll_query_until('rt',
		q{SELECT "interval" = '500 milliseconds' FROM apikit.worker_status() WHERE name = 'heartbeat'}),
	'a 500ms interval is half a second');

# A job interval that would round to nothing is refused, not taken as "off".
my ($ret, $out, $err) = $node->psql('postgres',
	"ALTER SYSTEM SET apikit.heartbeat_interval = '0.5ms'");
isnt($ret, 0, 'an interval below 1ms is refused');
like($err, qr/invalid value for parameter "apikit\.heartbeat_interval"/, 'with a clear error');

$node->stop;
done_testing();

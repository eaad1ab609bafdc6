# Audit logging with real servers: the scheduler seals on its own; a
# hot standby verifies; pg_dump/pg_restore keeps the log, the seals and the
# audited tables, and auditing goes on after the restore, with masks and
# history following a table and a column renamed before the dump; a
# parallel pg_restore writes nothing while it loads the log; history and
# stops survive a template copy, pg_restore --clean and pg_upgrade; a chain cut short
# by a superuser is caught with the digest kept outside; and after kill -9
# of a backend, and of the postmaster with all its processes, during
# concurrent audited writes, the log matches the committed changes exactly.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Cwd qw(getcwd);

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'apikit'
apikit.database = 'postgres'
apikit.audit_seal_interval = 1
restart_after_crash = on
max_connections = 30
log_statement = none
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION apikit;
CREATE TABLE public.items (id serial PRIMARY KEY, k bigint NOT NULL, v text, secret text);
CREATE TABLE public.counters (id int PRIMARY KEY, n bigint NOT NULL);
INSERT INTO counters SELECT g, 0 FROM generate_series(0, 7) g;
SELECT apikit.audit_enable('items', mask_columns => '{secret}');
SELECT apikit.audit_enable('counters');
});

# The log agrees with the tables: every item has exactly one INSERT row and
# nothing else does; every counter's n is the number of its UPDATE rows and
# the last one shows it.
sub log_matches_tables
{
	my ($n, $what) = @_;
	is( $n->safe_psql('postgres', q{
			SELECT count(*) FROM (
				(SELECT id FROM items
				 EXCEPT ALL
				 SELECT (row_key->>'id')::int FROM apikit.audit_log
				  WHERE table_name = 'items' AND op = 'INSERT')
				UNION ALL
				(SELECT (row_key->>'id')::int FROM apikit.audit_log
				  WHERE table_name = 'items' AND op = 'INSERT'
				 EXCEPT ALL
				 SELECT id FROM items)) diff}),
		'0', "$what: one INSERT row per committed item, none for others");
	is( $n->safe_psql('postgres', q{
			SELECT count(*) FROM counters c
			 WHERE c.n <> (SELECT count(*) FROM apikit.audit_log l
						   WHERE l.table_name = 'counters' AND l.op = 'UPDATE'
							 AND l.row_key = jsonb_build_object('id', c.id))
				OR (c.n > 0 AND c.n::text <> (SELECT l.new_row->>'n' FROM apikit.audit_log l
						   WHERE l.table_name = 'counters' AND l.op = 'UPDATE'
							 AND l.row_key = jsonb_build_object('id', c.id)
						   ORDER BY l.id DESC LIMIT 1))}),
		'0', "$what: every counter update is logged, in order");
}

# pgbench clients: each transaction adds an item and bumps its client's
# counter.
my $script = $node->basedir . '/write.sql';
append_to_file($script, q{
\set k random(1, 1000000000)
BEGIN;
INSERT INTO items (k, v, secret) VALUES (:k, 'item ' || :k, 'pw' || :k);
UPDATE counters SET n = n + 1 WHERE id = :client_id;
COMMIT;
});
sub pgbench_start
{
	my ($n, $seconds) = @_;
	my ($out, $err);
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '8', '-j', '2', '-T', $seconds, '-f', $script,
		  '-h', $n->host, '-p', $n->port, 'dbname=postgres application_name=writer' ],
		'>', \$out, '2>', \$err);
	return $h;
}

# --- sealing by the scheduler, then verification --------------------------
system_or_bail('pgbench', '-n', '-c', '8', '-j', '2', '-t', '50', '-f', $script,
	'-h', $node->host, '-p', $node->port, 'postgres');
log_matches_tables($node, 'after 400 concurrent transactions');
ok( $node->poll_query_until('postgres', q{
		SELECT coalesce(max(last_id), 0) >= (SELECT max(id) FROM apikit.audit_log)
		  FROM apikit.audit_seals}),
	'the scheduler seals every committed row by itself');
is($node->safe_psql('postgres',
		"SELECT runs > 0 AND failures = 0 FROM apikit.worker_status() WHERE name = 'audit_seal'"),
	't', 'worker_status() shows the seal job running without failures');
my $digest = $node->safe_psql('postgres', 'SELECT apikit.audit_digest()');
like($digest, qr/^\d+:[0-9a-f]{64}$/, 'a digest to keep outside');
is($node->safe_psql('postgres', "SELECT ok FROM apikit.audit_verify('$digest')"),
	't', 'the log verifies against it');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM apikit.audit_log WHERE new_row->>'secret' <> '[masked]'"),
	'0', 'no masked value reached the log');

# --- a hot standby verifies the replayed log ------------------------------
$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
$standby->start;
$node->safe_psql('postgres', "INSERT INTO items (k, v) VALUES (-1, 'before catch-up')");
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT ok FROM apikit.audit_verify('$digest')"),
	't', 'a standby verifies the log');
is($standby->safe_psql('postgres',
		q{SELECT string_agg(op, ',' ORDER BY id) FROM apikit.audit_history('items', '{"id": 1}')}),
	'AUDIT,INSERT', 'and reads a row history, with the table\'s auditing');
# Its scheduler skips the seal job (it writes): blocks come from the primary.
$node->safe_psql('postgres', 'SELECT apikit.audit_seal()');
$node->wait_for_catchup($standby);
ok( $standby->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM apikit.worker_status() WHERE name = 'heartbeat' AND runs >= 2"),
	'the standby\'s scheduler is running');
is($standby->safe_psql('postgres',
		"SELECT runs = 0 AND failures = 0 FROM apikit.worker_status() WHERE name = 'audit_seal'"),
	't', 'and does not seal on the standby');
is($standby->safe_psql('postgres', 'SELECT apikit.audit_digest()'),
	$node->safe_psql('postgres', 'SELECT apikit.audit_digest()'),
	'the standby has the primary\'s chain');
$standby->stop;

# --- pg_dump / pg_restore --------------------------------------------------
# A table and a masked column renamed before the dump: the restored trigger
# masks the column under its current name, and the history spans the
# rename and the restore.
$node->safe_psql('postgres', q{
CREATE TABLE public.accounts_old (id int PRIMARY KEY, pw text, note text);
SELECT apikit.audit_enable('accounts_old', mask_columns => '{pw}');
INSERT INTO accounts_old VALUES (1, 'first secret', 'before');
ALTER TABLE accounts_old RENAME COLUMN pw TO pw_legacy;
ALTER TABLE accounts_old ADD COLUMN pw text;
ALTER TABLE accounts_old RENAME TO accounts;
UPDATE accounts SET pw_legacy = 'second secret', pw = 'clear', note = 'renamed' WHERE id = 1;
});
$node->safe_psql('postgres', 'SELECT apikit.audit_seal()');
$digest = $node->safe_psql('postgres', 'SELECT apikit.audit_digest()');
my $rows_before = $node->safe_psql('postgres', 'SELECT count(*) FROM apikit.audit_log');
my $max_before = $node->safe_psql('postgres', 'SELECT max(id) FROM apikit.audit_log');
my $dump = $node->basedir . '/audit.dump';
system_or_bail('pg_dump', '-Fc', '-f', $dump, '-h', $node->host, '-p', $node->port, 'postgres');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
my ($rout, $rerr);
my $rc = IPC::Run::run(['pg_restore', '-d', 'restored', '-h', $node->host, '-p', $node->port, $dump],
	'>', \$rout, '2>', \$rerr);
is($rc ? 0 : 1, 0, 'pg_restore succeeds') or diag($rerr);
is($node->safe_psql('restored', "SELECT count(*) FROM apikit.audit_log WHERE id <= $max_before"),
	$rows_before, 'the restored log has every row');
is($node->safe_psql('restored', qq{
		SELECT string_agg(DISTINCT op || ':' || (new_row->>'command'), ',')
		  FROM apikit.audit_log WHERE id > $max_before}),
	'AUDIT:CREATE TRIGGER', 'and the restore added only the rows of its CREATE TRIGGERs');
is($node->safe_psql('restored', "SELECT ok FROM apikit.audit_verify('$digest')"),
	't', 'and verifies against the digest taken before the dump');
is($node->safe_psql('restored',
		"SELECT string_agg(rel::text || ':' || mask_columns::text, ',' ORDER BY rel::text) FROM apikit.audited_tables"),
	'accounts:{pw_legacy},counters:{},items:{secret}',
	'the same tables are audited, with their settings under the current column names');
$node->safe_psql('restored', "UPDATE items SET v = 'after restore', secret = 'x' WHERE id = 1");
is($node->safe_psql('restored', q{
		SELECT string_agg(op || ':' || (relid = 'items'::regclass)::text || ':' || (new_row->>'secret'), ',' ORDER BY id)
		  FROM apikit.audit_history('items', '{"id": 1}') WHERE op <> 'AUDIT'}),
	'INSERT:false:[masked],UPDATE:true:[masked]',
	'auditing goes on after the restore, and the history spans it (OIDs changed)');
is($node->safe_psql('restored', q{
		SELECT string_agg(new_row->>'event' || ':' || (relid = 'items'::regclass)::text
						  || ':' || (new_row ? 'follows')::text, ',' ORDER BY id)
		  FROM apikit.audit_history('items', '{"id": 1}') WHERE op = 'AUDIT'}),
	'enabled:false:false,restored:true:true',
	'the restore is in the history: the restored triggers follow the dumped table');
$node->safe_psql('restored', "UPDATE accounts SET pw_legacy = 'third secret', pw = 'still clear' WHERE id = 1");
is($node->safe_psql('restored', q{
		SELECT string_agg(op || ':' || table_name || ':' || coalesce(new_row->>'pw_legacy', new_row->>'pw', '-'), ',' ORDER BY id)
		  FROM apikit.audit_history('accounts', '{"id": 1}') WHERE op <> 'AUDIT'}),
	'INSERT:accounts_old:[masked],UPDATE:accounts:[masked],UPDATE:accounts:[masked]',
	'a table renamed before the dump: its history spans the rename and the restore, the renamed column stays masked');
is($node->safe_psql('restored', q{
		SELECT count(*) FROM apikit.audit_log
		 WHERE new_row::text LIKE '% secret%' OR old_row::text LIKE '% secret%'}),
	'0', 'no masked value reached the log, before or after the rename and the restore');
is($node->safe_psql('restored', q{SELECT count(*) FROM apikit.audit_lineage('accounts')}),
	'2', 'the history has two runs: before and after the restore');
is($node->safe_psql('restored',
		'SELECT min(id) > ' . $rows_before . ' FROM apikit.audit_log WHERE ts > now() - interval \'1 minute\' AND relid = \'items\'::regclass'),
	't', 'new rows continue the restored ID sequence');
is($node->safe_psql('restored', 'SELECT apikit.audit_seal() >= 1'), 't', 'new rows are sealed');
is($node->safe_psql('restored', "SELECT ok FROM apikit.audit_verify('$digest')"),
	't', 'onto the restored chain');

# --- parallel pg_restore ------------------------------------------------------
# A restore creates the triggers of its tables while the log's rows and its
# sequence may still be loading (pg_restore -j does both at once): nothing
# is written then; a restored table's first AUDIT row comes with its first
# write, and its history spans the restore from the start.
$node->safe_psql('postgres', 'CREATE DATABASE par');
$node->safe_psql('par', q{
CREATE EXTENSION apikit;
CREATE TABLE public.t1 (id int PRIMARY KEY, v text);
CREATE TABLE public.t2 (id int PRIMARY KEY, v text);
CREATE TABLE public.t3 (id int PRIMARY KEY, v text, secret text);
SELECT apikit.audit_enable('public.t1');
SELECT apikit.audit_enable('public.t2');
SELECT apikit.audit_enable('public.t3', mask_columns => '{secret}');
INSERT INTO public.t1 SELECT g, 'v' || g FROM generate_series(1, 3000) g;
INSERT INTO public.t2 SELECT g, 'v' || g FROM generate_series(1, 3000) g;
INSERT INTO public.t3 SELECT g, 'v' || g, 's' || g FROM generate_series(1, 3000) g;
SELECT apikit.audit_seal();
});
my $par_max = $node->safe_psql('par', 'SELECT max(id) FROM apikit.audit_log');
my $par_digest = $node->safe_psql('par', 'SELECT apikit.audit_digest()');
my $par_t3 = $node->safe_psql('par', "SELECT id FROM apikit.audit_log WHERE op = 'AUDIT' AND table_name = 't3'");
my $par_dump = $node->basedir . '/par.dump';
system_or_bail('pg_dump', '-Fc', '-f', $par_dump, '-h', $node->host, '-p', $node->port, 'par');
for my $round (1 .. 3)
{
	my $db = "par_$round";
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	my ($pout, $perr);
	my $pok = IPC::Run::run(['pg_restore', '-j', '4', '-d', $db, '-h', $node->host, '-p', $node->port, $par_dump],
		'>', \$pout, '2>', \$perr);
	ok($pok && $perr eq '', "pg_restore -j 4 succeeds (round $round)") or diag($perr);
	is($node->safe_psql($db, q{
			SELECT count(*) FROM pg_trigger WHERE tgname IN ('apikit_audit', 'apikit_audit_truncate')}),
		'6', "every apikit trigger was restored (round $round)");
	is($node->safe_psql($db, "SELECT count(*) FROM apikit.audit_log WHERE id > $par_max"),
		'0', "the restore wrote nothing into the log (round $round)");
	is($node->safe_psql($db, "SELECT ok FROM apikit.audit_verify('$par_digest')"),
		't', "the restored log verifies (round $round)");
}
is($node->safe_psql('par_1', q{
		SELECT string_agg(op, ',' ORDER BY id) FROM apikit.audit_history('public.t3', '{"id": 7}')}),
	'AUDIT,INSERT', 'before its first write, a restored table has the history of the dumped one');
$node->safe_psql('par_1', q{UPDATE public.t3 SET v = 'after', secret = 'x' WHERE id = 7});
is($node->safe_psql('par_1', q{
		SELECT string_agg(op || ':' || coalesce(new_row->>'event', new_row->>'secret'), ',' ORDER BY id)
		  FROM apikit.audit_history('public.t3', '{"id": 7}')}),
	'AUDIT:enabled,INSERT:[masked],AUDIT:restored,UPDATE:[masked]',
	'its first write writes its first AUDIT row, then the change');
is($node->safe_psql('par_1', q{
		SELECT new_row->>'follows' FROM apikit.audit_log WHERE op = 'AUDIT' AND relid = 'public.t3'::regclass}),
	$par_t3, 'which follows the dumped table\'s last AUDIT row');
$node->safe_psql('par_1', 'ALTER TABLE public.t1 DISABLE TRIGGER apikit_audit');
is($node->safe_psql('par_1', q{
		SELECT string_agg(new_row->>'event', ',' ORDER BY id) FROM apikit.audit_log
		 WHERE op = 'AUDIT' AND relid = 'public.t1'::regclass}),
	'stopped', 'a restored table switched off before its first write: the stop is its first row');
like($node->safe_psql('par_1', 'SELECT ok || detail FROM apikit.audit_verify()'),
	qr/^false.*table public\.t1 has been switched off/, 'and audit_verify() reports it');

# --- a copy of the database: CREATE DATABASE ... TEMPLATE --------------------
# The copy has the same tables with the same OIDs, and the log's ID
# (apikit.audit_origin): its history is the original's.
$node->safe_psql('par', q{
CREATE TABLE public.c (id int PRIMARY KEY, email text);
SELECT apikit.audit_enable('public.c');
INSERT INTO public.c VALUES (1, 'alice@example.com');
ALTER TABLE public.c RENAME TO customers;
UPDATE public.customers SET email = 'alice@example.org' WHERE id = 1;
});
$node->safe_psql('postgres', 'CREATE DATABASE par_copy TEMPLATE par');
is($node->safe_psql('par_copy', 'SELECT database_id FROM apikit.audit_origin'),
	$node->safe_psql('par', 'SELECT database_id FROM apikit.audit_origin'),
	'a template copy keeps the log\'s ID');
is($node->safe_psql('par_copy', q{
		SELECT string_agg(op, ',' ORDER BY id) FROM apikit.audit_history('public.customers', '{"id": 1}')}),
	'AUDIT,INSERT,AUDIT,UPDATE', 'and the whole history, across the rename');
is($node->safe_psql('par_copy', q{SELECT apikit.audit_redact('public.customers', '{"id": 1}')}),
	'2', 'audit_redact erases both changes');
is($node->safe_psql('par_copy', q{SELECT count(*) FROM apikit.audit_log WHERE new_row::text LIKE '%alice%'}),
	'0', 'no email is left in clear');
$node->safe_psql('par_copy', 'ALTER TABLE public.customers DISABLE TRIGGER apikit_audit');
is($node->safe_psql('par_copy', q{
		SELECT new_row->>'event' FROM apikit.audit_log WHERE op = 'AUDIT' ORDER BY id DESC LIMIT 1}),
	'stopped', 'a trigger disabled in the copy is a stop');
like($node->safe_psql('par_copy', 'SELECT ok || detail FROM apikit.audit_verify()'),
	qr/^false.*table public\.customers has been switched off/, 'which audit_verify() reports');

# --- pg_restore --clean into the same database -------------------------------
# The restore creates the extension again, with a new log ID: the restored
# tables (new OIDs) continue the history of the dumped ones.
my $clean_dump = $node->basedir . '/par_clean.dump';
system_or_bail('pg_dump', '-Fc', '-f', $clean_dump, '-h', $node->host, '-p', $node->port, 'par');
my $id_before_clean = $node->safe_psql('par', 'SELECT database_id FROM apikit.audit_origin');
my ($cout, $cerr);
my $cok = IPC::Run::run(['pg_restore', '--clean', '--if-exists', '-d', 'par', '-h', $node->host,
		'-p', $node->port, $clean_dump], '>', \$cout, '2>', \$cerr);
ok($cok, 'pg_restore --clean --if-exists into the same database succeeds') or diag($cerr);
isnt($node->safe_psql('par', 'SELECT database_id FROM apikit.audit_origin'), $id_before_clean,
	'the restored log has a new ID');
is($node->safe_psql('par', q{
		SELECT string_agg(op, ',' ORDER BY id) FROM apikit.audit_history('public.customers', '{"id": 1}')
		 WHERE op <> 'AUDIT'}),
	'INSERT,UPDATE', 'the history spans the restore');
is($node->safe_psql('par', q{SELECT apikit.audit_redact('public.customers', '{"id": 1}')}),
	'2', 'and audit_redact finds the rows of before it');
$node->safe_psql('postgres', 'DROP DATABASE par_copy');
$node->safe_psql('postgres', "DROP DATABASE par_$_") for 1 .. 3;
$node->safe_psql('postgres', 'DROP DATABASE par');

# --- pg_upgrade ---------------------------------------------------------------
# The upgraded cluster keeps the tables' OIDs and the log's ID (a new
# system identifier does not matter): the history is whole, and a stop is
# a stop.
my $old = PostgreSQL::Test::Cluster->new('upgrade_old');
$old->init;
$old->start;
$old->safe_psql('postgres', q{
CREATE EXTENSION apikit;
CREATE TABLE public.c (id int PRIMARY KEY, email text);
SELECT apikit.audit_enable('public.c');
INSERT INTO public.c VALUES (1, 'alice@example.com');
ALTER TABLE public.c RENAME TO customers;
UPDATE public.customers SET email = 'alice@example.org' WHERE id = 1;
});
my $upgrade_id = $old->safe_psql('postgres', 'SELECT database_id FROM apikit.audit_origin');
$old->stop;
my $upgraded = PostgreSQL::Test::Cluster->new('upgrade_new');
$upgraded->init;
my $bindir = $old->config_data('--bindir');
my $cwd = getcwd();
chdir $PostgreSQL::Test::Utils::tmp_check;
command_ok(['pg_upgrade', '-d', $old->data_dir, '-D', $upgraded->data_dir, '-b', $bindir,
		'-B', $bindir, '-s', $upgraded->host, '-p', $old->port, '-P', $upgraded->port],
	'pg_upgrade to a new cluster');
chdir $cwd;
$upgraded->start;
is($upgraded->safe_psql('postgres', 'SELECT database_id FROM apikit.audit_origin'),
	$upgrade_id, 'the upgraded cluster keeps the log\'s ID');
is($upgraded->safe_psql('postgres', q{
		SELECT string_agg(op, ',' ORDER BY id) FROM apikit.audit_history('public.customers', '{"id": 1}')}),
	'AUDIT,INSERT,AUDIT,UPDATE', 'and the whole history');
$upgraded->safe_psql('postgres', 'ALTER TABLE public.customers DISABLE TRIGGER apikit_audit');
is($upgraded->safe_psql('postgres', q{
		SELECT new_row->>'event' FROM apikit.audit_log WHERE op = 'AUDIT' ORDER BY id DESC LIMIT 1}),
	'stopped', 'a trigger disabled after the upgrade is a stop');
like($upgraded->safe_psql('postgres', 'SELECT ok || detail FROM apikit.audit_verify()'),
	qr/^false.*table public\.customers has been switched off/, 'which audit_verify() reports');
$upgraded->stop;

# --- SET EXPRESSION (PostgreSQL 17 and later) --------------------------------
# A generated column given a new expression has new values in every row:
# an AUDIT row says so, as for other DDL that rewrites values.
if ($node->pg_version >= 17)
{
	$node->safe_psql('postgres', q{
CREATE TABLE public.gen (id int PRIMARY KEY, a int, g int GENERATED ALWAYS AS (a * 2) STORED);
SELECT apikit.audit_enable('public.gen');
INSERT INTO public.gen (id, a) VALUES (1, 1);
ALTER TABLE public.gen ALTER COLUMN g SET EXPRESSION AS (a * 3);
});
	is($node->safe_psql('postgres', q{
			SELECT new_row->>'event' || ' ' || (new_row->'rewritten')::text FROM apikit.audit_log
			 WHERE op = 'AUDIT' AND relid = 'public.gen'::regclass ORDER BY id DESC LIMIT 1}),
		'rewritten [{"type": "integer", "change": "expression", "column": "g", "generated": "(a * 3)"}]',
		'SET EXPRESSION is an AUDIT row naming the column and its new expression');
	$node->safe_psql('postgres', 'DROP TABLE public.gen');
}

# --- a chain cut short by a superuser --------------------------------------
# A superuser who deletes a row, its audit rows and their block leaves a
# chain that is consistent in itself: only the digest kept outside shows
# what is missing.
$node->safe_psql('postgres', "INSERT INTO items (k, v) VALUES (-2, 'to be hidden')");
$node->safe_psql('postgres', 'SELECT apikit.audit_seal()');
my $latest = $node->safe_psql('postgres', 'SELECT apikit.audit_digest()');
$node->safe_psql('postgres', q{
BEGIN;
DELETE FROM items WHERE k = -2;
DELETE FROM apikit.audit_log
 WHERE id >= (SELECT first_id FROM apikit.audit_seals ORDER BY block_id DESC LIMIT 1);
DELETE FROM apikit.audit_seals WHERE block_id = (SELECT max(block_id) FROM apikit.audit_seals);
COMMIT;
});
is($node->safe_psql('postgres', 'SELECT ok FROM apikit.audit_verify()'),
	't', 'a cut-short chain is consistent in itself');
like($node->safe_psql('postgres', "SELECT ok || ' ' || detail FROM apikit.audit_verify('$latest')"),
	qr/^false block \d+ of the expected digest is not in apikit\.audit_seals/,
	'but not with the digest kept outside');
$node->safe_psql('postgres', 'DROP DATABASE restored');

# --- a long transaction in another database does not hold sealing back ---
# Only this database's backends can write its log.  (One in this database
# does hold it back: the isolation test shows that.)
$node->safe_psql('postgres', 'CREATE DATABASE elsewhere');
my ($lout, $lerr);
my $long = IPC::Run::start(
	[ 'psql', '-X', '-h', $node->host, '-p', $node->port, '-d', 'elsewhere',
	  '-c', 'SELECT pg_current_xact_id(), pg_sleep(300)' ],
	'>', \$lout, '2>', \$lerr);
ok($node->poll_query_until('postgres', q{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE datname = 'elsewhere' AND backend_xid IS NOT NULL}),
	'a transaction with an ID is open in another database');
$node->safe_psql('postgres', "INSERT INTO items (k, v) VALUES (-3, 'sealed meanwhile')");
ok( $node->poll_query_until('postgres', q{
		SELECT coalesce(max(last_id), 0) >= (SELECT max(id) FROM apikit.audit_log)
		  FROM apikit.audit_seals}),
	'rows are sealed while it stays open');
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'elsewhere'");
$long->finish;
$node->safe_psql('postgres', 'DROP DATABASE elsewhere');

# --- kill -9 of a backend during audited writes ---------------------------
my $items = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
my $offset = -s $node->logfile;
my $bench = pgbench_start($node, 20);
ok($node->poll_query_until('postgres',
		q{SELECT count(*) >= 4 FROM pg_stat_activity WHERE application_name = 'writer'}),
	'writers are running');
sleep 2;
my $victim = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE application_name = 'writer' LIMIT 1});
kill 'KILL', $victim;
$bench->finish;
ok($node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset),
	'the server restarts after a backend was killed');
ok($node->poll_query_until('postgres', 'SELECT true'), 'and recovers');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM items'), '>', $items + 100,
	'writers committed work before the crash');
log_matches_tables($node, 'after kill -9 of a backend');
$items = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
is($node->safe_psql('postgres', 'SELECT apikit.audit_seal() >= 0'), 't', 'sealing goes on');
is($node->safe_psql('postgres', "SELECT ok FROM apikit.audit_verify()"),
	't', 'the log verifies after the crash');

# --- kill -9 of the postmaster and every process (last: see the end) -------
$bench = pgbench_start($node, 20);
ok($node->poll_query_until('postgres',
		q{SELECT count(*) >= 4 FROM pg_stat_activity WHERE application_name = 'writer'}),
	'writers are running again');
sleep 2;
my ($pm) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
my @children = split /\s+/, `pgrep -P $pm`;
kill 'KILL', $pm, grep { /^\d+$/ } @children;
$bench->finish;

# Like a machine that lost power: no process is left.  A killed process
# whose parent died may stay a zombie where nothing reaps it (a container
# without an init); it holds nothing, but its PID makes postmaster.pid look
# alive, so the lock files go, as an operator would remove them.
sub running
{
	my ($p) = @_;
	return 0 unless -r "/proc/$p/stat";
	my $stat = eval { slurp_file("/proc/$p/stat") } // '';
	return $stat !~ /^\d+ \(.*\) [ZX] /;
}
for (1 .. 300)
{
	last unless grep { running($_) } $pm, @children;
	select(undef, undef, undef, 0.1);
}
ok(!(grep { running($_) } $pm, @children), 'the postmaster and all its processes are gone');
unlink $node->data_dir . '/postmaster.pid', $node->host . '/.s.PGSQL.' . $node->port . '.lock';
$node->{_pid} = undef;
$node->start;
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM items'), '>', $items + 100,
	'writers committed work before the postmaster died');
log_matches_tables($node, 'after kill -9 of the postmaster and every process');
is($node->safe_psql('postgres', "SELECT ok FROM apikit.audit_verify()"),
	't', 'the log verifies after recovery');
ok( $node->poll_query_until('postgres', q{
		SELECT coalesce(max(last_id), 0) >= (SELECT max(id) FROM apikit.audit_log)
		  FROM apikit.audit_seals}),
	'the scheduler seals what was committed before the crash');
is($node->safe_psql('postgres', "SELECT ok FROM apikit.audit_verify()"), 't', 'and it verifies');
$node->stop;

done_testing();

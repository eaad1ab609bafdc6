# pg_dump restores apikit.json_schemas with the other tables' data, in the
# order of their schemas' names, so the rows of a table in schema "api"
# (PostgREST's usual one) arrive before the registry their CHECK
# constraint refers to.  Both a plain-text dump fed to psql and pg_restore
# of a custom-format dump must restore every row, and validation must be
# exact again once the restore is over.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION apikit;
INSERT INTO apikit.json_schemas VALUES
	('https://restore.example/order', '{"type": "object", "required": ["qty"], "properties": {"qty": {"type": "integer", "minimum": 1}}}');
CREATE SCHEMA api;
CREATE TABLE api.orders (body jsonb CHECK (apikit.json_validate('{"$ref": "https://restore.example/order"}', body)));
INSERT INTO api.orders SELECT jsonb_build_object('qty', g) FROM generate_series(1, 500) g;
CREATE TABLE api.lines (body jsonb CHECK (apikit.json_validate_uri('https://restore.example/order', body)));
INSERT INTO api.lines SELECT jsonb_build_object('qty', g) FROM generate_series(1, 50) g;
CREATE SCHEMA zz;
CREATE TABLE zz.orders (body jsonb CHECK (apikit.json_validate('{"$ref": "https://restore.example/order"}', body)));
INSERT INTO zz.orders SELECT jsonb_build_object('qty', g) FROM generate_series(1, 5) g;
});

my $dir = PostgreSQL::Test::Utils::tempdir;

# The registry's rows come after api.orders' in the dump: the case at hand.
my $plain = "$dir/dump.sql";
system_or_bail('pg_dump', '-f', $plain, '-h', $node->host, '-p', $node->port, 'postgres');
my $text = slurp_file($plain);
ok(index($text, 'COPY api.orders') < index($text, 'COPY apikit.json_schemas'),
	'the dump restores api.orders before the registry');

sub check_restored
{
	my ($db, $how) = @_;
	is($node->safe_psql($db, 'SELECT count(*) FROM api.orders'), '500', "$how: every row of api.orders");
	is($node->safe_psql($db, 'SELECT count(*) FROM zz.orders'), '5', "$how: every row of zz.orders");
	is($node->safe_psql($db, 'SELECT count(*) FROM api.lines'), '50', "$how: every row of api.lines (json_validate_uri)");
	# After the restore, in a fresh session, the constraint is exact again.
	my ($rc, $out, $err) = $node->psql($db, q{INSERT INTO api.orders VALUES ('{"qty": 0}')});
	like($err, qr/violates check constraint/, "$how: a bad row is refused after the restore");
	is($node->safe_psql($db, q{SELECT apikit.json_validate('{"$ref": "https://restore.example/order"}', '{"qty": 2}')}),
		't', "$how: a good one passes");
}

$node->safe_psql('postgres', 'CREATE DATABASE from_plain');
my ($stdout, $stderr);
my $rc = IPC::Run::run(['psql', '-X', '-v', 'ON_ERROR_STOP=1', '-h', $node->host, '-p', $node->port,
	'-d', 'from_plain', '-f', $plain], '>', \$stdout, '2>', \$stderr);
ok($rc, 'psql restores the plain dump without an error') or diag($stderr);
like($stderr, qr/accept any value while check_function_bodies is off/,
	'the restore says once what it lets through');
check_restored('from_plain', 'plain dump');

my $custom = "$dir/dump.custom";
system_or_bail('pg_dump', '-Fc', '-f', $custom, '-h', $node->host, '-p', $node->port, 'postgres');
$node->safe_psql('postgres', 'CREATE DATABASE from_custom');
$rc = IPC::Run::run(['pg_restore', '-e', '-d', 'from_custom', '-h', $node->host, '-p', $node->port, $custom],
	'>', \$stdout, '2>', \$stderr);
ok($rc, 'pg_restore restores the custom dump without an error') or diag($stderr);
check_restored('from_custom', 'pg_restore');

# Outside a restore, an unregistered reference stays an error.
my ($rc2, $out2, $err2) = $node->psql('postgres',
	q{SELECT apikit.json_validate('{"$ref": "https://restore.example/missing"}', '1')});
like($err2, qr/cannot resolve reference/, 'an unregistered reference is an error outside restores');

# The leniency needs the session's own SET: a database's owner can set
# check_function_bodies for the database, and every superuser session there
# would otherwise let unregistered references through.
$node->safe_psql('postgres', q{
CREATE ROLE regress_owner LOGIN;
CREATE DATABASE owned OWNER regress_owner;
});
$node->safe_psql('owned', q{
CREATE EXTENSION apikit;
CREATE TABLE refs (r jsonb CHECK (apikit.json_validate('{"$ref": "https://restore.example/missing"}', r)));
});
$node->safe_psql('owned', 'ALTER DATABASE owned SET check_function_bodies = off', extra_params => ['-U', 'regress_owner']);
is($node->safe_psql('owned', 'SHOW check_function_bodies'), 'off', "the owner's database setting is in effect");
my ($rc3, $out3, $err3) = $node->psql('owned', q{INSERT INTO refs VALUES ('1')});
like($err3, qr/cannot resolve reference/,
	"a superuser session in a database whose owner set check_function_bodies off is not lenient");
($rc3, $out3, $err3) = $node->psql('owned', q{SET check_function_bodies = on; SET check_function_bodies = off; INSERT INTO refs VALUES ('2')});
like($err3, qr/cannot resolve reference/, 'nor after a SET in the session: what RESET goes back to counts');
($rc3, $out3, $err3) = $node->psql('owned',
	q{ALTER DATABASE owned RESET check_function_bodies; \c owned
SET check_function_bodies = off; INSERT INTO refs VALUES ('3')});
is($node->safe_psql('owned', 'SELECT count(*) FROM refs'), '1', "a session's own SET, as a restore's, is lenient");

$node->stop;
done_testing();

# JSON Schema validation, differential: random schema/instance pairs
# (test/jsonschema-diff/gen.js, fixed seed; drafts 2020-12 and 7) judged by
# ajv, then by apikit.json_validate, and compared.  Every disagreement must
# be one of ajv's known gaps listed in test/jsonschema-diff/known-differences.md
# (gen.js tags the pairs a gap can affect); any other fails, printed with
# its schema and instance.  Also: apikit raises no error on any pair, and
# apikit.json_validation_errors is empty exactly when json_validate is true.
#
# Needs node and ajv (tools/node-deps.sh installs them into a cache); skips
# when they cannot be had.
#   APIKIT_JSONSCHEMA_DIFF_PAIRS (default 2000), _SEED (20261124),
#   _SECONDS (generation stops after this long; default 40)
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use JSON::PP;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $top = abs_path(dirname(__FILE__) . '/../..');
my $count = $ENV{APIKIT_JSONSCHEMA_DIFF_PAIRS} // 2000;
my $seed = $ENV{APIKIT_JSONSCHEMA_DIFF_SEED} // 20261124;
my $seconds = $ENV{APIKIT_JSONSCHEMA_DIFF_SECONDS} // 40;

# --- ajv's side --------------------------------------------------------------
my ($modules, $deps_err) = ('', '');
my $have_node = eval {
	IPC::Run::run(["$top/tools/node-deps.sh"], '<', \undef, '>', \$modules, '2>', \$deps_err,
		IPC::Run::timeout(600));
};
chomp $modules;
if (!$have_node || !-d $modules)
{
	my ($why) = ($deps_err || $@ || 'no output') =~ /([^\n]*)\n?\z/;
	plan skip_all => "node and ajv are not available (tools/node-deps.sh: $why)";
}

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $csv = "$tmp/pairs.csv";
my ($gen_out, $gen_err) = ('', '');
{
	local $ENV{NODE_PATH} = $modules;
	my $ok = IPC::Run::run(
		[ 'node', "$top/test/jsonschema-diff/gen.js", '--count', $count, '--seed', $seed,
		  '--seconds', $seconds, '--out', $csv ],
		'<', \undef, '>', \$gen_out, '2>', \$gen_err, IPC::Run::timeout(300));
	if (!$ok)
	{
		fail('gen.js ran');
		diag $gen_err;
		done_testing();
		exit 0;
	}
}
chomp $gen_err;
note $gen_err;
my ($generated) = $gen_err =~ /^gen: (\d+) pairs/m;
cmp_ok($generated // 0, '>=', 100, "gen.js wrote pairs ($gen_err)");

# The tags known-differences.md excuses: first column of its table.
my %allowed = map { $_ => 1 }
  slurp_file("$top/test/jsonschema-diff/known-differences.md") =~ /^\|\s*`([a-zA-Z0-9-]+)`\s*\|/mg;
ok(scalar(keys %allowed) > 0, 'known-differences.md lists tags: ' . join(' ', sort keys %allowed));

# --- apikit's side -------------------------------------------------------------
my $node = PostgreSQL::Test::Cluster->new('jsonschema');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'apikit'
log_statement = none
});
$node->start;
$node->safe_psql('postgres', qq{
CREATE EXTENSION apikit;
CREATE TABLE pairs (id int PRIMARY KEY, schema jsonb, instance jsonb, ajv boolean, tags text, draft text);
COPY pairs FROM '$csv' (FORMAT csv);
-- One pair's verdicts; an error is caught and returned, so that one pair
-- cannot hide the others.
CREATE FUNCTION judge(s jsonb, i jsonb, OUT verdict text, OUT consistent boolean)
LANGUAGE plpgsql AS \$\$
BEGIN
	verdict := apikit.json_validate(s, i)::text;
	consistent := (jsonb_array_length(apikit.json_validation_errors(s, i)) = 0) = (verdict = 'true');
EXCEPTION WHEN others THEN
	verdict := 'error: ' || SQLERRM;
	consistent := true;
END \$\$;
CREATE TABLE results AS SELECT p.*, j.* FROM pairs p, LATERAL judge(p.schema, p.instance) j;
});

# Bytes in, bytes out: the UTF-8 of schemas and instances is printed as it came.
my $summary = JSON::PP->new->decode($node->safe_psql('postgres', q{
SELECT jsonb_build_object(
	'total', count(*),
	'draft7', count(*) FILTER (WHERE draft = '7'),
	'ajv_valid', count(*) FILTER (WHERE ajv),
	'agree', count(*) FILTER (WHERE verdict = ajv::text),
	'inconsistent', coalesce(jsonb_agg(id ORDER BY id) FILTER (WHERE NOT consistent), '[]'),
	'differences', coalesce(jsonb_agg(jsonb_build_object(
		'id', id, 'draft', draft, 'tags', tags, 'ajv', ajv, 'apikit', verdict,
		'schema', schema::text, 'instance', instance::text) ORDER BY length(schema::text), id)
		FILTER (WHERE verdict <> ajv::text), '[]'))
FROM results
}));

is($summary->{total}, $generated, 'every pair was loaded and judged');

my (@errors, @unexplained, %known);
for my $d (@{ $summary->{differences} })
{
	if ($d->{apikit} =~ /^error/) { push @errors, $d; next; }
	my @t = grep { $allowed{$_} } split ' ', $d->{tags};
	if (@t) { $known{$_}++ for @t; }
	else { push @unexplained, $d; }
}
my $show = sub {
	my ($d) = @_;
	return "pair $d->{id} (draft $d->{draft}): ajv " . ($d->{ajv} ? 'true' : 'false')
	  . ", apikit $d->{apikit}" . ($d->{tags} ne '' ? " [tags: $d->{tags}]" : '')
	  . "\n    schema:   $d->{schema}\n    instance: $d->{instance}";
};

# Errors grouped by message (less the schema location), each shown with
# its shortest pair.
my (%by_message, @messages);
for my $d (@errors)
{
	(my $m = $d->{apikit}) =~ s/ at "[^"]*"//;
	push @messages, $m unless $by_message{$m};
	push @{ $by_message{$m} }, $d;
}
is(scalar(@errors), 0, 'apikit raised no error on any pair')
  or diag join("\n", map { scalar(@{ $by_message{$_} }) . ' pairs: ' . $show->($by_message{$_}[0]) } @messages);
is(scalar(@{ $summary->{inconsistent} }), 0,
	'json_validation_errors is empty exactly when json_validate is true')
  or diag 'pairs: ' . join(' ', @{ $summary->{inconsistent} });
is(scalar(@unexplained), 0, 'every disagreement with ajv is a known ajv gap (known-differences.md)')
  or diag "disagreements not excused by known-differences.md (shortest schemas first):\n"
  . join("\n", map { $show->($_) } @unexplained[ 0 .. ($#unexplained < 19 ? $#unexplained : 19) ]);

# Pairs that catch nothing are no test: both verdicts must be common.
my $valid_share = $summary->{total} ? $summary->{ajv_valid} / $summary->{total} : 0;
ok($valid_share > 0.2 && $valid_share < 0.8,
	sprintf('both verdicts are common (%.0f%% valid for ajv)', 100 * $valid_share));

my $known_total = $summary->{total} - $summary->{agree} - @errors - @unexplained;
diag sprintf(
	'compared %d pairs (%d in draft 7, %d valid for ajv): %d agree; %d differ where ajv is known '
	  . 'to be wrong (%s); %d unexplained; %d errors',
	$summary->{total}, $summary->{draft7}, $summary->{ajv_valid}, $summary->{agree}, $known_total,
	join(', ', map { "$_ $known{$_}" } sort keys %known) || 'none', scalar(@unexplained),
	scalar(@errors));

$node->stop;
done_testing();

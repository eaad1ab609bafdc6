# JSON Schema validation: the memory of a validation is bounded whatever
# the schema's fan-out and the body's size, and an exponential schema ends
# at statement_timeout.
#
# Each case runs in a fresh session, which reads its own peak resident size
# (VmHWM in /proc/self/status) after the statement; from it the peak of
# the same session shape without the validation (reading the same body or
# schema) is subtracted.  The cases:
# - json_validation_errors of a schema whose $defs fan out through allOf
#   (n levels of two "$ref"s each: 2^n paths to a failing leaf, one error
#   each) for n = 10, 14 and 18;
# - json_validation_errors and json_assert_valid (the PostgREST path) of a
#   body of 30,000, 100,000 and 300,000 items, each item one error.
# Before errors were capped, collection kept about 5 KB per error: 1.4 GB
# for n = 18 and 1.66 GB for the 300,000-item body.  Now every case must
# stay under 64 MB above its floor, and the largest of each kind within
# 16 MB of the smallest (flat, not growing with the input).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

plan skip_all => 'needs /proc/self/status (Linux)' unless -r '/proc/self/status';

my $node = PostgreSQL::Test::Cluster->new('jsonschema');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'apikit'\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION apikit;
-- levels of allOf with two "$ref"s each: 2^levels paths to the leaf
CREATE FUNCTION fan(levels int, leaf jsonb) RETURNS jsonb LANGUAGE sql AS $$
SELECT jsonb_build_object('$ref', '#/$defs/d0', '$defs',
		(SELECT jsonb_object_agg('d' || i, CASE WHEN i = levels THEN leaf ELSE
				jsonb_build_object('allOf', jsonb_build_array(
					jsonb_build_object('$ref', '#/$defs/d' || (i + 1)),
					jsonb_build_object('$ref', '#/$defs/d' || (i + 1)))) END)
		   FROM generate_series(0, levels) i))
$$;
CREATE TABLE fans (levels int, leaf jsonb, schema jsonb, PRIMARY KEY (levels, leaf));
INSERT INTO fans
SELECT levels, leaf, fan(levels, leaf)
  FROM (VALUES (10), (14), (18), (40)) AS v(levels),
	   (VALUES ('{"type": "string"}'::jsonb), ('true')) AS l(leaf);
CREATE TABLE bodies (items int PRIMARY KEY, body jsonb);
INSERT INTO bodies SELECT n, (SELECT jsonb_agg(1) FROM generate_series(1, n))
  FROM (VALUES (30000), (100000), (300000)) AS v(n);
CREATE FUNCTION hwm_kb() RETURNS bigint LANGUAGE sql AS
$$ SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s+(\d+)')::bigint $$;
});

my $body_schema = q{'{"type": "array", "items": {"type": "object", "required": ["id", "name"]}}'};

# The peak resident size, in kB, of a fresh session after the statement.
sub peak_kb
{
	my ($sql) = @_;
	my $out = $node->safe_psql('postgres', "$sql;\nSELECT hwm_kb();");
	my @lines = split /\n/, $out;
	return $lines[-1];
}

my %cost;
for my $levels (10, 14, 18)
{
	my $fan = "FROM fans WHERE levels = $levels AND leaf <> 'true'";
	my $floor = peak_kb("SELECT length(schema::text) $fan");
	my $peak = peak_kb("SELECT jsonb_array_length(apikit.json_validation_errors(schema, '1')) $fan");
	$cost{fan}{$levels} = $peak - $floor;
	note "fan-out 2^$levels: peak $peak kB, floor $floor kB";
	cmp_ok($cost{fan}{$levels}, '<', 64 * 1024, "fan-out 2^$levels: errors collected in under 64 MB");
}
for my $items (30000, 100000, 300000)
{
	my $floor = peak_kb("SELECT jsonb_array_length(body) FROM bodies WHERE items = $items");
	my $peak = peak_kb("SELECT jsonb_array_length(apikit.json_validation_errors($body_schema, body)) FROM bodies WHERE items = $items");
	$cost{errors}{$items} = $peak - $floor;
	note "json_validation_errors of $items items: peak $peak kB, floor $floor kB";
	cmp_ok($cost{errors}{$items}, '<', 64 * 1024, "json_validation_errors of $items items: under 64 MB");

	$peak = peak_kb(qq{DO \$\$ BEGIN PERFORM apikit.json_assert_valid($body_schema, body) FROM bodies WHERE items = $items;
		EXCEPTION WHEN invalid_parameter_value THEN NULL; END \$\$});
	$cost{assert}{$items} = $peak - $floor;
	note "json_assert_valid of $items items: peak $peak kB, floor $floor kB";
	cmp_ok($cost{assert}{$items}, '<', 64 * 1024, "json_assert_valid of $items items: under 64 MB");
}
cmp_ok(abs($cost{fan}{18} - $cost{fan}{10}), '<', 16 * 1024, 'flat as the fan-out grows 256 times');
cmp_ok(abs($cost{errors}{300000} - $cost{errors}{30000}), '<', 16 * 1024, 'flat as the body grows 10 times (json_validation_errors)');
cmp_ok(abs($cost{assert}{300000} - $cost{assert}{30000}), '<', 16 * 1024, 'flat as the body grows 10 times (json_assert_valid)');

# 2^41 steps: statement_timeout ends it, checked every 256 steps.  (Before,
# evaluation only looked for interrupts in loops over the instance.)  The
# leaves pass for json_validate, which would stop at the first failure.
for my $case (['json_validate', 'true'], ['json_validation_errors', '{"type": "string"}'])
{
	my ($fn, $leaf) = @$case;
	my $start = time;
	my $timed_out;
	my ($rc, $out, $err) = $node->psql('postgres',
		"SET statement_timeout = '200ms'; SELECT apikit.$fn(schema, '1') IS NULL FROM fans WHERE levels = 40 AND leaf = '$leaf'",
		timeout => 60, timed_out => \$timed_out);
	my $took = time - $start;
	$err = 'psql gave up after 60 s' if $timed_out;
	like($err, qr/canceling statement due to statement timeout/, "$fn of an exponential schema: statement_timeout ends it");
	cmp_ok($took, '<', 20, "$fn: within seconds (took ${took}s)");
}

# One statement in a fresh session under a statement_timeout: its peak
# resident size (kB), the seconds it took, and its error output.
sub measure
{
	my ($sql, $timeout) = @_;
	my $timed_out;
	my $start = time;
	my ($rc, $out, $err) = $node->psql('postgres',
		"SET statement_timeout = '$timeout';\n$sql;\nSELECT hwm_kb();",
		timeout => 120, timed_out => \$timed_out, on_error_stop => 0);
	my $took = time - $start;
	$err = 'psql gave up after 120 s' if $timed_out;
	my @lines = split /\n/, $out // '';
	# no figure (the session died): as bad as it gets
	my $peak = @lines && $lines[-1] =~ /^\d+$/ ? $lines[-1] : 1e9;
	return { peak => $peak, took => $took, err => $err // '' };
}

# Patterns.  The format "regex" used to compile each string with
# PostgreSQL's engine, keeping submatches: the meta-schema puts it on
# "pattern", so meta-validating a client's 4 KB schema took 38 s and
# 1.09 GB.  Now a linear scan judges the syntax.  And a "pattern" whose
# counted repetitions expand to 40,000 automaton states made every match
# allocate 400 MB of DFA cache: refused now, once compiled (the compile
# itself, without submatches, costs what core's ~ costs: about 70 MB
# here, and PostgreSQL's engine stops any compile at about 150 MB).
{
	my $big = q{jsonb_build_object('pattern', repeat('(a|b|c|d)*[^x]{2,200}', 200))};
	my $floor = peak_kb("SELECT length(($big)::text)");
	for my $case (
		[ 'json_schema_is_valid', "SELECT apikit.json_schema_is_valid($big)", qr/^$/ ],
		[ 'jsonschema_is_valid', "SELECT apikit.jsonschema_is_valid(($big)::json)", qr/^$/ ],
		[ 'json_validate', qq{SELECT apikit.json_validate($big, '"abc"')}, qr/regular expression is too complex/, 128 ])
	{
		my ($name, $sql, $expect, $mb) = @$case;
		$mb //= 16;
		my $m = measure($sql, '5s');
		note "$name of a 4 KB pattern: peak $m->{peak} kB (floor $floor kB), $m->{took} s: $m->{err}";
		like($m->{err}, $expect, "$name of a 4 KB pattern: done within the timeout, as expected");
		cmp_ok($m->{peak} - $floor, '<', $mb * 1024, "$name of a 4 KB pattern: under $mb MB");
	}
}

# Deep bodies.  Error collection rendered the whole instance path at every
# failure, also inside an anyOf branch that another branch then won: over
# 1,990 levels of 2,000-byte keys, a valid 4 MB body took 12 s (quadratic
# in the depth), and json_assert_valid collected even for valid bodies.
# Now locations are shortened past 4 KB, and json_assert_valid collects
# only after a failed boolean validation.
{
	$node->safe_psql('postgres', q{
CREATE TABLE deep (name text PRIMARY KEY, body jsonb);
INSERT INTO deep VALUES
	('valid', (repeat('{"' || repeat('k', 2000) || '": ', 1990) || '{}' || repeat('}', 1990))::jsonb),
	('invalid', (repeat('{"' || repeat('k', 2000) || '": ', 1990) || 'true' || repeat('}', 1990))::jsonb);
});
	my $v = q{'{"$defs": {"v": {"anyOf": [{"type": "integer"}, {"type": "object"}], "additionalProperties": {"$ref": "#/$defs/v"}}}, "$ref": "#/$defs/v"}'};
	for my $case (
		[ 'json_assert_valid, valid', "SELECT apikit.json_assert_valid($v, body) FROM deep WHERE name = 'valid'", qr/^$/ ],
		[ 'json_validation_errors, valid', "SELECT apikit.json_validation_errors($v, body) FROM deep WHERE name = 'valid'", qr/^$/ ],
		[ 'json_assert_valid, invalid', "SELECT apikit.json_assert_valid($v, body) FROM deep WHERE name = 'invalid'", qr/does not match the schema/ ],
		[ 'json_validation_errors, invalid', "SELECT apikit.json_validation_errors($v, body) FROM deep WHERE name = 'invalid'", qr/^$/ ])
	{
		my ($name, $sql, $expect) = @$case;
		my $m = measure($sql, '3s');
		note "$name, 4 MB body 1,990 levels deep: $m->{took} s, peak $m->{peak} kB";
		like($m->{err}, $expect, "$name, 4 MB body 1,990 levels deep: done within 3 s");
		cmp_ok($m->{took}, '<', 10, "$name: not even waiting for a cancel (took $m->{took} s)");
	}
}

# Branches that lose.  Each of 2^18 leaves fails an anyOf branch with two
# errors (type and minimum: messages built in the scratch context) that
# "true" then drops: the errors are freed on the rewind and the scratch
# context emptied after each report.  Without the pfree, or without the
# reset, this took 285 MB and 315 MB.  What a leaf check allocates goes
# in the scratch context too, at every step of a boolean validation: a
# 1 KB base64 string decoded at each of 2^18 leaves (draft 7 asserts
# contentEncoding).
{
	$node->safe_psql('postgres', q{
INSERT INTO fans VALUES
	(18, '{"anyOf": [{"type": "string", "minimum": 5, "required": ["a"]}, true]}',
	 fan(18, '{"anyOf": [{"type": "string", "minimum": 5, "required": ["a"]}, true]}')),
	(18, '{"contentEncoding": "base64"}',
	 fan(18, '{"contentEncoding": "base64"}') || '{"$schema": "http://json-schema.org/draft-07/schema#"}');
});
	my $rewound = q{FROM fans WHERE levels = 18 AND leaf->'anyOf' IS NOT NULL};
	my $floor = peak_kb("SELECT length(schema::text) $rewound");
	my $peak = peak_kb("SELECT apikit.json_validation_errors(schema, '1') $rewound");
	note "rewinds at 2^18 leaves: peak $peak kB, floor $floor kB";
	cmp_ok($peak - $floor, '<', 32 * 1024, 'errors of losing branches are freed at 2^18 leaves: under 32 MB');
	my $decoded = q{FROM fans WHERE levels = 18 AND leaf ? 'contentEncoding'};
	$floor = peak_kb("SELECT length(schema::text) $decoded");
	$peak = peak_kb("SELECT apikit.json_validate(schema, to_jsonb(repeat('QUJD', 256))) $decoded");
	note "base64 decoded at 2^18 leaves: peak $peak kB, floor $floor kB";
	cmp_ok($peak - $floor, '<', 32 * 1024, 'what a leaf decodes is freed at each of 2^18 leaves: under 32 MB');
}

# The schema's values.  A "const" or "enum" was rendered whole for its
# message, then cut to 200 bytes, and long enums were scanned from end
# to end at each lookup, between checks for interrupts every 256 steps:
# - a 30 MB "const" under a fan-out, beaten by "true" in an anyOf: the
#   cancel came 4.5 s after a 500 ms timeout;
# - a 100,000-value enum tried on 2,000 items: 8.5 s;
# - a 3,000,000-value enum under a fan-out (its last value, so that every
#   leaf passes and json_validate goes on): the first check came 2 s late.
# Now the message reads 200 bytes of the value, and an enum of more than
# 16 values is sorted when compiled and binary-searched.
{
	$node->safe_psql('postgres', q{
INSERT INTO fans VALUES
	(40, '{"huge const": true}',
	 fan(40, jsonb_build_object('anyOf', jsonb_build_array(jsonb_build_object('const', repeat('x', 30000000)), true)))),
	(40, '{"huge enum": true}',
	 fan(40, (SELECT jsonb_build_object('enum', jsonb_agg(g)) FROM generate_series(1, 3000000) g)));
CREATE TABLE enums (schema jsonb);
INSERT INTO enums SELECT jsonb_build_object('items', jsonb_build_object('anyOf',
		jsonb_build_array((SELECT jsonb_build_object('enum', jsonb_agg(g)) FROM generate_series(1, 100000) g), true)));
});
	my $m = measure(q{SELECT apikit.json_validation_errors(schema, '1') FROM fans WHERE leaf ? 'huge const'}, '500ms');
	note "30 MB const under a fan-out: $m->{took} s: $m->{err}";
	like($m->{err}, qr/statement timeout/, '30 MB const under a fan-out: statement_timeout ends it');
	cmp_ok($m->{took}, '<', 2, "30 MB const under a fan-out: within 1.5 s of the timeout (took $m->{took} s)");

	$m = measure(q{SELECT jsonb_array_length(apikit.json_validation_errors(schema, (SELECT jsonb_agg(-g) FROM generate_series(1, 2000) g))) FROM enums}, '3s');
	note "100,000-value enum on 2,000 items: $m->{took} s: $m->{err}";
	is($m->{err}, '', '100,000-value enum on 2,000 items: done within 3 s');

	$m = measure(q{SELECT apikit.json_validate(schema, '3000000') FROM fans WHERE leaf ? 'huge enum'}, '300ms');
	note "3,000,000-value enum under a fan-out: $m->{took} s: $m->{err}";
	like($m->{err}, qr/statement timeout/, '3,000,000-value enum under a fan-out: statement_timeout ends it');
	cmp_ok($m->{took}, '<', 1, "3,000,000-value enum under a fan-out: within 0.7 s of the timeout (took $m->{took} s)");
}

# uniqueItems sorted copies of the items' values, 56 bytes an item: a
# 3,000,000-item body cost 168 MB beyond reading it.  Now indexes and
# offsets, 8 bytes an item.
{
	$node->safe_psql('postgres', q{
CREATE TABLE unique_body AS SELECT jsonb_agg(g) AS body FROM generate_series(1, 3000000) g;
});
	my $floor = peak_kb('SELECT jsonb_array_length(body) FROM unique_body');
	my $peak = peak_kb(q{SELECT apikit.json_validate('{"uniqueItems": true}', body) FROM unique_body});
	note "uniqueItems of 3,000,000 items: peak $peak kB, floor $floor kB";
	cmp_ok($peak - $floor, '<', 64 * 1024, 'uniqueItems of 3,000,000 items: under 64 MB');
}

# immediate: on a failure above, a backend may still be evaluating
$node->stop('immediate');
done_testing();

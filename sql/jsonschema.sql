--
-- JSON Schema validation: the functions, their errors, CHECK constraints,
-- the PostgREST form of json_assert_valid, the registry and its cache
-- invalidation, settings, bad schemas and large or deep instances.
-- (The official test suite runs in jsonschema_suite.)
--
SET search_path = public;
\set SHOW_CONTEXT never

-- A request body schema of the kind an API function takes.
CREATE TABLE public.schemas (name text PRIMARY KEY, schema jsonb);
INSERT INTO public.schemas VALUES ('order', '{
	"$schema": "https://json-schema.org/draft/2020-12/schema",
	"type": "object",
	"required": ["id", "customer", "items"],
	"additionalProperties": false,
	"properties": {
		"id": {"type": "string", "format": "uuid"},
		"customer": {"$ref": "#/$defs/customer"},
		"items": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/item"}},
		"note": {"type": "string", "maxLength": 10}
	},
	"$defs": {
		"customer": {
			"type": "object",
			"required": ["email"],
			"properties": {"email": {"type": "string", "format": "email"}}
		},
		"item": {
			"type": "object",
			"required": ["sku", "qty"],
			"properties": {
				"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
				"qty": {"type": "integer", "minimum": 1, "maximum": 100},
				"price": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.01}
			}
		}
	}
}');

-- Valid, then each kind of mistake.
SELECT apikit.json_validate(schema, '{"id": "8f1c6b1e-2f1a-4b7c-9d2e-0a1b2c3d4e5f",
		"customer": {"email": "a@example.com"},
		"items": [{"sku": "ABC-1234", "qty": 2, "price": 9.99}]}') AS valid
  FROM schemas WHERE name = 'order';
SELECT jsonb_pretty(apikit.json_validation_errors(schema, '{"id": "not-a-uuid",
		"customer": {"email": "nobody"},
		"items": [{"sku": "abc", "qty": 0, "price": 1.005}, {"qty": 2.5}],
		"note": "far too long a note", "extra": true}'))
  FROM schemas WHERE name = 'order';
-- Valid gives an empty array.
SELECT apikit.json_validation_errors('{"type": "integer"}', '3');
-- Keys with "/" and "~" are escaped in both locations (RFC 6901).
SELECT apikit.json_validation_errors('{"properties": {"a/b~c": {"type": "string"}}}', '{"a/b~c": 1}');

-- Scalars, numbers compared as numbers, integers with a zero fraction.
SELECT apikit.json_validate('{"type": "integer"}', '1.0') AS one_point_zero_is_integer,
	   apikit.json_validate('{"type": "integer"}', '1.5') AS one_point_five,
	   apikit.json_validate('{"const": 1}', '1.00') AS const_numeric_equality,
	   apikit.json_validate('{"enum": [[1, {"a": 2}]]}', '[1.0, {"a": 2.0}]') AS enum_deep_equality,
	   apikit.json_validate('{"multipleOf": 0.0001}', '0.0075') AS decimal_multiple,
	   apikit.json_validate('{"multipleOf": 0.01}', '0.075') AS not_a_multiple,
	   apikit.json_validate('{"maximum": 18446744073709551615}', '18446744073709551616') AS bignum,
	   apikit.json_validate('{"type": "integer"}', '1e308') AS huge_integer,
	   apikit.json_validate('{"minLength": 2, "maxLength": 2}', '"ÿ€"') AS length_in_characters;

-- Combinators: every branch's errors when none matches; none when one does.
SELECT apikit.json_validation_errors('{"anyOf": [{"type": "string"}, {"minimum": 10}]}', '5');
SELECT apikit.json_validation_errors('{"anyOf": [{"type": "string"}, {"minimum": 10}]}', '15');
SELECT apikit.json_validation_errors('{"oneOf": [{"minimum": 1}, {"maximum": 10}]}', '5');
SELECT apikit.json_validation_errors('{"not": {"type": "null"}}', 'null');
SELECT apikit.json_validation_errors('{"if": {"minimum": 10}, "then": {"multipleOf": 2}, "else": {"const": 0}}', '11');
SELECT apikit.json_validation_errors('{"uniqueItems": true}', '[1, 2, 1.0]');
SELECT apikit.json_validation_errors('{"contains": {"type": "string"}, "minContains": 2}', '["a", 1]');
SELECT apikit.json_validation_errors('{"dependentRequired": {"card": ["cvc"]}}', '{"card": "4111"}');
SELECT apikit.json_validation_errors('{"properties": {"a": true}, "unevaluatedProperties": false}', '{"a": 1, "b": 2}');
SELECT apikit.json_validation_errors('{"prefixItems": [{"type": "string"}], "items": false}', '["a", 2]');
SELECT apikit.json_validation_errors('{"propertyNames": {"maxLength": 3}}', '{"long name": 1}');
SELECT apikit.json_validation_errors('false', '1');

-- In a CHECK constraint: the schema is compiled once per backend.
CREATE TABLE public.orders (
	body jsonb NOT NULL CHECK (apikit.json_validate('{"type": "object", "required": ["qty"],
		"properties": {"qty": {"type": "integer", "minimum": 1}}}', body))
);
INSERT INTO orders VALUES ('{"qty": 3}');
INSERT INTO orders VALUES ('{"qty": 0}');
INSERT INTO orders SELECT jsonb_build_object('qty', g) FROM generate_series(1, 1000) g;
SELECT count(*) FROM orders;

-- json_assert_valid: SQLSTATE 22023 with the errors in the detail.
SELECT apikit.json_assert_valid('{"required": ["a"]}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT apikit.json_assert_valid('{"required": ["a"]}', '{"a": 1}') AS passes_silently;

-- The PostgREST form: what PostgREST parses out of the error.  Its
-- MESSAGE must be an object with string code, message, details and hint;
-- its DETAIL an object with an integer status and an object of headers.
SET apikit.json_errors_as_http = on;
DO $$
DECLARE
	state text;
	msg text;
	det text;
BEGIN
	PERFORM apikit.json_assert_valid('{"properties": {"qty": {"minimum": 1}}}', '{"qty": 0}');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
	RAISE NOTICE 'sqlstate %', state;
	RAISE NOTICE 'body code %, message %', msg::jsonb->>'code', msg::jsonb->>'message';
	RAISE NOTICE 'body details (the errors) %', (msg::jsonb->>'details')::jsonb;
	RAISE NOTICE 'body hint %', msg::jsonb->>'hint';
	RAISE NOTICE 'all strings: %', (SELECT bool_and(jsonb_typeof(v) = 'string') FROM jsonb_each(msg::jsonb) AS e(k, v));
	RAISE NOTICE 'status % (%), headers %', det::jsonb->'status', jsonb_typeof(det::jsonb->'status'), det::jsonb->'headers';
END $$;
RESET apikit.json_errors_as_http;

-- json_schema_is_valid: against the meta-schema of the schema's draft.
SELECT apikit.json_schema_is_valid('{"type": "object", "properties": {"a": {"minLength": 1}}}') AS ok,
	   apikit.json_schema_is_valid('{"type": "objekt"}') AS bad_type,
	   apikit.json_schema_is_valid('{"minLength": -1}') AS negative_length,
	   apikit.json_schema_is_valid('{"pattern": "(?i)abc"}') AS not_ecma_regex,
	   apikit.json_schema_is_valid('{"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}]}') AS draft7_items_array,
	   apikit.json_schema_is_valid('{"items": [{"type": "string"}]}') AS items_array_in_2020,
	   apikit.json_schema_is_valid('true') AS boolean_schema;
SELECT apikit.json_schema_is_valid('{"$schema": "https://example.com/unknown"}');
-- The format "regex" is ECMA-262's syntax with the "u" flag, checked by a
-- scan, not by compiling: what PostgreSQL's engine accepts does not matter.
SELECT s AS string, apikit.json_validate('{"format": "regex"}', to_jsonb(s)) AS valid
  FROM unnest(ARRAY['([abc])+\s+$', '^(abc]', '(?<n>a)\k<n>', '(?<=a+)b', '[]', '\cA',
					'\p{L}+', 'a{2,3}?', '[\d-]', 'a\_', 'x]', 'a{,5}', 'a{5,2}', '(?=a)*',
					'\2(a)', '(a)\1', '[z-a]', '\u{1F600}', '((a{1,255}){1,255}){1,255}']) AS s;

-- The registry: $ref by URI, json_validate_uri, and changes seen at once.
INSERT INTO apikit.json_schemas VALUES
	('https://example.com/schemas/sku', '{"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"}'),
	('https://example.com/schemas/line', '{"type": "object", "properties": {"sku": {"$ref": "sku"}}}');
SELECT apikit.json_validate('{"$ref": "https://example.com/schemas/line"}', '{"sku": "ABC-1234"}') AS relative_ref_in_registered,
	   apikit.json_validate('{"$ref": "https://example.com/schemas/line"}', '{"sku": "abc"}') AS bad_sku,
	   apikit.json_validate_uri('https://example.com/schemas/sku', '"XYZ-0001"') AS by_uri;
UPDATE apikit.json_schemas SET schema = '{"type": "string"}' WHERE uri = 'https://example.com/schemas/sku';
SELECT apikit.json_validate('{"$ref": "https://example.com/schemas/line"}', '{"sku": "abc"}') AS after_update,
	   apikit.json_validate_uri('https://example.com/schemas/sku', '"abc"') AS by_uri_after_update;
DELETE FROM apikit.json_schemas WHERE uri = 'https://example.com/schemas/sku';
SELECT apikit.json_validate('{"$ref": "https://example.com/schemas/line"}', '{"sku": "abc"}');
SELECT apikit.json_validate_uri('https://example.com/schemas/nothing', '1');
INSERT INTO apikit.json_schemas VALUES ('https://example.com/s#frag', '{}');
-- Restores run with check_function_bodies off and may bring a table's
-- rows before the registry: an unregistered reference then accepts
-- anything (said once), and is never cached that way.
SET check_function_bodies = off;
SELECT apikit.json_validate('{"$ref": "https://restore.example/later"}', '1') AS before_registry;
INSERT INTO apikit.json_schemas VALUES ('https://restore.example/later', '{"type": "string"}');
SELECT apikit.json_validate('{"$ref": "https://restore.example/later"}', '1') AS after_registry;
-- ... only for a document that is missing: a bad pointer or anchor in a
-- document that was found stays an error, restore or not.
SELECT apikit.json_validate('{"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/sx"}', '1');
SELECT apikit.json_validate('{"$ref": "#misspelt"}', '1');
-- A meta-schema not registered yet: its dialect is unknown, so the whole
-- schema accepts anything (guessing a draft would reject good rows).
SELECT apikit.json_validate('{"$schema": "urn:unregistered-meta", "items": [{"type": "string"}], "minimum": 5}', '1') AS unknown_dialect;
-- json_validate_uri of a URI not registered yet, likewise.
SELECT apikit.json_validate_uri('https://restore.example/not-yet', '1') AS uri_not_yet;
RESET check_function_bodies;
DELETE FROM apikit.json_schemas WHERE uri = 'https://restore.example/later';
SELECT apikit.json_validate('{"$ref": "https://restore.example/later"}', '1');
-- Schemas that cannot be cached (the registry changed in this
-- transaction) are freed with their statement, regex memory included:
-- 300 statements, each compiling 200 patterns, leave the backend's size
-- where it was.
INSERT INTO apikit.json_schemas
SELECT 'https://leak.example/p', jsonb_build_object('properties',
		jsonb_object_agg('p' || g, jsonb_build_object('pattern', '^(a|b' || g || ')+$')))
  FROM generate_series(1, 200) g;
CREATE FUNCTION pg_temp.rss_kb() RETURNS bigint LANGUAGE sql AS
$$ SELECT substring(pg_read_file('/proc/self/status') FROM 'VmRSS:\s+(\d+)')::bigint $$;
BEGIN;
UPDATE apikit.json_schemas SET schema = schema WHERE uri = 'https://leak.example/p';
SELECT pg_temp.rss_kb() AS rss_before \gset
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXECUTE 'SELECT apikit.json_validate_uri($1, $2)' USING 'https://leak.example/p', '{"p1": "ab1"}'::jsonb;
	END LOOP;
END $$;
SELECT pg_temp.rss_kb() - :rss_before < 50000 AS no_leak;
COMMIT;
DELETE FROM apikit.json_schemas WHERE uri = 'https://leak.example/p';
-- The registry refuses rows that can never work, saying why: a schema
-- its meta-schema refuses, a URI that is not absolute or is a built-in
-- meta-schema's, an unknown meta-schema; on UPDATE too.
INSERT INTO apikit.json_schemas VALUES ('https://example.com/strin', '{"type": "strin"}');
INSERT INTO apikit.json_schemas VALUES ('https://example.com/array', '[1]');
INSERT INTO apikit.json_schemas VALUES ('schemas/relative', '{}');
INSERT INTO apikit.json_schemas VALUES ('/schemas/relative', '{}');
INSERT INTO apikit.json_schemas VALUES ('', '{}');
INSERT INTO apikit.json_schemas VALUES ('https://example.com/a b', '{}');
INSERT INTO apikit.json_schemas VALUES ('https://json-schema.org/draft/2020-12/schema', '{}');
INSERT INTO apikit.json_schemas VALUES ('https://json-schema.org/draft/2020-12/meta/core', '{}');
INSERT INTO apikit.json_schemas VALUES ('https://example.com/s2019', '{"$schema": "https://json-schema.org/draft/2019-09/schema"}');
INSERT INTO apikit.json_schemas VALUES ('https://example.com/ok', '{"type": "string"}'), ('urn:example:ok', 'true');
UPDATE apikit.json_schemas SET schema = '{"minLength": -1}' WHERE uri = 'https://example.com/ok';
UPDATE apikit.json_schemas SET uri = 'ok' WHERE uri = 'https://example.com/ok';
-- A row must also compile, as a reference to its URI would compile it: a
-- pointer or anchor to nothing, a pattern apikit cannot run are refused,
-- though the meta-schema lets them pass.  A reference to a schema not
-- registered yet is fine: any order of registration works.
INSERT INTO apikit.json_schemas VALUES ('https://example.com/nope', '{"$ref": "#/$defs/nope"}');
INSERT INTO apikit.json_schemas VALUES ('https://example.com/greek', '{"pattern": "\\p{Greek}"}');
INSERT INTO apikit.json_schemas VALUES ('https://example.com/anchor', '{"properties": {"a": {"$ref": "#nowhere"}}}');
UPDATE apikit.json_schemas SET schema = '{"$ref": "#/$defs/nope"}' WHERE uri = 'https://example.com/ok';
INSERT INTO apikit.json_schemas VALUES ('https://example.com/first', '{"$ref": "second#/$defs/x"}');
INSERT INTO apikit.json_schemas VALUES ('https://example.com/second', '{"$defs": {"x": {"type": "integer"}}}');
SELECT apikit.json_validate_uri('https://example.com/first', '1') AS first_integer,
	   apikit.json_validate_uri('https://example.com/first', '"a"') AS first_string;
-- Into a registered document, a pointer to nothing is refused.
INSERT INTO apikit.json_schemas VALUES ('https://example.com/third', '{"$ref": "https://example.com/second#/$defs/y"}');
DELETE FROM apikit.json_schemas WHERE uri IN ('https://example.com/first', 'https://example.com/second');
-- Without "$schema", a schema valid in draft 7 only is accepted: a draft-7
-- schema that refers to it reads it as draft 7.
INSERT INTO apikit.json_schemas VALUES ('https://example.com/d7', '{"items": [{"type": "string"}], "additionalItems": false}');
SELECT apikit.json_validate('{"$schema": "http://json-schema.org/draft-07/schema#", "$ref": "https://example.com/d7"}', '["a", 1]') AS draft7_tuple;
-- A custom meta-schema, registered first, then a schema of its dialect.
INSERT INTO apikit.json_schemas VALUES ('https://example.com/meta', '{"$schema": "https://json-schema.org/draft/2020-12/schema",
	"$vocabulary": {"https://json-schema.org/draft/2020-12/vocab/core": true, "https://json-schema.org/draft/2020-12/vocab/validation": true},
	"allOf": [{"$ref": "https://json-schema.org/draft/2020-12/meta/core"}, {"$ref": "https://json-schema.org/draft/2020-12/meta/validation"}]}');
INSERT INTO apikit.json_schemas VALUES ('https://example.com/custom', '{"$schema": "https://example.com/meta", "maxLength": 2}');
INSERT INTO apikit.json_schemas VALUES ('https://example.com/custom-bad', '{"$schema": "https://example.com/meta", "maxLength": "x"}');
-- A superuser's restore brings back what was dumped, unchecked: a schema
-- before its meta-schema, a row an earlier check let in.
SET check_function_bodies = off;
INSERT INTO apikit.json_schemas VALUES ('https://example.com/early', '{"$schema": "https://example.com/meta-later"}'),
	('https://example.com/dumped', '{"type": "strin"}');
RESET check_function_bodies;
DELETE FROM apikit.json_schemas WHERE uri IN ('https://example.com/ok', 'urn:example:ok', 'https://example.com/d7',
	'https://example.com/meta', 'https://example.com/custom', 'https://example.com/early', 'https://example.com/dumped');
-- The change notice fires under logical replication's apply too.
SELECT tgenabled FROM pg_trigger WHERE tgname = 'json_schemas_changed';
-- Meta-schemas are built in: no network, no registry.
SELECT apikit.json_validate('{"$ref": "https://json-schema.org/draft/2020-12/schema"}', '{"type": 5}') AS meta_by_ref;

-- Settings.
SET apikit.json_default_draft = '7';
-- draft 7: "$ref" overrides its siblings, and an "items" array is a tuple
SELECT apikit.json_validate('{"$ref": "#/definitions/s", "maximum": 1, "definitions": {"s": {"type": "integer"}}}', '5') AS ref_siblings_ignored,
	   apikit.json_validate('{"items": [{"type": "string"}], "additionalItems": false}', '["a", "b"]') AS tuple;
SET apikit.json_default_draft = '2020-12';
SELECT apikit.json_validate('{"$ref": "#/$defs/s", "maximum": 1, "$defs": {"s": {"type": "integer"}}}', '5') AS ref_siblings_apply;
SET apikit.json_default_draft = '2019-09';
SET apikit.json_format_assertion = off;
SELECT apikit.json_validate('{"format": "email"}', '"nobody"') AS format_annotation_only;
RESET apikit.json_format_assertion;
SELECT apikit.json_validate('{"format": "email"}', '"nobody"') AS format_asserted,
	   apikit.json_validate('{"format": "made-up"}', '"x"') AS unknown_format_ignored;

-- $dynamicRef resolves to the outermost resource in the dynamic scope with
-- that anchor, even when it is the static target (here r0 requires "q").
SELECT apikit.json_validate('{"$id": "https://ex/r0", "$dynamicAnchor": "a", "$ref": "r1", "required": ["q"],
	"$defs": {"useref": {"$dynamicRef": "#a"},
		"r1": {"$id": "https://ex/r1", "$dynamicAnchor": "a", "properties": {"p": {"$ref": "r0#/$defs/useref"}}}}}',
	'{"q": 1, "p": {}}') AS outermost_scope;
-- uniqueItems over more than 16 items sorts; equal means equal as JSON
SELECT apikit.json_validation_errors('{"uniqueItems": true}',
	(SELECT jsonb_agg(CASE g WHEN 5 THEN '{"a": [1.0, "x"]}'::jsonb WHEN 17 THEN '{"a": [1, "x"]}'::jsonb
						   ELSE jsonb_build_object('a', jsonb_build_array(g, 'x')) END)
	   FROM generate_series(0, 19) g));
-- Counts beyond 18 digits are no error: nothing is that long.
SELECT apikit.json_validate('{"minLength": 100000000000000000000}', '"x"') AS huge_min_length,
	   apikit.json_validate('{"maxItems": 1e30}', '[1, 2]') AS huge_max_items;
-- ECMA-262 has no POSIX classes: "[[:alpha:]]" is a class, then "]".
SELECT apikit.json_validate('{"pattern": "^[[:alpha:]]$"}', '"a"') AS posix_class_not_ecma,
	   apikit.json_validate('{"pattern": "^[[:alpha:]]$"}', '"a]"') AS ecma_reading;
SELECT apikit.json_validation_errors('{"type": []}', '1');
-- The draft-07 meta-schema under https, too.
SELECT apikit.json_schema_is_valid('{"$schema": "https://json-schema.org/draft-07/schema#", "type": "string"}') AS https_draft7;
-- A meta-schema that names itself is refused, not followed for ever (the
-- registry's check refuses such a row; a restore with its triggers
-- disabled can still bring one in).
INSERT INTO apikit.json_schemas VALUES ('https://m.example/self', '{"$schema": "https://m.example/self"}');
ALTER TABLE apikit.json_schemas DISABLE TRIGGER json_schemas_check;
INSERT INTO apikit.json_schemas VALUES ('https://m.example/self', '{"$schema": "https://m.example/self"}');
ALTER TABLE apikit.json_schemas ENABLE TRIGGER json_schemas_check;
SELECT apikit.json_validate('{"$schema": "https://m.example/self"}', '1');
DELETE FROM apikit.json_schemas WHERE uri = 'https://m.example/self';
-- Unicode property escapes use pg_catalog's collation, whatever a user
-- creates under the same name elsewhere.
CREATE COLLATION public.pg_unicode_fast (locale = 'C');
CREATE COLLATION public."und-x-icu" (locale = 'C');
SELECT apikit.json_validate('{"pattern": "^\\p{L}+$"}', '"été"') AS unicode_letters;
DROP COLLATION public.pg_unicode_fast;
DROP COLLATION public."und-x-icu";

-- Bad schemas: a clear error naming where the problem is.
SELECT apikit.json_validate('5', '1');
-- "$schema" must be a string, at the root and in any subschema.
SELECT apikit.json_validate('{"$schema": 5}', '1');
SELECT apikit.json_validate('{"properties": {"a": {"$schema": ["x"]}}}', '{}');
SELECT apikit.json_validate('{"$defs": {"r": {"$id": "https://ex/r", "$schema": null}}}', '1');
-- A Unicode property escape apikit cannot translate is named as such.
SELECT apikit.json_validate('{"pattern": "^\\p{Greek}+$"}', '"αβ"');
\echo :LAST_ERROR_SQLSTATE
SELECT apikit.json_validate('{"patternProperties": {"[\\P{L}]": true}}', '{}');
SELECT apikit.json_validate('{"type": "strin"}', '1');
SELECT apikit.json_validate('{"properties": {"a": {"minLength": -1}}}', '{}');
SELECT apikit.json_validate('{"properties": {"a": 5}}', '{}');
SELECT apikit.json_validate('{"required": "a"}', '{}');
SELECT apikit.json_validate('{"multipleOf": 0}', '1');
SELECT apikit.json_validate('{"pattern": "("}', '"x"');
SELECT apikit.json_validate('{"pattern": "(?i)x"}', '"x"');
-- A pattern whose counted repetitions expand past 20,000 automaton states
-- is refused: each match would need memory growing with their square.
-- Back-references work (patterns compile without submatch capture).
SELECT apikit.json_validate(jsonb_build_object('pattern', repeat('(a|b|c|d)*[^x]{2,200}', 100)), '"abc"');
\echo :LAST_ERROR_SQLSTATE
SELECT apikit.json_validate('{"pattern": "^(ab)\\1$"}', '"abab"') AS backref_match,
	   apikit.json_validate('{"pattern": "^(ab)\\1$"}', '"abba"') AS backref_no_match;
SELECT apikit.json_validate('{"$ref": "#/$defs/missing"}', '1');
SELECT apikit.json_validate('{"$id": "https://example.com/a#frag"}', '1');
-- A $ref cycle that never moves into the instance is stopped, and said.
SELECT apikit.json_validate('{"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}}', '1');
SELECT apikit.json_validate('{"$defs": {"b": {"anyOf": [{"type": "boolean"}, {"$ref": "#/$defs/b"}]}}, "$ref": "#/$defs/b"}', '1');
-- Recursion through the instance is no cycle.
SELECT apikit.json_validate('{"$defs": {"t": {"type": "array", "items": {"$ref": "#/$defs/t"}}}, "$ref": "#/$defs/t"}', '[[], [[]]]') AS nested_arrays;
-- A recursive schema over a deep instance: fine, and bounded by the stack.
SELECT apikit.json_validate('{"type": "array", "items": {"$ref": "#"}}', (repeat('[', 1000) || repeat(']', 1000))::jsonb) AS deep_1000;
SELECT apikit.json_validate('{"type": "array", "items": {"$ref": "#"}}', (repeat('[', 5000) || repeat(']', 5000))::jsonb);
-- Large instances: uniqueItems over 100,000 items sorts instead of
-- comparing pairs, and names the first pair of equal items (JSON's
-- equality: 1 is 1.0, objects whatever their keys' order).
SELECT apikit.json_validate('{"uniqueItems": true}', (SELECT jsonb_agg(g) FROM generate_series(1, 100000) g)) AS unique_100k,
	   apikit.json_validate('{"uniqueItems": true}', (SELECT jsonb_agg(g % 99999) FROM generate_series(1, 100000) g)) AS duplicate_100k;
SELECT apikit.json_validation_errors('{"uniqueItems": true}',
	(SELECT jsonb_agg(CASE g WHEN 30 THEN '{"b": 1, "a": [2.0]}'::jsonb WHEN 40 THEN '{"a": [2], "b": 1.00}'
						 WHEN 35 THEN '7.0' WHEN 50 THEN '7' ELSE to_jsonb(g * 1000) END)
	   FROM generate_series(0, 60) g))->0->>'error' AS first_equal_pair;
-- A long enum is sorted when compiled and searched by halves, with JSON's
-- equality; its message shows its first 200 bytes.
SELECT apikit.json_validate(s, '500.0') AS middle, apikit.json_validate(s, '1') AS first,
	   apikit.json_validate(s, '[1, {"a": 2}]') AS container_last,
	   apikit.json_validate(s, '0') AS missing, apikit.json_validate(s, '"500"') AS string_missing,
	   apikit.json_validate(s, '[1, {"a": 3}]') AS container_missing,
	   apikit.json_validation_errors(s, '0')->0->>'error' AS message
  FROM (SELECT jsonb_build_object('enum', jsonb_agg(g) || '[[1, {"a": 2.0}]]') AS s
		  FROM generate_series(1, 1000) g) AS e;
SELECT apikit.json_validation_errors(jsonb_build_object('const', jsonb_build_object('k', repeat('v', 300), 'l', 1)), '0')->0->>'error' AS const_message;
SELECT apikit.json_validation_errors('{"items": {"type": "integer"}}',
	(SELECT jsonb_agg(CASE WHEN g = 77777 THEN to_jsonb('x'::text) ELSE to_jsonb(g) END) FROM generate_series(1, 100000) g));

-- The per-backend cache holds 128 schemas; more than that still works.
SELECT count(*) FILTER (WHERE apikit.json_validate(jsonb_build_object('maximum', g), to_jsonb(g))) AS valid_of_300
  FROM generate_series(1, 300) g;
-- NULL in, NULL out (STRICT): a CHECK passes a NULL column, as SQL does.
SELECT apikit.json_validate(NULL, '1') IS NULL AS null_schema, apikit.json_validate('{}', NULL) IS NULL AS null_instance;
SELECT apikit.json_validation_errors(NULL, '1') IS NULL AS errors_null_schema,
	   apikit.json_validation_errors('{}', NULL) IS NULL AS errors_null_instance,
	   apikit.json_schema_is_valid(NULL) IS NULL AS is_valid_null,
	   apikit.json_validate_uri(NULL, '1') IS NULL AS uri_null_uri,
	   apikit.json_validate_uri('https://example.com/schemas/line', NULL) IS NULL AS uri_null_instance;
-- ... except json_assert_valid: a missing body is an error, not a pass
-- (an API function called without its body argument), in SQL and in HTTP
-- form; the JSON value null is a body like any other.
CREATE FUNCTION public.create_order(body jsonb = NULL) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM apikit.json_assert_valid('{"type": "object", "required": ["sku"]}', body);
	RETURN 'created';
END $$;
SELECT public.create_order(body := NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT public.create_order();
SELECT public.create_order('{"sku": "ABC-1234"}');
SELECT apikit.json_assert_valid('{"type": ["object", "null"]}', 'null') AS json_null_is_a_body;
SELECT apikit.json_assert_valid(NULL, '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT apikit.json_assert_valid(NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SET apikit.json_errors_as_http = on;
DO $$
DECLARE
	state text;
	msg text;
	det text;
BEGIN
	PERFORM public.create_order(NULL);
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
	RAISE NOTICE 'sqlstate %, status %', state, det::jsonb->'status';
	RAISE NOTICE 'body %', msg::jsonb - 'details';
	RAISE NOTICE 'details %', (msg::jsonb->>'details')::jsonb;
END $$;
RESET apikit.json_errors_as_http;
DROP FUNCTION public.create_order(jsonb);

-- Errors are capped at 100, and a last unit says exactly how many more
-- there were.  A schema whose $defs fan out through allOf (2^n paths to
-- a failing leaf), and a large body with one error per item: bounded
-- either way (the memory itself: test/t/007_jsonschema_memory.pl).
CREATE FUNCTION pg_temp.fan(levels int, leaf jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('$ref', '#/$defs/d0', '$defs',
		(SELECT jsonb_object_agg('d' || i, CASE WHEN i = levels THEN leaf ELSE
				jsonb_build_object('allOf', jsonb_build_array(
					jsonb_build_object('$ref', '#/$defs/d' || (i + 1)),
					jsonb_build_object('$ref', '#/$defs/d' || (i + 1)))) END)
		   FROM generate_series(0, levels) i))
$$;
SELECT jsonb_array_length(e) AS units, e->0 AS first, e->99 AS hundredth, e->100 AS last
  FROM apikit.json_validation_errors(pg_temp.fan(12, '{"type": "string"}'), '1') AS e;
SELECT jsonb_array_length(e) AS units, e->-1->'omitted' AS omitted
  FROM apikit.json_validation_errors('{"items": {"type": "object", "required": ["id", "name"]}}',
		(SELECT jsonb_agg(1) FROM generate_series(1, 300000))) AS e;
-- The body's strings do not make errors large: a key of 100 KB appears in
-- a message cut to 200 bytes, and a location longer than 4 KB keeps its
-- first and last 2 KB around "~..." (never part of a JSON pointer).
SELECT jsonb_array_length(e) AS units,
	   max(length(u->>'instanceLocation')) AS longest_location,
	   max(length(u->>'error')) AS longest_message,
	   bool_and(u->>'instanceLocation' LIKE '/kkk%~...kkk%') AS shortened,
	   length(e::text) < 60000 AS small
  FROM apikit.json_validation_errors('{"additionalProperties": false}',
		(SELECT jsonb_object_agg(repeat('k', 100000) || g, g) FROM generate_series(1, 10) g)) AS e,
	   jsonb_array_elements(e) AS u
 GROUP BY e;
SELECT apikit.json_validation_errors('{"additionalProperties": false}',
		jsonb_build_object(repeat('é', 300), 1))->0->>'error' AS cut_at_a_character;
-- ... and the list stops at 256 kB of JSON text, escapes counted: keys of
-- control characters print six bytes each.
SELECT jsonb_array_length(e) AS units, e->-1->'omitted' AS omitted,
	   length(e::text) BETWEEN 200000 AND 270000 AS about_256_kb
  FROM apikit.json_validation_errors('{"additionalProperties": false}',
		(SELECT jsonb_object_agg(repeat(chr(1), 100000) || g, g) FROM generate_series(1, 20) g)) AS e;
-- So json_assert_valid's error stays small whatever the body: three keys
-- of 150,000 control characters (a 2.7 MB body) used to make an 8 MB
-- PostgREST message and a 5 MB DETAIL, all of it in the server log too.
DO $$
DECLARE
	body jsonb := (SELECT jsonb_object_agg(repeat(chr(1), 150000) || g, g) FROM generate_series(1, 3) g);
	msg text;
	det text;
	hint text;
BEGIN
	BEGIN
		PERFORM apikit.json_assert_valid('{"additionalProperties": false}', body);
	EXCEPTION WHEN invalid_parameter_value THEN
		GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	END;
	RAISE NOTICE 'SQL: message %, detail under 100 kB %, hint under 30 kB %', msg, length(det) < 100000, length(hint) < 30000;
	SET LOCAL apikit.json_errors_as_http = on;
	BEGIN
		PERFORM apikit.json_assert_valid('{"additionalProperties": false}', body);
	EXCEPTION WHEN sqlstate 'PGRST' THEN
		GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
	END;
	RAISE NOTICE 'PostgREST: body under 150 kB %, errors %', length(msg) < 150000,
		jsonb_array_length((msg::jsonb->>'details')::jsonb);
END $$;
-- Exactly 100: no last unit.
SELECT jsonb_array_length(e) AS units, e->-1->'omitted' IS NULL AS no_omitted_unit
  FROM apikit.json_validation_errors('{"items": {"type": "string"}}',
		(SELECT jsonb_agg(g) FROM generate_series(1, 100) g)) AS e;
-- The list and the count stay exact when a branch drops its errors again,
-- across the cap: 99 errors, then an anyOf branch that loses with 99 more
-- (the 100th kept, the rest counted) before "true" wins, then 99 more.
SELECT jsonb_array_length(e) AS units, e->-1->'omitted' AS omitted,
	   e->98->>'keywordLocation' AS kept_99th, e->99->>'keywordLocation' AS kept_100th
  FROM apikit.json_validation_errors('{"allOf": [{"items": {"type": "boolean"}},
		{"anyOf": [{"items": {"type": "string"}}, true]}, {"items": {"type": "null"}}]}',
		(SELECT jsonb_agg(g) FROM generate_series(1, 99) g)) AS e;
-- json_assert_valid reports the cut too, in its detail.
DO $$
DECLARE
	det text;
BEGIN
	PERFORM apikit.json_assert_valid('{"items": {"type": "string"}}', (SELECT jsonb_agg(g) FROM generate_series(1, 1000) g));
EXCEPTION WHEN invalid_parameter_value THEN
	GET STACKED DIAGNOSTICS det = PG_EXCEPTION_DETAIL;
	RAISE NOTICE '% units, the last: %', jsonb_array_length(det::jsonb), det::jsonb->-1;
END $$;
-- A pattern that backtracks for ever: the cancel is a cancel (57014),
-- not an invalid regular expression (2201B; PostgreSQL 15's engine returns
-- REG_CANCEL, later ones raise the cancel themselves).  An exponential
-- schema ends at statement_timeout too: test/t/007_jsonschema_memory.pl.
SET statement_timeout = '200ms';
SELECT apikit.json_validate('{"pattern": "^(.*)(.*)(.*)(.*)(.*)\\5\\4\\3\\2\\1$"}', to_jsonb(repeat('ab', 100) || 'c'));
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;

-- Privileges: anyone may validate and read the registry; only its owner
-- (or whom it grants) may change it.
CREATE ROLE regress_json_user;
SET ROLE regress_json_user;
SELECT apikit.json_validate('{"$ref": "https://example.com/schemas/line"}', '{"sku": 1}') AS unregistered_ref;
SELECT count(*) >= 0 AS can_read_registry FROM apikit.json_schemas;
INSERT INTO apikit.json_schemas VALUES ('https://example.com/evil', '{}');
RESET ROLE;

-- The registry's trigger functions read its rows by column number and
-- type: no role may attach them to a table of its own (CREATE TRIGGER
-- needs EXECUTE, which PUBLIC does not have), and attached by a superuser
-- to any table but the registry they refuse to run, whatever its columns.
CREATE SCHEMA regress_json_own AUTHORIZATION regress_json_user;
SET ROLE regress_json_user;
CREATE TABLE regress_json_own.mine (a int, b int);
CREATE TABLE regress_json_own.lookalike (uri text, schema text);
CREATE TRIGGER t BEFORE INSERT ON regress_json_own.mine
	FOR EACH ROW EXECUTE FUNCTION apikit.json_schemas_check();
CREATE TRIGGER t AFTER INSERT ON regress_json_own.mine
	FOR EACH STATEMENT EXECUTE FUNCTION apikit.json_schemas_changed();
RESET ROLE;
CREATE TRIGGER t BEFORE INSERT ON regress_json_own.mine
	FOR EACH ROW EXECUTE FUNCTION apikit.json_schemas_check();
CREATE TRIGGER t BEFORE INSERT ON regress_json_own.lookalike
	FOR EACH ROW EXECUTE FUNCTION apikit.json_schemas_check();
CREATE TRIGGER u AFTER INSERT ON regress_json_own.lookalike
	FOR EACH STATEMENT EXECUTE FUNCTION apikit.json_schemas_changed();
SET ROLE regress_json_user;
INSERT INTO regress_json_own.mine VALUES (1, 2);
INSERT INTO regress_json_own.lookalike VALUES ('https://example.com/x', '{"type": 1}');
DROP TRIGGER t ON regress_json_own.lookalike;
INSERT INTO regress_json_own.lookalike VALUES ('https://example.com/x', '{"type": 1}');
RESET ROLE;
SELECT has_function_privilege('regress_json_user', 'apikit.json_schemas_check()', 'EXECUTE') AS check_executable,
	   has_function_privilege('regress_json_user', 'apikit.json_schemas_changed()', 'EXECUTE') AS changed_executable;
DROP SCHEMA regress_json_own CASCADE;

-- No setting an ordinary role can change alters json_validate's answer:
-- CHECK constraints hold for every role.  Three tables whose constraints
-- the settings used to bypass: format, a schema without "$schema" whose
-- meaning differs between the drafts, and an unregistered reference
-- (which only a session a superuser logged in to lets through, as a
-- restore: check_function_bodies is everyone's to change).
ALTER ROLE regress_json_user LOGIN;
CREATE TABLE public.contacts (c jsonb CHECK (apikit.json_validate('{"properties": {"email": {"format": "email"}}}', c)));
CREATE TABLE public.amounts (a jsonb CHECK (apikit.json_validate('{"$ref": "#/$defs/s", "maximum": 1, "$defs": {"s": {"type": "integer"}}}', a)));
CREATE TABLE public.refs (r jsonb CHECK (apikit.json_validate('{"$ref": "https://unregistered.example/x"}', r)));
GRANT INSERT ON public.contacts, public.amounts, public.refs TO regress_json_user;
-- A superuser's SECURITY DEFINER function that writes such a table.
CREATE FUNCTION public.add_ref(r jsonb) RETURNS void LANGUAGE sql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp AS $$ INSERT INTO public.refs VALUES (r) $$;
SELECT current_user AS superuser \gset
\c - regress_json_user
\set SHOW_CONTEXT never
SET apikit.json_format_assertion = off;
\echo :LAST_ERROR_SQLSTATE
SELECT set_config('apikit.json_format_assertion', 'off', true);
ALTER ROLE regress_json_user SET apikit.json_format_assertion = off;
INSERT INTO public.contacts VALUES ('{"email": "not-an-email"}');
SET apikit.json_default_draft = '7';
\echo :LAST_ERROR_SQLSTATE
INSERT INTO public.amounts VALUES ('5');
SET check_function_bodies = off;
INSERT INTO public.refs VALUES ('1');
SELECT public.add_ref('1');
RESET check_function_bodies;
SHOW apikit.json_format_assertion;
SHOW apikit.json_default_draft;
\c - :superuser
\set SHOW_CONTEXT never
SET search_path = public;
SELECT (SELECT count(*) FROM public.contacts) + (SELECT count(*) FROM public.amounts)
	   + (SELECT count(*) FROM public.refs) AS rows_let_through;
DROP FUNCTION public.add_ref(jsonb);
DROP TABLE public.contacts, public.amounts, public.refs;
DROP ROLE regress_json_user;

-- pg_jsonschema's signatures, in schema apikit, with its semantics: a
-- schema without "$schema" is 2020-12, "format" is asserted in draft 7
-- only, whatever apikit.json_* say.
SELECT apikit.json_matches_schema('{"type": "object"}', '{}') AS object,
	   apikit.json_matches_schema('{"type": "object"}', '1') AS not_object,
	   apikit.jsonb_matches_schema('{"maxLength": 5}', '"foo"') AS short,
	   apikit.jsonb_matches_schema('{"maxLength": 5}', '"foobar"') AS too_long,
	   apikit.json_matches_schema('{"required": ["a"]}', '{"a": 1, "a": 2}') AS duplicate_keys;
SELECT apikit.jsonb_matches_schema('{"format": "email"}', '"not-an-email"') AS annotation_in_2020,
	   apikit.jsonb_matches_schema('{"$schema": "http://json-schema.org/draft-07/schema#", "format": "email"}', '"not-an-email"') AS asserted_in_draft7,
	   apikit.json_validate('{"format": "email"}', '"not-an-email"') AS json_validate_asserts;
SET apikit.json_default_draft = '7';
SET apikit.json_format_assertion = off;
SELECT apikit.jsonb_matches_schema('{"$ref": "#/$defs/s", "maximum": 1, "$defs": {"s": {"type": "integer"}}}', '5') AS still_2020,
	   apikit.jsonb_matches_schema('{"$schema": "http://json-schema.org/draft-07/schema#", "format": "email"}', '"x"') AS still_asserted;
RESET apikit.json_default_draft;
RESET apikit.json_format_assertion;
SELECT apikit.jsonschema_is_valid('{"type": "object"}') AS valid,
	   apikit.jsonschema_is_valid('{"type": "obj"}') AS invalid;
SELECT apikit.jsonschema_is_valid('{"properties": {"a": {"minLength": -1}}}') AS invalid_inside;
SELECT apikit.jsonschema_validation_errors('{"maxLength": 4}', '"foo"') AS none,
	   apikit.jsonschema_validation_errors('{"maxLength": 4}', '"123456789"') AS one;
SELECT apikit.jsonschema_validation_errors('{"type": "object", "properties": {"foo": {"type": "string"},
		"bar": {"type": "number"}, "baz": {"type": "boolean"}}}', '{"foo": 1, "bar": [], "baz": "1"}') AS three;
-- An invalid schema: one element saying why, as pg_jsonschema does.
SELECT apikit.jsonschema_validation_errors('{"type": "strin"}', '1') AS invalid_schema;
SELECT cardinality(apikit.jsonschema_validation_errors('{"items": {"type": "string"}}',
		(SELECT json_agg(g) FROM generate_series(1, 500) g))) AS capped,
	   (apikit.jsonschema_validation_errors('{"items": {"type": "string"}}',
		(SELECT json_agg(g) FROM generate_series(1, 500) g)))[101] AS last;
SELECT apikit.json_matches_schema(NULL, '1') IS NULL AS strict1, apikit.json_matches_schema('{}', NULL) IS NULL AS strict2,
	   apikit.jsonb_matches_schema(NULL, '1') IS NULL AS strict3, apikit.jsonb_matches_schema('{}', NULL) IS NULL AS strict4,
	   apikit.jsonschema_is_valid(NULL) IS NULL AS strict5,
	   apikit.jsonschema_validation_errors(NULL, '1') IS NULL AS strict6, apikit.jsonschema_validation_errors('{}', NULL) IS NULL AS strict7;
-- Switching from pg_jsonschema: existing CHECKs name its functions (here
-- a stand-in for them in schema public).  Replacing each by a SQL function
-- calling apikit's keeps the constraints as they are, and the planner
-- inlines it: the constraint calls apikit directly, schema a literal.
CREATE FUNCTION public.jsonb_matches_schema(schema json, instance jsonb) RETURNS boolean
	LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$ BEGIN RETURN true; END $$;
CREATE TABLE public.pgjs (meta jsonb CHECK (public.jsonb_matches_schema('{"type": "object", "properties": {"a": {"type": "number"}}}', meta)));
CREATE OR REPLACE FUNCTION public.jsonb_matches_schema(schema json, instance jsonb) RETURNS boolean
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN apikit.jsonb_matches_schema(schema, instance);
INSERT INTO public.pgjs SELECT jsonb_build_object('a', g) FROM generate_series(1, 100) g;
INSERT INTO public.pgjs VALUES ('{"a": "x"}');
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM public.pgjs WHERE public.jsonb_matches_schema('{"type": "object"}', meta);
DROP TABLE public.pgjs;
DROP FUNCTION public.jsonb_matches_schema(json, jsonb);

DELETE FROM apikit.json_schemas;
DROP TABLE orders, schemas;

-- The JSON-Schema-Test-Suite runner: every test of tests/draft2020-12 and
-- tests/draft7 against apikit.json_validate, with remotes/ registered in
-- apikit.json_schemas as http://localhost:1234/<path>.  Sourced by the
-- regression test jsonschema_suite with :suite set to this directory.
--
-- Results go to suite_results (one row per test): outcome is pass, fail
-- (wrong answer), error (apikit raised an error), or skip (the test's JSON
-- holds U+0000, which jsonb cannot represent).

CREATE TEMP TABLE suite_results (
	draft text,
	part text,					-- required | optional | format
	file text,
	case_no int,
	case_desc text,
	test_desc text,
	outcome text,
	message text,
	schema jsonb,
	data jsonb,
	valid boolean
);

-- Every *.json under dir/rel, as paths relative to dir.
CREATE FUNCTION pg_temp.json_files(dir text, rel text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
	f text;
	path text;
BEGIN
	FOR f IN SELECT pg_ls_dir(dir || '/' || rel) ORDER BY 1 LOOP
		path := CASE WHEN rel = '' THEN f ELSE rel || '/' || f END;
		IF (pg_stat_file(dir || '/' || path)).isdir THEN
			RETURN QUERY SELECT pg_temp.json_files(dir, path);
		ELSIF f LIKE '%.json' THEN
			RETURN NEXT path;
		END IF;
	END LOOP;
END $$;

CREATE FUNCTION pg_temp.run_draft(suite text, draft text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	f text;
	part text;
	c record;
	t record;
	s jsonb;
	d jsonb;
	ok boolean;
BEGIN
	PERFORM set_config('apikit.json_default_draft', CASE draft WHEN 'draft7' THEN '7' ELSE '2020-12' END, true);
	FOR f IN SELECT pg_temp.json_files(suite || '/tests/' || draft, '') LOOP
		part := CASE WHEN f LIKE 'optional/format/%' THEN 'format'
					 WHEN f LIKE 'optional/%' THEN 'optional'
					 ELSE 'required' END;
		-- The required tests follow the specification's default, in which
		-- "format" only annotates; apikit's default asserts, and the
		-- format files are run that way.
		PERFORM set_config('apikit.json_format_assertion',
						   CASE WHEN part = 'required' THEN 'off' ELSE 'on' END, true);
		FOR c IN
			SELECT ordinality AS no, value->>'description' AS descr,
				   value->'schema' AS schema, value->'tests' AS tests
			  -- json functions de-escape every string, and U+0000 has no
			  -- text form: such escapes become a marker, and their tests
			  -- are skipped
			  FROM json_array_elements(replace(pg_read_file(suite || '/tests/' || draft || '/' || f),
											   '\u0000', '<U+0000>')::json)
				   WITH ORDINALITY
		LOOP
			FOR t IN
				SELECT value->>'description' AS descr, value->'data' AS data,
					   (value->>'valid')::boolean AS valid
				  FROM json_array_elements(c.tests)
			LOOP
				IF c.schema::text LIKE '%<U+0000>%' OR t.data::text LIKE '%<U+0000>%' THEN
					INSERT INTO suite_results VALUES (draft, part, f, c.no, c.descr, t.descr, 'skip',
						'U+0000 cannot be represented in jsonb', NULL, NULL, t.valid);
					CONTINUE;
				END IF;
				s := c.schema::jsonb;
				d := t.data::jsonb;
				BEGIN
					ok := apikit.json_validate(s, d);
					INSERT INTO suite_results VALUES (draft, part, f, c.no, c.descr, t.descr,
						CASE WHEN ok = t.valid THEN 'pass' ELSE 'fail' END, NULL, s, d, t.valid);
				EXCEPTION WHEN OTHERS THEN
					INSERT INTO suite_results VALUES (draft, part, f, c.no, c.descr, t.descr, 'error', SQLERRM,
						s, d, t.valid);
				END;
			END LOOP;
		END LOOP;
	END LOOP;
END $$;

-- The suite's remotes stand for documents on a server, whatever their
-- draft (2019-09, v1, draft 3 to 6 too): registered as they are, without
-- the registry's check, which refuses what apikit cannot use.
ALTER TABLE apikit.json_schemas DISABLE TRIGGER json_schemas_check;
INSERT INTO apikit.json_schemas (uri, schema)
SELECT 'http://localhost:1234/' || f, pg_read_file(:'suite' || '/remotes/' || f)::jsonb
  FROM pg_temp.json_files(:'suite' || '/remotes', '') AS f;
ALTER TABLE apikit.json_schemas ENABLE TRIGGER json_schemas_check;

SELECT pg_temp.run_draft(:'suite', 'draft2020-12');
SELECT pg_temp.run_draft(:'suite', 'draft7');

-- The official JSON-Schema-Test-Suite (test/jsonschema-suite), every test
-- of drafts 2020-12 and 7.  The counts below are the record: a test that
-- stops passing, or starts, changes them and fails this file.
\getenv abs_srcdir PG_ABS_SRCDIR
\set suite :abs_srcdir '/test/jsonschema-suite'
SET client_min_messages = warning;
\set ECHO none
\set QUIET on
\i :suite/run.sql
\set QUIET off
\set ECHO all

SELECT draft, part, count(*) AS tests,
	   count(*) FILTER (WHERE outcome = 'pass') AS passed,
	   count(*) FILTER (WHERE outcome = 'fail') AS failed,
	   count(*) FILTER (WHERE outcome = 'error') AS errors,
	   count(*) FILTER (WHERE outcome = 'skip') AS skipped
  FROM suite_results
 GROUP BY 1, 2
 ORDER BY 1, 2 DESC;

-- Every test that does not pass, and why.  The required ones are only the
-- tests whose JSON holds U+0000, which jsonb cannot represent.
SELECT draft, file, case_desc, test_desc, outcome, message
  FROM suite_results
 WHERE outcome <> 'pass'
 ORDER BY draft, part DESC, file, case_no, test_desc;

-- The required tests ran with format assertion off, the specification's
-- default.  With it on (apikit's default) exactly the tests that say a
-- format is "only an annotation by default" change their answer.
SET apikit.json_format_assertion = on;
SELECT draft, file, test_desc
  FROM suite_results
 WHERE draft = 'draft2020-12' AND part = 'required' AND outcome = 'pass'
   AND apikit.json_validate(schema, data) <> valid
 ORDER BY 1, 2, 3;

DELETE FROM apikit.json_schemas;

--
-- Every trigger function of apikit, attached by an ordinary role to tables
-- of its own -- of shapes the function was not written for -- and fired by
-- every kind of event.  PostgreSQL checks EXECUTE only when a trigger is
-- created, and a trigger function reads whatever table fires it: one that
-- trusts the columns of "its" table reads garbage, or crashes the server.
-- The list comes from the catalog, so a trigger function added later is
-- covered without editing this file.  Each case runs in a subtransaction
-- that is rolled back.  Nothing may crash (the output would end here), an
-- error must not be XX000, and none may run with the owner's privileges on
-- another table (a SECURITY DEFINER trigger function would read apikit's
-- tables for the caller).
--
SET search_path = public;
CREATE ROLE regress_trig;
CREATE SCHEMA regress_trig AUTHORIZATION regress_trig;

CREATE TEMP TABLE trig_result (fn regprocedure, who text, shape text, event text, outcome text, message text);
GRANT ALL ON trig_result TO PUBLIC;

CREATE FUNCTION pg_temp.fire_all(who text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	f record;
	shape record;
	ev record;
	t text;
BEGIN
	FOR f IN SELECT p.oid::regprocedure AS fn, p.proname
			   FROM pg_proc p
			   JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
				AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
				AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'apikit')
			  WHERE p.prorettype = 'trigger'::regtype
			  ORDER BY 1::text LOOP
		-- Shapes: other types; the registry's and the policies' column
		-- names with other types, and with their own types (a copy of
		-- apikit's table that the role owns); a single column.
		FOR shape IN VALUES ('(a int, b int)', 'a'), ('(uri int, schema int)', 'uri'),
							('(uri text, schema jsonb)', 'uri'),
							('(name int, rate text, period jsonb, burst text)', 'name'),
							('(name text DEFAULT ''default'', rate int, period interval, burst int, description text)', 'name'),
							('(z int)', 'z') LOOP
			FOR ev IN VALUES ('BEFORE', 'ROW', 'INSERT', 'INSERT INTO %s DEFAULT VALUES'),
							 ('AFTER', 'ROW', 'INSERT', 'INSERT INTO %s DEFAULT VALUES'),
							 ('BEFORE', 'ROW', 'UPDATE', 'UPDATE %s SET %I = %I'),
							 ('AFTER', 'ROW', 'DELETE', 'DELETE FROM %s'),
							 ('BEFORE', 'STATEMENT', 'INSERT', 'INSERT INTO %s DEFAULT VALUES'),
							 ('AFTER', 'STATEMENT', 'TRUNCATE', 'TRUNCATE %s') LOOP
				t := 'regress_trig.target';
				BEGIN
					EXECUTE format('CREATE TABLE %s %s', t, shape.column1);
					IF ev.column3 IN ('UPDATE', 'DELETE') THEN
						EXECUTE format('INSERT INTO %s DEFAULT VALUES', t);
					END IF;
					EXECUTE format('CREATE TRIGGER probe %s %s ON %s FOR EACH %s EXECUTE FUNCTION %s()',
								   ev.column1, ev.column3, t, ev.column2, f.fn::regproc);
					EXECUTE format(ev.column4, t, shape.column2, shape.column2);
					RAISE EXCEPTION USING ERRCODE = 'S0WP0', MESSAGE = 'fired';
				EXCEPTION WHEN OTHERS THEN
					INSERT INTO trig_result
					VALUES (f.fn, who, shape.column1, concat_ws(' ', ev.column1, ev.column2, ev.column3),
							CASE WHEN SQLSTATE = 'S0WP0' THEN 'fired' ELSE 'error ' || SQLSTATE END,
							CASE WHEN SQLSTATE <> 'S0WP0' THEN SQLERRM END);
				END;
			END LOOP;
		END LOOP;
	END LOOP;
END
$$;

-- Which trigger functions an ordinary role may attach at all: only the
-- audit trigger is meant for tables other than apikit's own.
SELECT p.oid::regprocedure AS fn, p.prosecdef AS security_definer
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
   AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'apikit')
 WHERE p.prorettype = 'trigger'::regtype
   AND has_function_privilege('regress_trig', p.oid, 'EXECUTE')
 ORDER BY 1::text;

SET client_min_messages = warning;
SET ROLE regress_trig;
SELECT pg_temp.fire_all('ordinary role');
RESET ROLE;
SELECT pg_temp.fire_all('superuser');
RESET client_min_messages;

-- An ordinary role may attach only the trigger functions meant for its own
-- tables: every other one is refused at CREATE TRIGGER (42501).
SELECT fn, string_agg(DISTINCT outcome, ', ' ORDER BY outcome) AS outcomes
  FROM trig_result WHERE who = 'ordinary role' GROUP BY fn ORDER BY fn::text;

-- Fired on a table they were not written for, every one refuses (39P01),
-- even when a superuser attached it; the audit trigger refuses a trigger
-- that is not apikit_audit or apikit_audit_truncate.
SELECT fn, string_agg(DISTINCT outcome, ', ' ORDER BY outcome) AS outcomes
  FROM trig_result WHERE who = 'superuser' GROUP BY fn ORDER BY fn::text;

-- No case ended in an internal error.
SELECT who, fn, shape, event, message FROM trig_result
 WHERE outcome = 'error XX000' ORDER BY 1, 2::text, 3, 4;

DROP SCHEMA regress_trig CASCADE;
DROP ROLE regress_trig;

--
-- Every SQL-callable function of apikit, called with NULL in each argument
-- in turn (the others given ordinary values), and with every argument NULL.
-- The list comes from the catalog, so a function added later is swept
-- without anyone editing this file; its rows then show up in the diff.
--
-- Nothing may crash the backend (the output would end there), and an error
-- must carry a SQLSTATE that means something: XX000 is what elog(ERROR)
-- and internal failures give, never an answer for a user.  Each call runs
-- in a subtransaction that is rolled back, so that calls do not depend on
-- each other's side effects (audit_disable, audit_purge, ...).
--
SET search_path = public;
CREATE TABLE null_sweep (id int PRIMARY KEY, note text);
SELECT apikit.audit_enable('null_sweep');
INSERT INTO null_sweep VALUES (1, 'a');
UPDATE null_sweep SET note = 'b';
INSERT INTO apikit.json_schemas VALUES ('https://apikit.test/null-sweep', '{"type": "object"}');
CREATE ROLE regress_null_sweep;

-- The IN arguments of apikit's functions, numbered from 1.
CREATE TEMP VIEW sweep_args AS
SELECT p.oid AS fn, a.pos, a.name, a.typ::regtype AS typ
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
   AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'apikit')
  CROSS JOIN LATERAL (
	SELECT row_number() OVER (ORDER BY ord) AS pos, name, typ
	  FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]),
				  coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[p.pronargs::int])),
				  p.proargnames) WITH ORDINALITY AS u(typ, mode, name, ord)
	 WHERE mode IN ('i', 'b', 'v')) a;

-- An ordinary value for an argument: by its name where the name says more
-- than the type (a table that is audited, a policy that exists), else by
-- its type.
CREATE FUNCTION pg_temp.sample(name text, typ regtype) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(
		CASE
			WHEN name = 'key' AND typ = 'jsonb'::regtype THEN '''{"id": 1}'''
			WHEN name = 'policy' THEN '''default'''
			WHEN name = 'keys' THEN '''{sweep}'''
			WHEN name = 'policies' THEN '''{default}'''
			WHEN name = 'uri' THEN '''https://apikit.test/null-sweep'''
			WHEN name IN ('columns', 'mask_columns') THEN '''{note}'''
			WHEN name = 'schema' THEN '''{"type": "object", "required": ["id"]}'''
			WHEN name = 'source' THEN '''claim:sub'''
		END,
		CASE typ
			WHEN 'text'::regtype THEN '''x'''
			WHEN 'jsonb'::regtype THEN '''{}'''
			WHEN 'json'::regtype THEN '''{}'''
			WHEN 'integer'::regtype THEN '1'
			WHEN 'bigint'::regtype THEN '1'
			WHEN 'boolean'::regtype THEN 'false'
			WHEN 'interval'::regtype THEN '''1 year'''
			WHEN 'timestamp with time zone'::regtype THEN 'now()'
			WHEN 'text[]'::regtype THEN '''{}'''
			WHEN 'bytea'::regtype THEN '''\x'''
			WHEN 'regclass'::regtype THEN '''null_sweep'''
		END) || '::' || typ::text
$$;

-- Every argument type has an ordinary value: a new type must be added above.
SELECT DISTINCT typ AS "argument type without a sample" FROM sweep_args
 WHERE pg_temp.sample(name, typ) IS NULL;

CREATE TEMP TABLE sweep_result (fn regprocedure, pos int, who text, outcome text, message text);
GRANT ALL ON sweep_result TO PUBLIC;
GRANT SELECT ON sweep_args TO PUBLIC;

-- Calls each function with NULL at position null_at (0: everywhere) and records what came
-- back: null, a value, rows, or the error's SQLSTATE.
CREATE FUNCTION pg_temp.sweep(who text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	f record;
	null_at int;
	args text;
	call text;
	outcome text;
	is_null boolean;
	n bigint;
BEGIN
	FOR f IN SELECT p.oid::regprocedure AS fn, p.oid, p.proretset,
					p.prorettype = 'void'::regtype AS is_void, max(a.pos) AS nargs
			   FROM sweep_args a JOIN pg_proc p ON p.oid = a.fn
			  WHERE has_function_privilege(p.oid, 'EXECUTE')
			  GROUP BY p.oid ORDER BY p.oid::regprocedure::text LOOP
		FOR null_at IN 0 .. f.nargs LOOP
			SELECT string_agg(CASE WHEN null_at IN (0, a.pos) THEN 'NULL::' || a.typ::text
								   ELSE pg_temp.sample(a.name, a.typ) END, ', ' ORDER BY a.pos)
			  INTO args FROM sweep_args a WHERE a.fn = f.oid;
			call := format('%s.%I(%s)', 'apikit',
						   (SELECT proname FROM pg_proc WHERE oid = f.oid), args);
			BEGIN
				IF f.proretset THEN
					EXECUTE format('SELECT count(*) FROM %s', call) INTO n;
					outcome := format('%s rows', n);
				ELSIF f.is_void THEN
					EXECUTE format('SELECT %s', call);
					outcome := 'void';
				ELSE
					EXECUTE format('SELECT %s IS NULL', call) INTO is_null;
					outcome := CASE WHEN is_null THEN 'null' ELSE 'value' END;
				END IF;
				-- Undo whatever the call did.
				RAISE EXCEPTION USING ERRCODE = 'S0WP0', MESSAGE = outcome;
			EXCEPTION WHEN OTHERS THEN
				INSERT INTO sweep_result
				VALUES (f.fn, null_at, who,
						CASE WHEN SQLSTATE = 'S0WP0' THEN SQLERRM ELSE 'error ' || SQLSTATE END,
						CASE WHEN SQLSTATE <> 'S0WP0' THEN SQLERRM END);
			END;
		END LOOP;
	END LOOP;
END
$$;

-- (Notices, such as audit_enable's "settings changed", are not the point.)
SET client_min_messages = warning;
SELECT pg_temp.sweep('superuser');
SET ROLE regress_null_sweep;
SELECT pg_temp.sweep('ordinary role');
RESET ROLE;
RESET client_min_messages;

-- What each function does with NULL, as a superuser (position 0: all NULL).
SELECT fn, pos, outcome FROM sweep_result WHERE who = 'superuser' ORDER BY fn::text, pos;

-- No call ended in an internal error, as either role.
SELECT who, fn, pos, message FROM sweep_result
 WHERE outcome = 'error XX000' ORDER BY who, fn::text, pos;

-- The ordinary role called what PUBLIC may call.
SELECT count(DISTINCT fn) > 5 AS "ordinary role swept" FROM sweep_result WHERE who = 'ordinary role';

DROP TABLE null_sweep;
DELETE FROM apikit.json_schemas WHERE uri = 'https://apikit.test/null-sweep';
DROP ROLE regress_null_sweep;

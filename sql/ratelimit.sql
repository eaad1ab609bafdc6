--
-- Rate limiting: functions, views, errors and privileges.
--
-- Policies here are slow (one per hour or per day) so that nothing refills
-- while the test runs; times are shown in whole minutes and header seconds
-- as N (checked to be about right separately), so that a slow machine gets
-- the same output.  Exact GCRA answers with an injected clock are in
-- test/unit/test_gcra.c.
--
SET search_path = public;

SELECT name, rate, period, burst FROM apikit.rate_limit_policies ORDER BY name;

INSERT INTO apikit.rate_limit_policies (name, rate, period, burst, description)
VALUES ('hourly', 1, '1 hour', 2, 'three at once, then one an hour');

-- Three pass, then no more: the limit is burst + 1.
SELECT apikit.rate_limit('alice', 'hourly') FROM generate_series(1, 5);

-- The full answer.
SELECT allowed, "limit", remaining,
       round(extract(epoch FROM retry_after) / 60) AS retry_after_min,
       round(extract(epoch FROM reset_after) / 60) AS reset_after_min
FROM apikit.rate_limit_check('alice', 'hourly');

-- Other keys are independent; cost 0 only looks; a cost above the limit
-- can never succeed (no retry time); weighted costs consume several units.
SELECT allowed, remaining, retry_after IS NULL AS no_retry, reset_after
FROM apikit.rate_limit_check('bob', 'hourly', 0);
SELECT allowed, remaining, retry_after IS NULL AS never
FROM apikit.rate_limit_check('bob', 'hourly', 4);
SELECT allowed, remaining FROM apikit.rate_limit_check('bob', 'hourly', 2);
SELECT allowed, remaining, round(extract(epoch FROM retry_after) / 60) AS retry_after_min
FROM apikit.rate_limit_check('bob', 'hourly', 2);

-- Not transactional: a rolled-back check still counts, and checks work in
-- READ ONLY transactions (PostgREST's GET requests).
BEGIN;
SELECT apikit.rate_limit('carol', 'hourly');
ROLLBACK;
BEGIN READ ONLY;
SELECT apikit.rate_limit('carol', 'hourly');
COMMIT;
SELECT remaining FROM apikit.rate_limit_check('carol', 'hourly', 0);

-- Headers for a custom pre-request function (IETF httpapi draft syntax).
CREATE FUNCTION pg_temp.n(t text) RETURNS text LANGUAGE sql AS $$
	SELECT regexp_replace(regexp_replace(regexp_replace(t,
		';t=\d+', ';t=N', 'g'), 'Retry-After": "\d+"', 'Retry-After": "N"', 'g'),
		'Retry in \d\d+ seconds', 'Retry in N seconds', 'g')
$$;
SELECT pg_temp.n(h::text) AS headers,
       substring(h ->> 'RateLimit' FROM 't=(\d+)')::int BETWEEN 3500 AND 3600 AS t_about_an_hour
FROM apikit.rate_limit_headers('carol', 'hourly') h;
SELECT pg_temp.n(h::text) AS headers,
       (h ->> 'Retry-After')::int BETWEEN 3500 AND 3600 AS retry_about_an_hour
FROM apikit.rate_limit_headers('alice', 'hourly') h;
SELECT apikit.rate_limit_headers('nobody-yet', 'hourly');

-- The default policy is used when none is named.
SELECT allowed, "limit", remaining FROM apikit.rate_limit_check('dave');

-- A policy change applies at once, also in this session.
UPDATE apikit.rate_limit_policies SET burst = 9 WHERE name = 'hourly';
SELECT allowed, "limit", remaining FROM apikit.rate_limit_check('erin', 'hourly');
-- Existing states keep their arrival time under the new parameters.
SELECT allowed, "limit", remaining FROM apikit.rate_limit_check('alice', 'hourly', 0);

-- Reset: one policy, or every policy.
SELECT apikit.rate_limit_reset('alice', 'hourly');
SELECT apikit.rate_limit_reset('alice', 'hourly');
SELECT apikit.rate_limit('frank', 'hourly'), apikit.rate_limit('frank');
SELECT apikit.rate_limit_reset('frank');
SELECT remaining FROM apikit.rate_limit_check('frank', 'hourly', 0);

-- The views.
-- (Only slow policies: a default-policy state refills within 0.6 s and
-- then, carrying no information, is no longer listed.)
SELECT policy, key, remaining, round(extract(epoch FROM reset_after) / 60) AS reset_after_min
FROM apikit.rate_limit_state WHERE policy <> 'default' ORDER BY policy, key;
SELECT policy, allowed, denied, bypassed, evicted
FROM apikit.rate_limit_stats ORDER BY policy;

-- apikit.ratelimit_enabled = off: everything passes, counted as bypassed.
SET apikit.ratelimit_enabled = off;
SELECT apikit.rate_limit('bob', 'hourly', 5);
RESET apikit.ratelimit_enabled;
SELECT apikit.rate_limit('bob', 'hourly', 5);
SELECT policy, bypassed FROM apikit.rate_limit_stats WHERE policy = 'hourly';

-- Bad input.
SELECT apikit.rate_limit(NULL);
SELECT apikit.rate_limit('');
SELECT apikit.rate_limit('x', NULL);
SELECT apikit.rate_limit('x', 'no_such_policy');
SELECT apikit.rate_limit('x', 'hourly', -1);
SELECT apikit.rate_limit('x', 'hourly', NULL);
SELECT apikit.rate_limit_reset(NULL);
SELECT apikit.rate_limit_reset('x', 'no_such_policy');
SELECT apikit.rate_limit(repeat('k', 100000), 'hourly');	-- long keys are fine
-- An unknown policy is named in the error, but a name longer than any
-- policy's is cut: a long name must not become a long error.
SELECT apikit.rate_limit('x', repeat('p', 63));
SELECT apikit.rate_limit('x', repeat('p', 64));
SELECT apikit.rate_limit('x', repeat('p', 10000000));
SELECT apikit.rate_limit_reset('x', repeat('p', 100));

-- Several pairs as one request: every pair consumes, or none does.
INSERT INTO apikit.rate_limit_policies (name, rate, period, burst)
VALUES ('burst3', 1, '1 day', 2), ('quota10', 10, '1 day', 9);
SELECT ord, policy, key, allowed, "limit", remaining, retry_after IS NULL AS no_retry, table_full
FROM apikit.rate_limit_check_all(ARRAY['u1', 'u1'], ARRAY['burst3', 'quota10']);
SELECT count(*) FILTER (WHERE allowed) AS pairs_allowed
FROM apikit.rate_limit_check_all(ARRAY['u1', 'u1'], ARRAY['burst3', 'quota10']);
SELECT count(*) FILTER (WHERE allowed) AS pairs_allowed
FROM apikit.rate_limit_check_all(ARRAY['u1', 'u1'], ARRAY['burst3', 'quota10']);
-- The burst is spent: refused, and the quota, which would allow, keeps 7.
SELECT ord, policy, allowed, remaining,
       round(extract(epoch FROM retry_after) / 3600) AS retry_after_h,
       round(extract(epoch FROM reset_after) / 3600) AS reset_after_h
FROM apikit.rate_limit_check_all(ARRAY['u1', 'u1'], ARRAY['burst3', 'quota10']);
SELECT remaining FROM apikit.rate_limit_check('u1', 'quota10', 0);
-- Refused by a later pair: the earlier ones consume nothing either.
SELECT ord, policy, allowed, remaining
FROM apikit.rate_limit_check_all(ARRAY['u2', 'u1'], ARRAY['quota10', 'burst3']);
SELECT remaining FROM apikit.rate_limit_check('u2', 'quota10', 0);
-- A pair named twice consumes twice; refused as a whole when the second
-- would not fit.
SELECT ord, allowed, remaining FROM apikit.rate_limit_check_all(ARRAY['d', 'd'], ARRAY['burst3', 'burst3']);
SELECT ord, allowed, remaining FROM apikit.rate_limit_check_all(ARRAY['d', 'd'], ARRAY['burst3', 'burst3']);
SELECT remaining FROM apikit.rate_limit_check('d', 'burst3', 0);
-- Cost 0 only looks; a cost above a limit can never pass; weighted costs.
SELECT ord, allowed, remaining FROM apikit.rate_limit_check_all(ARRAY['w', 'w'], ARRAY['burst3', 'quota10'], 0);
SELECT ord, allowed, remaining, retry_after IS NULL AS never
FROM apikit.rate_limit_check_all(ARRAY['w', 'w'], ARRAY['burst3', 'quota10'], 4);
SELECT ord, allowed, remaining FROM apikit.rate_limit_check_all(ARRAY['w', 'w'], ARRAY['burst3', 'quota10'], 3);
-- Nothing to check: no rows.
SELECT count(*) FROM apikit.rate_limit_check_all('{}', '{}');
-- Counted as what happened: a refusal counts for the policy that refused,
-- not for the pairs that would have allowed.
SELECT policy, allowed, denied FROM apikit.rate_limit_stats
WHERE policy IN ('burst3', 'quota10') ORDER BY policy;
-- Switched off: every pair passes, counted as bypassed.
SET apikit.ratelimit_enabled = off;
SELECT ord, allowed FROM apikit.rate_limit_check_all(ARRAY['u1', 'u1'], ARRAY['burst3', 'quota10']);
RESET apikit.ratelimit_enabled;
SELECT policy, bypassed FROM apikit.rate_limit_stats
WHERE policy IN ('burst3', 'quota10') ORDER BY policy;
-- Bad input.
SELECT * FROM apikit.rate_limit_check_all(NULL, ARRAY['burst3']);
SELECT * FROM apikit.rate_limit_check_all(ARRAY['u1'], NULL);
SELECT * FROM apikit.rate_limit_check_all(ARRAY['u1'], ARRAY['burst3'], NULL);
SELECT * FROM apikit.rate_limit_check_all(ARRAY['u1', NULL], ARRAY['burst3', 'quota10']);
SELECT * FROM apikit.rate_limit_check_all(ARRAY['u1', 'u1'], ARRAY['burst3', NULL]);
SELECT * FROM apikit.rate_limit_check_all(ARRAY['u1', 'u1'], ARRAY['burst3']);
SELECT * FROM apikit.rate_limit_check_all(ARRAY[['u1'], ['u1']], ARRAY[['burst3'], ['quota10']]);
SELECT * FROM apikit.rate_limit_check_all(ARRAY['u1', ''], ARRAY['burst3', 'quota10']);
SELECT * FROM apikit.rate_limit_check_all(ARRAY['u1'], ARRAY['no_such_policy']);
SELECT * FROM apikit.rate_limit_check_all(ARRAY['u1', 'u2'], ARRAY['burst3', repeat('q', 1000000)]);
SELECT * FROM apikit.rate_limit_check_all(ARRAY['u1'], ARRAY['burst3'], -1);
SELECT * FROM apikit.rate_limit_check_all(array_fill('k'::text, ARRAY[101]), array_fill('quota10'::text, ARRAY[101]));
SELECT count(*) FROM apikit.rate_limit_check_all(array_fill('k'::text, ARRAY[100]), array_fill('quota10'::text, ARRAY[100]), 0);

-- The behaviour of a full table is a server setting, not a session's.
SELECT boot_val, context FROM pg_settings WHERE name = 'apikit.ratelimit_when_full';
SET apikit.ratelimit_when_full = 'deny';
ALTER SYSTEM SET apikit.ratelimit_when_full = 'drop';
SELECT boot_val, context, min_val, max_val FROM pg_settings WHERE name = 'apikit.ratelimit_database_share';
SET apikit.ratelimit_database_share = 10;

-- Absurd policies are rejected by the table.
INSERT INTO apikit.rate_limit_policies VALUES ('zero', 0, '1 minute', 0);
INSERT INTO apikit.rate_limit_policies VALUES ('neg', 1, '-1 minute', 0);
INSERT INTO apikit.rate_limit_policies VALUES ('neg_burst', 1, '1 minute', -1);
INSERT INTO apikit.rate_limit_policies VALUES ('too_long', 1, '2 years', 0);
INSERT INTO apikit.rate_limit_policies VALUES ('huge_burst', 1, '1 day', 1000);
INSERT INTO apikit.rate_limit_policies VALUES ('too_fast', 2000000000, '1 second', 0);
INSERT INTO apikit.rate_limit_policies VALUES ('bad name', 1, '1 minute', 0);
INSERT INTO apikit.rate_limit_policies VALUES ('', 1, '1 minute', 0);

-- "default" can be changed, not removed.
DELETE FROM apikit.rate_limit_policies WHERE name = 'default';
UPDATE apikit.rate_limit_policies SET name = 'fallback' WHERE name = 'default';
INSERT INTO apikit.rate_limit_policies VALUES ('max_burst', 1, '1 minute', 2147483647);

-- Inserting "default" replaces it (this is how a restore keeps changes).
INSERT INTO apikit.rate_limit_policies VALUES ('default', 50, '1 minute', 5, 'changed');
SELECT name, rate, burst, description FROM apikit.rate_limit_policies WHERE name = 'default';
INSERT INTO apikit.rate_limit_policies VALUES ('default', 100, '1 minute', 20,
	'Used when a check names no policy: 100 per minute, bursts of 21');

-- Privileges: checks are for the roles they are granted to (a role that
-- may call them chooses keys, policies and costs in a table the whole
-- cluster shares); pre_request() works for every role; resetting is
-- administrative; keys are personal data, shown only to pg_read_all_stats
-- members, who also see how full the table is.
CREATE ROLE regress_rl_user;
CREATE ROLE regress_rl_api;
CREATE ROLE regress_rl_stats IN ROLE pg_read_all_stats;
GRANT EXECUTE ON FUNCTION apikit.rate_limit(text, text, integer),
	apikit.rate_limit_check(text, text, integer),
	apikit.rate_limit_check_all(text[], text[], integer),
	apikit.rate_limit_headers(text, text) TO regress_rl_api;
SET ROLE regress_rl_user;
SELECT apikit.rate_limit('grace', 'hourly');
SELECT apikit.rate_limit('grace', 'hourly', 1000000);
SELECT * FROM apikit.rate_limit_check('grace', 'hourly', 0);
SELECT * FROM apikit.rate_limit_check_all(ARRAY['grace'], ARRAY['hourly']);
SELECT apikit.rate_limit_headers('grace', 'hourly');
SELECT * FROM apikit.rate_limit_usage();
BEGIN READ ONLY;
SELECT set_config('request.jwt.claims', '{"sub": "grace"}', true) IS NOT NULL AS claims_set;
SELECT apikit.pre_request();
SELECT regexp_replace(current_setting('response.headers'), ';t=\d+', ';t=N') AS pre_request_headers;
COMMIT;
SELECT count(*) AS keys_visible FROM apikit.rate_limit_state;
SELECT count(*) > 0 AS stats_visible FROM apikit.rate_limit_stats;
SELECT apikit.rate_limit_reset('grace');
UPDATE apikit.rate_limit_policies SET rate = 1000 WHERE name = 'hourly';
RESET ROLE;
SET ROLE regress_rl_api;
SELECT apikit.rate_limit('grace', 'hourly');
SELECT allowed, remaining FROM apikit.rate_limit_check('grace', 'hourly', 0);
SELECT count(*) FROM apikit.rate_limit_check_all(ARRAY['grace'], ARRAY['hourly'], 0);
SELECT apikit.rate_limit_headers('grace', 'hourly') IS NOT NULL AS headers;
RESET ROLE;
SET ROLE regress_rl_stats;
SELECT count(*) > 0 AS keys_visible FROM apikit.rate_limit_state;
SELECT max_keys, places_used >= entries AS places_cover_entries,
       database_entries <= entries AS database_part_of_all
FROM apikit.rate_limit_usage();
RESET ROLE;
REVOKE EXECUTE ON FUNCTION apikit.rate_limit(text, text, integer),
	apikit.rate_limit_check(text, text, integer),
	apikit.rate_limit_check_all(text[], text[], integer),
	apikit.rate_limit_headers(text, text) FROM regress_rl_api;
DROP ROLE regress_rl_user;
DROP ROLE regress_rl_api;
DROP ROLE regress_rl_stats;

-- Keys a rule's source gives (null when the request does not carry it).
SELECT source, apikit.rate_limit_request_key(source,
	'{"sub": "u1", "email": "a@example.org"}',
	'{"x-forwarded-for": " 203.0.113.9 , 10.0.0.1", "x-api-key": "k-123"}', 'web_anon') AS key
FROM unnest(ARRAY['claim:sub', 'claim:email', 'claim:missing', 'ip', 'header:x-forwarded-for',
                  'header:x-api-key', 'header:x-missing', 'role', 'const:global']) AS source;

-- pre_request(), as PostgREST calls it: settings first, in a READ ONLY
-- transaction.  (test/t/002_ratelimit.pl replays it with every detail.)
CREATE FUNCTION pg_temp.request(method text, path text, claims text, headers text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	m text;
	d text;
BEGIN
	PERFORM set_config('request.method', method, true),
			set_config('request.path', path, true),
			set_config('request.jwt.claims', claims, true),
			set_config('request.headers', headers, true),
			set_config('response.headers', '', true);
	PERFORM apikit.pre_request();
	RETURN pg_temp.n('allowed ' || current_setting('response.headers'));
EXCEPTION WHEN SQLSTATE 'PGRST' THEN
	GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
	RETURN pg_temp.n('denied ' || m || ' ' || d);
END $$;

-- No rules: the default policy, keyed by the sub claim.
BEGIN READ ONLY;
SELECT pg_temp.request('GET', '/items', '{"sub": "u1"}', '{}');
COMMIT;

-- A rule for POST /orders keyed by the client address: two pass, the
-- third is answered with PostgREST's 429.
INSERT INTO apikit.rate_limit_policies VALUES ('orders', 1, '1 day', 1);
INSERT INTO apikit.rate_limit_rules (name, method, path_pattern, policy, key_source)
VALUES ('orders', 'POST', '/orders%', 'orders', 'ip');
SELECT pg_temp.request('POST', '/orders', '{}', '{"x-forwarded-for": "198.51.100.7"}')
FROM generate_series(1, 3);
-- A request that no rule matches gets the default policy.
SELECT pg_temp.request('GET', '/items', '{"sub": "u2"}', '{}');
-- A rule whose key is missing from the request falls back to sub, address, role.
UPDATE apikit.rate_limit_rules SET key_source = 'header:x-api-key';
SELECT pg_temp.request('POST', '/orders', '{"sub": "u3"}', '{}');
SELECT key FROM apikit.rate_limit_state WHERE policy = 'orders' ORDER BY key;
-- A request that one rule refuses consumes nothing from the others.
INSERT INTO apikit.rate_limit_policies VALUES ('burst2', 1, '1 day', 1), ('quota5', 5, '1 day', 4);
INSERT INTO apikit.rate_limit_rules (name, priority, method, policy, key_source)
VALUES ('a_burst', 1, 'PUT', 'burst2', 'claim:sub'), ('b_quota', 2, 'PUT', 'quota5', 'claim:sub');
SELECT pg_temp.request('PUT', '/items', '{"sub": "u9"}', '{}') FROM generate_series(1, 4);
SELECT policy, remaining FROM apikit.rate_limit_state WHERE key = 'claim:sub:u9' ORDER BY policy;
-- Refused by several: each is named, and Retry-After waits for the one
-- that allows last (the burst, a day), not for the first to refuse.
UPDATE apikit.rate_limit_policies SET burst = 0, rate = 2 WHERE name = 'quota5';
UPDATE apikit.rate_limit_rules SET priority = 3 WHERE name = 'a_burst';
SELECT pg_temp.request('PUT', '/items', '{"sub": "u9"}', '{}');
CREATE FUNCTION pg_temp.retry_after(method text, claims text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	d text;
BEGIN
	PERFORM set_config('request.method', method, true),
			set_config('request.path', '/items', true),
			set_config('request.jwt.claims', claims, true),
			set_config('request.headers', '{}', true);
	PERFORM apikit.pre_request();
	RETURN NULL;
EXCEPTION WHEN SQLSTATE 'PGRST' THEN
	GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
	RETURN (d::jsonb -> 'headers' ->> 'Retry-After')::integer;
END $$;
SELECT pg_temp.retry_after('PUT', '{"sub": "u9"}') BETWEEN 86000 AND 86400 AS waits_for_the_burst;
-- A policy renamed in use follows into the rules.
UPDATE apikit.rate_limit_policies SET name = 'quota2' WHERE name = 'quota5';
SELECT name, policy FROM apikit.rate_limit_rules ORDER BY name;
DELETE FROM apikit.rate_limit_rules WHERE name IN ('a_burst', 'b_quota');
-- "Retry in 1 second", in the singular.
INSERT INTO apikit.rate_limit_policies VALUES ('per_second', 1, '1 second', 0);
INSERT INTO apikit.rate_limit_rules (name, method, policy, key_source)
VALUES ('fast', 'PATCH', 'per_second', 'const:all');
SELECT pg_temp.request('PATCH', '/items', '{}', '{}') FROM generate_series(1, 2);
DELETE FROM apikit.rate_limit_rules WHERE name = 'fast';
-- Settings that are not what PostgREST sets are named, not a cast error.
CREATE FUNCTION pg_temp.pre_request_with(setting text, value text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config(setting, value, true);
	PERFORM apikit.pre_request();
END $$;
\set SHOW_CONTEXT never
SELECT pg_temp.pre_request_with('request.jwt.claims', 'not json');
SELECT pg_temp.pre_request_with('request.headers', '{"x-forwarded-for": "1.2.3.4"');
SELECT pg_temp.pre_request_with('request.jwt.claims', '"alice"');
SELECT pg_temp.pre_request_with('request.headers', '[]');
\set SHOW_CONTEXT errors

-- Nothing the SQL of rate limiting does depends on search_path.  A schema
-- that overloads the operators and functions it uses goes first in the
-- pinned search_path of each of its functions: none of them may be called
-- (each would say "hijacked").  The pinned search_path is what protects
-- these functions; this checks that it is not all that does.
CREATE SCHEMA evil;
CREATE FUNCTION evil.note(what text) RETURNS void LANGUAGE plpgsql
AS $$ BEGIN RAISE NOTICE 'hijacked: %', what; END $$;
DO $do$
DECLARE
	o record;
BEGIN
	-- operator, left type, right type, result type
	FOR o IN SELECT * FROM (VALUES
		('=', 'text', 'text', 'boolean'), ('<>', 'text', 'text', 'boolean'),
		('~', 'text', 'text', 'boolean'), ('!~', 'text', 'text', 'boolean'),
		('~~', 'text', 'text', 'boolean'), ('||', 'text', 'text', 'text'),
		('||', 'text[]', 'text', 'text[]'), ('->>', 'jsonb', 'text', 'text'),
		('||', 'jsonb', 'jsonb', 'jsonb'),
		('=', 'integer', 'integer', 'boolean'), ('<', 'integer', 'integer', 'boolean'),
		('>', 'integer', 'integer', 'boolean'), ('<=', 'integer', 'integer', 'boolean'),
		('>=', 'integer', 'integer', 'boolean'), ('=', 'bigint', 'integer', 'boolean'),
		('*', 'numeric', 'numeric', 'numeric'), ('/', 'numeric', 'numeric', 'numeric'),
		('+', 'numeric', 'numeric', 'numeric'), ('<', 'numeric', 'numeric', 'boolean'),
		('>', 'numeric', 'numeric', 'boolean'),
		('<=', 'interval', 'interval', 'boolean'), ('>', 'interval', 'interval', 'boolean'))
		AS v(op, l, r, res)
	LOOP
		EXECUTE format($f$
			CREATE FUNCTION evil.%s(a %s, b %s) RETURNS %s LANGUAGE plpgsql AS $b$
			BEGIN
				PERFORM evil.note(%L);
				RETURN a OPERATOR(pg_catalog.%s) b;
			END $b$ $f$,
			'op_' || md5(o.op || o.l || o.r), o.l, o.r, o.res,
			format('%s %s %s', o.l, o.op, o.r), o.op);
		EXECUTE format('CREATE OPERATOR evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = evil.%s)',
					   o.op, o.l, o.r, 'op_' || md5(o.op || o.l || o.r));
	END LOOP;
END $do$;
CREATE FUNCTION evil.current_setting(a text, b boolean) RETURNS text LANGUAGE plpgsql
AS $$ BEGIN PERFORM evil.note('current_setting'); RETURN pg_catalog.current_setting(a, b); END $$;
CREATE FUNCTION evil.set_config(a text, b text, c boolean) RETURNS text LANGUAGE plpgsql
AS $$ BEGIN PERFORM evil.note('set_config'); RETURN pg_catalog.set_config(a, b, c); END $$;
CREATE FUNCTION evil.jsonb_typeof(a jsonb) RETURNS text LANGUAGE plpgsql
AS $$ BEGIN PERFORM evil.note('jsonb_typeof'); RETURN pg_catalog.jsonb_typeof(a); END $$;
CREATE FUNCTION evil.format(a text, b anyelement) RETURNS text LANGUAGE plpgsql
AS $$ BEGIN PERFORM evil.note('format'); RETURN pg_catalog.format(a, b); END $$;
CREATE FUNCTION evil.cardinality(a text[]) RETURNS integer LANGUAGE plpgsql
AS $$ BEGIN PERFORM evil.note('cardinality'); RETURN pg_catalog.cardinality(a); END $$;
CREATE FUNCTION evil.array_to_string(a text[], b text) RETURNS text LANGUAGE plpgsql
AS $$ BEGIN PERFORM evil.note('array_to_string'); RETURN pg_catalog.array_to_string(a, b); END $$;
CREATE FUNCTION evil.btrim(a text) RETURNS text LANGUAGE plpgsql
AS $$ BEGIN PERFORM evil.note('btrim'); RETURN pg_catalog.btrim(a); END $$;
CREATE FUNCTION evil.split_part(a text, b text, c integer) RETURNS text LANGUAGE plpgsql
AS $$ BEGIN PERFORM evil.note('split_part'); RETURN pg_catalog.split_part(a, b, c); END $$;
CREATE FUNCTION evil.substr(a text, b integer) RETURNS text LANGUAGE plpgsql
AS $$ BEGIN PERFORM evil.note('substr'); RETURN pg_catalog.substr(a, b); END $$;
CREATE FUNCTION evil.ceil(a numeric) RETURNS numeric LANGUAGE plpgsql
AS $$ BEGIN PERFORM evil.note('ceil'); RETURN pg_catalog.ceil(a); END $$;
CREATE FUNCTION evil.round(a numeric, b integer) RETURNS numeric LANGUAGE plpgsql
AS $$ BEGIN PERFORM evil.note('round'); RETURN pg_catalog.round(a, b); END $$;
CREATE FUNCTION pg_temp.pin_search_path(path text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
			  WHERE p.pronamespace = 'apikit'::regnamespace
				AND p.proname IN ('pre_request', 'rate_limit_request_key', 'rate_limit_policies_check',
								  'rate_limit_policies_keep_default', 'rate_limit_policies_protect_default',
								  'rate_limit_rules_check', 'rate_limit_policies_in_use') LOOP
		EXECUTE format('ALTER FUNCTION %s SET search_path = %s', f, path);
	END LOOP;
END $$;
SELECT pg_temp.pin_search_path('evil, pg_catalog, pg_temp');
-- Every path of pre_request(): allowed, refused, settings that are not JSON
-- or not objects; then the triggers, and the keys of every source.
INSERT INTO apikit.rate_limit_rules (name, method, path_pattern, policy, key_source)
VALUES ('evil_ip', 'DELETE', '/evil%', 'burst2', 'ip');
SELECT pg_temp.request('DELETE', '/evil', '{"sub": "e1"}', '{"x-forwarded-for": "192.0.2.1, 10.0.0.1"}')
FROM generate_series(1, 3);
SELECT pg_temp.request('GET', '/evil', '{"sub": "e1"}', '{}');
\set SHOW_CONTEXT never
SELECT pg_temp.pre_request_with('request.jwt.claims', 'not json');
SELECT pg_temp.pre_request_with('request.headers', '[]');
\set SHOW_CONTEXT errors
INSERT INTO apikit.rate_limit_policies VALUES ('evil_ok', 10, '1 minute', 1);
INSERT INTO apikit.rate_limit_policies VALUES ('evil_bad', 1, '1 day', 1000);
INSERT INTO apikit.rate_limit_policies VALUES ('default', 100, '1 minute', 20,
	'Used when a check names no policy: 100 per minute, bursts of 21');
UPDATE apikit.rate_limit_policies SET name = 'evil_default' WHERE name = 'default';
DELETE FROM apikit.rate_limit_policies WHERE name = 'burst2';
INSERT INTO apikit.rate_limit_rules (name, policy, key_source) VALUES ('evil_bad', 'evil_ok', 'cookie:x');
SELECT source, apikit.rate_limit_request_key(source, '{"sub": "u1", "email": ""}',
	'{"x-forwarded-for": " 203.0.113.9 , 10.0.0.1", "x-api-key": "k-123"}', 'web_anon') AS key
FROM unnest(ARRAY['claim:sub', 'claim:email', 'ip', 'header:x-api-key', 'header:x-missing',
                  'role', 'const:global']) AS source;
SELECT pg_temp.pin_search_path('pg_catalog, pg_temp');
DELETE FROM apikit.rate_limit_rules WHERE name = 'evil_ip';
DELETE FROM apikit.rate_limit_policies WHERE name = 'evil_ok';
SET client_min_messages = warning;
DROP SCHEMA evil CASCADE;
RESET client_min_messages;
-- Every function is pinned again.
SELECT p.proname, p.proconfig FROM pg_proc p
WHERE p.pronamespace = 'apikit'::regnamespace AND p.proconfig IS NOT NULL
  AND (p.proname LIKE 'rate_limit%' OR p.proname = 'pre_request') ORDER BY 1;

-- A policy in use by a rule cannot be deleted.
DELETE FROM apikit.rate_limit_policies WHERE name = 'orders';
DELETE FROM apikit.rate_limit_rules;
DELETE FROM apikit.rate_limit_policies WHERE name = 'orders';
-- Bad rules are rejected.
INSERT INTO apikit.rate_limit_rules (name, policy, key_source) VALUES ('r1', 'hourly', 'cookie:x');
INSERT INTO apikit.rate_limit_rules (name, policy, method) VALUES ('r2', 'hourly', 'get');
INSERT INTO apikit.rate_limit_rules (name, policy) VALUES ('r3', 'no_such_policy');

DELETE FROM apikit.rate_limit_policies WHERE name = 'hourly';
SELECT apikit.rate_limit('alice', 'hourly');

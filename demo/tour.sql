-- The apikit tour: run by make demo against a fresh cluster.  Each step says
-- what it shows; the output below it is real.  Later components add their
-- part at the end.
\pset footer off
\pset null '(null)'
\set ON_ERROR_STOP 1

\echo
\echo '== 1. apikit is loaded at server start =='
\echo 'shared_preload_libraries = apikit starts its scheduler, a background worker'
\echo 'connected to the database named by apikit.database:'
SELECT pid, backend_type, datname
FROM pg_stat_activity WHERE backend_type = 'apikit scheduler';

\echo
\echo '== 2. Install the SQL side in that database =='
\echo 'CREATE EXTENSION apikit puts everything in schema apikit.'
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS apikit;
CREATE EXTENSION apikit;
RESET client_min_messages;
SELECT extname, extversion, extnamespace::regnamespace AS schema
FROM pg_extension WHERE extname = 'apikit';

\echo
\echo '== 3. Settings DBAs tune: apikit.* =='
SELECT name, setting, unit, context, short_desc
FROM pg_settings WHERE name LIKE 'apikit.%' ORDER BY name;

\echo
\echo '== 4. The scheduler and its jobs =='
\echo 'Until apikit was installed here, the heartbeat job failed and said why'
\echo '(once in the server log, and in last_error).  Waiting for a run that works...'
DO $$
BEGIN
	FOR i IN 1..100 LOOP
		EXIT WHEN (SELECT last_error IS NULL AND last_run > now() - interval '1 second'
		           FROM apikit.worker_status() WHERE name = 'heartbeat');
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT name, "interval", runs, failures, last_run::time(0) AS last_run,
       last_duration, last_error, next_run::time(0) AS next_run
FROM apikit.worker_status();

\echo
\echo '== 5. Rate limiting in shared memory =='
\echo 'A policy is a row: 3 requests a minute with a burst of 2 (the limit is burst + 1).'
INSERT INTO apikit.rate_limit_policies (name, rate, period, burst, description)
VALUES ('tour', 3, '1 minute', 2, 'the tour''s policy');
\echo 'Alice sends five requests at once: three pass, then she has to wait.'
CREATE FUNCTION pg_temp.burst(who text, n integer)
RETURNS TABLE (request integer, allowed boolean, remaining integer, retry_after_s numeric)
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..n LOOP
		SELECT i, c.allowed, c.remaining, ceil(extract(epoch FROM c.retry_after))
		INTO request, allowed, remaining, retry_after_s
		FROM apikit.rate_limit_check(who, 'tour') c;
		RETURN NEXT;
	END LOOP;
END $$;
SELECT * FROM pg_temp.burst('alice', 5);
\echo 'Bob has his own quota:'
SELECT * FROM pg_temp.burst('bob', 1);

\echo 'Behind PostgREST (db-pre-request = "apikit.pre_request"), with a rule keyed by the'
\echo 'JWT sub claim: four GET requests from carol, each as PostgREST runs it.'
INSERT INTO apikit.rate_limit_rules (name, policy, key_source) VALUES ('everything', 'tour', 'claim:sub');
CREATE FUNCTION pg_temp.postgrest_get(sub text, n integer)
RETURNS TABLE (request integer, answer text)
LANGUAGE plpgsql AS $$
DECLARE
	m text;
	d text;
BEGIN
	FOR i IN 1..n LOOP
		request := i;
		PERFORM set_config('request.method', 'GET', true),
				set_config('request.path', '/items', true),
				set_config('request.jwt.claims', json_build_object('sub', sub)::text, true),
				set_config('response.headers', '', true);
		BEGIN
			PERFORM apikit.pre_request();
			answer := 'allowed; response.headers = ' || current_setting('response.headers');
		EXCEPTION WHEN SQLSTATE 'PGRST' THEN
			GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
			answer := E'SQLSTATE PGRST\nmessage: ' || m || E'\ndetail:  ' || d;
		END;
		RETURN NEXT;
	END LOOP;
END $$;
BEGIN READ ONLY;
SELECT * FROM pg_temp.postgrest_get('carol', 4);
COMMIT;
\echo 'The counters, per policy:'
SELECT * FROM apikit.rate_limit_stats ORDER BY policy;
DELETE FROM apikit.rate_limit_rules WHERE name = 'everything';

\echo
\echo '== 6. Audit logging =='
\echo 'One call audits a table: every change is logged by a C trigger in the same'
\echo 'transaction, with who did it; the password column is masked.'
CREATE TABLE public.customer (id int PRIMARY KEY, email text, plan text, password text);
SELECT apikit.audit_enable('public.customer', mask_columns => '{password}');
INSERT INTO public.customer VALUES (1, 'ann@example.com', 'free', 'hunter2');
\echo 'A change made through PostgREST: the actor is the JWT sub claim.'
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub": "ann", "role": "web"}', true) AS "PostgREST sets the claims";
UPDATE public.customer SET plan = 'pro' WHERE id = 1;
COMMIT;
\echo 'A change by the support tool, which names its user:'
BEGIN;
SET LOCAL apikit.actor = 'support:bob';
UPDATE public.customer SET email = 'ann@example.org' WHERE id = 1;
COMMIT;
\echo 'The row''s history:'
SELECT op, actor, changed_columns, old_row, new_row
  FROM apikit.audit_history('public.customer', '{"id": 1}');
\echo 'The row as it was after its first change:'
SELECT apikit.audit_row_at('public.customer', '{"id": 1}', ts) AS row_then
  FROM apikit.audit_history('public.customer', '{"id": 1}') WHERE op = 'UPDATE' ORDER BY id LIMIT 1;
\echo 'Sealing chains the committed rows into blocks (the scheduler does it every'
\echo 'apikit.audit_seal_interval); the digest is what you keep outside the database.'
SELECT apikit.audit_seal() AS rows_sealed;
SELECT apikit.audit_digest() AS digest \gset
\echo 'digest:' :digest
SELECT * FROM apikit.audit_verify(:'digest');
\echo 'A superuser edits the log to hide who made the change; verification finds it:'
UPDATE apikit.audit_log SET actor = 'nobody' WHERE actor = 'support:bob';
SELECT * FROM apikit.audit_verify(:'digest');
UPDATE apikit.audit_log SET actor = 'support:bob' WHERE actor = 'nobody';
\echo 'Ann asks to be forgotten: her values become redaction markers, the facts stay,'
\echo 'and the log still verifies.'
SELECT apikit.audit_redact('public.customer', '{"id": 1}') AS rows_redacted;
SELECT op, actor, new_row->'email' AS email FROM apikit.audit_history('public.customer', '{"id": 1}');
SELECT ok, blocks_checked FROM apikit.audit_verify(:'digest');

\echo
\echo '== 7. JSON Schema validation =='
\echo 'An API function takes an order; its body must match a JSON schema (draft'
\echo '2020-12). The schema lives in the registry, so functions and CHECK constraints'
\echo 'can $ref it by URI.'
INSERT INTO apikit.json_schemas VALUES ('https://shop.example/schemas/order', '{
	"type": "object",
	"required": ["sku", "qty", "email"],
	"additionalProperties": false,
	"properties": {
		"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
		"qty": {"type": "integer", "minimum": 1, "maximum": 100},
		"email": {"type": "string", "format": "email"}
	}
}');
CREATE TABLE public.orders (
	id bigserial PRIMARY KEY,
	body jsonb NOT NULL CHECK (apikit.json_validate('{"$ref": "https://shop.example/schemas/order"}', body))
);
CREATE FUNCTION public.create_order(body jsonb) RETURNS bigint
LANGUAGE plpgsql SET apikit.json_errors_as_http = on AS $$
DECLARE
	new_id bigint;
BEGIN
	PERFORM apikit.json_assert_valid('{"$ref": "https://shop.example/schemas/order"}', body);
	INSERT INTO public.orders (body) VALUES (body) RETURNING id INTO new_id;
	RETURN new_id;
END $$;
\echo 'A good body is stored:'
SELECT public.create_order('{"sku": "ABC-1234", "qty": 2, "email": "ann@example.com"}') AS order_id;
\echo 'A bad one: every error, with where it is in the body and in the schema.'
SELECT jsonb_pretty(apikit.json_validation_errors('{"$ref": "https://shop.example/schemas/order"}',
	'{"sku": "abc", "qty": 0, "email": "ann at example", "coupon": "FREE"}')) AS errors;
\echo 'Through PostgREST (POST /rpc/create_order), the same body is a 400. This is the'
\echo 'error PostgREST turns into the response: SQLSTATE PGRST, the body in MESSAGE,'
\echo 'the status in DETAIL.'
DO $$
DECLARE
	detail text;
BEGIN
	PERFORM public.create_order('{"sku": "abc", "qty": 0, "email": "ann at example"}');
EXCEPTION WHEN SQLSTATE 'PGRST' THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RAISE NOTICE 'HTTP status %', detail::jsonb->'status';
	RAISE NOTICE 'response body %', jsonb_pretty(SQLERRM::jsonb);
END $$;
\echo 'And the CHECK constraint keeps direct writes honest too:'
DO $$
BEGIN
	INSERT INTO public.orders (body) VALUES ('{"sku": "ABC-1234", "qty": 1000, "email": "x@example.com"}');
EXCEPTION WHEN check_violation THEN
	RAISE NOTICE 'refused: %', SQLERRM;
END $$;

\echo
\echo 'Coming next in apikit: read/write routing, anomaly detection.'

--
-- apikit.* settings: defaults, contexts, validation, the reserved prefix,
-- and PostgREST's prefixes left alone.
--
-- boot_val, not setting: make installcheck may run on a configured server.
SELECT name, unit, context, vartype, min_val, max_val, boot_val
FROM pg_settings
WHERE name LIKE 'apikit.%'
ORDER BY name;

-- apikit.database is read at server start only.
SET apikit.database = 'other';
-- The heartbeat interval belongs in postgresql.conf (reload), not a session.
SET apikit.heartbeat_interval = '5s';
SELECT set_config('apikit.heartbeat_interval', '5s', false);

-- Values are validated before ALTER SYSTEM writes them.  (PostgreSQL 18
-- words the range error differently, so only its SQLSTATE is shown.)
\set VERBOSITY sqlstate
ALTER SYSTEM SET apikit.heartbeat_interval = '-1s';
\set VERBOSITY default
ALTER SYSTEM SET apikit.heartbeat_interval = 'soon';
ALTER SYSTEM SET apikit.heartbeat_interval = '1 fortnight';
-- Jobs are scheduled in milliseconds: a shorter interval would round to 0,
-- which means "off", so it is refused.  Fractions of a second are kept.
ALTER SYSTEM SET apikit.heartbeat_interval = '0.5ms';
ALTER SYSTEM SET apikit.audit_seal_interval = '100us';

-- The apikit prefix is reserved: a misspelt name is an error, not a
-- silently ignored placeholder.
SET apikit.heartbeat_intervall = '5s';
SHOW apikit.no_such_setting;

-- PostgREST's per-request prefixes are not touched.
SET request.jwt.claims = '{"sub": "alice", "role": "web_user"}';
SELECT current_setting('request.jwt.claims')::json ->> 'sub' AS sub;
BEGIN;
SELECT set_config('response.headers', '[{"X-Test": "1"}]', true);
SELECT current_setting('response.headers');
COMMIT;
SET pgrst.db_schemas = 'api';
SHOW pgrst.db_schemas;
RESET request.jwt.claims;
RESET pgrst.db_schemas;

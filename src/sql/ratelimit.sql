-- Rate limiting: GCRA in shared memory, policies in a table.

-- Policies are edited by DBAs with plain SQL.  The constraints keep every
-- policy exact and far from overflow: the burst window tau = period / rate
-- * (burst + 1) is at most 366 days, the emission interval at least 1 ns.
CREATE TABLE apikit.rate_limit_policies (
	name text PRIMARY KEY
		CHECK (name ~ '^[A-Za-z0-9_.:-]{1,63}$'),
	rate integer NOT NULL CHECK (rate > 0),
	period interval NOT NULL
		CHECK (period > interval '0' AND period <= interval '366 days'),
	burst integer NOT NULL DEFAULT 0 CHECK (burst >= 0),
	description text,
	CONSTRAINT rate_limit_policies_emission_check
		CHECK (extract(epoch FROM period) * 1000000000 >= rate),
	CONSTRAINT rate_limit_policies_tau_check
		CHECK (extract(epoch FROM period) / rate * (burst::numeric + 1) <= 366 * 86400)
);

COMMENT ON TABLE apikit.rate_limit_policies IS
	'Rate-limit policies: rate requests per period, with a burst (limit = burst + 1)';

INSERT INTO apikit.rate_limit_policies (name, rate, period, burst, description)
VALUES ('default', 100, interval '1 minute', 20,
		'Used when a check names no policy: 100 per minute, bursts of 21');

-- Every backend caches the policies; this makes a committed change reach
-- them all (see ratelimit_policy.c).
CREATE FUNCTION apikit.rate_limit_policies_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'apikit_rate_limit_policies_changed'
LANGUAGE C;

CREATE TRIGGER rate_limit_policies_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON apikit.rate_limit_policies
	FOR EACH STATEMENT EXECUTE FUNCTION apikit.rate_limit_policies_changed();

-- pg_dump keeps the rows, the built-in "default" among them.  CREATE
-- EXTENSION has already made a "default" when a restore copies the rows
-- back, so an inserted "default" replaces the existing one instead of
-- failing on the primary key.
CREATE FUNCTION apikit.rate_limit_policies_keep_default()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.name = 'default' THEN
		UPDATE apikit.rate_limit_policies
		   SET rate = NEW.rate, period = NEW.period, burst = NEW.burst,
		       description = NEW.description
		 WHERE name = 'default';
		IF FOUND THEN
			RETURN NULL;
		END IF;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER rate_limit_policies_keep_default
	BEFORE INSERT ON apikit.rate_limit_policies
	FOR EACH ROW EXECUTE FUNCTION apikit.rate_limit_policies_keep_default();

SELECT pg_catalog.pg_extension_config_dump('apikit.rate_limit_policies', '');

-- Policies say nothing personal; checks run as any role and read them.
GRANT SELECT ON apikit.rate_limit_policies TO PUBLIC;

CREATE FUNCTION apikit.rate_limit(key text, policy text DEFAULT 'default', cost integer DEFAULT 1)
RETURNS boolean
AS 'MODULE_PATHNAME', 'apikit_rate_limit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION apikit.rate_limit(text, text, integer) IS
	'Consume cost units of the key''s quota under the policy; true when allowed';

CREATE FUNCTION apikit.rate_limit_check(
	key text, policy text DEFAULT 'default', cost integer DEFAULT 1,
	OUT allowed boolean, OUT "limit" integer, OUT remaining integer,
	OUT retry_after interval, OUT reset_after interval)
RETURNS record
AS 'MODULE_PATHNAME', 'apikit_rate_limit_check'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION apikit.rate_limit_check(text, text, integer) IS
	'Consume and answer in full: allowed, limit, remaining, retry_after (null when allowed), reset_after';

CREATE FUNCTION apikit.rate_limit_reset(key text, policy text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'apikit_rate_limit_reset'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION apikit.rate_limit_reset(text, text) IS
	'Forget the key''s state under one policy, or under every policy; returns the entries removed';

-- Resetting someone's limit is an administrative act.
REVOKE ALL ON FUNCTION apikit.rate_limit_reset(text, text) FROM PUBLIC;

CREATE FUNCTION apikit.rate_limit_headers(key text, policy text DEFAULT 'default')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'apikit_rate_limit_headers'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION apikit.rate_limit_headers(text, text) IS
	'RateLimit-Policy and RateLimit header values (IETF httpapi draft) for the key''s current state, without consuming';

CREATE FUNCTION apikit.rate_limit_state_rows(
	OUT policy text, OUT key text, OUT remaining integer, OUT reset_after interval)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'apikit_rate_limit_state'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- The function hides every row from roles without pg_read_all_stats.
CREATE VIEW apikit.rate_limit_state AS
	SELECT policy, key, remaining, reset_after FROM apikit.rate_limit_state_rows();

COMMENT ON VIEW apikit.rate_limit_state IS
	'Keys with a limit in use; rows only for superusers and pg_read_all_stats members';

CREATE FUNCTION apikit.rate_limit_stats_rows(
	OUT policy text, OUT allowed bigint, OUT denied bigint,
	OUT bypassed bigint, OUT evicted bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'apikit_rate_limit_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW apikit.rate_limit_stats AS
	SELECT policy, allowed, denied, bypassed, evicted FROM apikit.rate_limit_stats_rows();

COMMENT ON VIEW apikit.rate_limit_stats IS
	'Per policy: checks allowed, denied and bypassed, and live states evicted, since the server started';

GRANT SELECT ON apikit.rate_limit_state, apikit.rate_limit_stats TO PUBLIC;

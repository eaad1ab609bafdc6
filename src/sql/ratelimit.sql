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
	burst integer NOT NULL DEFAULT 0 CHECK (burst >= 0 AND burst < 2147483647),
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
-- Also when rows arrive by logical replication (session_replication_role).
ALTER TABLE apikit.rate_limit_policies ENABLE ALWAYS TRIGGER rate_limit_policies_keep_default;

-- "default" is what a check that names no policy, and pre_request() for a
-- request no rule matches, rely on: it can be changed, not removed.
CREATE FUNCTION apikit.rate_limit_policies_protect_default()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF OLD.name = 'default' AND (TG_OP = 'DELETE' OR NEW.name <> 'default') THEN
		RAISE EXCEPTION 'rate-limit policy "default" cannot be removed or renamed'
			USING ERRCODE = 'object_in_use',
				  HINT = 'Change its rate, period and burst instead.';
	END IF;
	RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE TRIGGER rate_limit_policies_protect_default
	BEFORE DELETE OR UPDATE OF name ON apikit.rate_limit_policies
	FOR EACH ROW EXECUTE FUNCTION apikit.rate_limit_policies_protect_default();

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

-- Rules for apikit.pre_request(): which requests a policy applies to, and
-- what identifies the client.  Every matching rule is checked (in priority
-- order); the request is denied if any of them denies.  With no rules at
-- all, the "default" policy applies, keyed by the JWT "sub" claim, else the
-- first X-Forwarded-For address, else the role.
CREATE TABLE apikit.rate_limit_rules (
	name text PRIMARY KEY,
	priority integer NOT NULL DEFAULT 100,
	method text CHECK (method ~ '^[A-Z]+$'),		-- null: any method
	path_pattern text,								-- LIKE pattern on request.path; null: any
	role name,										-- null: any role
	policy text NOT NULL
		REFERENCES apikit.rate_limit_policies (name) ON UPDATE CASCADE,
	key_source text NOT NULL DEFAULT 'claim:sub'
		CHECK (key_source ~ '^(claim:[A-Za-z0-9_.-]+|header:[a-z0-9-]+|ip|role|const:[^[:space:]]+)$'),
	description text
);

COMMENT ON TABLE apikit.rate_limit_rules IS
	'Which requests apikit.pre_request() limits with which policy, keyed by a JWT claim, a header, the client address, the role or a constant';

SELECT pg_catalog.pg_extension_config_dump('apikit.rate_limit_rules', '');

-- The key a rule's source gives for this request, or null when the request
-- does not carry it (no JWT, no such header).
CREATE FUNCTION apikit.rate_limit_request_key(source text, claims jsonb, headers jsonb, who text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN source LIKE 'claim:%' THEN
			source || ':' || nullif(claims ->> substr(source, 7), '')
		WHEN source = 'ip' OR source = 'header:x-forwarded-for' THEN
			'ip:' || nullif(btrim(split_part(headers ->> 'x-forwarded-for', ',', 1)), '')
		WHEN source LIKE 'header:%' THEN
			source || ':' || nullif(headers ->> substr(source, 8), '')
		WHEN source = 'role' THEN 'role:' || who
		WHEN source LIKE 'const:%' THEN source
	END
$$;

CREATE FUNCTION apikit.pre_request()
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
	headers jsonb := nullif(current_setting('request.headers', true), '')::jsonb;
	req_method text := current_setting('request.method', true);
	req_path text := current_setting('request.path', true);
	-- PostgREST switches role with SET LOCAL ROLE; inside this SECURITY
	-- DEFINER function current_user is the owner, the setting is the caller.
	who text := coalesce(nullif(current_setting('role', true), 'none'), session_user::text);
	fallback text;
	rule record;
	answer record;
	h jsonb;
	policies text[] := '{}';
	limits text[] := '{}';
	denied record;
	denied_policy text;
	checked boolean := false;
	wait_s bigint;
BEGIN
	fallback := coalesce(apikit.rate_limit_request_key('claim:sub', claims, headers, who),
						 apikit.rate_limit_request_key('ip', claims, headers, who),
						 apikit.rate_limit_request_key('role', claims, headers, who));

	FOR rule IN
		SELECT r.policy,
			   coalesce(apikit.rate_limit_request_key(r.key_source, claims, headers, who),
						fallback) AS key
		FROM apikit.rate_limit_rules r
		WHERE (r.method IS NULL OR r.method = req_method)
		  AND (r.path_pattern IS NULL OR req_path LIKE r.path_pattern)
		  AND (r.role IS NULL OR r.role::text = who)
		ORDER BY r.priority, r.name
	LOOP
		checked := true;
		answer := apikit.rate_limit_check(rule.key, rule.policy);
		h := apikit.rate_limit_headers(rule.key, rule.policy);
		policies := policies || (h ->> 'RateLimit-Policy');
		limits := limits || (h ->> 'RateLimit');
		IF NOT answer.allowed AND denied_policy IS NULL THEN
			denied := answer;
			denied_policy := rule.policy;
		END IF;
	END LOOP;

	IF NOT checked THEN
		answer := apikit.rate_limit_check(fallback, 'default');
		h := apikit.rate_limit_headers(fallback, 'default');
		policies := ARRAY[h ->> 'RateLimit-Policy'];
		limits := ARRAY[h ->> 'RateLimit'];
		IF NOT answer.allowed THEN
			denied := answer;
			denied_policy := 'default';
		END IF;
	END IF;

	-- (A record is "IS NOT NULL" only when every field is: test the name.)
	IF denied_policy IS NOT NULL THEN
		-- Whole seconds, rounded up, and at least one.
		wait_s := greatest(1, ceil(extract(epoch FROM coalesce(denied.retry_after, denied.reset_after))));
		RAISE SQLSTATE 'PGRST' USING
			message = jsonb_build_object(
				'code', 'AK429',
				'message', 'Too many requests',
				'details', format('The request exceeds rate-limit policy "%s".', denied_policy),
				'hint', format('Retry in %s seconds.', wait_s))::text,
			detail = jsonb_build_object(
				'status', 429,
				'headers', jsonb_build_object(
					'Retry-After', wait_s::text,
					'RateLimit-Policy', array_to_string(policies, ', '),
					'RateLimit', array_to_string(limits, ', ')))::text;
	END IF;

	-- Append to what earlier code set: response.headers is one setting.
	PERFORM set_config('response.headers',
		(coalesce(nullif(current_setting('response.headers', true), '')::jsonb, '[]'::jsonb)
		 || jsonb_build_array(
				jsonb_build_object('RateLimit-Policy', array_to_string(policies, ', ')),
				jsonb_build_object('RateLimit', array_to_string(limits, ', '))))::text,
		true);
END
$$;

COMMENT ON FUNCTION apikit.pre_request() IS
	'PostgREST db-pre-request hook: applies apikit.rate_limit_rules, answers 429 with Retry-After and RateLimit headers, or adds RateLimit headers to the response';

GRANT EXECUTE ON FUNCTION apikit.pre_request() TO PUBLIC;

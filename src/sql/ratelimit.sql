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

-- Constraint names are not messages: this trigger says what is wrong with a
-- policy, in the constraints' terms, before they would.  (They stay, as the
-- last line of defence: a restore with --disable-triggers still meets them.)
--
-- The functions of this file qualify every operator, function and type
-- that is not SQL syntax (OPERATOR(pg_catalog.=), pg_catalog.format,
-- pg_catalog.text), so that nothing they do depends on search_path, even if
-- the pinned one were lost; EXTRACT, NULLIF-free CASEs, COALESCE, GREATEST
-- and keyword types (integer, numeric, boolean, interval) are syntax that
-- never consults it.
CREATE FUNCTION apikit.rate_limit_policies_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	seconds numeric;
	window_s numeric;
BEGIN
	-- Only for apikit's table: fired on another, NEW and OLD are not policies.
	IF TG_RELID OPERATOR(pg_catalog.<>) 'apikit.rate_limit_policies'::pg_catalog.regclass THEN
		RAISE EXCEPTION 'apikit.rate_limit_policies_check() can only be a trigger of apikit.rate_limit_policies'
			USING ERRCODE = '39P01',
				  DETAIL = pg_catalog.format('It was fired by trigger "%s" on table %s.', TG_NAME, TG_RELID::pg_catalog.regclass);
	END IF;
	seconds := extract(epoch FROM NEW.period);
	IF NEW.name OPERATOR(pg_catalog.!~) '^[A-Za-z0-9_.:-]{1,63}$' THEN
		RAISE EXCEPTION 'rate-limit policy name "%" is not valid', NEW.name
			USING ERRCODE = 'check_violation', CONSTRAINT = 'rate_limit_policies_name_check',
				  DETAIL = 'A name is 1 to 63 letters, digits, "_", ".", ":" or "-": it is sent in HTTP headers.';
	END IF;
	IF NEW.rate OPERATOR(pg_catalog.<=) 0 THEN
		RAISE EXCEPTION 'rate-limit policy "%" must have a rate of at least 1', NEW.name
			USING ERRCODE = 'check_violation', CONSTRAINT = 'rate_limit_policies_rate_check',
				  DETAIL = pg_catalog.format('Its rate is %s.', NEW.rate),
				  HINT = 'The rate is how many requests a period admits.';
	END IF;
	IF NEW.period OPERATOR(pg_catalog.<=) interval '0'
	   OR NEW.period OPERATOR(pg_catalog.>) interval '366 days' THEN
		RAISE EXCEPTION 'rate-limit policy "%" must have a period longer than 0 and at most 366 days', NEW.name
			USING ERRCODE = 'check_violation', CONSTRAINT = 'rate_limit_policies_period_check',
				  DETAIL = pg_catalog.format('Its period is %s.', NEW.period);
	END IF;
	IF NEW.burst OPERATOR(pg_catalog.<) 0 OR NEW.burst OPERATOR(pg_catalog.>=) 2147483647 THEN
		RAISE EXCEPTION 'rate-limit policy "%" must have a burst from 0 to 2147483646', NEW.name
			USING ERRCODE = 'check_violation', CONSTRAINT = 'rate_limit_policies_burst_check',
				  DETAIL = pg_catalog.format('Its burst is %s.', NEW.burst),
				  HINT = 'The burst is how many requests may come at once beyond the first.';
	END IF;
	IF seconds OPERATOR(pg_catalog.*) 1000000000 OPERATOR(pg_catalog.<) NEW.rate THEN
		RAISE EXCEPTION 'rate-limit policy "%" admits more than one request per nanosecond', NEW.name
			USING ERRCODE = 'check_violation', CONSTRAINT = 'rate_limit_policies_emission_check',
				  DETAIL = pg_catalog.format('%s requests per %s leave less than 1 ns between two.', NEW.rate, NEW.period),
				  HINT = 'Lower the rate or lengthen the period.';
	END IF;
	window_s := seconds OPERATOR(pg_catalog./) NEW.rate
		OPERATOR(pg_catalog.*) (NEW.burst::pg_catalog.numeric OPERATOR(pg_catalog.+) 1);
	IF window_s OPERATOR(pg_catalog.>) 31622400 THEN		-- 366 days
		RAISE EXCEPTION 'rate-limit policy "%" has a burst window longer than 366 days', NEW.name
			USING ERRCODE = 'check_violation', CONSTRAINT = 'rate_limit_policies_tau_check',
				  DETAIL = pg_catalog.format('The window period / rate * (burst + 1) is %s days.',
								  pg_catalog.round(window_s OPERATOR(pg_catalog./) 86400, 1)),
				  HINT = 'Lower the burst, or shorten the period for the same ratio: a state lasts up to one window.';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER rate_limit_policies_check
	BEFORE INSERT OR UPDATE ON apikit.rate_limit_policies
	FOR EACH ROW EXECUTE FUNCTION apikit.rate_limit_policies_check();

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
	-- Only for apikit's table: fired on another, NEW and OLD are not policies.
	IF TG_RELID OPERATOR(pg_catalog.<>) 'apikit.rate_limit_policies'::pg_catalog.regclass THEN
		RAISE EXCEPTION 'apikit.rate_limit_policies_changed() can only be a trigger of apikit.rate_limit_policies'
			USING ERRCODE = '39P01',
				  DETAIL = pg_catalog.format('It was fired by trigger "%s" on table %s.', TG_NAME, TG_RELID::pg_catalog.regclass);
	END IF;
	IF NEW.name OPERATOR(pg_catalog.=) 'default' THEN
		UPDATE apikit.rate_limit_policies
		   SET rate = NEW.rate, period = NEW.period, burst = NEW.burst,
		       description = NEW.description
		 WHERE name OPERATOR(pg_catalog.=) 'default';
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
	-- Only for apikit's table: fired on another, NEW and OLD are not policies.
	IF TG_RELID OPERATOR(pg_catalog.<>) 'apikit.rate_limit_policies'::pg_catalog.regclass THEN
		RAISE EXCEPTION 'apikit.rate_limit_policies_protect_default() can only be a trigger of apikit.rate_limit_policies'
			USING ERRCODE = '39P01',
				  DETAIL = pg_catalog.format('It was fired by trigger "%s" on table %s.', TG_NAME, TG_RELID::pg_catalog.regclass);
	END IF;
	IF OLD.name OPERATOR(pg_catalog.=) 'default'
	   AND (TG_OP OPERATOR(pg_catalog.=) 'DELETE' OR NEW.name OPERATOR(pg_catalog.<>) 'default') THEN
		RAISE EXCEPTION 'rate-limit policy "default" cannot be removed or renamed'
			USING ERRCODE = 'object_in_use',
				  HINT = 'Change its rate, period and burst instead.';
	END IF;
	RETURN CASE WHEN TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE TRIGGER rate_limit_policies_protect_default
	BEFORE DELETE OR UPDATE OF name ON apikit.rate_limit_policies
	FOR EACH ROW EXECUTE FUNCTION apikit.rate_limit_policies_protect_default();

SELECT pg_catalog.pg_extension_config_dump('apikit.rate_limit_policies', '');

-- Policies say nothing personal; pre_request() reads them for every role.
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

CREATE FUNCTION apikit.rate_limit_check_all(
	keys text[], policies text[], cost integer DEFAULT 1,
	OUT ord integer, OUT policy text, OUT key text, OUT allowed boolean,
	OUT "limit" integer, OUT remaining integer, OUT retry_after interval,
	OUT reset_after interval, OUT table_full boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'apikit_rate_limit_check_all'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION apikit.rate_limit_check_all(text[], text[], integer) IS
	'Check the pairs (keys[i], policies[i]) as one request: every pair consumes cost, or, if any refuses, none consumes anything; one row per pair';

-- Checks change state in a table the whole cluster shares, and whoever may
-- call them chooses the keys, the policies and the costs: such a role can
-- fill the table (in evict mode, with states worth a full bucket each, so
-- that other users' exhausted buckets go first; in deny mode, locking new
-- clients out) and use up anyone's quota.  They are for the roles an API's
-- own code runs as, granted by the DBA (README, "Who may check").
-- apikit.pre_request() is SECURITY DEFINER and works for every role.
-- rate_limit_headers consumes nothing, but shows the state of any key,
-- which rate_limit_state keeps from ordinary roles.
REVOKE ALL ON FUNCTION apikit.rate_limit(text, text, integer),
	apikit.rate_limit_check(text, text, integer),
	apikit.rate_limit_check_all(text[], text[], integer) FROM PUBLIC;

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

REVOKE ALL ON FUNCTION apikit.rate_limit_headers(text, text) FROM PUBLIC;

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
	OUT bypassed bigint, OUT evicted bigint, OUT denied_full bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'apikit_rate_limit_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW apikit.rate_limit_stats AS
	SELECT policy, allowed, denied, bypassed, evicted, denied_full
	FROM apikit.rate_limit_stats_rows();

COMMENT ON VIEW apikit.rate_limit_stats IS
	'Per policy: checks allowed, denied and bypassed, live states evicted, and new keys denied because the table was full, since the server started';

GRANT SELECT ON apikit.rate_limit_state, apikit.rate_limit_stats TO PUBLIC;

-- How full the shared table is, for on-call staff: places used should equal
-- entries.  The table is the whole cluster's, so its counts say how busy
-- other databases are: for pg_read_all_stats (and pg_monitor) members.
CREATE FUNCTION apikit.rate_limit_usage(
	OUT max_keys integer, OUT places_used bigint, OUT entries bigint,
	OUT live_entries bigint, OUT database_entries bigint, OUT database_live_entries bigint,
	OUT database_max_keys integer)
RETURNS record
AS 'MODULE_PATHNAME', 'apikit_rate_limit_usage'
LANGUAGE C VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION apikit.rate_limit_usage() IS
	'How full the rate-limit table is: its size, places used, entries and live entries, in all and in this database, and how many this database may hold';

REVOKE ALL ON FUNCTION apikit.rate_limit_usage() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION apikit.rate_limit_usage() TO pg_read_all_stats;

-- Rules for apikit.pre_request(): which requests a policy applies to, and
-- what identifies the client.  Every matching rule is checked (in priority
-- order), as one decision: the request is denied if any of them denies, and
-- then consumes nothing from the others.  With no rules at
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

-- Messages instead of constraint names, as for policies.
CREATE FUNCTION apikit.rate_limit_rules_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- Only for apikit's table: fired on another, NEW is not a rule.
	IF TG_RELID OPERATOR(pg_catalog.<>) 'apikit.rate_limit_rules'::pg_catalog.regclass THEN
		RAISE EXCEPTION 'apikit.rate_limit_rules_check() can only be a trigger of apikit.rate_limit_rules'
			USING ERRCODE = '39P01',
				  DETAIL = pg_catalog.format('It was fired by trigger "%s" on table %s.', TG_NAME, TG_RELID::pg_catalog.regclass);
	END IF;
	IF NEW.method OPERATOR(pg_catalog.!~) '^[A-Z]+$' THEN
		RAISE EXCEPTION 'rate-limit rule "%" has the method "%", which is not an HTTP method name', NEW.name, NEW.method
			USING ERRCODE = 'check_violation', CONSTRAINT = 'rate_limit_rules_method_check',
				  HINT = 'Methods are upper case, as PostgREST sets request.method: GET, POST, PATCH. Null matches any method.';
	END IF;
	IF NEW.key_source OPERATOR(pg_catalog.!~) '^(claim:[A-Za-z0-9_.-]+|header:[a-z0-9-]+|ip|role|const:[^[:space:]]+)$' THEN
		RAISE EXCEPTION 'rate-limit rule "%" has the key source "%", which is not one apikit knows', NEW.name, NEW.key_source
			USING ERRCODE = 'check_violation', CONSTRAINT = 'rate_limit_rules_key_source_check',
				  DETAIL = 'A key source is claim:<name>, header:<name> (in lower case), ip, role or const:<text> (without spaces).';
	END IF;
	IF NEW.policy IS NOT NULL AND NOT EXISTS (
		SELECT FROM apikit.rate_limit_policies p WHERE p.name OPERATOR(pg_catalog.=) NEW.policy) THEN
		RAISE EXCEPTION 'rate-limit rule "%" names the policy "%", which does not exist', NEW.name, NEW.policy
			USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'rate_limit_rules_policy_fkey',
				  HINT = 'Policies are rows of apikit.rate_limit_policies: create it first.';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER rate_limit_rules_check
	BEFORE INSERT OR UPDATE ON apikit.rate_limit_rules
	FOR EACH ROW EXECUTE FUNCTION apikit.rate_limit_rules_check();

-- A policy that rules use cannot be deleted (the foreign key says so in
-- its own terms); this names the rules.  SECURITY DEFINER: whoever may
-- delete policies learns which rules stand in the way, nothing else.
CREATE FUNCTION apikit.rate_limit_policies_in_use()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	users pg_catalog.text;
BEGIN
	-- Only for apikit's table: fired on another, NEW and OLD are not policies.
	IF TG_RELID OPERATOR(pg_catalog.<>) 'apikit.rate_limit_policies'::pg_catalog.regclass THEN
		RAISE EXCEPTION 'apikit.rate_limit_policies_in_use() can only be a trigger of apikit.rate_limit_policies'
			USING ERRCODE = '39P01',
				  DETAIL = pg_catalog.format('It was fired by trigger "%s" on table %s.', TG_NAME, TG_RELID::pg_catalog.regclass);
	END IF;
	SELECT pg_catalog.string_agg(pg_catalog.format('"%s"', r.name), ', ' ORDER BY r.name) INTO users
	FROM apikit.rate_limit_rules r WHERE r.policy OPERATOR(pg_catalog.=) OLD.name;
	IF users IS NOT NULL THEN
		RAISE EXCEPTION 'rate-limit policy "%" is used by rules and cannot be deleted', OLD.name
			USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'rate_limit_rules_policy_fkey',
				  DETAIL = pg_catalog.format('Rules using it: %s.', users),
				  HINT = 'Delete those rules, or point them at another policy, first.';
	END IF;
	RETURN OLD;
END
$$;

CREATE TRIGGER rate_limit_policies_in_use
	BEFORE DELETE ON apikit.rate_limit_policies
	FOR EACH ROW EXECUTE FUNCTION apikit.rate_limit_policies_in_use();

-- These trigger functions serve apikit's own tables only: no role needs to
-- attach them elsewhere (PostgreSQL checks EXECUTE at CREATE TRIGGER, not
-- when the trigger fires, so apikit's own triggers keep working).
REVOKE ALL ON FUNCTION apikit.rate_limit_policies_check(), apikit.rate_limit_policies_changed(),
	apikit.rate_limit_policies_keep_default(), apikit.rate_limit_policies_protect_default(),
	apikit.rate_limit_rules_check(), apikit.rate_limit_policies_in_use() FROM PUBLIC;

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
	-- CASE WHEN v <> '' THEN ... END stands for NULLIF(v, ''), which is
	-- syntax that looks "=" up in search_path.
	SELECT CASE
		WHEN source OPERATOR(pg_catalog.~~) 'claim:%' THEN
			CASE WHEN claims OPERATOR(pg_catalog.->>) pg_catalog.substr(source, 7) OPERATOR(pg_catalog.<>) ''
				 THEN source OPERATOR(pg_catalog.||) ':'
					  OPERATOR(pg_catalog.||) (claims OPERATOR(pg_catalog.->>) pg_catalog.substr(source, 7)) END
		WHEN source OPERATOR(pg_catalog.=) 'ip' OR source OPERATOR(pg_catalog.=) 'header:x-forwarded-for' THEN
			(SELECT CASE WHEN a.addr OPERATOR(pg_catalog.<>) '' THEN 'ip:' OPERATOR(pg_catalog.||) a.addr END
			 FROM (SELECT pg_catalog.btrim(pg_catalog.split_part(
						headers OPERATOR(pg_catalog.->>) 'x-forwarded-for', ',', 1)) AS addr) a)
		WHEN source OPERATOR(pg_catalog.~~) 'header:%' THEN
			CASE WHEN headers OPERATOR(pg_catalog.->>) pg_catalog.substr(source, 8) OPERATOR(pg_catalog.<>) ''
				 THEN source OPERATOR(pg_catalog.||) ':'
					  OPERATOR(pg_catalog.||) (headers OPERATOR(pg_catalog.->>) pg_catalog.substr(source, 8)) END
		WHEN source OPERATOR(pg_catalog.=) 'role' THEN 'role:' OPERATOR(pg_catalog.||) who
		WHEN source OPERATOR(pg_catalog.~~) 'const:%' THEN source
	END
$$;

CREATE FUNCTION apikit.pre_request()
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	claims pg_catalog.jsonb;
	headers pg_catalog.jsonb;
	setting pg_catalog.text;
	value pg_catalog.text;
	req_method pg_catalog.text := pg_catalog.current_setting('request.method', true);
	req_path pg_catalog.text := pg_catalog.current_setting('request.path', true);
	-- PostgREST switches role with SET LOCAL ROLE; inside this SECURITY
	-- DEFINER function current_user is the owner, the setting is the caller.
	who pg_catalog.text := coalesce(
		CASE WHEN pg_catalog.current_setting('role', true) OPERATOR(pg_catalog.<>) 'none'
			 THEN pg_catalog.current_setting('role', true) END,
		session_user::pg_catalog.text);
	fallback pg_catalog.text;
	rule_keys pg_catalog.text[];
	rule_policies pg_catalog.text[];
	answer record;
	h pg_catalog.jsonb;
	policies pg_catalog.text[] := '{}';
	limits pg_catalog.text[] := '{}';
	denied pg_catalog.text[] := '{}';
	no_room boolean := false;
	wait_s bigint := 0;
	details pg_catalog.text;
BEGIN
	-- PostgREST sets both to JSON objects; anything else is a mistake of
	-- whoever set them, and is named as such rather than as a cast error.
	-- (CASE WHEN v <> '' THEN ... END stands for NULLIF(v, ''), which is
	-- syntax that looks "=" up in search_path.)
	BEGIN
		setting := 'request.jwt.claims';
		value := pg_catalog.current_setting(setting, true);
		claims := CASE WHEN value OPERATOR(pg_catalog.<>) '' THEN value::pg_catalog.jsonb END;
		setting := 'request.headers';
		value := pg_catalog.current_setting(setting, true);
		headers := CASE WHEN value OPERATOR(pg_catalog.<>) '' THEN value::pg_catalog.jsonb END;
	EXCEPTION WHEN invalid_text_representation OR untranslatable_character THEN
		GET STACKED DIAGNOSTICS details = PG_EXCEPTION_DETAIL;
		RAISE EXCEPTION 'setting "%" is not valid JSON', setting
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = details,
				  HINT = 'apikit.pre_request() reads the settings PostgREST makes: a JSON object, or nothing.';
	END;
	IF pg_catalog.jsonb_typeof(claims) OPERATOR(pg_catalog.<>) 'object'
	   OR pg_catalog.jsonb_typeof(headers) OPERATOR(pg_catalog.<>) 'object' THEN
		setting := CASE WHEN pg_catalog.jsonb_typeof(claims) OPERATOR(pg_catalog.<>) 'object'
						THEN 'request.jwt.claims' ELSE 'request.headers' END;
		RAISE EXCEPTION 'setting "%" is not a JSON object', setting
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('It is a JSON %s.',
					  pg_catalog.jsonb_typeof(CASE WHEN setting OPERATOR(pg_catalog.=) 'request.headers'
												  THEN headers ELSE claims END)),
				  HINT = 'apikit.pre_request() reads the settings PostgREST makes: a JSON object, or nothing.';
	END IF;

	fallback := coalesce(apikit.rate_limit_request_key('claim:sub', claims, headers, who),
						 apikit.rate_limit_request_key('ip', claims, headers, who),
						 apikit.rate_limit_request_key('role', claims, headers, who));

	SELECT pg_catalog.array_agg(r.policy ORDER BY r.priority, r.name),
		   pg_catalog.array_agg(coalesce(apikit.rate_limit_request_key(r.key_source, claims, headers, who),
										 fallback) ORDER BY r.priority, r.name)
	  INTO rule_policies, rule_keys
	  FROM apikit.rate_limit_rules r
	 WHERE (r.method IS NULL OR r.method OPERATOR(pg_catalog.=) req_method)
	   AND (r.path_pattern IS NULL OR req_path OPERATOR(pg_catalog.~~) r.path_pattern)
	   AND (r.role IS NULL OR r.role::pg_catalog.text OPERATOR(pg_catalog.=) who);
	IF rule_policies IS NULL THEN
		rule_policies := ARRAY['default'];
		rule_keys := ARRAY[fallback];
	END IF;

	-- One decision for every matching rule: a request refused by one rule
	-- consumes nothing from the others.
	FOR answer IN
		SELECT * FROM apikit.rate_limit_check_all(rule_keys, rule_policies) ORDER BY ord
	LOOP
		h := apikit.rate_limit_headers(answer.key, answer.policy);
		policies := policies OPERATOR(pg_catalog.||) (h OPERATOR(pg_catalog.->>) 'RateLimit-Policy');
		IF answer.table_full THEN
			limits := limits OPERATOR(pg_catalog.||) pg_catalog.format('"%s";r=0;t=%s', answer.policy,
				pg_catalog.ceil(extract(epoch FROM answer.retry_after))::bigint);
		ELSE
			limits := limits OPERATOR(pg_catalog.||) (h OPERATOR(pg_catalog.->>) 'RateLimit');
		END IF;
		IF NOT answer.allowed THEN
			IF answer.table_full THEN
				no_room := true;
			ELSIF NOT answer.policy OPERATOR(pg_catalog.=) ANY (denied) THEN
				denied := denied OPERATOR(pg_catalog.||) answer.policy;
			END IF;
			-- Whole seconds, rounded up: when every refusing rule allows.
			wait_s := greatest(wait_s,
				pg_catalog.ceil(extract(epoch FROM coalesce(answer.retry_after, answer.reset_after)))::bigint);
		END IF;
	END LOOP;

	IF no_room OR pg_catalog.cardinality(denied) OPERATOR(pg_catalog.>) 0 THEN
		wait_s := greatest(1, wait_s);
		details := pg_catalog.concat_ws(' ',
			CASE
				WHEN pg_catalog.cardinality(denied) OPERATOR(pg_catalog.=) 0 THEN NULL
				WHEN pg_catalog.cardinality(denied) OPERATOR(pg_catalog.=) 1 THEN
					pg_catalog.format('The request exceeds rate-limit policy "%s".', denied[1])
				ELSE pg_catalog.format('The request exceeds rate-limit policies "%s".',
									   pg_catalog.array_to_string(denied, '", "'))
			END,
			CASE WHEN no_room THEN
				'The rate-limit table is full: requests from new clients are refused until stored limits expire.'
			END);
		RAISE SQLSTATE 'PGRST' USING
			message = pg_catalog.jsonb_build_object(
				'code', 'AK429',
				'message', 'Too many requests',
				'details', details,
				'hint', pg_catalog.format('Retry in %s second%s.', wait_s,
										  CASE WHEN wait_s OPERATOR(pg_catalog.=) 1 THEN '' ELSE 's' END))::pg_catalog.text,
			detail = pg_catalog.jsonb_build_object(
				'status', 429,
				'headers', pg_catalog.jsonb_build_object(
					'Retry-After', wait_s::pg_catalog.text,
					'RateLimit-Policy', pg_catalog.array_to_string(policies, ', '),
					'RateLimit', pg_catalog.array_to_string(limits, ', ')))::pg_catalog.text;
	END IF;

	-- Append to what earlier code set: response.headers is one setting.
	value := pg_catalog.current_setting('response.headers', true);
	PERFORM pg_catalog.set_config('response.headers',
		(coalesce(CASE WHEN value OPERATOR(pg_catalog.<>) '' THEN value::pg_catalog.jsonb END,
				  '[]'::pg_catalog.jsonb)
		 OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(
				pg_catalog.jsonb_build_object('RateLimit-Policy', pg_catalog.array_to_string(policies, ', ')),
				pg_catalog.jsonb_build_object('RateLimit', pg_catalog.array_to_string(limits, ', '))))::pg_catalog.text,
		true);
END
$$;

COMMENT ON FUNCTION apikit.pre_request() IS
	'PostgREST db-pre-request hook: applies apikit.rate_limit_rules, answers 429 with Retry-After and RateLimit headers, or adds RateLimit headers to the response';

GRANT EXECUTE ON FUNCTION apikit.pre_request() TO PUBLIC;

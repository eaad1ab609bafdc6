
-- ---------------------------------------------------------------------------
-- JSON Schema validation of jsonb (src/json/jsonschema_*.c).
-- ---------------------------------------------------------------------------

-- Schemas that "$ref" names by URI resolve from here, and nowhere else:
-- nothing is fetched over the network.  Everyone may read it (validation
-- runs with the caller's privileges, in CHECK constraints too); only its
-- owner may change it, or the roles the owner grants INSERT to.
CREATE TABLE apikit.json_schemas (
	uri text PRIMARY KEY
		CONSTRAINT json_schemas_uri_has_no_fragment CHECK (position('#' IN uri) = 0),
	schema jsonb NOT NULL
);
COMMENT ON TABLE apikit.json_schemas IS
	'JSON schemas that $ref can name by URI (absolute, without a fragment)';
GRANT SELECT ON apikit.json_schemas TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('apikit.json_schemas', '');

-- Backends drop the compiled schemas that read the registry when it changes.
CREATE FUNCTION apikit.json_schemas_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'apikit_json_schemas_changed'
	LANGUAGE C;
CREATE TRIGGER json_schemas_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON apikit.json_schemas
	FOR EACH STATEMENT EXECUTE FUNCTION apikit.json_schemas_changed();
-- Also when logical replication applies a change (session_replication_role
-- = replica), so that a subscriber's backends see registry changes too.
ALTER TABLE apikit.json_schemas ENABLE ALWAYS TRIGGER json_schemas_changed;

-- Rows that could never work are refused, with a message saying why: a
-- URI that is not absolute (no "$ref" resolves to it), a built-in
-- meta-schema's URI, a schema its meta-schema refuses.
CREATE FUNCTION apikit.json_schemas_check() RETURNS trigger
	AS 'MODULE_PATHNAME', 'apikit_json_schemas_check'
	LANGUAGE C;
CREATE TRIGGER json_schemas_check
	BEFORE INSERT OR UPDATE ON apikit.json_schemas
	FOR EACH ROW EXECUTE FUNCTION apikit.json_schemas_check();
-- Internal: only the registry's own triggers run them (the C code also
-- refuses any other table), and CREATE TRIGGER needs EXECUTE.
REVOKE ALL ON FUNCTION apikit.json_schemas_changed(), apikit.json_schemas_check() FROM PUBLIC;

-- IMMUTABLE so that CHECK constraints and index expressions may use it.
-- No setting an ordinary role can change alters the answer: the two that
-- do (apikit.json_default_draft for schemas without "$schema",
-- apikit.json_format_assertion) are superuser-only, and the restore
-- leniency for unregistered references needs a superuser's session.  It
-- also depends on the registered schemas that "$ref" names: change those
-- with care where rows were already checked.
CREATE FUNCTION apikit.json_validate(schema jsonb, instance jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'apikit_json_validate'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.json_validate(jsonb, jsonb) IS
	'Whether instance is valid against the JSON schema (draft 2020-12 or 7)';

-- At most 100 errors (256 kB of them as JSON text); a last unit says how many more.
CREATE FUNCTION apikit.json_validation_errors(schema jsonb, instance jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'apikit_json_validation_errors'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.json_validation_errors(jsonb, jsonb) IS
	'Why instance is invalid, as JSON Schema "basic" output units (an empty array when valid; at most 100, then one saying how many more)';

CREATE FUNCTION apikit.json_schema_is_valid(schema jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'apikit_json_schema_is_valid'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.json_schema_is_valid(jsonb) IS
	'Whether the schema is valid against the meta-schema of its draft';

-- Not STRICT: a missing (NULL) body is an error, not a pass.
CREATE FUNCTION apikit.json_assert_valid(schema jsonb, instance jsonb) RETURNS void
	AS 'MODULE_PATHNAME', 'apikit_json_assert_valid'
	LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.json_assert_valid(jsonb, jsonb) IS
	'Raises 22023 (or PostgREST''s PGRST 400 with apikit.json_errors_as_http) when instance is invalid or NULL';

CREATE FUNCTION apikit.json_validate_uri(uri text, instance jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'apikit_json_validate_uri'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.json_validate_uri(text, jsonb) IS
	'Whether instance is valid against the schema registered under uri in apikit.json_schemas';

-- pg_jsonschema's signatures, so that CHECK constraints written for it
-- work unchanged (after SET search_path or a schema-qualified rewrite,
-- see README).  Its marks too: IMMUTABLE STRICT PARALLEL SAFE.  A schema
-- without "$schema" is 2020-12 and "format" is asserted only in draft 7,
-- as in pg_jsonschema, whatever apikit.json_* say.
CREATE FUNCTION apikit.json_matches_schema(schema json, instance json) RETURNS boolean
	AS 'MODULE_PATHNAME', 'apikit_json_matches_schema'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.json_matches_schema(json, json) IS
	'pg_jsonschema''s json_matches_schema: whether instance is valid against the JSON schema';

CREATE FUNCTION apikit.jsonb_matches_schema(schema json, instance jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'apikit_jsonb_matches_schema'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.jsonb_matches_schema(json, jsonb) IS
	'pg_jsonschema''s jsonb_matches_schema: whether instance is valid against the JSON schema';

CREATE FUNCTION apikit.jsonschema_is_valid(schema json) RETURNS boolean
	AS 'MODULE_PATHNAME', 'apikit_jsonschema_is_valid'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.jsonschema_is_valid(json) IS
	'pg_jsonschema''s jsonschema_is_valid: whether the schema is valid against its meta-schema (a NOTICE says where not)';

CREATE FUNCTION apikit.jsonschema_validation_errors(schema json, instance json) RETURNS text[]
	AS 'MODULE_PATHNAME', 'apikit_jsonschema_validation_errors'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.jsonschema_validation_errors(json, json) IS
	'pg_jsonschema''s jsonschema_validation_errors: the error messages, without locations (empty when valid)';

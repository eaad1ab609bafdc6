
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

-- IMMUTABLE so that CHECK constraints and index expressions may use it.
-- The answer also depends on apikit.json_default_draft (schemas without
-- "$schema"), apikit.json_format_assertion and registered schemas that
-- "$ref" names: change those with care where rows were already checked.
CREATE FUNCTION apikit.json_validate(schema jsonb, instance jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'apikit_json_validate'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.json_validate(jsonb, jsonb) IS
	'Whether instance is valid against the JSON schema (draft 2020-12 or 7)';

CREATE FUNCTION apikit.json_validation_errors(schema jsonb, instance jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'apikit_json_validation_errors'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.json_validation_errors(jsonb, jsonb) IS
	'Why instance is invalid, as JSON Schema "basic" output units (an empty array when valid)';

CREATE FUNCTION apikit.json_schema_is_valid(schema jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'apikit_json_schema_is_valid'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.json_schema_is_valid(jsonb) IS
	'Whether the schema is valid against the meta-schema of its draft';

CREATE FUNCTION apikit.json_assert_valid(schema jsonb, instance jsonb) RETURNS void
	AS 'MODULE_PATHNAME', 'apikit_json_assert_valid'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.json_assert_valid(jsonb, jsonb) IS
	'Raises 22023 (or PostgREST''s PGRST 400 with apikit.json_errors_as_http) when instance is invalid';

CREATE FUNCTION apikit.json_validate_uri(uri text, instance jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'apikit_json_validate_uri'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikit.json_validate_uri(text, jsonb) IS
	'Whether instance is valid against the schema registered under uri in apikit.json_schemas';

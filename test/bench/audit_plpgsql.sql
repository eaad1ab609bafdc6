-- The baseline: the generic plpgsql audit trigger measured in
-- ../shared/research/audit_bench.sh (to_jsonb of OLD and NEW into a log
-- table with a bigserial key), rewritten here, and the 10-column table the
-- audit benchmarks fill.
CREATE TABLE items_template (
	id bigserial PRIMARY KEY,
	a integer NOT NULL,
	b integer NOT NULL,
	c text NOT NULL,
	d text NOT NULL,
	e numeric NOT NULL,
	f timestamptz NOT NULL,
	g boolean NOT NULL,
	h text NOT NULL,
	i text NOT NULL
);

CREATE SCHEMA audit;
CREATE TABLE audit.log (
	id bigserial PRIMARY KEY,
	ts timestamptz NOT NULL DEFAULT now(),
	table_name text NOT NULL,
	op text NOT NULL,
	db_user text NOT NULL,
	old_row jsonb,
	new_row jsonb
);

CREATE FUNCTION audit.row_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
BEGIN
	INSERT INTO audit.log (ts, table_name, op, db_user, old_row, new_row)
	VALUES (now(),
			TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
			TG_OP,
			current_user,
			CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END,
			CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END);
	RETURN NULL;
END
$f$;

-- The same trigger writing rows of apikit.audit_log's shape (its columns,
-- and, as the bench script sets up, its indexes), so that the trigger's
-- cost can be told apart from the log's: everything but the hashes.
CREATE FUNCTION audit.row_trigger_apikit_shape() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
BEGIN
	INSERT INTO audit.log_apikit_shape
	VALUES (nextval('audit.log_apikit_shape_id_seq'), statement_timestamp(),
			pg_current_xact_id(), TG_OP, TG_RELID, TG_TABLE_SCHEMA, TG_TABLE_NAME,
			jsonb_build_object('id', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END),
			CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END,
			CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END,
			NULL, session_user, current_user, current_setting('application_name'),
			inet_client_addr(), NULL, '\x00'::bytea);
	RETURN NULL;
END
$f$;

-- Audit logging: C triggers write apikit.audit_log in the changing
-- transaction; sealing chains committed rows into tamper-evident blocks.

-- Auditors read the log.  Roles belong to the cluster, not the database:
-- the role may exist already (apikit in another database, a restore), and
-- two databases may create the extension at the same moment.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'apikit_auditor') THEN
		CREATE ROLE apikit_auditor NOLOGIN;
	END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
	NULL;
END
$$;

-- CACHE 1 (the default) matters: sealing reads the sequence's last value
-- as the highest ID handed out (see audit_seal.c).
CREATE SEQUENCE apikit.audit_log_id_seq CACHE 1;

CREATE TABLE apikit.audit_log (
	id bigint PRIMARY KEY,
	ts timestamptz NOT NULL,
	xid xid8 NOT NULL,
	op text NOT NULL CHECK (op IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'AUDIT')),
	relid oid NOT NULL,
	schema_name name NOT NULL,
	table_name name NOT NULL,
	row_key jsonb,
	old_row jsonb,
	new_row jsonb,
	changed_columns text[],
	actor text,
	db_user name NOT NULL,
	application_name text,
	client_addr inet,
	statement text,
	row_hash bytea NOT NULL
);

ALTER SEQUENCE apikit.audit_log_id_seq OWNED BY apikit.audit_log.id;

COMMENT ON TABLE apikit.audit_log IS
	'One row per audited row change, per TRUNCATE and per change to a table''s auditing (op AUDIT), written in the same transaction';

-- Time ranges: a BRIN index is tiny and rows arrive in time order.
CREATE INDEX audit_log_ts ON apikit.audit_log USING brin (ts);
-- One row's history: a hash index, because a table without a key logs its
-- whole row as row_key, which can outgrow a btree entry.
CREATE INDEX audit_log_row_key ON apikit.audit_log USING hash (row_key);
-- A table's own rows (TRUNCATE, AUDIT) by table: audit_row_at() looks up
-- TRUNCATEs, audit_history() the table's AUDIT rows, the event trigger a
-- table's last AUDIT row (audit_track.c).
CREATE INDEX audit_log_table_events ON apikit.audit_log (relid, op, id)
	WHERE row_key IS NULL;
-- AUDIT rows by name: a restored table finds the table it was dumped from.
CREATE INDEX audit_log_audit_names ON apikit.audit_log (schema_name, table_name, id)
	WHERE op = 'AUDIT';

CREATE TABLE apikit.audit_seals (
	block_id bigint PRIMARY KEY,
	first_id bigint NOT NULL,
	last_id bigint NOT NULL,
	row_count bigint NOT NULL,
	digest bytea NOT NULL,
	sealed_at timestamptz NOT NULL,
	purged_at timestamptz,
	CHECK (last_id >= first_id AND row_count >= 0)
);

COMMENT ON TABLE apikit.audit_seals IS
	'Blocks of sealed audit rows: each digest covers its rows'' hashes and the previous block''s digest';

-- Where the last audit_seal() call left off when writers were still
-- running (see audit_seal.c).  Not dumped: transaction IDs mean nothing in
-- another cluster.
CREATE TABLE apikit.audit_seal_pending (
	horizon_id bigint NOT NULL,
	horizon_xid xid8 NOT NULL
);

-- Which log a row was written in.  A table is its OID only within the
-- database whose log this is; every AUDIT row records this ID, so that a
-- row of another database (a dump's) is never taken for one of this
-- database's tables.  A random ID made here, not dumped: pg_upgrade,
-- CREATE DATABASE ... TEMPLATE and physical backups keep the table's file,
-- the ID and the OIDs (they mean the same tables), while a restore, --clean
-- included, runs CREATE EXTENSION again and gets a new ID (its OIDs are
-- new).
CREATE TABLE apikit.audit_origin (
	database_id text PRIMARY KEY,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE UNIQUE INDEX audit_origin_one_row ON apikit.audit_origin ((true));
INSERT INTO apikit.audit_origin (database_id) VALUES (pg_catalog.gen_random_uuid()::text);

COMMENT ON TABLE apikit.audit_origin IS
	'The ID of this database''s audit log, which AUDIT rows record; not dumped, made by CREATE EXTENSION';

-- pg_dump keeps the log, the seals and the sequence's position.
SELECT pg_catalog.pg_extension_config_dump('apikit.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('apikit.audit_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('apikit.audit_seals', '');

-- Only the trigger writes the log, and only superusers change it.
REVOKE ALL ON apikit.audit_log, apikit.audit_seals, apikit.audit_seal_pending,
	apikit.audit_log_id_seq, apikit.audit_origin FROM PUBLIC;
GRANT SELECT ON apikit.audit_log, apikit.audit_seals, apikit.audit_origin TO apikit_auditor;

CREATE FUNCTION apikit.audit_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'apikit_audit_trigger'
LANGUAGE C;

COMMENT ON FUNCTION apikit.audit_trigger() IS
	'The audit trigger; create it with apikit.audit_enable()';

CREATE FUNCTION apikit.audit_trigger_args(tgargs bytea)
RETURNS text[]
AS 'MODULE_PATHNAME', 'apikit_audit_trigger_args'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apikit.audit_trigger_args(bytea) IS
	'Internal: pg_trigger.tgargs as an array';

-- A table's key as the trigger sees it (RelationGetIndexAttrBitmap's
-- identity key): the primary key, or the replica identity index a DBA
-- chose; null when there is neither.
CREATE FUNCTION apikit.audit_key_columns(rel regclass)
RETURNS text[]
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT array_agg(a.attname::text ORDER BY a.attname)
	  FROM pg_class c
	  JOIN pg_index i ON i.indrelid = c.oid
	  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
	 WHERE c.oid = rel
	   AND CASE c.relreplident WHEN 'd' THEN i.indisprimary
							   WHEN 'i' THEN i.indisreplident ELSE false END
$$;

COMMENT ON FUNCTION apikit.audit_key_columns(regclass) IS
	'Internal: a table''s key columns (primary key or replica identity), sorted';

-- PostgreSQL clones row triggers to partitions but not statement triggers:
-- a TRUNCATE of one partition would go unlogged.  Every partition below an
-- audited table gets the TRUNCATE trigger too: from audit_enable, and from
-- the event trigger below for partitions created later.  (An attached
-- table gets it when audit_enable runs again.)
CREATE FUNCTION apikit.audit_partition_truncates(rel regclass, replace boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	args text[];
	part regclass;
BEGIN
	SELECT apikit.audit_trigger_args(t.tgargs) INTO args
	  FROM pg_trigger t
	 WHERE t.tgrelid = rel AND t.tgname = 'apikit_audit_truncate';
	IF NOT FOUND THEN
		RETURN;
	END IF;
	-- Without replace, only where it is missing: a partition's owner who
	-- alters it must not need privileges on its siblings.
	FOR part IN SELECT p.relid FROM pg_partition_tree(rel) p
				  JOIN pg_class c ON c.oid = p.relid
				 WHERE p.relid <> rel
				   AND c.relkind IN ('r', 'p')	-- foreign tables have no TRUNCATE triggers
				   AND (replace OR NOT EXISTS (SELECT FROM pg_trigger t
											   WHERE t.tgrelid = p.relid
												 AND t.tgname = 'apikit_audit_truncate')) LOOP
		EXECUTE format('CREATE OR REPLACE TRIGGER apikit_audit_truncate '
					   'AFTER TRUNCATE ON %s '
					   'FOR EACH STATEMENT EXECUTE FUNCTION apikit.audit_trigger(%L, %L)',
					   part, coalesce(args[1], '{}'), coalesce(args[2], '{}'));
	END LOOP;
END
$$;

COMMENT ON FUNCTION apikit.audit_partition_truncates(regclass, boolean) IS
	'Internal: gives every partition below an audited table its TRUNCATE trigger';

CREATE FUNCTION apikit.audit_new_partitions()
RETURNS event_trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	created regclass;
	args text[];
BEGIN
	-- A table just created as a partition of an audited table gets the
	-- audited table's TRUNCATE trigger.  Only the new table is touched:
	-- other DDL (a restore's ALTER TABLE, a sibling's owner) is left alone.
	FOR created, args IN
		SELECT DISTINCT ON (c.objid) c.objid::regclass, apikit.audit_trigger_args(t.tgargs)
		  FROM pg_event_trigger_ddl_commands() c
		  JOIN pg_class k ON k.oid = c.objid
		  CROSS JOIN LATERAL pg_partition_ancestors(c.objid) WITH ORDINALITY a
		  JOIN pg_trigger t ON t.tgrelid = a.relid
		 WHERE c.classid = 'pg_class'::regclass AND c.objsubid = 0
		   AND c.command_tag = 'CREATE TABLE'
		   AND k.relispartition AND k.relkind IN ('r', 'p')
		   AND t.tgname = 'apikit_audit_truncate' AND t.tgparentid = 0
		   AND a.relid <> c.objid
		   AND t.tgfoid = 'apikit.audit_trigger()'::regprocedure
		 ORDER BY c.objid, a.ordinality
	LOOP
		EXECUTE format('CREATE TRIGGER apikit_audit_truncate '
					   'AFTER TRUNCATE ON %s '
					   'FOR EACH STATEMENT EXECUTE FUNCTION apikit.audit_trigger(%L, %L)',
					   created, coalesce(args[1], '{}'), coalesce(args[2], '{}'));
	END LOOP;
END
$$;

COMMENT ON FUNCTION apikit.audit_new_partitions() IS
	'Internal: event trigger that audits TRUNCATE of partitions created later';

CREATE EVENT TRIGGER apikit_audit_new_partitions ON ddl_command_end
	WHEN TAG IN ('CREATE TABLE')
	EXECUTE FUNCTION apikit.audit_new_partitions();

-- Every change to a table's auditing is a row of the log (op AUDIT),
-- written by this event trigger: which tables a command touched, their
-- auditing now, compared with the log's last row about them (see
-- audit_track.c).  It also keeps the lists in the trigger arguments naming
-- columns by their current names.  Its name sorts after
-- apikit_audit_new_partitions, so that a new partition is recorded once,
-- with its TRUNCATE trigger.
-- (No SET search_path: it pins its own, after looking up the names of the
-- command with the command's.)
CREATE FUNCTION apikit.audit_track()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'apikit_audit_track'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION apikit.audit_track() IS
	'Internal: event trigger that logs changes to a table''s auditing and follows column renames';

-- (ALTER TYPE: renaming or dropping an attribute of a composite type with
-- CASCADE renames or drops the column of every table of that type.)
CREATE EVENT TRIGGER apikit_audit_track_ddl ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'CREATE TRIGGER', 'ALTER TRIGGER', 'CREATE TABLE',
				 'ALTER SCHEMA', 'ALTER FOREIGN TABLE', 'CREATE FOREIGN TABLE',
				 'ALTER TYPE')
	EXECUTE FUNCTION apikit.audit_track();
CREATE EVENT TRIGGER apikit_audit_track_drop ON sql_drop
	EXECUTE FUNCTION apikit.audit_track();

-- The ID of this database's log (apikit.audit_origin), as AUDIT rows
-- record it.
CREATE FUNCTION apikit.audit_database_id()
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT database_id FROM apikit.audit_origin
$$;

COMMENT ON FUNCTION apikit.audit_database_id() IS
	'Internal: the ID of this database''s audit log, as AUDIT rows record it';

-- The row a table's first AUDIT row in this database follows: the last
-- AUDIT row of the table that had its name in another database (the one a
-- dump came from), when that table still had the name at the end of that
-- database's log, was not dropped, and no table of this database follows
-- it already.  A table of this database that had the name before (dropped,
-- or renamed) is another table.  Only rows before "before" count.  The
-- event trigger asks when it writes a table's first row (audit_track.c),
-- audit_lineage() for a table that has no row yet.
CREATE FUNCTION apikit.audit_predecessor(schema_name text, table_name text,
	database text, before bigint)
RETURNS bigint
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT p.id
	  FROM (SELECT l.id, l.relid, l.new_row->>'database' AS db, l.new_row->>'event' AS event
			  FROM apikit.audit_log l
			 WHERE l.schema_name = $1::name AND l.table_name = $2::name AND l.op = 'AUDIT' AND l.id < $4
			 ORDER BY l.id DESC LIMIT 1) p
	 WHERE p.db <> $3 AND p.event <> 'dropped'
	   AND p.id = (SELECT max(l.id) FROM apikit.audit_log l
					WHERE l.relid = p.relid AND l.op = 'AUDIT' AND l.row_key IS NULL
					  AND l.new_row->>'database' = p.db AND l.id < $4)
	   AND NOT EXISTS (SELECT FROM apikit.audit_log f
					   WHERE f.op = 'AUDIT' AND f.row_key IS NULL AND f.id < $4
						 AND f.new_row->>'database' = $3
						 AND f.new_row->>'follows' = p.id::text)
$$;

COMMENT ON FUNCTION apikit.audit_predecessor(text, text, text, bigint) IS
	'Internal: the AUDIT row of another database that a table of this one continues';

-- What audit_enable() does; audit_enable() runs it and then writes one
-- AUDIT row per table it changed.  Called directly, it works the same, but
-- its changes are logged as DDL, not as audit_enable's.  A list not given
-- is the one the log says was last set with audit_enable() ("logged":
-- {"exclude_columns": [...], "mask_columns": [...]}, which only
-- audit_enable() can read and pass), else the trigger's.
CREATE FUNCTION apikit.audit_apply_enable(
	rel regclass,
	exclude_columns text[],
	mask_columns text[],
	logged jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cls record;
	col text;
	parent regclass;
	cur text[];
	cur_exclude text[] := '{}';
	cur_mask text[] := '{}';
	audited boolean;
	changes text[] := '{}';
	from_log boolean;
	stray record;
	logged_exclude text[];
	logged_mask text[];
BEGIN
	IF rel IS NULL THEN
		RAISE EXCEPTION 'rel must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF array_position(exclude_columns, NULL) IS NOT NULL
	   OR array_position(mask_columns, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'exclude_columns and mask_columns must not contain null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;

	SELECT c.relkind, c.relispartition, c.relpersistence, n.nspname
	  INTO cls
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.oid = rel;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', rel::oid
			USING ERRCODE = 'undefined_table';
	END IF;

	IF cls.nspname IN ('pg_catalog', 'information_schema', 'pg_toast') THEN
		RAISE EXCEPTION '"%" is a system catalog', rel
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'System catalogs cannot be audited with triggers.';
	END IF;
	-- apikit's configuration tables can be audited like any other; the
	-- log's own cannot.
	IF rel IN ('apikit.audit_log'::regclass, 'apikit.audit_seals'::regclass,
			   'apikit.audit_seal_pending'::regclass, 'apikit.audit_origin'::regclass) THEN
		RAISE EXCEPTION '"%" is part of the audit log and cannot be audited', rel
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = CASE rel
					WHEN 'apikit.audit_log'::regclass THEN
						'Auditing the audit log would log every row it logs; apikit.audit_verify() finds changes to it.'
					WHEN 'apikit.audit_seals'::regclass THEN
						'Sealing writes it; apikit.audit_verify() finds changes to it.'
					WHEN 'apikit.audit_origin'::regclass THEN
						'It holds the ID of this database''s log, written once by CREATE EXTENSION.'
					ELSE 'Sealing rewrites it at every run; it is no evidence of anything.' END;
	END IF;
	IF cls.relpersistence = 't' THEN
		RAISE EXCEPTION '"%" is a temporary table', rel
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'Temporary tables cannot be audited: audit rows are permanent, and any role can create a temporary table.';
	END IF;
	IF cls.relkind NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '"%" is not a table', rel
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = format('Only tables and partitioned tables can be audited; "%s" is %s.', rel,
					CASE cls.relkind WHEN 'v' THEN 'a view' WHEN 'm' THEN 'a materialized view'
						WHEN 'f' THEN 'a foreign table' WHEN 'S' THEN 'a sequence'
						WHEN 'i' THEN 'an index' WHEN 'I' THEN 'an index'
						WHEN 'c' THEN 'a composite type' ELSE 'not a table' END),
				  HINT = CASE WHEN cls.relkind IN ('v', 'm') THEN 'Audit the tables it reads.'
							  ELSE 'Pass a table or a partitioned table.' END;
	END IF;

	-- apikit.audit_trigger() runs only under the names it is made with
	-- (audit_trigger.c): a trigger renamed, or made by hand under another
	-- name, makes every write to the table fail.  Say so now.
	SELECT t.tgname, t.tgrelid::regclass AS tab INTO stray
	  FROM pg_trigger t
	 WHERE t.tgrelid IN (SELECT p.relid FROM pg_partition_tree(rel) p)
	   AND t.tgfoid = 'apikit.audit_trigger()'::regprocedure
	   AND t.tgname NOT IN ('apikit_audit', 'apikit_audit_truncate')
	 ORDER BY t.tgrelid, t.tgname LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'trigger "%" on table "%" runs apikit.audit_trigger() under another name', stray.tgname, stray.tab
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'apikit.audit_trigger() runs only as the trigger apikit_audit (row changes) or apikit_audit_truncate (TRUNCATE); under any other name it refuses to run, so writes to the table fail.',
				  HINT = format('Drop the trigger, or rename it back: ALTER TRIGGER %I ON %s RENAME TO apikit_audit.',
								stray.tgname, stray.tab);
	END IF;

	-- The current lists are kept where none is given: those last set with
	-- audit_enable, as the log has them (followed through column renames
	-- and drops), else the trigger's.
	SELECT apikit.audit_trigger_args(t.tgargs) INTO cur
	  FROM pg_trigger t
	 WHERE t.tgrelid = rel AND t.tgname = 'apikit_audit' AND t.tgparentid = 0
	   AND t.tgfoid = 'apikit.audit_trigger()'::regprocedure;
	audited := FOUND;
	IF audited THEN
		cur_exclude := coalesce(cur[1]::text[], '{}');
		cur_mask := coalesce(cur[2]::text[], '{}');
	END IF;
	IF jsonb_typeof(logged) = 'object' THEN
		logged_exclude := ARRAY(SELECT jsonb_array_elements_text(logged->'exclude_columns'));
		logged_mask := ARRAY(SELECT jsonb_array_elements_text(logged->'mask_columns'));
	END IF;
	from_log := (exclude_columns IS NULL AND logged_exclude IS NOT NULL)
		OR (mask_columns IS NULL AND logged_mask IS NOT NULL);
	exclude_columns := ARRAY(SELECT DISTINCT c COLLATE "C"
							   FROM unnest(coalesce(exclude_columns, logged_exclude, cur_exclude)) c
							  ORDER BY 1);
	mask_columns := ARRAY(SELECT DISTINCT c COLLATE "C"
							FROM unnest(coalesce(mask_columns, logged_mask, cur_mask)) c ORDER BY 1);

	FOREACH col IN ARRAY exclude_columns || mask_columns LOOP
		IF NOT EXISTS (SELECT FROM pg_attribute
					   WHERE attrelid = rel AND attname = col AND attnum > 0 AND NOT attisdropped) THEN
			RAISE EXCEPTION 'column "%" of relation "%" does not exist', col, rel
				USING ERRCODE = 'undefined_column',
					  HINT = 'exclude_columns and mask_columns name columns of the audited table.';
		END IF;
	END LOOP;
	-- row_key holds the key: a masked key column would give every row the
	-- same key, and audit_history one row's history for all of them.
	IF apikit.audit_key_columns(rel) && mask_columns THEN
		RAISE EXCEPTION 'key columns of "%" cannot be masked', rel
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'row_key holds the key of every logged row; masked, it would no longer tell rows apart.',
				  HINT = 'Use a surrogate key, or exclude nothing and mask the other columns.';
	END IF;
	IF exclude_columns && mask_columns THEN
		RAISE EXCEPTION 'a column cannot be both excluded and masked'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('Listed in both: %s.',
					array_to_string(ARRAY(SELECT unnest(exclude_columns) INTERSECT
										  SELECT unnest(mask_columns) ORDER BY 1), ', '));
	END IF;

	IF cls.relispartition THEN
		SELECT t.tgrelid::regclass INTO parent
		  FROM pg_trigger t
		 WHERE t.tgrelid IN (SELECT relid FROM pg_partition_ancestors(rel) WHERE relid <> rel)
		   AND t.tgname = 'apikit_audit' AND t.tgparentid = 0
		 LIMIT 1;
		IF parent IS NOT NULL THEN
			RAISE EXCEPTION 'table "%" is audited through its partitioned table "%"', rel, parent
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = format('Change the auditing of "%s" instead.', parent);
		END IF;
	END IF;

	IF audited AND NOT (exclude_columns @> cur_exclude AND cur_exclude @> exclude_columns) THEN
		changes := changes || format('exclude_columns was %s and is now %s.', cur_exclude, exclude_columns);
	END IF;
	IF audited AND NOT (mask_columns @> cur_mask AND cur_mask @> mask_columns) THEN
		changes := changes || format('mask_columns was %s and is now %s.', cur_mask, mask_columns);
	END IF;
	IF changes <> '{}' AND from_log THEN
		RAISE NOTICE 'audit settings of "%" changed', rel
			USING DETAIL = array_to_string(changes, ' '),
				  HINT = 'A list not given is the one last set with apikit.audit_enable(), as the log has it; the trigger''s had been changed by other means.';
	ELSIF changes <> '{}' THEN
		RAISE NOTICE 'audit settings of "%" changed', rel
			USING DETAIL = array_to_string(changes, ' ');
	ELSIF NOT audited AND from_log AND (exclude_columns <> '{}' OR mask_columns <> '{}') THEN
		RAISE NOTICE 'audit settings of "%" restored from the log', rel
			USING DETAIL = format('exclude_columns is %s and mask_columns is %s, as last set with apikit.audit_enable().',
								  exclude_columns, mask_columns);
	END IF;

	EXECUTE format('CREATE OR REPLACE TRIGGER apikit_audit '
				   'AFTER INSERT OR UPDATE OR DELETE ON %s '
				   'FOR EACH ROW EXECUTE FUNCTION apikit.audit_trigger(%L, %L)',
				   rel, exclude_columns, mask_columns);
	EXECUTE format('CREATE OR REPLACE TRIGGER apikit_audit_truncate '
				   'AFTER TRUNCATE ON %s '
				   'FOR EACH STATEMENT EXECUTE FUNCTION apikit.audit_trigger(%L, %L)',
				   rel, exclude_columns, mask_columns);
	PERFORM apikit.audit_partition_truncates(rel, true);
END
$$;

COMMENT ON FUNCTION apikit.audit_apply_enable(regclass, text[], text[], jsonb) IS
	'Internal: what apikit.audit_enable() does, without its AUDIT row';

-- A C function, so that only it can mark its AUDIT rows as its own.
CREATE FUNCTION apikit.audit_enable(
	rel regclass,
	exclude_columns text[] DEFAULT NULL,
	mask_columns text[] DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'apikit_audit_enable'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION apikit.audit_enable(regclass, text[], text[]) IS
	'Starts (or reconfigures) auditing of a table: every INSERT, UPDATE, DELETE and TRUNCATE is logged; a list not given is kept';

CREATE FUNCTION apikit.audit_apply_disable(rel regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	part regclass;
BEGIN
	IF rel IS NULL THEN
		RAISE EXCEPTION 'rel must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_trigger
				   WHERE tgrelid = rel AND tgname IN ('apikit_audit', 'apikit_audit_truncate')) THEN
		RAISE NOTICE 'table "%" is not audited, skipping', rel;
		RETURN;
	END IF;
	EXECUTE format('DROP TRIGGER IF EXISTS apikit_audit ON %s', rel);
	EXECUTE format('DROP TRIGGER IF EXISTS apikit_audit_truncate ON %s', rel);
	FOR part IN SELECT t.tgrelid FROM pg_partition_tree(rel) p
				  JOIN pg_trigger t ON t.tgrelid = p.relid
				 WHERE p.relid <> rel AND t.tgname = 'apikit_audit_truncate' LOOP
		EXECUTE format('DROP TRIGGER apikit_audit_truncate ON %s', part);
	END LOOP;
END
$$;

COMMENT ON FUNCTION apikit.audit_apply_disable(regclass) IS
	'Internal: what apikit.audit_disable() does, without its AUDIT row';

CREATE FUNCTION apikit.audit_disable(rel regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'apikit_audit_disable'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION apikit.audit_disable(regclass) IS
	'Stops auditing a table; its rows stay in the log';

CREATE VIEW apikit.audited_tables AS
SELECT t.tgrelid::regclass AS rel,
	   n.nspname AS schema_name,
	   c.relname AS table_name,
	   coalesce((apikit.audit_trigger_args(t.tgargs))[1]::text[], '{}') AS exclude_columns,
	   coalesce((apikit.audit_trigger_args(t.tgargs))[2]::text[], '{}') AS mask_columns,
	   t.tgenabled IN ('O', 'A') AS enabled
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE t.tgname = 'apikit_audit'
   AND t.tgfoid = 'apikit.audit_trigger()'::regprocedure
   AND t.tgparentid = 0;

COMMENT ON VIEW apikit.audited_tables IS
	'Tables audited with apikit.audit_enable(), with their excluded and masked columns';

GRANT SELECT ON apikit.audited_tables TO PUBLIC;

-- A key names one row of a table: its key columns (primary key, or the
-- replica identity a DBA chose), or every column of a table without one.
CREATE FUNCTION apikit.audit_check_key(rel regclass, key jsonb)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	want text[];
	got text[];
BEGIN
	IF rel IS NULL OR key IS NULL THEN
		RAISE EXCEPTION 'rel and key must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF jsonb_typeof(key) <> 'object' THEN
		RAISE EXCEPTION 'audit row key must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The key given is a JSON %s.', jsonb_typeof(key)),
				  HINT = 'Name the row by its key columns, for example {"id": 42}.';
	END IF;
	want := apikit.audit_key_columns(rel);
	got := ARRAY(SELECT jsonb_object_keys(key) ORDER BY 1);
	IF want IS NOT NULL AND got IS DISTINCT FROM want THEN
		RAISE EXCEPTION 'audit row key does not match the key of "%"', rel
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The key columns of "%s" are %s; the key given has %s.',
								  rel, array_to_string(want, ', '),
								  coalesce(nullif(array_to_string(got, ', '), ''), 'none')),
				  HINT = format('Pass {%s}.', array_to_string(ARRAY(
								  SELECT format('"%s": ...', w) FROM unnest(want) w), ', '));
	END IF;
END
$$;

COMMENT ON FUNCTION apikit.audit_check_key(regclass, jsonb) IS
	'Internal: checks that a key names a row of a table';

-- A table's history is a chain of runs: its own rows in this database
-- (by relid: renames and SET SCHEMA do not matter), then, if the table was
-- restored from a dump, the rows of the table it was dumped from, and so
-- on.  The first AUDIT row of a restored table names the row it follows
-- (audit_predecessor(), asked when the row is written); every AUDIT row
-- repeats the ID of its run's first row ("since") and the link.  A table
-- with no AUDIT row in this database yet (restored, and neither written
-- nor altered since: audit_track.c writes a table's first row when that is
-- safe) has no rows of its own; its history is that of the table it was
-- dumped from, whose rows all come before this database's first.  A run:
-- rows with that relid from first_id up to, not including, next_id; its
-- AUDIT rows are those written in that database.  Newest run first.
CREATE FUNCTION apikit.audit_lineage(rel regclass,
	OUT relid oid, OUT database text, OUT first_id bigint, OUT next_id bigint)
RETURNS SETOF record
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s record;
	runs int := 0;
	follows bigint;
BEGIN
	relid := rel;
	database := apikit.audit_database_id();
	next_id := 9223372036854775807;
	LOOP
		SELECT l.id, l.new_row INTO s
		  FROM apikit.audit_log l
		 WHERE l.relid = audit_lineage.relid AND l.op = 'AUDIT' AND l.row_key IS NULL
		   AND l.id < audit_lineage.next_id
		   AND l.new_row->>'database' = audit_lineage.database
		 ORDER BY l.id DESC LIMIT 1;
		IF NOT FOUND OR s.new_row->>'event' = 'dropped' THEN
			-- (A dropped table had the OID: this one has no row yet.)
			EXIT WHEN runs > 0;
			SELECT apikit.audit_predecessor(n.nspname::text, c.relname::text, audit_lineage.database,
											9223372036854775807)
			  INTO follows
			  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE c.oid = rel;
			SELECT coalesce(min(l.id), 9223372036854775807) INTO next_id
			  FROM apikit.audit_log l
			 WHERE l.op = 'AUDIT' AND l.new_row->>'database' = audit_lineage.database;
		ELSE
			-- (Two first writers of a restored table may each have written a
			-- first row: the run starts at the earlier.)
			SELECT least(coalesce((s.new_row->>'since')::bigint, s.id), min(l.id)) INTO first_id
			  FROM apikit.audit_log l
			 WHERE l.relid = audit_lineage.relid AND l.op = 'AUDIT' AND l.row_key IS NULL
			   AND l.id <= s.id AND l.new_row->>'database' = audit_lineage.database
			   AND l.id > coalesce((SELECT max(d.id) FROM apikit.audit_log d
									 WHERE d.relid = audit_lineage.relid AND d.op = 'AUDIT'
									   AND d.row_key IS NULL AND d.id < s.id
									   AND d.new_row->>'database' = audit_lineage.database
									   AND d.new_row->>'event' = 'dropped'), 0);
			RETURN NEXT;
			follows := (s.new_row->>'follows')::bigint;
			next_id := first_id;
		END IF;
		runs := runs + 1;
		EXIT WHEN follows IS NULL OR runs >= 1000;
		SELECT l.relid, l.new_row->>'database' INTO relid, database
		  FROM apikit.audit_log l
		 WHERE l.id = follows;
		EXIT WHEN NOT FOUND;	-- purged
	END LOOP;
END
$$;

COMMENT ON FUNCTION apikit.audit_lineage(regclass) IS
	'Internal: the runs of log rows that are one table''s history, across renames and restores';

-- The AUDIT rows of a table that belong in the history of one of its
-- rows: all of the table's own, and those of the partitions below it (a
-- partition's row changes are logged under the partitioned table's name,
-- changes to its auditing under its own) that switched a partition's
-- auditing off or on, or rewrote its values.
CREATE FUNCTION apikit.audit_table_events(rel regclass)
RETURNS SETOF apikit.audit_log
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT l.*
	  FROM apikit.audit_lineage(rel) e
	  JOIN apikit.audit_log l
		ON l.relid = e.relid AND l.id >= e.first_id AND l.id < e.next_id
	 WHERE l.op = 'AUDIT' AND l.row_key IS NULL AND l.new_row->>'database' = e.database
	UNION ALL
	SELECT l.*
	  FROM pg_partition_tree(rel) t
	  CROSS JOIN LATERAL apikit.audit_lineage(t.relid) e
	  JOIN apikit.audit_log l
		ON l.relid = e.relid AND l.id >= e.first_id AND l.id < e.next_id
	 WHERE t.relid <> rel
	   AND l.op = 'AUDIT' AND l.row_key IS NULL AND l.new_row->>'database' = e.database
	   AND (l.changed_columns && '{audited,truncate_audited}' OR l.new_row ? 'rewritten'
			OR (l.new_row->>'event' IN ('stopped', 'carried')
				AND NOT (l.new_row->>'audited')::boolean))
$$;

COMMENT ON FUNCTION apikit.audit_table_events(regclass) IS
	'Internal: the AUDIT rows that belong in the history of a row of a table';

CREATE FUNCTION apikit.audit_history(rel regclass, key jsonb)
RETURNS SETOF apikit.audit_log
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM apikit.audit_check_key(rel, key);
	-- The row's changes, and (when it has any) the changes to the auditing
	-- of its table and of the partitions below it.
	RETURN QUERY
		WITH e AS MATERIALIZED (SELECT * FROM apikit.audit_lineage(rel)),
		r AS MATERIALIZED (
			SELECT l.*
			  FROM e JOIN apikit.audit_log l
				ON l.relid = e.relid AND l.id >= e.first_id AND l.id < e.next_id
			 WHERE l.row_key = key)
		SELECT * FROM r
		UNION ALL
		SELECT * FROM apikit.audit_table_events(rel) WHERE EXISTS (SELECT FROM r)
		 ORDER BY id;
END
$$;

COMMENT ON FUNCTION apikit.audit_history(regclass, jsonb) IS
	'Every logged change of one row, and of its table''s auditing, oldest first, across renames and restores';

CREATE FUNCTION apikit.audit_row_at(rel regclass, key jsonb, at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	first_after bigint;
	last_id bigint;
	result jsonb;
	w record;
	c jsonb;
BEGIN
	PERFORM apikit.audit_check_key(rel, key);
	IF at IS NULL THEN
		RAISE EXCEPTION 'at must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- Changes to one row are ordered by ID (a writer takes its row ID only
	-- after the previous writer of that row committed), but ts is when a
	-- statement started, which a later change can have started before.  So
	-- the row at "at" is the last change before the first one stamped
	-- after "at", unless a TRUNCATE came in between.
	WITH e AS MATERIALIZED (SELECT * FROM apikit.audit_lineage(rel))
	SELECT min(l.id) INTO first_after
	  FROM e JOIN apikit.audit_log l
		ON l.relid = e.relid AND l.id >= e.first_id AND l.id < e.next_id
	 WHERE l.row_key = key AND l.ts > at;
	WITH e AS MATERIALIZED (SELECT * FROM apikit.audit_lineage(rel))
	SELECT x.id, CASE WHEN x.op IN ('DELETE', 'TRUNCATE') THEN NULL ELSE x.new_row END
	  INTO last_id, result
	  FROM (SELECT l.id, l.op, l.new_row
			  FROM e JOIN apikit.audit_log l
				ON l.relid = e.relid AND l.id >= e.first_id AND l.id < e.next_id
			 WHERE l.row_key = key
			   AND l.ts <= at AND l.id < coalesce(first_after, 9223372036854775807)
			UNION ALL
			SELECT l.id, l.op, NULL
			  FROM e JOIN apikit.audit_log l
				ON l.relid = e.relid AND l.id >= e.first_id AND l.id < e.next_id
			 WHERE l.op = 'TRUNCATE' AND l.row_key IS NULL
			   AND l.ts <= at AND l.id < coalesce(first_after, 9223372036854775807)) x
	 ORDER BY x.id DESC
	 LIMIT 1;
	-- DDL that changed stored values since (ALTER COLUMN ... TYPE, ADD
	-- COLUMN with a default, DROP COLUMN: AUDIT rows with "rewritten"): the
	-- log does not have the new values.  A column rewritten says so and
	-- where; a column dropped is gone.
	IF result IS NOT NULL THEN
		FOR w IN SELECT t.id, t.new_row->'rewritten' AS cols
				   FROM apikit.audit_table_events(rel) t
				  WHERE t.new_row ? 'rewritten' AND t.id > last_id AND t.ts <= at
				  ORDER BY t.id LOOP
			FOR c IN SELECT jsonb_array_elements(w.cols) LOOP
				IF c->>'change' = 'dropped' THEN
					result := result - (c->>'column');
				ELSE
					result := jsonb_set(result, ARRAY[c->>'column'],
										jsonb_build_object('$apikit_rewritten', w.id));
				END IF;
			END LOOP;
		END LOOP;
	END IF;
	RETURN result;
END
$$;

COMMENT ON FUNCTION apikit.audit_row_at(regclass, jsonb, timestamptz) IS
	'One row as it was at a time, from the log; null if it did not exist then';

CREATE FUNCTION apikit.audit_seal()
RETURNS bigint
AS 'MODULE_PATHNAME', 'apikit_audit_seal'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION apikit.audit_seal() IS
	'Seals committed audit rows into chained blocks; returns the number of rows sealed';

CREATE FUNCTION apikit.audit_digest()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT block_id || ':' || encode(digest, 'hex')
	  FROM apikit.audit_seals ORDER BY block_id DESC LIMIT 1
$$;

COMMENT ON FUNCTION apikit.audit_digest() IS
	'The latest block''s digest, "<block>:<hex>": keep it outside the database and pass it to audit_verify()';

CREATE FUNCTION apikit.audit_verify(
	expected_digest text DEFAULT NULL,
	OUT ok boolean,
	OUT blocks_checked bigint,
	OUT first_bad_block bigint,
	OUT first_bad_id bigint,
	OUT detail text)
RETURNS record
AS 'MODULE_PATHNAME', 'apikit_audit_verify'
LANGUAGE C VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION apikit.audit_verify(text) IS
	'Recomputes every audit row hash and block digest; checks the chain against a digest kept outside';

-- For audit_purge(): writes again, as a new AUDIT row, each table's last
-- AUDIT row of this database that is not after "through" (see
-- audit_track.c).  What it writes is worked out from the tables, never
-- from its caller; superusers only.
CREATE FUNCTION apikit.audit_carry(through bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'apikit_audit_carry'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION apikit.audit_carry(bigint) IS
	'Internal: before a purge, writes each table''s last AUDIT row again; returns the rows written';

CREATE FUNCTION apikit.audit_purge(older_than interval)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cutoff timestamptz;
	b record;
	deleted bigint := 0;
	n bigint;
	through bigint;
BEGIN
	IF older_than IS NULL THEN
		RAISE EXCEPTION 'older_than must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF older_than < interval '0' THEN
		RAISE EXCEPTION 'older_than must not be negative'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The interval given is %s.', older_than);
	END IF;
	cutoff := now() - older_than;
	-- Against audit_seal() adding blocks meanwhile.
	LOCK TABLE apikit.audit_seals IN SHARE ROW EXCLUSIVE MODE;
	-- Whole blocks, oldest first, while every row in them is old enough.
	-- Their seal rows stay (marked purged) so the chain still verifies.
	SELECT max(s.last_id) INTO through
	  FROM apikit.audit_seals s
	 WHERE s.purged_at IS NULL
	   AND s.block_id < coalesce((SELECT min(k.block_id) FROM apikit.audit_seals k
								   WHERE k.purged_at IS NULL
									 AND EXISTS (SELECT FROM apikit.audit_log l
												 WHERE l.id BETWEEN k.first_id AND k.last_id
												   AND l.ts >= cutoff)),
								 9223372036854775807);
	IF through IS NULL THEN
		RETURN 0;
	END IF;
	-- A table's last AUDIT row is what its next change is compared with
	-- (audit_track.c): one about to go is written again first, as a new row
	-- (event "carried"), so that a stop after the purge is still a stop.
	PERFORM apikit.audit_carry(through);
	FOR b IN SELECT block_id, first_id, last_id FROM apikit.audit_seals
			  WHERE purged_at IS NULL AND last_id <= through ORDER BY block_id LOOP
		DELETE FROM apikit.audit_log WHERE id BETWEEN b.first_id AND b.last_id;
		GET DIAGNOSTICS n = ROW_COUNT;
		deleted := deleted + n;
		UPDATE apikit.audit_seals SET purged_at = now() WHERE block_id = b.block_id;
	END LOOP;
	RETURN deleted;
END
$$;

COMMENT ON FUNCTION apikit.audit_purge(interval) IS
	'Deletes sealed blocks of audit rows older than an interval; returns the number of rows deleted';

CREATE FUNCTION apikit.audit_redact(rel regclass, key jsonb, columns text[] DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'apikit_audit_redact'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION apikit.audit_redact(regclass, jsonb, text[]) IS
	'Replaces one row''s values in the audit log by redaction markers; verification still passes';

REVOKE ALL ON FUNCTION apikit.audit_seal(), apikit.audit_digest(), apikit.audit_verify(text),
	apikit.audit_history(regclass, jsonb), apikit.audit_row_at(regclass, jsonb, timestamptz),
	apikit.audit_lineage(regclass), apikit.audit_database_id(),
	apikit.audit_predecessor(text, text, text, bigint), apikit.audit_table_events(regclass),
	apikit.audit_carry(bigint),
	apikit.audit_purge(interval), apikit.audit_redact(regclass, jsonb, text[]) FROM PUBLIC;
-- Sealing holds a lock on audit_seals until its transaction ends: a role
-- that could call it could stall sealing, so it is not granted; the
-- scheduler runs it as a superuser.
GRANT EXECUTE ON FUNCTION apikit.audit_digest(), apikit.audit_verify(text),
	apikit.audit_history(regclass, jsonb), apikit.audit_row_at(regclass, jsonb, timestamptz),
	apikit.audit_lineage(regclass), apikit.audit_database_id(),
	apikit.audit_predecessor(text, text, text, bigint), apikit.audit_table_events(regclass)
	TO apikit_auditor;

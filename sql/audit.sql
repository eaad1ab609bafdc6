--
-- Audit logging: enabling, what each operation writes, masks and
-- exclusions, actors (including a PostgREST request), partitions, tables
-- without a key, TOAST, types, history, row_at, sealing, verification,
-- tamper detection, purge, redaction, settings, privileges and errors;
-- changes to a table's auditing (AUDIT rows), renamed and dropped columns,
-- history across renames, NULL in every argument.
--
-- IDs, times, transaction IDs and hashes change from run to run; the
-- queries show what is stable and compare the rest.  The user running the
-- test shows as (session_user).
--
SET search_path = public;
\set SHOW_CONTEXT never

-- What the log shows in this test.
CREATE VIEW log AS
SELECT id, op, table_name, row_key, old_row, new_row, changed_columns,
	   CASE WHEN actor = session_user THEN '(session_user)' ELSE actor END AS actor,
	   CASE WHEN db_user = session_user THEN '(session_user)' ELSE db_user END AS db_user
  FROM apikit.audit_log WHERE op <> 'AUDIT' ORDER BY id;
-- The changes to tables' auditing (new_row also names the database).
CREATE VIEW audit_events AS
SELECT id, schema_name, table_name, new_row->>'event' AS event, new_row->>'by' AS by,
	   new_row->>'command' AS command, changed_columns, new_row->>'reason' AS reason,
	   CASE WHEN db_user = session_user THEN '(session_user)' ELSE db_user END AS db_user
  FROM apikit.audit_log WHERE op = 'AUDIT' ORDER BY id;

CREATE TABLE account (
	id int PRIMARY KEY,
	email text,
	balance numeric,
	password text,
	last_seen timestamptz,
	doubled int GENERATED ALWAYS AS (id * 2) STORED
);

-- Bad input first.
SELECT apikit.audit_enable(NULL);
SELECT apikit.audit_enable('pg_class');
CREATE VIEW account_view AS SELECT * FROM account;
SELECT apikit.audit_enable('account_view');
CREATE SEQUENCE some_seq;
SELECT apikit.audit_enable('some_seq');
SELECT apikit.audit_enable('apikit.audit_log');
SELECT apikit.audit_enable('apikit.audit_seals');
SELECT apikit.audit_enable('apikit.audit_seal_pending');
-- Anyone can create a temporary table: its rows would become permanent
-- audit rows.  audit_enable refuses it, and so does the trigger attached
-- by hand; nothing reaches the log, not even an AUDIT row.
CREATE TEMP TABLE fake (id int PRIMARY KEY, v text);
SELECT apikit.audit_enable('pg_temp.fake');
CREATE TRIGGER apikit_audit AFTER INSERT OR UPDATE OR DELETE ON fake
	FOR EACH ROW EXECUTE FUNCTION apikit.audit_trigger();
INSERT INTO fake VALUES (1, 'forged');
SELECT count(*) AS temp_rows FROM apikit.audit_log;
DROP TABLE fake;
-- A trigger made by hand whose arguments are not lists is refused at once.
CREATE TRIGGER apikit_audit AFTER INSERT OR UPDATE OR DELETE ON account
	FOR EACH ROW EXECUTE FUNCTION apikit.audit_trigger('not a list', '{}');
SELECT apikit.audit_enable('account', exclude_columns => '{no_such}');
SELECT apikit.audit_enable('account', mask_columns => '{no_such}');
SELECT apikit.audit_enable('account', '{email}', '{email}');
SELECT apikit.audit_enable('account', mask_columns => '{id}');
SELECT apikit.audit_enable('no_such_table');
-- NULL in any argument: a clear error, or null where that is the answer.
SELECT apikit.audit_redact('account', NULL);
SELECT apikit.audit_redact(NULL, '{"id": 1}');
SELECT apikit.audit_disable(NULL);
SELECT apikit.audit_purge(NULL);
SELECT apikit.audit_enable('account', '{NULL}');
SELECT apikit.audit_enable('account', mask_columns => '{NULL}');
SELECT apikit.audit_apply_enable(NULL, NULL, NULL);
SELECT apikit.audit_apply_disable(NULL);
SELECT * FROM apikit.audit_history(NULL, '{"id": 1}');
SELECT * FROM apikit.audit_history('account', NULL);
SELECT apikit.audit_row_at(NULL, '{"id": 1}', now());
SELECT apikit.audit_check_key('account', NULL);
SELECT apikit.audit_key_columns(NULL) IS NULL AS key_columns,
	   apikit.audit_trigger_args(NULL) IS NULL AS trigger_args,
	   apikit.audit_partition_truncates(NULL, NULL) IS NULL AS partition_truncates,
	   (SELECT count(*) FROM apikit.audit_lineage(NULL)) AS lineage,
	   (SELECT ok FROM apikit.audit_verify(NULL)) AS verify;
-- apikit's own configuration tables can be audited like any other.
SELECT apikit.audit_enable('apikit.rate_limit_policies');
UPDATE apikit.rate_limit_policies SET burst = burst + 1 WHERE name = 'default';
UPDATE apikit.rate_limit_policies SET burst = burst - 1 WHERE name = 'default';
SELECT op, schema_name, table_name, row_key, changed_columns FROM apikit.audit_log
 WHERE table_name = 'rate_limit_policies' AND op <> 'AUDIT' ORDER BY id;
SELECT apikit.audit_disable('apikit.rate_limit_policies');
SELECT schema_name, table_name, event, by FROM audit_events WHERE table_name = 'rate_limit_policies';
-- The rest of the test starts from an empty log.
DELETE FROM apikit.audit_log;
ALTER SEQUENCE apikit.audit_log_id_seq RESTART;

SELECT apikit.audit_enable('account', exclude_columns => '{last_seen}',
						   mask_columns => '{password}');
-- Enabling again with lists replaces them, with a NOTICE saying what
-- changed; lists are sorted and de-duplicated; the same lists change
-- nothing.
SELECT apikit.audit_enable('account', '{last_seen,last_seen,email}', '{}');
SELECT apikit.audit_enable('account', '{last_seen,last_seen}', '{password}');
SELECT apikit.audit_enable('account', '{last_seen}', '{password}');
-- Without lists (as after ATTACH PARTITION) the current ones stay.
SELECT apikit.audit_enable('account');
SELECT rel, schema_name, table_name, exclude_columns, mask_columns, enabled
  FROM apikit.audited_tables;
-- Each change is a row of the log, marked as audit_enable's.
SELECT * FROM audit_events;

-- INSERT: the whole new row, the key, the masked password as a marker.
INSERT INTO account (id, email, balance, password, last_seen)
VALUES (1, 'ann@example.com', 10.50, 'hunter2', now()),
	   (2, 'bob@example.com', 0, 'letmein', now());
-- An UPDATE of excluded columns only writes nothing; neither does one that
-- changes nothing.
UPDATE account SET last_seen = now() WHERE id = 1;
UPDATE account SET balance = balance WHERE id = 1;
-- An UPDATE records the old values of the changed columns and the new row.
UPDATE account SET balance = 11, last_seen = now() WHERE id = 1;
-- A masked column's change is recorded, never its value.
UPDATE account SET password = 'correct horse' WHERE id = 2;
DELETE FROM account WHERE id = 2;
SELECT * FROM log;

-- A rolled-back change leaves nothing, also in a subtransaction.
BEGIN;
INSERT INTO account (id) VALUES (3);
SAVEPOINT s;
INSERT INTO account (id) VALUES (4);
ROLLBACK TO s;
INSERT INTO account (id) VALUES (5);
ROLLBACK;
SELECT count(*) AS after_rollback FROM apikit.audit_log WHERE row_key->>'id' IN ('3', '4', '5');

-- Context columns.
SELECT DISTINCT op, ts <= statement_timestamp() AS ts_before_now,
	   xid IS NOT NULL AS has_xid, relid = 'account'::regclass AS relid_ok,
	   application_name, client_addr, statement, length(row_hash) AS hash_len
  FROM apikit.audit_log ORDER BY op;
-- One transaction, one xid.
BEGIN;
UPDATE account SET email = 'ann@example.org' WHERE id = 1;
UPDATE account SET email = 'ann@example.net' WHERE id = 1;
COMMIT;
SELECT count(DISTINCT xid) AS xids, count(DISTINCT ts) AS statement_times
  FROM (SELECT xid, ts FROM apikit.audit_log ORDER BY id DESC LIMIT 2) last_two;

-- apikit.audit_statement records the client's statement (superusers only).
SET apikit.audit_statement = on;
UPDATE account SET balance = 12 WHERE id = 1;
RESET apikit.audit_statement;
SELECT statement FROM apikit.audit_log ORDER BY id DESC LIMIT 1;

-- Actors: apikit.actor, then the sub claim, then session_user.
BEGIN;
SET LOCAL apikit.actor = 'support-agent-7';
UPDATE account SET balance = 13 WHERE id = 1;
COMMIT;
-- PostgREST's request: it switches role and sets the claims per transaction.
CREATE ROLE regress_audit_web NOLOGIN;
GRANT SELECT, INSERT, UPDATE, DELETE ON account TO regress_audit_web;
BEGIN;
SELECT set_config('role', 'regress_audit_web', true),
	   set_config('request.jwt.claims', '{"sub":"user-42","role":"regress_audit_web","exp":1999999999}', true),
	   set_config('request.method', 'PATCH', true),
	   set_config('request.path', '/account', true) \gset
UPDATE account SET balance = 14 WHERE id = 1;
COMMIT;
-- A numeric sub; claims without sub; PostgREST before version 10.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":1234}', true) \gset
UPDATE account SET balance = 15 WHERE id = 1;
SELECT set_config('request.jwt.claims', '{"role":"anon"}', true) \gset
UPDATE account SET balance = 16 WHERE id = 1;
SELECT set_config('request.jwt.claims', '', true),
	   set_config('request.jwt.claim.sub', 'legacy-user', true) \gset
UPDATE account SET balance = 17 WHERE id = 1;
COMMIT;
SELECT actor, db_user, new_row->>'balance' AS balance
  FROM log WHERE op = 'UPDATE' AND changed_columns = '{balance}' ORDER BY id DESC LIMIT 5;
-- Claims that are not JSON are an error, not an unattributed change.
BEGIN;
SELECT set_config('request.jwt.claims', 'not json', true) \gset
UPDATE account SET balance = 18 WHERE id = 1;
ROLLBACK;

-- TRUNCATE writes one row.
CREATE TABLE scratch (id int PRIMARY KEY, v text);
SELECT apikit.audit_enable('scratch');
INSERT INTO scratch SELECT g, 'v' || g FROM generate_series(1, 3) g;
TRUNCATE scratch;
SELECT op, table_name, row_key, old_row, new_row FROM log WHERE table_name = 'scratch';

-- A table without a key logs the whole row as its key; REPLICA IDENTITY
-- USING INDEX chooses another key.
CREATE TABLE events (kind text, payload jsonb);
SELECT apikit.audit_enable('events');
INSERT INTO events VALUES ('login', '{"ip": "192.0.2.1"}');
UPDATE events SET payload = '{"ip": "192.0.2.2"}';
CREATE TABLE members (id int PRIMARY KEY, handle text NOT NULL UNIQUE, name text);
ALTER TABLE members REPLICA IDENTITY USING INDEX members_handle_key;
SELECT apikit.audit_enable('members');
INSERT INTO members VALUES (1, 'ann', 'Ann');
SELECT op, table_name, row_key FROM log WHERE table_name IN ('events', 'members');

-- Partitioned tables: enabled on the parent, logged under its name, for
-- existing and later partitions, also when a partition is written directly.
CREATE TABLE orders (id int, region text, total numeric, PRIMARY KEY (id, region))
	PARTITION BY LIST (region);
CREATE TABLE orders_eu PARTITION OF orders FOR VALUES IN ('eu');
SELECT apikit.audit_enable('orders');
CREATE TABLE orders_us PARTITION OF orders FOR VALUES IN ('us');
INSERT INTO orders VALUES (1, 'eu', 10), (2, 'us', 20);
INSERT INTO orders_us VALUES (3, 'us', 30);
UPDATE orders SET total = 11 WHERE id = 1;
SELECT op, relid = 'orders'::regclass AS parent_relid, table_name, row_key, changed_columns
  FROM apikit.audit_log WHERE table_name LIKE 'orders%' ORDER BY id;
SELECT apikit.audit_enable('orders_us');
SELECT rel FROM apikit.audited_tables WHERE rel::text LIKE 'orders%';
-- TRUNCATE: of the parent, one row under its name; of one partition, one
-- row under the partition's name (only its rows are gone), also for
-- partitions created or attached after audit_enable.
CREATE TABLE orders_asia (LIKE orders);
ALTER TABLE orders ATTACH PARTITION orders_asia FOR VALUES IN ('asia');
SELECT table_name, event, changed_columns FROM audit_events ORDER BY id DESC LIMIT 1;
-- (An attached table gets its TRUNCATE trigger from audit_enable, run again.)
SELECT apikit.audit_enable('orders');
CREATE TABLE orders_sub PARTITION OF orders FOR VALUES IN ('sub') PARTITION BY LIST (id);
CREATE TABLE orders_sub_1 PARTITION OF orders_sub FOR VALUES IN (1);
INSERT INTO orders VALUES (4, 'asia', 40), (1, 'sub', 1);
TRUNCATE orders_us;
TRUNCATE orders_asia;
TRUNCATE orders_sub;
TRUNCATE orders;
SELECT op, table_name, row_key FROM apikit.audit_log
 WHERE table_name LIKE 'orders%' AND id > (SELECT max(id) FROM apikit.audit_log WHERE changed_columns = '{total}')
 ORDER BY id;
SELECT apikit.audit_row_at('orders', '{"id": 1, "region": "eu"}', now()) AS after_parent_truncate;
-- A detached partition is no longer audited, TRUNCATE included.
ALTER TABLE orders DETACH PARTITION orders_us;
INSERT INTO orders_us VALUES (7, 'us', 70);
TRUNCATE orders_us;
SELECT count(*) AS detached_logged FROM apikit.audit_log WHERE table_name = 'orders_us'
   AND id > (SELECT max(id) FROM apikit.audit_log WHERE table_name = 'orders' AND op = 'TRUNCATE')
   AND op <> 'AUDIT';
DROP TABLE orders_us;
-- Foreign partitions cannot have TRUNCATE triggers; their siblings do.
CREATE TABLE notes (id int, region text) PARTITION BY LIST (region);
CREATE FOREIGN DATA WRAPPER regress_audit_fdw;
CREATE SERVER regress_audit_srv FOREIGN DATA WRAPPER regress_audit_fdw;
CREATE FOREIGN TABLE notes_far PARTITION OF notes FOR VALUES IN ('far') SERVER regress_audit_srv;
CREATE TABLE notes_near PARTITION OF notes FOR VALUES IN ('near');
SELECT apikit.audit_enable('notes');
CREATE TABLE notes_new PARTITION OF notes FOR VALUES IN ('new');
SELECT tgrelid::regclass AS partition_with_truncate_trigger FROM pg_trigger
 WHERE tgname = 'apikit_audit_truncate' AND tgrelid::regclass::text LIKE 'notes%' ORDER BY 1;
DROP TABLE notes;
DROP SERVER regress_audit_srv;
DROP FOREIGN DATA WRAPPER regress_audit_fdw;
-- The owner of one partition alters it without privileges on the others
-- (and an attached table has no TRUNCATE trigger until audit_enable).
CREATE ROLE regress_audit_part_owner;
CREATE TABLE orders_mine (LIKE orders);
ALTER TABLE orders_mine OWNER TO regress_audit_part_owner;
ALTER TABLE orders ATTACH PARTITION orders_mine FOR VALUES IN ('mine');
SET ROLE regress_audit_part_owner;
ALTER TABLE orders_mine SET (fillfactor = 90);
RESET ROLE;
SELECT count(*) AS mine_truncate_trigger FROM pg_trigger
 WHERE tgrelid = 'orders_mine'::regclass AND tgname = 'apikit_audit_truncate';

-- Every type with a jsonb conversion; NaN, arrays, composites, TOAST.
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE TABLE typed (
	id bigint PRIMARY KEY, s smallint, n numeric, f float8, b bool, u uuid, d date,
	ts timestamptz, iv interval, ba bytea, arr int[], j json, m mood, p pair,
	pos positive, pt point, vc varchar(10), big text);
SELECT apikit.audit_enable('typed');
INSERT INTO typed VALUES (1, -3, 'NaN', 1.5, true, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
	'2026-01-02', '2026-01-02 03:04:05+00', '1 day 2 hours', '\x00ff', '{1,2,NULL}',
	'{"nested": [1, {"x": null}]}', 'happy', ROW(1, 'one'), 7, '(1,2)', 'short',
	repeat('long text ', 20000));
SELECT jsonb_pretty(new_row - 'big') AS new_row, length(new_row->>'big') AS big_len
  FROM log WHERE table_name = 'typed';
-- An UPDATE that leaves the TOASTed value alone does not count it changed.
UPDATE typed SET s = 4 WHERE id = 1;
UPDATE typed SET big = big || '!' WHERE id = 1;
SELECT changed_columns, old_row ? 'big' AS old_has_big FROM log WHERE table_name = 'typed' AND op = 'UPDATE';

-- History and the row at a time.
SELECT op, changed_columns, new_row->>'balance' AS balance
  FROM apikit.audit_history('account', '{"id": 1}');
SELECT count(*) AS history_of_deleted FROM apikit.audit_history('account', '{"id": 2}');
SELECT apikit.audit_row_at('account', '{"id": 2}', ts - interval '1 second') AS before_insert,
	   apikit.audit_row_at('account', '{"id": 2}', ts)->>'email' AS at_insert
  FROM apikit.audit_log WHERE table_name = 'account' AND row_key = '{"id": 2}' AND op = 'INSERT';
SELECT apikit.audit_row_at('account', '{"id": 2}', ts) AS after_delete
  FROM apikit.audit_log WHERE table_name = 'account' AND row_key = '{"id": 2}' AND op = 'DELETE';
SELECT apikit.audit_row_at('account', '{"id": 1}', now())->>'balance' AS balance_now;
SELECT apikit.audit_row_at('scratch', '{"id": 1}', ts - interval '1 microsecond')->>'v' AS before_truncate,
	   apikit.audit_row_at('scratch', '{"id": 1}', ts) AS after_truncate
  FROM apikit.audit_log WHERE table_name = 'scratch' AND op = 'TRUNCATE';
SELECT count(*) AS history_without_key
  FROM apikit.audit_history('events', '{"kind": "login", "payload": {"ip": "192.0.2.1"}}');
SELECT apikit.audit_history('account', '[1]');
SELECT apikit.audit_history('account', '{"account_id": 1}');
SELECT apikit.audit_history('orders', '{"id": 1}');
SELECT apikit.audit_row_at('account', '{"id": 1}', NULL);

-- A renamed schema is logged under its new name.
CREATE SCHEMA regress_audit_s;
CREATE TABLE regress_audit_s.t (id int PRIMARY KEY);
SELECT apikit.audit_enable('regress_audit_s.t');
INSERT INTO regress_audit_s.t VALUES (1);
ALTER SCHEMA regress_audit_s RENAME TO regress_audit_s2;
INSERT INTO regress_audit_s2.t VALUES (2);
SELECT schema_name, row_key FROM apikit.audit_log WHERE table_name = 't' ORDER BY id;
SELECT count(*) AS history_after_rename FROM apikit.audit_history('regress_audit_s2.t', '{"id": 2}');
DROP SCHEMA regress_audit_s2 CASCADE;

-- Many rows through the same cached index state: PostgreSQL 17 and later
-- give BRIN a fresh insert state per row, which must not pile up.
INSERT INTO scratch SELECT g, 'bulk' FROM generate_series(100, 399) g;
SELECT count(*) <= 1 AS brin_state_does_not_pile_up
  FROM pg_backend_memory_contexts WHERE name = 'brin desc cxt';
DELETE FROM scratch WHERE id >= 100;

-- A DBA who changes the log's columns stops the writes and the checks.
BEGIN;
ALTER TABLE apikit.audit_log ADD COLUMN extra int;
INSERT INTO scratch VALUES (50, 'x');
ROLLBACK;
INSERT INTO scratch VALUES (50, 'after the rollback');

-- Sealing, the digest and verification.
SELECT apikit.audit_digest() IS NULL AS nothing_sealed_yet;
SELECT apikit.audit_seal() = (SELECT count(*) FROM apikit.audit_log) AS sealed_everything;
SELECT apikit.audit_seal() AS sealed_again;
SELECT block_id, first_id, row_count, purged_at FROM apikit.audit_seals;
SELECT apikit.audit_digest() ~ '^1:[0-9a-f]{64}$' AS digest_format;
SELECT apikit.audit_digest() AS digest1 \gset
SELECT * FROM apikit.audit_verify();
SELECT * FROM apikit.audit_verify(:'digest1');
SELECT * FROM apikit.audit_verify('1:' || repeat('0', 64));
SELECT * FROM apikit.audit_verify('7:' || repeat('0', 64));
SELECT * FROM apikit.audit_verify('not a digest');
-- Sealing needs READ COMMITTED and a sequence without a cache.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT apikit.audit_seal();
ROLLBACK;
BEGIN;
ALTER SEQUENCE apikit.audit_log_id_seq CACHE 10;
SELECT apikit.audit_seal();
ROLLBACK;

-- New rows go into the next block, chained to the first.
INSERT INTO scratch VALUES (10, 'ten');
SELECT apikit.audit_seal() AS sealed;
SELECT block_id, first_id = (SELECT last_id + 1 FROM apikit.audit_seals WHERE block_id = 1) AS contiguous,
	   row_count FROM apikit.audit_seals WHERE block_id = 2;
SELECT ok, blocks_checked FROM apikit.audit_verify(:'digest1');

-- A superuser's change to a sealed row is found: a value, a row_hash, a
-- deleted row, an inserted row, a rewritten seal.
BEGIN;
UPDATE apikit.audit_log SET actor = 'someone else' WHERE id = 3;
SELECT * FROM apikit.audit_verify();
ROLLBACK;
BEGIN;
UPDATE apikit.audit_log SET new_row = jsonb_set(new_row, '{balance}', '1000') WHERE id = 1;
SELECT * FROM apikit.audit_verify();
ROLLBACK;
BEGIN;
UPDATE apikit.audit_log SET row_hash = (SELECT row_hash FROM apikit.audit_log WHERE id = 1) WHERE id = 2;
SELECT ok, first_bad_block, first_bad_id FROM apikit.audit_verify();
ROLLBACK;
BEGIN;
DELETE FROM apikit.audit_log WHERE id = 2;
SELECT * FROM apikit.audit_verify();
ROLLBACK;
BEGIN;
INSERT INTO apikit.audit_log SELECT * FROM apikit.audit_log WHERE id = 1 ON CONFLICT DO NOTHING;
UPDATE apikit.audit_log SET id = -id WHERE id = 1;
SELECT ok, detail FROM apikit.audit_verify();
ROLLBACK;
BEGIN;
UPDATE apikit.audit_seals SET digest = '\x00' WHERE block_id = 1;
SELECT ok, first_bad_block, detail FROM apikit.audit_verify();
ROLLBACK;
BEGIN;
UPDATE apikit.audit_seals SET purged_at = now() WHERE block_id = 2;
DELETE FROM apikit.audit_log WHERE id >= (SELECT first_id FROM apikit.audit_seals WHERE block_id = 2);
SELECT ok, first_bad_block, detail FROM apikit.audit_verify();
ROLLBACK;
BEGIN;
DELETE FROM apikit.audit_seals WHERE block_id = 2;
SELECT ok FROM apikit.audit_verify() AS without_digest;
SELECT apikit.audit_digest() = :'digest1' AS digest_went_back;
ROLLBACK;
-- Unsealed rows are checked against their own hash.
INSERT INTO scratch VALUES (11, 'eleven');
BEGIN;
UPDATE apikit.audit_log SET new_row = '{"id": 11, "v": "twelve"}' WHERE id = (SELECT max(id) FROM apikit.audit_log);
SELECT ok, first_bad_block, first_bad_id IS NOT NULL AS has_bad_id, detail LIKE '%does not match its row_hash%' AS detail_ok
  FROM apikit.audit_verify();
ROLLBACK;

-- Redaction: values become markers, the key and the facts stay, and the
-- log still verifies.
SELECT apikit.audit_redact('account', '{"id": 2}') AS redacted_rows;
SELECT op, row_key, new_row->'email' AS email, old_row->'email' AS old_email, changed_columns
  FROM apikit.audit_log WHERE table_name = 'account' AND row_key = '{"id": 2}' ORDER BY id;
SELECT ok, blocks_checked FROM apikit.audit_verify(:'digest1');
SELECT apikit.audit_redact('account', '{"id": 2}') AS redacted_again;
-- Only some columns.
SELECT apikit.audit_redact('account', '{"id": 1}', '{email}') AS redacted_email;
SELECT DISTINCT new_row->'email' ? '$apikit_redacted' AS email_redacted,
	   new_row->>'balance' IS NOT NULL AS balance_kept
  FROM apikit.audit_log WHERE table_name = 'account' AND row_key = '{"id": 1}' AND new_row IS NOT NULL;
-- A table without a key: the key (the whole row) is redacted too.
SELECT apikit.audit_redact('events', '{"kind": "login", "payload": {"ip": "192.0.2.1"}}') AS redacted_events;
SELECT row_key ? 'payload' AS has_payload, row_key->'payload' ? '$apikit_redacted' AS payload_redacted
  FROM apikit.audit_log WHERE table_name = 'events' AND op = 'INSERT';
-- A statement can hold any value: every redaction of its row redacts it.
SELECT statement LIKE '$apikit_redacted:%' AS statement_redacted
  FROM apikit.audit_log WHERE statement IS NOT NULL;
SELECT ok FROM apikit.audit_verify(:'digest1');
SELECT apikit.audit_redact('account', '"x"');
-- An erasure that erases nothing says so: a key of the wrong shape is the
-- error audit_history gives, an unknown column is an error, a key no row
-- has a NOTICE.
SELECT apikit.audit_redact('account', '{"idx": 2}');
SELECT apikit.audit_redact('account', '{"id": 2}', '{no_such}');
SELECT apikit.audit_redact('account', '{"id": 2}', '{}');
SELECT apikit.audit_redact('account', '{"id": 2}', '{email,NULL}');
SELECT apikit.audit_redact('account', '{"id": 99}') AS nothing_to_redact;
-- Known columns that are already redacted: nothing to change, no NOTICE.
SELECT apikit.audit_redact('account', '{"id": 2}', '{email}') AS already_redacted;

-- Purge drops whole sealed blocks older than the interval; the chain
-- through them still verifies.
SELECT apikit.audit_purge('1 hour') AS purged_none;
SELECT apikit.audit_seal() > 0 AS sealed_rest;
BEGIN;
CREATE TEMP TABLE purged_copy AS SELECT * FROM apikit.audit_log WHERE id = 1;
SELECT apikit.audit_purge('0 seconds') = (SELECT count(*) FROM apikit.audit_log) AS purged_all;
SELECT block_id, purged_at IS NOT NULL AS purged FROM apikit.audit_seals ORDER BY block_id;
SELECT count(*) AS rows_left FROM apikit.audit_log;
SELECT * FROM apikit.audit_verify(:'digest1');
-- A row put back into a purged block is found.
INSERT INTO apikit.audit_log SELECT * FROM purged_copy;
SELECT ok, first_bad_block, first_bad_id, detail FROM apikit.audit_verify(:'digest1');
ROLLBACK;
SELECT apikit.audit_purge('-1 day');

-- Settings: apikit.audit_enabled off writes nothing (superusers only).
SET apikit.audit_enabled = off;
INSERT INTO scratch VALUES (20, 'not audited');
RESET apikit.audit_enabled;
SELECT count(*) AS unaudited FROM apikit.audit_log WHERE row_key = '{"id": 20}';

-- Privileges.  The log: auditors read it; nobody else does; nobody but a
-- superuser changes it.
CREATE ROLE regress_audit_reader;
CREATE ROLE regress_audit_nobody;
GRANT apikit_auditor TO regress_audit_reader;
SET ROLE regress_audit_nobody;
SELECT count(*) FROM apikit.audit_log;
SELECT count(*) FROM apikit.audit_seals;
SELECT * FROM apikit.audit_verify();
SELECT * FROM apikit.audit_history('account', '{"id": 1}');
SET apikit.audit_enabled = off;
SET apikit.audit_statement = on;
SELECT apikit.audit_seal();
SELECT apikit.audit_purge('1 day');
SELECT apikit.audit_redact('account', '{"id": 1}');
RESET ROLE;
SET ROLE regress_audit_reader;
SELECT count(*) > 0 AS auditor_reads FROM apikit.audit_log;
SELECT ok FROM apikit.audit_verify();
SELECT count(*) > 0 AS auditor_history FROM apikit.audit_history('account', '{"id": 1}');
SELECT apikit.audit_seal();
UPDATE apikit.audit_log SET actor = 'x';
DELETE FROM apikit.audit_log;
INSERT INTO apikit.audit_log (id) VALUES (-1);
TRUNCATE apikit.audit_log;
SELECT apikit.audit_purge('1 day');
RESET ROLE;
-- A user who changes an audited table needs no privilege on the log.
SET ROLE regress_audit_web;
INSERT INTO account (id, email) VALUES (6, 'web@example.com');
SELECT count(*) FROM apikit.audit_log;
RESET ROLE;
SELECT db_user, actor FROM log WHERE table_name = 'account' AND row_key = '{"id": 6}';
-- The trigger function is only a trigger.
SELECT apikit.audit_trigger();
CREATE TRIGGER wrong BEFORE INSERT ON scratch FOR EACH ROW EXECUTE FUNCTION apikit.audit_trigger();
INSERT INTO scratch VALUES (30, 'x');
DROP TRIGGER wrong ON scratch;

-- Masks and exclusions follow the column, not its name: a renamed column
-- keeps its mask under its new name, and a new column that takes the old
-- name is another column.  audited_tables shows the current names.
DROP VIEW account_view;
ALTER TABLE account RENAME COLUMN password TO password_legacy;
ALTER TABLE account ADD COLUMN password text;
UPDATE account SET password_legacy = 'old secret', password = 'new value' WHERE id = 1;
SELECT old_row, new_row->>'password_legacy' AS password_legacy, new_row->>'password' AS password
  FROM log WHERE table_name = 'account' ORDER BY id DESC LIMIT 1;
SELECT exclude_columns, mask_columns FROM apikit.audited_tables WHERE rel = 'account'::regclass;
-- The rename is in the log.
SELECT event, by, command, changed_columns FROM audit_events ORDER BY id DESC LIMIT 1;
SELECT old_row, new_row->'mask_columns' AS mask_columns
  FROM apikit.audit_log WHERE op = 'AUDIT' ORDER BY id DESC LIMIT 1;
-- An excluded column renamed stays excluded; dropped, it leaves the list,
-- and a new column with its name is logged.
ALTER TABLE account RENAME COLUMN last_seen TO seen_at;
UPDATE account SET seen_at = now() WHERE id = 1;
ALTER TABLE account DROP COLUMN seen_at;
ALTER TABLE account ADD COLUMN seen_at text;
UPDATE account SET seen_at = 'logged now' WHERE id = 1;
SELECT changed_columns, new_row->>'seen_at' AS seen_at FROM log WHERE table_name = 'account' ORDER BY id DESC LIMIT 1;
SELECT exclude_columns, mask_columns FROM apikit.audited_tables WHERE rel = 'account'::regclass;
SELECT event, command, changed_columns FROM audit_events ORDER BY id DESC LIMIT 2;
-- A masked column beside a renamed key: the key follows, the mask stays.
ALTER TABLE account RENAME COLUMN id TO account_id;
UPDATE account SET password_legacy = 'x' WHERE account_id = 1;
SELECT row_key, new_row->>'password_legacy' AS password_legacy FROM log WHERE table_name = 'account' ORDER BY id DESC LIMIT 1;
ALTER TABLE account RENAME COLUMN account_id TO id;
-- Partitioned tables: the lists of the parent, of every partition's clone
-- and of the partitions' TRUNCATE triggers follow.
CREATE TABLE bills (id int, region text, card text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE bills_eu PARTITION OF bills FOR VALUES IN ('eu');
SELECT apikit.audit_enable('bills', mask_columns => '{card}');
ALTER TABLE bills RENAME COLUMN card TO card_number;
ALTER TABLE bills ADD COLUMN card text;
INSERT INTO bills VALUES (1, 'eu', '4111 1111 1111 1111', 'visa');
SELECT new_row FROM log WHERE table_name = 'bills';
SELECT tgrelid::regclass AS rel, tgname, apikit.audit_trigger_args(tgargs) AS args
  FROM pg_trigger WHERE tgfoid = 'apikit.audit_trigger()'::regprocedure
   AND tgrelid::regclass::text LIKE 'bills%' ORDER BY 1, 2;
SELECT rel, mask_columns FROM apikit.audited_tables WHERE rel = 'bills'::regclass;
DROP TABLE bills;

-- Every change to a table's auditing is a row of the log (op AUDIT),
-- sealed like the rest; audit_verify() reports a window in which changes
-- went unrecorded, and names the table.  A role with TRIGGER replaces
-- apikit_audit by a trigger that does nothing:
CREATE ROLE regress_audit_trigger;
GRANT TRIGGER, INSERT ON scratch TO regress_audit_trigger;
BEGIN;
SET ROLE regress_audit_trigger;
CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE OR REPLACE TRIGGER apikit_audit AFTER INSERT OR UPDATE OR DELETE ON scratch
	FOR EACH ROW EXECUTE FUNCTION pg_temp.noop();
INSERT INTO scratch VALUES (60, 'unrecorded');
RESET ROLE;
SELECT event, by, command, changed_columns, regexp_replace(reason, '\d+', 'N', 'g') AS reason, db_user
  FROM audit_events ORDER BY id DESC LIMIT 1;
SELECT ok, first_bad_block, first_bad_id = (SELECT max(id) FROM audit_events) AS names_the_row,
	   regexp_replace(detail, '\d+', 'N', 'g') AS detail
  FROM apikit.audit_verify();
-- Auditing resumed: the window stays reported.
SELECT apikit.audit_enable('scratch');
SELECT ok, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM apikit.audit_verify();
ROLLBACK;
-- The owner disables the trigger, writes, and enables it again; every
-- way of switching it off or on is recorded.
BEGIN;
SELECT max(id) AS before FROM apikit.audit_log \gset
ALTER TABLE scratch DISABLE TRIGGER apikit_audit;
INSERT INTO scratch VALUES (61, 'unrecorded');
ALTER TABLE scratch ENABLE TRIGGER apikit_audit;
ALTER TABLE scratch DISABLE TRIGGER ALL;
ALTER TABLE scratch ENABLE TRIGGER ALL;
ALTER TABLE scratch DISABLE TRIGGER USER;
ALTER TABLE scratch ENABLE TRIGGER USER;
ALTER TABLE scratch ENABLE REPLICA TRIGGER apikit_audit;
ALTER TABLE scratch ENABLE ALWAYS TRIGGER apikit_audit;
ALTER TRIGGER apikit_audit ON scratch RENAME TO scratch_audit;
ALTER TRIGGER scratch_audit ON scratch RENAME TO apikit_audit;
CREATE OR REPLACE TRIGGER apikit_audit AFTER INSERT OR UPDATE OR DELETE ON scratch
	FOR EACH ROW WHEN (false) EXECUTE FUNCTION apikit.audit_trigger('{}', '{}');
CREATE OR REPLACE TRIGGER apikit_audit AFTER INSERT OR UPDATE OR DELETE ON scratch
	FOR EACH ROW EXECUTE FUNCTION apikit.audit_trigger('{}', '{}');
DROP TRIGGER apikit_audit_truncate ON scratch;
SELECT event, by, command, changed_columns, reason FROM audit_events WHERE id > :before;
-- A row's history shows its table's auditing, in order.
UPDATE scratch SET v = 'fifty' WHERE id = 50;
SELECT op, new_row->>'event' AS event, new_row->>'v' AS v
  FROM apikit.audit_history('scratch', '{"id": 50}') WHERE id > :before;
SELECT ok, first_bad_id = (SELECT min(id) FROM audit_events WHERE id > :before) AS first_window,
	   regexp_replace(detail, '\d+', 'N', 'g') AS detail
  FROM apikit.audit_verify();
ROLLBACK;
-- Dropped by hand: reported until it ends, here with the table.
BEGIN;
DROP TRIGGER apikit_audit ON scratch;
SELECT event, command, reason FROM audit_events ORDER BY id DESC LIMIT 1;
SELECT ok, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM apikit.audit_verify();
DROP TABLE scratch;
SELECT schema_name, table_name, event, command FROM audit_events ORDER BY id DESC LIMIT 1;
SELECT ok, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM apikit.audit_verify();
ROLLBACK;
-- audit_disable is a decision, recorded and mentioned; ok stays true.
BEGIN;
SELECT apikit.audit_disable('scratch');
SELECT event, by, command, changed_columns FROM audit_events ORDER BY id DESC LIMIT 1;
SELECT ok, first_bad_id, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM apikit.audit_verify();
ROLLBACK;
REVOKE ALL ON scratch FROM regress_audit_trigger;
DROP ROLE regress_audit_trigger;

-- apikit.audit_trigger() runs only as apikit_audit (rows) or
-- apikit_audit_truncate (TRUNCATE): under another name it would log the
-- table a second time with lists of its own, and a role with TRIGGER could
-- have a masked column logged in clear beside the masked rows.
CREATE TABLE acct (id int PRIMARY KEY, password text, note text);
SELECT apikit.audit_enable('acct', mask_columns => '{password}');
INSERT INTO acct VALUES (1, 'hunter1', 'first');
CREATE ROLE regress_audit_bob;
GRANT TRIGGER, INSERT, UPDATE ON acct TO regress_audit_bob;
SET ROLE regress_audit_bob;
CREATE TRIGGER zzz AFTER INSERT OR UPDATE OR DELETE ON acct
	FOR EACH ROW EXECUTE FUNCTION apikit.audit_trigger('{}', '{}');
INSERT INTO acct VALUES (2, 'hunter2', 'x');
RESET ROLE;
DROP TRIGGER zzz ON acct;
BEGIN;
CREATE OR REPLACE TRIGGER apikit_audit_truncate AFTER INSERT ON acct
	FOR EACH ROW EXECUTE FUNCTION apikit.audit_trigger('{}', '{}');
INSERT INTO acct VALUES (2, 'hunter2', 'x');
ROLLBACK;
SELECT count(*) AS in_clear FROM apikit.audit_log WHERE new_row::text LIKE '%hunter%';
-- The trigger replaced with weaker lists (none, or more excluded): logged,
-- and reported by audit_verify() for as long as it lasts.
BEGIN;
SET ROLE regress_audit_bob;
CREATE OR REPLACE TRIGGER apikit_audit AFTER INSERT OR UPDATE OR DELETE ON acct
	FOR EACH ROW EXECUTE FUNCTION apikit.audit_trigger();
INSERT INTO acct VALUES (2, 'hunter2', 'x');
RESET ROLE;
SELECT event, changed_columns, db_user FROM audit_events ORDER BY id DESC LIMIT 1;
SELECT ok, first_bad_id = (SELECT max(id) FROM audit_events) AS names_the_row,
	   regexp_replace(detail, '\d+', 'N', 'g') AS detail
  FROM apikit.audit_verify();
-- Repaired with audit_enable() without lists: the lists last set with it
-- come back, with a NOTICE; the window stays reported.
SELECT apikit.audit_enable('acct');
SELECT mask_columns FROM apikit.audited_tables WHERE rel = 'acct'::regclass;
SELECT ok, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM apikit.audit_verify();
ROLLBACK;
BEGIN;
SET ROLE regress_audit_bob;
CREATE OR REPLACE TRIGGER apikit_audit AFTER INSERT OR UPDATE OR DELETE ON acct
	FOR EACH ROW EXECUTE FUNCTION apikit.audit_trigger('{note}', '{password}');
RESET ROLE;
SELECT ok, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM apikit.audit_verify();
ROLLBACK;
-- A stronger list by hand is no window.
BEGIN;
CREATE OR REPLACE TRIGGER apikit_audit AFTER INSERT OR UPDATE OR DELETE ON acct
	FOR EACH ROW EXECUTE FUNCTION apikit.audit_trigger('{}', '{note,password}');
SELECT ok FROM apikit.audit_verify();
ROLLBACK;
-- Replaced by a trigger that does nothing, then repaired with audit_enable()
-- without lists: the mask comes back (the trigger had none to keep).
BEGIN;
SET ROLE regress_audit_bob;
CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE OR REPLACE TRIGGER apikit_audit AFTER INSERT OR UPDATE OR DELETE ON acct
	FOR EACH ROW EXECUTE FUNCTION pg_temp.noop();
RESET ROLE;
SELECT apikit.audit_enable('acct');
INSERT INTO acct VALUES (3, 'hunter3', 'x');
SELECT new_row->>'password' AS password FROM log WHERE table_name = 'acct' ORDER BY id DESC LIMIT 1;
ROLLBACK;
-- Renamed, apikit_audit no longer runs: writes fail, and audit_enable()
-- says why instead of adding a second, unmasked trigger.
BEGIN;
ALTER TRIGGER apikit_audit ON acct RENAME TO acct_audit;
INSERT INTO acct VALUES (4, 'hunter4', 'x');
ROLLBACK;
BEGIN;
ALTER TRIGGER apikit_audit ON acct RENAME TO acct_audit;
SELECT apikit.audit_enable('acct');
ROLLBACK;
-- Disabled with audit_disable() and enabled again without lists: the lists
-- last set come back.
BEGIN;
SELECT apikit.audit_disable('acct');
SELECT apikit.audit_enable('acct');
SELECT mask_columns FROM apikit.audited_tables WHERE rel = 'acct'::regclass;
SELECT apikit.audit_enable('acct', mask_columns => '{}');
SELECT ok FROM apikit.audit_verify();
ROLLBACK;

-- DDL that changes stored values without firing row triggers is a row
-- ("rewritten": which columns, how); audit_row_at() does not show values
-- the log no longer knows, and a dropped column is gone.  A masked column's
-- new values (USING, DEFAULT) stay out of the log.
CREATE TABLE bal (id int PRIMARY KEY, amount int, pin text, skip text);
SELECT apikit.audit_enable('bal', exclude_columns => '{skip}', mask_columns => '{pin}');
INSERT INTO bal VALUES (1, 100, '1234', 's');
SELECT pg_sleep(0.01);
SELECT clock_timestamp() AS before_ddl \gset
ALTER TABLE bal ALTER COLUMN amount TYPE bigint USING 0, ADD COLUMN flag boolean DEFAULT true;
ALTER TABLE bal ALTER COLUMN pin TYPE text USING '9999', ALTER COLUMN skip TYPE varchar(5);
ALTER TABLE bal ADD COLUMN serial int GENERATED ALWAYS AS IDENTITY,
	ADD COLUMN twice bigint GENERATED ALWAYS AS (amount * 2) STORED, ADD COLUMN nothing text;
CREATE DOMAIN cents AS bigint DEFAULT 0;
ALTER TABLE bal ADD COLUMN fee cents;
ALTER TABLE bal DROP COLUMN flag;
SELECT event, new_row->'rewritten' AS rewritten FROM audit_events e
  JOIN apikit.audit_log l USING (id) WHERE e.table_name = 'bal' AND l.new_row ? 'rewritten' ORDER BY id;
SELECT apikit.audit_row_at('bal', '{"id": 1}', :'before_ddl') AS before_ddl,
	   regexp_replace(apikit.audit_row_at('bal', '{"id": 1}', now())::text, '\d{2,}', 'N', 'g') AS after_ddl;
SELECT op, new_row->>'event' AS event FROM apikit.audit_history('bal', '{"id": 1}');
-- quote_all_identifiers, which any role may set, changes nothing recorded.
SELECT max(id) AS before_quoting FROM apikit.audit_log \gset
SET quote_all_identifiers = on;
ALTER TABLE bal ADD COLUMN quoted int;
RESET quote_all_identifiers;
SELECT count(*) AS rows_written FROM apikit.audit_log WHERE id > :before_quoting;
DROP TABLE bal;
DROP DOMAIN cents;

-- Partitions log row changes under the partitioned table's name, and
-- changes to their own auditing under theirs: a partition switched off and
-- on is in the history of its rows.
CREATE TABLE parts (id int, k text, v text, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
CREATE TABLE parts_a PARTITION OF parts FOR VALUES IN ('a');
CREATE TABLE parts_b PARTITION OF parts FOR VALUES IN ('b');
SELECT apikit.audit_enable('parts');
INSERT INTO parts VALUES (1, 'a', 'one'), (1, 'b', 'one');
BEGIN;
ALTER TABLE parts_a DISABLE TRIGGER apikit_audit;
UPDATE parts SET v = 'unlogged' WHERE id = 1;
ALTER TABLE parts_a ENABLE TRIGGER apikit_audit;
UPDATE parts SET v = 'logged' WHERE id = 1;
SELECT op, table_name, new_row->>'event' AS event, new_row->>'v' AS v
  FROM apikit.audit_history('parts', '{"id": 1, "k": "a"}') ORDER BY id;
ROLLBACK;
-- Detaching a partition that has partitions of its own is a decision for
-- all of them.
CREATE TABLE parts_c PARTITION OF parts FOR VALUES IN ('c') PARTITION BY LIST (id);
CREATE TABLE parts_c1 PARTITION OF parts_c FOR VALUES IN (1);
BEGIN;
ALTER TABLE parts DETACH PARTITION parts_c;
SELECT table_name, event FROM audit_events WHERE table_name LIKE 'parts_c%' ORDER BY id DESC LIMIT 2;
SELECT ok, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM apikit.audit_verify();
ROLLBACK;
DROP TABLE parts;

-- Typed tables: ALTER TYPE ... RENAME ATTRIBUTE / DROP ATTRIBUTE ... CASCADE
-- rename or drop their columns; the lists follow.
CREATE TYPE person AS (id int, secret text, note text);
CREATE TABLE people OF person (PRIMARY KEY (id));
SELECT apikit.audit_enable('people', mask_columns => '{secret}');
ALTER TYPE person RENAME ATTRIBUTE secret TO hidden CASCADE;
INSERT INTO people VALUES (1, 'a secret', 'x');
SELECT new_row FROM log WHERE table_name = 'people';
SELECT mask_columns FROM apikit.audited_tables WHERE rel = 'people'::regclass;
ALTER TYPE person DROP ATTRIBUTE hidden CASCADE;
INSERT INTO people VALUES (2, 'y');
SELECT mask_columns FROM apikit.audited_tables WHERE rel = 'people'::regclass;
SELECT event, command, changed_columns FROM audit_events WHERE table_name = 'people' ORDER BY id;
DROP TABLE people;
DROP TYPE person;

-- History follows the table through ALTER TABLE ... RENAME, SET SCHEMA and
-- ALTER SCHEMA ... RENAME; a new table that takes an old name starts a
-- history of its own.
CREATE TABLE hist (id int PRIMARY KEY, v text);
SELECT apikit.audit_enable('hist');
INSERT INTO hist VALUES (1, 'one');
ALTER TABLE hist RENAME TO hist_renamed;
UPDATE hist_renamed SET v = 'two' WHERE id = 1;
CREATE SCHEMA regress_audit_h;
ALTER TABLE hist_renamed SET SCHEMA regress_audit_h;
UPDATE regress_audit_h.hist_renamed SET v = 'three' WHERE id = 1;
ALTER SCHEMA regress_audit_h RENAME TO regress_audit_h2;
UPDATE regress_audit_h2.hist_renamed SET v = 'four' WHERE id = 1;
SELECT op, schema_name, table_name, new_row->>'v' AS v, new_row->>'event' AS event, changed_columns
  FROM apikit.audit_history('regress_audit_h2.hist_renamed', '{"id": 1}');
SELECT apikit.audit_row_at('regress_audit_h2.hist_renamed', '{"id": 1}', ts)->>'v' AS v_at_insert
  FROM apikit.audit_log WHERE op = 'INSERT' AND table_name = 'hist';
SELECT apikit.audit_redact('regress_audit_h2.hist_renamed', '{"id": 1}', '{v}') AS redacted_across_renames;
-- A new table named like the first.
CREATE TABLE hist (id int PRIMARY KEY, v text);
SELECT apikit.audit_enable('hist');
INSERT INTO hist VALUES (1, 'new table');
SELECT op, table_name, new_row->>'v' AS v, new_row->>'event' AS event
  FROM apikit.audit_history('hist', '{"id": 1}');
SELECT apikit.audit_row_at('hist', '{"id": 1}', ts) AS new_table_at_old_insert
  FROM apikit.audit_log WHERE op = 'INSERT' AND table_name = 'hist' ORDER BY id LIMIT 1;
-- Dropped and created again: again a new table.
DROP TABLE hist;
CREATE TABLE hist (id int PRIMARY KEY, v text);
SELECT apikit.audit_enable('hist');
SELECT count(*) AS history_of_recreated FROM apikit.audit_history('hist', '{"id": 1}');
SELECT apikit.audit_redact('hist', '{"id": 1}') AS redacted_in_recreated;
SELECT schema_name, table_name, event, changed_columns FROM audit_events
 WHERE table_name LIKE 'hist%' ORDER BY id;
DROP TABLE hist;
DROP SCHEMA regress_audit_h2 CASCADE;

-- Disabling stops logging; the rows stay.  For a partitioned table, also
-- the partitions' TRUNCATE triggers go.
SELECT apikit.audit_disable('orders');
SELECT count(*) AS audit_triggers_left FROM pg_trigger
 WHERE tgfoid = 'apikit.audit_trigger()'::regprocedure
   AND tgrelid IN (SELECT relid FROM pg_partition_tree('orders'));
SELECT apikit.audit_disable('scratch');
SELECT apikit.audit_disable('scratch');
INSERT INTO scratch VALUES (40, 'after disable');
SELECT count(*) AS after_disable FROM apikit.audit_log WHERE table_name = 'scratch' AND row_key = '{"id": 40}';
SELECT rel FROM apikit.audited_tables ORDER BY rel::text;

-- A purge keeps what a table's next change is compared with: each
-- table's last AUDIT row is written again first ("carried").  A stop after
-- the purge is still a stop, and one before it is still reported.
SELECT apikit.audit_seal() > 0 AS sealed;
SELECT apikit.audit_purge('0 seconds') > 0 AS purged;
SELECT e.table_name, event, by, new_row->>'carried_event' AS carried_event
  FROM audit_events e JOIN apikit.audit_log l USING (id) ORDER BY e.table_name;
ALTER TABLE acct DISABLE TRIGGER apikit_audit;
UPDATE acct SET note = 'not logged' WHERE id = 1;
ALTER TABLE acct ENABLE TRIGGER apikit_audit;
SELECT event, reason FROM audit_events WHERE table_name = 'acct' ORDER BY id DESC LIMIT 2;
SELECT ok, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM apikit.audit_verify();
ALTER TABLE acct DISABLE TRIGGER apikit_audit;
SELECT apikit.audit_seal() > 0 AS sealed;
SELECT apikit.audit_purge('0 seconds') > 0 AS purged;
SELECT event, new_row->>'carried_event' AS carried_event, reason
  FROM audit_events e JOIN apikit.audit_log l USING (id) WHERE e.table_name = 'acct';
SELECT ok, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM apikit.audit_verify();
-- Dropped right after a purge: the log says so.
DROP TABLE acct;
SELECT event, changed_columns FROM audit_events WHERE table_name = 'acct' ORDER BY id DESC LIMIT 1;
DROP ROLE regress_audit_bob;

DROP TABLE account, scratch, events, members, orders, typed;
DROP VIEW log, audit_events;
DROP TYPE mood, pair;
DROP DOMAIN positive;
DROP SEQUENCE some_seq;
DROP ROLE regress_audit_web, regress_audit_reader, regress_audit_nobody, regress_audit_part_owner;
SELECT rel FROM apikit.audited_tables;

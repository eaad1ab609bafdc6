--
-- Without shared_preload_libraries: CREATE EXTENSION works, and what needs
-- shared memory fails with SQLSTATE 55000 and a hint.
--
-- (make installcheck runs this after the extension test, in one database.)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS apikit;
RESET client_min_messages;
CREATE EXTENSION apikit;

SELECT * FROM apikit.worker_status();

DO $$
BEGIN
	PERFORM * FROM apikit.worker_status();
EXCEPTION WHEN object_not_in_prerequisite_state THEN
	RAISE NOTICE 'caught SQLSTATE %', SQLSTATE;
END $$;

-- Session settings work once the library is loaded; the start-up only
-- ones do not exist, and no scheduler runs.
SHOW apikit.heartbeat_interval;
SHOW apikit.database;
SELECT count(*) AS schedulers FROM pg_stat_activity WHERE backend_type = 'apikit scheduler';

-- JSON Schema validation needs no shared memory: it works without
-- preload, its registry's invalidations included.
SELECT apikit.json_validate('{"type": "integer"}', '1') AS valid,
	   apikit.json_validation_errors('{"type": "integer"}', '"x"') AS errors;
INSERT INTO apikit.json_schemas VALUES ('https://np.example/n', '{"maximum": 1}');
SELECT apikit.json_validate('{"$ref": "https://np.example/n"}', '5') AS before_update;
UPDATE apikit.json_schemas SET schema = '{"maximum": 10}';
SELECT apikit.json_validate('{"$ref": "https://np.example/n"}', '5') AS after_update;

-- A superuser-only setting that an ordinary role set before the library
-- was loaded (a placeholder then) is refused when it loads: format stays
-- asserted.
CREATE ROLE regress_np_user LOGIN;
SELECT current_user AS superuser \gset
\c - regress_np_user
SET apikit.json_format_assertion = off;
SET apikit.json_default_draft = '7';
SELECT apikit.json_validate('{"format": "email"}', '"nobody"') AS format_still_asserted;
SHOW apikit.json_format_assertion;
SHOW apikit.json_default_draft;
\c - :superuser
DROP ROLE regress_np_user;

DROP EXTENSION apikit;

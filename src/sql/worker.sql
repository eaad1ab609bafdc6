-- The scheduler background worker.

CREATE FUNCTION apikit.worker_status(
	OUT name text,
	OUT "interval" interval,
	OUT runs bigint,
	OUT failures bigint,
	OUT last_run timestamptz,
	OUT last_duration interval,
	OUT last_error text,
	OUT running_since timestamptz,
	OUT next_run timestamptz,
	OUT pid integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'apikit_worker_status'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION apikit.worker_status() IS
	'One row per scheduler job: interval, runs, failures, last run and its error, read from shared memory';

-- Job errors can name databases and objects: monitoring roles only.
REVOKE ALL ON FUNCTION apikit.worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION apikit.worker_status() TO pg_monitor;

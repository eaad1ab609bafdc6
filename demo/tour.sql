-- The apikit tour: run by make demo against a fresh cluster.  Each step says
-- what it shows; the output below it is real.  Later components add their
-- part at the end.
\pset footer off
\pset null '(null)'
\set ON_ERROR_STOP 1

\echo
\echo '== 1. apikit is loaded at server start =='
\echo 'shared_preload_libraries = apikit starts its scheduler, a background worker'
\echo 'connected to the database named by apikit.database:'
SELECT pid, backend_type, datname
FROM pg_stat_activity WHERE backend_type = 'apikit scheduler';

\echo
\echo '== 2. Install the SQL side in that database =='
\echo 'CREATE EXTENSION apikit puts everything in schema apikit.'
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS apikit;
CREATE EXTENSION apikit;
RESET client_min_messages;
SELECT extname, extversion, extnamespace::regnamespace AS schema
FROM pg_extension WHERE extname = 'apikit';

\echo
\echo '== 3. Settings DBAs tune: apikit.* =='
SELECT name, setting, unit, context, short_desc
FROM pg_settings WHERE name LIKE 'apikit.%' ORDER BY name;

\echo
\echo '== 4. The scheduler and its jobs =='
\echo 'Until apikit was installed here, the heartbeat job failed and said why'
\echo '(once in the server log, and in last_error).  Waiting for a run that works...'
DO $$
BEGIN
	FOR i IN 1..100 LOOP
		EXIT WHEN (SELECT last_error IS NULL AND last_run > now() - interval '1 second'
		           FROM apikit.worker_status() WHERE name = 'heartbeat');
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT name, "interval", runs, failures, last_run::time(0) AS last_run,
       last_duration, last_error, next_run::time(0) AS next_run
FROM apikit.worker_status();

\echo
\echo 'Coming next in apikit: rate limiting in shared memory, audit triggers with a'
\echo 'tamper-evident chain, JSON Schema validation, read/write routing, anomaly detection.'

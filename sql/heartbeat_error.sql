--
-- The heartbeat's error path, visible from SQL.  make test's instance keeps
-- apikit.database = 'postgres', where apikit is not installed, so the
-- heartbeat fails and says why.  (TAP tests cover success, SIGHUP, restarts
-- and shutdown.)
--
-- Wait (at most 30 s) for the first heartbeat to finish.
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN (SELECT failures > 0 OR last_error IS NULL AND runs > 0
		             AND last_duration IS NOT NULL
		           FROM apikit.worker_status() WHERE name = 'heartbeat');
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;

SELECT runs >= 1 AS ran, failures >= 1 AS failed, last_error,
       last_run <= now() AS last_run_past, next_run > last_run AS next_run_later
FROM apikit.worker_status() WHERE name = 'heartbeat';

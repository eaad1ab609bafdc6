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
		EXIT WHEN (SELECT runs > 0 FROM apikit.worker_status() WHERE name = 'heartbeat');
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;

SELECT runs >= 1 AS ran, failures = runs AS all_failed, last_error,
       last_run <= now() AS last_run_past, next_run > last_run AS next_run_later,
       last_duration < '10s' AS duration_plausible
FROM apikit.worker_status() WHERE name = 'heartbeat';

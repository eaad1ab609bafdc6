--
-- apikit.worker_status() with apikit preloaded: one row per job, read from
-- shared memory, and the scheduler running as "apikit scheduler".
--
-- The test instance keeps apikit.database = 'postgres', where apikit is not
-- installed, so the heartbeat fails and says why: the error path, visible
-- from SQL.  (TAP tests cover success, SIGHUP, restarts and shutdown.)
--
SELECT name, "interval", runs >= 0 AS counted, failures <= runs AS consistent
FROM apikit.worker_status();

SELECT datname, application_name
FROM pg_stat_activity
WHERE backend_type = 'apikit scheduler';

SELECT w.pid = a.pid AS same_pid
FROM apikit.worker_status() w
JOIN pg_stat_activity a ON a.backend_type = 'apikit scheduler';

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

-- Not for everyone: job errors can name databases and objects.
CREATE ROLE regress_apikit_nobody;
SET ROLE regress_apikit_nobody;
SELECT count(*) FROM apikit.worker_status();
RESET ROLE;
DROP ROLE regress_apikit_nobody;

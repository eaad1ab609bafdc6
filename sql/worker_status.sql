--
-- apikit.worker_status() with apikit preloaded: one row per job, read from
-- shared memory, and the scheduler running as "apikit scheduler".
-- Nothing here depends on how the server is configured, so make
-- installcheck can run it against any server that preloads apikit.
--
SELECT name,
       "interval" = current_setting('apikit.' || CASE name WHEN 'heartbeat' THEN 'heartbeat_interval'
                                                           WHEN 'audit_seal' THEN 'audit_seal_interval' END)::interval
         AS interval_as_set,
       failures <= runs AS consistent
FROM apikit.worker_status();

SELECT datname = current_setting('apikit.database') AS in_apikit_database,
       application_name
FROM pg_stat_activity
WHERE backend_type = 'apikit scheduler';

SELECT DISTINCT w.pid = a.pid AS same_pid
FROM apikit.worker_status() w
JOIN pg_stat_activity a ON a.backend_type = 'apikit scheduler';

-- Not for everyone: job errors can name databases and objects.
CREATE ROLE regress_apikit_nobody;
SET ROLE regress_apikit_nobody;
SELECT count(*) FROM apikit.worker_status();
RESET ROLE;
DROP ROLE regress_apikit_nobody;

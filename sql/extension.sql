--
-- CREATE and DROP EXTENSION: what apikit installs, where, with which
-- attributes and privileges, and that it can be dropped and created again.
--
-- A fixed search_path: the test user may be called apikit, and "$user"
-- would then put the schema on the path and change how names print.
SET search_path = public;
CREATE EXTENSION apikit;

SELECT e.extname, e.extversion, e.extrelocatable, n.nspname
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'apikit';

-- Every member object, so that an unintended change to the install script
-- shows up here.  (Row types are left out: PostgreSQL 18 records those of
-- tables and views as members too, 15 does not.)
SELECT pg_describe_object(classid, objid, 0) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'apikit')
  AND deptype = 'e'
  AND classid <> 'pg_type'::regclass
ORDER BY 1;

-- Every function declares volatility, strictness and parallel safety, and
-- a SECURITY DEFINER one pins search_path.
SELECT p.oid::regprocedure AS function, p.provolatile, p.proisstrict,
       p.proparallel, p.prosecdef, p.proconfig
FROM pg_proc p
WHERE p.pronamespace = 'apikit'::regnamespace
ORDER BY 1;
SELECT p.oid::regprocedure AS definer_without_search_path
FROM pg_proc p
WHERE p.pronamespace = 'apikit'::regnamespace AND p.prosecdef
  AND NOT coalesce(p.proconfig::text[] @> '{"search_path=pg_catalog, pg_temp"}', false);

-- worker_status() is for monitoring roles only.
CREATE ROLE regress_apikit_user;
CREATE ROLE regress_apikit_monitor IN ROLE pg_monitor;
SELECT r.rolname, has_function_privilege(r.rolname, 'apikit.worker_status()', 'EXECUTE')
FROM pg_roles r
WHERE r.rolname IN ('regress_apikit_user', 'regress_apikit_monitor')
ORDER BY 1;

-- The schema is fixed.
ALTER EXTENSION apikit SET SCHEMA public;
CREATE EXTENSION apikit;
CREATE EXTENSION IF NOT EXISTS apikit;

-- DROP removes every object.  The schema named in apikit.control is not an
-- extension member (PostgreSQL creates it before the extension exists), so
-- it stays behind, empty, and the next CREATE EXTENSION reuses it.
DROP EXTENSION apikit;
SELECT count(*) AS objects_left
FROM pg_class WHERE relnamespace = 'apikit'::regnamespace;
SELECT count(*) AS functions_left
FROM pg_proc WHERE pronamespace = 'apikit'::regnamespace;
CREATE EXTENSION apikit SCHEMA public;

-- And it comes back.
CREATE EXTENSION apikit;
SELECT extversion FROM pg_extension WHERE extname = 'apikit';

DROP ROLE regress_apikit_user;
DROP ROLE regress_apikit_monitor;

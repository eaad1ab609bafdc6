-- apikit install script, built by the Makefile from src/sql/*.sql in the
-- order given there.  Each component keeps its own file.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION apikit" to load this file. \quit

COMMENT ON SCHEMA apikit IS 'apikit: API backend building blocks next to the data';

-- Anyone may look up names in the schema; each object grants its own
-- privileges (several functions are for monitoring or auditor roles only).
GRANT USAGE ON SCHEMA apikit TO PUBLIC;

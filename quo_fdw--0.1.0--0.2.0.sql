/* quo_fdw--0.1.0--0.2.0.sql */

\echo Use "ALTER EXTENSION quo_fdw UPDATE TO '0.2.0'" to load this file. \quit

-- 0.2.0 changes the library only (workspace-wide scans, the one wait loop,
-- the shared rate limit per key, GUCs quo_fdw.max_requests and
-- quo_fdw.progress); its SQL objects are those of 0.1.0.  The upgrade test
-- (sql/upgrade.sql) proves an updated 0.1.0 has exactly the objects of a
-- fresh 0.2.0.

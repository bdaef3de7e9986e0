-- update--0.3.0--0.4.0.sql: what an update from 0.3.0 changes before the
-- functions are replaced (the files that follow this one in the assembled
-- quo_fdw--0.3.0--0.4.0.sql are those of a fresh install: see the Makefile)
--
-- 0.4.0: a refresh's time bounds are typed parameters (never text that
-- DateStyle and time zone abbreviations could change), and a pending row
-- whose id the API now answers with its documented 404 leaves the mirror.

-- the upsert takes the time bound as a parameter now
DROP FUNCTION quo_fdw.mirror_upsert(quo_fdw.mirror, name, text, bigint, bigint, text[], jsonb, boolean);


-- stats.sql: the API usage statistics, quo_fdw.stats and
-- quo_fdw.stats_reset (src/stats.c; kept in shared memory, so they need
-- quo_fdw in shared_preload_libraries; see docs/stats.md)
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- The entries the caller may see: those of this database's servers it has
-- USAGE on; every entry for pg_read_all_stats.
CREATE OR REPLACE FUNCTION quo_fdw.stats(
  OUT server name, OUT database name,
  OUT requests bigint, OUT responses_2xx bigint, OUT responses_404 bigint, OUT responses_429 bigint,
  OUT responses_4xx bigint, OUT responses_5xx bigint, OUT transport_errors bigint, OUT retries bigint,
  OUT rate_limit_waits bigint, OUT rate_limit_wait_ms double precision,
  OUT bytes_received bigint, OUT rows bigint,
  OUT first_request timestamptz, OUT last_request timestamptz,
  OUT last_error timestamptz, OUT last_error_sqlstate text, OUT last_error_message text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'quo_fdw_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION quo_fdw.stats() IS 'the rows of the view quo_fdw.stats';

CREATE OR REPLACE VIEW quo_fdw.stats AS SELECT * FROM quo_fdw.stats();
COMMENT ON VIEW quo_fdw.stats IS 'Quo API requests, responses, rate-limit waits, rows and the last error, per foreign server and database, since the server started or the last reset';
GRANT SELECT ON quo_fdw.stats TO PUBLIC;

-- NULL: every entry the caller may reset (a superuser: all; another role:
-- this database's servers it owns).  A server: its owner or a superuser.
CREATE OR REPLACE FUNCTION quo_fdw.stats_reset(server name DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'quo_fdw_stats_reset'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION quo_fdw.stats_reset(name) IS 'forget the statistics of a server (its owner or a superuser), or with NULL of every server the caller owns (a superuser: all)';

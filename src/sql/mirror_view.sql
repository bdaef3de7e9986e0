-- mirror_view.sql: the view quo_fdw.mirrors and what it counts with
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- Rows of one table of a mirror: NULL when the table is gone or the role
-- reading the view may not read it (the owner grants that).
CREATE OR REPLACE FUNCTION quo_fdw.mirror_rows(mirror_schema name, tbl name) RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  rel regclass;
  n bigint;
BEGIN
  IF to_regnamespace(quote_ident(mirror_schema)) IS NULL OR NOT has_schema_privilege(quote_ident(mirror_schema), 'USAGE') THEN
    RETURN NULL;
  END IF;
  rel := to_regclass(format('%I.%I', mirror_schema, tbl));
  IF rel IS NULL OR NOT has_table_privilege(rel, 'SELECT') THEN
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT count(*) FROM %s', rel) INTO n;
  RETURN n;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_rows(name, name) IS 'rows of one table of a mirror (for the view quo_fdw.mirrors)';

CREATE OR REPLACE VIEW quo_fdw.mirrors AS
SELECT m.mirror_schema, m.server, m.since, m.lookback, m.watermark, m.last_refresh, m.last_result,
       quo_fdw.mirror_rows(m.mirror_schema, 'calls') AS calls,
       quo_fdw.mirror_rows(m.mirror_schema, 'messages') AS messages,
       quo_fdw.mirror_rows(m.mirror_schema, 'conversations') AS conversations,
       quo_fdw.mirror_rows(m.mirror_schema, 'users') AS users,
       quo_fdw.mirror_rows(m.mirror_schema, 'phone_numbers') AS phone_numbers,
       m.owner, m.pass_started IS NULL AS complete, m.pending AS conversations_pending,
       m.pass_started, m.tables,
       quo_fdw.mirror_rows(m.mirror_schema, 'contacts') AS contacts,
       quo_fdw.mirror_rows(m.mirror_schema, 'contact_custom_fields') AS contact_custom_fields,
       quo_fdw.mirror_rows(m.mirror_schema, 'tasks') AS tasks,
       quo_fdw.mirror_rows(m.mirror_schema, 'call_summaries') AS call_summaries,
       quo_fdw.mirror_rows(m.mirror_schema, 'call_transcripts') AS call_transcripts,
       quo_fdw.mirror_rows(m.mirror_schema, 'call_recordings') AS call_recordings,
       quo_fdw.mirror_rows(m.mirror_schema, 'call_voicemails') AS call_voicemails,
       m.awaited AS per_call_awaited, m.unavailable
  FROM quo_fdw.mirror m;
COMMENT ON VIEW quo_fdw.mirrors IS 'each mirror: its owner, watermark, last refresh and result, rows per table, the pass under way, per-call rows awaited, per-call tables the API refuses';
GRANT SELECT ON quo_fdw.mirrors TO PUBLIC;


-- mirror_view.sql: the view quo_fdw.mirrors and what it counts with
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- The rows per table are those the refreshes counted (row_counts): the
-- view never reads a mirror's tables, which are their owner's (a view or a
-- policy put there would run as whoever reads quo_fdw.mirrors).  A role
-- sees the count of a table it may read (the owner grants that), else NULL
-- (NULL too for a count that is not one: the catalog row is its owner's to
-- write, and the view is everyone's).
CREATE OR REPLACE FUNCTION quo_fdw.mirror_rows(m quo_fdw.mirror, tbl name) RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN has_table_privilege(c.oid, 'SELECT') AND jsonb_typeof(m.row_counts -> tbl) = 'number'
                   AND (m.row_counts ->> tbl) ~ '^[0-9]{1,18}$'
              THEN (m.row_counts ->> tbl)::bigint END
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = m.mirror_schema AND c.relname = tbl AND c.relowner = m.owner::oid
$$;
COMMENT ON FUNCTION quo_fdw.mirror_rows(quo_fdw.mirror, name) IS 'rows of one table of a mirror, as its refreshes counted them, for a role that may read it (for the view quo_fdw.mirrors)';

CREATE OR REPLACE VIEW quo_fdw.mirrors AS
SELECT m.mirror_schema, m.server, m.since, m.lookback, m.watermark, m.last_refresh, m.last_result,
       quo_fdw.mirror_rows(m, 'calls') AS calls,
       quo_fdw.mirror_rows(m, 'messages') AS messages,
       quo_fdw.mirror_rows(m, 'conversations') AS conversations,
       quo_fdw.mirror_rows(m, 'users') AS users,
       quo_fdw.mirror_rows(m, 'phone_numbers') AS phone_numbers,
       m.owner, m.pass_started IS NULL AS complete, m.pending AS conversations_pending,
       m.pass_started, m.tables,
       quo_fdw.mirror_rows(m, 'contacts') AS contacts,
       quo_fdw.mirror_rows(m, 'contact_custom_fields') AS contact_custom_fields,
       quo_fdw.mirror_rows(m, 'tasks') AS tasks,
       quo_fdw.mirror_rows(m, 'call_summaries') AS call_summaries,
       quo_fdw.mirror_rows(m, 'call_transcripts') AS call_transcripts,
       quo_fdw.mirror_rows(m, 'call_recordings') AS call_recordings,
       quo_fdw.mirror_rows(m, 'call_voicemails') AS call_voicemails,
       m.awaited AS per_call_awaited, m.unavailable
  FROM quo_fdw.mirror m;
COMMENT ON VIEW quo_fdw.mirrors IS 'each mirror: its owner, watermark, last refresh and result, rows per table, the pass under way, per-call rows awaited, per-call tables the API refuses';
GRANT SELECT ON quo_fdw.mirrors TO PUBLIC;


-- mirror_refresh.sql: refresh_mirror, sync_mirror, and the step they run
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)
--
-- A refresh is a pass over the workspace in phases (quo_fdw.mirror_phases),
-- each resumable where a step ends:
--   list:<table>   the whole listings (mirror_lists.sql): users and phone
--                  numbers every pass, contacts, contact fields and tasks at
--                  most once per relist_every, the conversations every pass
--   visits         the conversations whose activity moved, newest first,
--                  their calls and messages (mirror_visits.sql)
--   pending        rows that could still change, read again by id
--   enrich:<table> each recent call's summary, transcript, recordings and
--                  voicemail, asked for again until final (mirror_enrich.sql)
-- Every read is one statement (quo_fdw.mirror_fetch, mirror_read.sql): the
-- API's rows and their upserts, written whole or not at all with the state
-- that says they were read.  The watermark moves when a pass completes.

-- One refresh of a mirror, or one step of at most max_requests requests
-- (quo_fdw.refresh_mirror calls it as the mirror's owner).
CREATE OR REPLACE FUNCTION quo_fdw.mirror_step(mirror_schema name, max_requests bigint)
RETURNS quo_fdw.refresh_result
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET quo_fdw.max_requests = 0
AS $fn$
DECLARE
  t0 timestamptz := clock_timestamp();
  base bigint := quo_fdw.requests_sent();   -- also loads the library, which defines the settings
  cap bigint := current_setting('quo_fdw.mirror_max_requests')::bigint;
  progress boolean := current_setting('quo_fdw.progress')::boolean;
  m quo_fdw.mirror := quo_fdw.mirror_lock(mirror_schema);
  sch name := m.mirror_schema;
  r quo_fdw.refresh_result;
  counts jsonb := '{}';
  p record;
  used bigint;
  left_ bigint;              -- what this step may still spend (NULL: no step)
  stop bigint;
  moved boolean := false;    -- the step got somewhere (else it is too small)
  stopped boolean := false;  -- a read was stopped before its end
  n bigint;
  bad text;
  tbl name;
  capped boolean := false;   -- a whole refresh reached the cap in its per-call reads
BEGIN
  IF max_requests IS NOT NULL AND max_requests < 1 THEN
    RAISE EXCEPTION 'max_requests must be at least 1: %', max_requests USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_requests IS NOT NULL AND cap > 0 AND max_requests > cap THEN
    RAISE EXCEPTION 'max_requests (%) is more than quo_fdw.mirror_max_requests (%)', max_requests, cap
      USING ERRCODE = 'configuration_limit_exceeded',
            HINT = 'quo_fdw.mirror_max_requests is the most one refresh or step may make: raise it, or take smaller steps.';
  END IF;
  -- as its owner only (quo_fdw.refresh_mirror switches to it): called
  -- directly by another role, the owner's objects would run as that role
  IF m.owner::oid IS DISTINCT FROM (SELECT ro.oid FROM pg_roles ro WHERE ro.rolname = current_user) THEN
    RAISE EXCEPTION 'quo_fdw.mirror_step runs only as the owner of mirror "%"', sch
      USING ERRCODE = 'insufficient_privilege',
            HINT = format('Call SELECT * FROM quo_fdw.refresh_mirror(%L).', sch);
  END IF;
  -- the schema and every table of the mirror are the owner's and tables:
  -- nothing another role made is written to, or runs, in a refresh
  IF (SELECT n.nspowner FROM pg_namespace n WHERE n.nspname = sch) IS DISTINCT FROM m.owner::oid THEN
    RAISE EXCEPTION 'schema "%" no longer belongs to the owner of its mirror', sch
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT string_agg(format('%I', c.relname), ', ') INTO bad
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = sch AND c.relname = ANY (m.tables::name[] || '{conversation_state,listing_state,enrichment_state}'::name[])
     AND (c.relowner <> m.owner::oid OR c.relkind <> 'r');
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'mirror "%" has % that are not tables of its owner', sch, bad
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'A refresh writes only to tables its owner owns: drop or rename what took their place.';
  END IF;
  IF to_regclass(format('%I.conversation_state', sch)) IS NULL THEN
    -- a mirror made before 0.4.0: its state, from what it holds (it saw
    -- each conversation as listed at its watermark), and its rows counted
    PERFORM quo_fdw.mirror_state_table(sch);
    EXECUTE format('INSERT INTO %1$I.conversation_state (conversation_id, listed_pass, visited_activity_at, visited_updated_at, visited_at)
                    SELECT x.id, $1, x.last_activity_at, x.updated_at, $1 FROM %1$I.conversations x
                     WHERE $1 IS NOT NULL', sch)
      USING m.watermark;
    m.row_counts := '{}';
    FOREACH tbl IN ARRAY m.tables::name[] LOOP
      EXECUTE format('SELECT count(*) FROM %I.%I', sch, tbl) INTO n;
      m.row_counts := m.row_counts || jsonb_build_object(tbl, n);
    END LOOP;
  END IF;
  IF m.pass_started IS NULL THEN
    m.pass_started := t0;
    m.pass_phase := quo_fdw.mirror_next_phase(m.tables::name[], NULL);
    m.pass_token := NULL;
    m.pass_items := NULL;
  END IF;

  BEGIN
    LOOP
      IF m.pass_phase IS NULL THEN
        -- the pass is complete
        m.watermark := m.pass_started;
        m.pass_started := NULL;
        moved := true;
        EXIT;
      END IF;
      used := quo_fdw.requests_sent() - base;
      left_ := max_requests - used;
      EXIT WHEN left_ <= 0 OR (stopped AND max_requests IS NOT NULL);
      -- a read stops cleanly where the step's budget ends; reaching the
      -- hard cap (quo_fdw.mirror_max_requests) with work left is an ERROR
      IF (stopped OR (cap > 0 AND used >= cap)) AND max_requests IS NULL AND m.pass_phase LIKE 'enrich:%' THEN
        -- a whole refresh that reaches the cap while asking for per-call
        -- rows keeps what it read: they are asked for by the next refresh
        capped := true;
        m.pass_phase := NULL;
        CONTINUE;
      END IF;
      IF stopped OR (cap > 0 AND used >= cap) THEN
        RAISE EXCEPTION 'no request left for the next read' USING ERRCODE = 'configuration_limit_exceeded';
      END IF;
      stop := coalesce(least(left_, CASE WHEN cap > 0 THEN cap - used END), 0);
      IF m.pass_phase LIKE 'list:%' THEN
        SELECT * INTO p FROM quo_fdw.mirror_phase_list(m, stop, counts);
      ELSIF m.pass_phase = 'visits' THEN
        SELECT * INTO p FROM quo_fdw.mirror_phase_visits(m, stop, counts,
                                                         whole_step => max_requests IS NOT NULL AND used = 0);
      ELSIF m.pass_phase = 'pending' THEN
        SELECT * INTO p FROM quo_fdw.mirror_phase_pending(m, stop, counts);
      ELSE
        SELECT * INTO p FROM quo_fdw.mirror_phase_enrich(m, stop, counts);
      END IF;
      m := p.mm;
      counts := p.c;
      moved := moved OR p.moved;
      stopped := p.stopped;
      IF counts ? 'enrich_error' AND m.pass_phase LIKE 'enrich:%' THEN
        -- the API failed as a whole in the per-call reads: they end here
        -- (the WARNING below), the pass completes with what it read
        m.pass_phase := NULL;
        stopped := false;
        CONTINUE;
      END IF;
      IF p.done THEN
        m.pass_phase := quo_fdw.mirror_next_phase(m.tables::name[], m.pass_phase);
        m.pass_token := NULL;
        m.pass_items := NULL;
      END IF;
    END LOOP;
  EXCEPTION WHEN configuration_limit_exceeded THEN
    IF max_requests IS NOT NULL THEN
      RAISE;   -- a step too small: said as it is
    END IF;
    RAISE EXCEPTION 'refresh of mirror "%" needs more than quo_fdw.mirror_max_requests (%) Quo API requests', sch, cap
      USING ERRCODE = 'configuration_limit_exceeded',
            DETAIL = format('It stopped after %s requests, before the next one. Nothing was changed.',
                            quo_fdw.requests_sent() - base),
            HINT = 'Raise quo_fdw.mirror_max_requests (SET it for this session, or ALTER ROLE ... SET for the role pg_cron runs as), or refresh in steps: quo_fdw.refresh_mirror(mirror, max_requests) or CALL quo_fdw.sync_mirror(mirror).';
  END;
  IF coalesce((counts ->> 'odd')::bigint, 0) + coalesce((counts ->> 'unlistable')::bigint, 0) > 0 THEN
    RAISE WARNING 'mirror "%" skipped % of the conversations with new activity', sch,
      coalesce((counts ->> 'odd')::bigint, 0) + coalesce((counts ->> 'unlistable')::bigint, 0)
      USING DETAIL = format('%s have participants the API cannot list by (none, or not E.164 numbers); %s have more than 10 participants, whose messages the API cannot list. Their new rows are not in the mirror.',
                            coalesce((counts ->> 'odd')::bigint, 0), coalesce((counts ->> 'unlistable')::bigint, 0));
  END IF;
  IF NOT moved AND m.pass_started IS NOT NULL THEN
    RAISE EXCEPTION 'max_requests (%) is too small for the next part of mirror "%"', max_requests, sch
      USING ERRCODE = 'configuration_limit_exceeded',
            DETAIL = format('Its next %s needs more requests than one step may make; this step changed nothing.',
                            CASE WHEN m.pass_phase = 'visits' THEN 'conversation' ELSE 'page or item' END),
            HINT = 'Take larger steps.';
  END IF;
  -- the rows per table, as counted (the view shows them): rows the owner
  -- adds or deletes by hand are not counted, so the counts can drift from
  -- count(*), never below 0
  FOREACH tbl IN ARRAY m.tables::name[] LOOP
    m.row_counts := m.row_counts || jsonb_build_object(tbl, greatest(0,
      coalesce((m.row_counts ->> tbl)::bigint, 0) + coalesce((counts ->> (tbl || '_inserted'))::bigint, 0)
        - coalesce((counts ->> (tbl || '_removed'))::bigint, 0)));
  END LOOP;
  -- every count a zero unless the step made it
  r := jsonb_populate_record(r, (SELECT jsonb_object_agg(a.attname, 0) FROM pg_attribute a
                                  WHERE a.attrelid = 'quo_fdw.refresh_result'::regclass AND a.attnum > 0
                                    AND NOT a.attisdropped AND a.atttypid = 'bigint'::regtype) || counts);
  r.requests := quo_fdw.requests_sent() - base;
  IF 'conversations' = ANY (m.tables) THEN
    EXECUTE format('SELECT count(*) FROM %I.conversation_state WHERE queued IS NOT NULL', sch) INTO r.conversations_pending;
  END IF;
  r.per_call_awaited := quo_fdw.mirror_awaited(m);
  IF counts ? 'enrich_error' THEN
    RAISE WARNING 'mirror "%" stopped reading per-call rows: %', sch, counts ->> 'enrich_error'
      USING DETAIL = format('The mirror is up to date but for %s per-call rows still awaited; the next refresh asks for them.',
                            r.per_call_awaited);
  END IF;
  IF capped THEN
    RAISE WARNING 'refresh of mirror "%" reached quo_fdw.mirror_max_requests (%) while reading per-call rows', sch, cap
      USING DETAIL = format('The mirror is up to date but for %s per-call rows still awaited; the next refresh asks for them.',
                            r.per_call_awaited),
            HINT = 'Raise quo_fdw.mirror_max_requests, or refresh in steps: CALL quo_fdw.sync_mirror(mirror).';
  END IF;
  r.complete := m.pass_started IS NULL;
  r.seconds := round(extract(epoch FROM clock_timestamp() - t0), 3);
  IF progress THEN
    RAISE NOTICE 'quo_fdw: mirror "%": % conversations visited, % to visit in this pass, % requests', sch,
      r.conversations_visited, r.conversations_pending, r.requests;
  END IF;
  UPDATE quo_fdw.mirror x
     SET watermark = m.watermark, last_refresh = clock_timestamp(), missing = m.missing,
         pass_started = m.pass_started, pass_phase = m.pass_phase, pass_token = m.pass_token,
         pass_items = m.pass_items, pending = r.conversations_pending, last_result = to_jsonb(r),
         listed_at = m.listed_at, row_missing = m.row_missing, unavailable = m.unavailable,
         awaited = r.per_call_awaited, row_counts = m.row_counts
   WHERE x.mirror_schema = sch;
  RETURN r;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_step(name, bigint) IS 'one refresh or step of a mirror, as its owner (internal: call quo_fdw.refresh_mirror)';

CREATE OR REPLACE FUNCTION quo_fdw.refresh_mirror(mirror_schema name, max_requests bigint DEFAULT NULL)
RETURNS quo_fdw.refresh_result
AS 'MODULE_PATHNAME', 'quo_fdw_refresh_mirror'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION quo_fdw.refresh_mirror(name, bigint) IS 'bring a mirror up to date, as its owner: a whole pass in one transaction, or (max_requests) one step of at most that many requests, resumed by the next call';

-- Steps of at most step_requests, each committed, until the mirror is
-- complete: for pg_cron.  A procedure that commits can have no SET clause,
-- so it sets its search_path in each transaction itself.
CREATE OR REPLACE PROCEDURE quo_fdw.sync_mirror(mirror_schema name, step_requests bigint DEFAULT 1000)
LANGUAGE plpgsql
AS $fn$
DECLARE
  r quo_fdw.refresh_result;
BEGIN
  LOOP
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    r := quo_fdw.refresh_mirror(mirror_schema, step_requests);
    COMMIT;
    EXIT WHEN r.complete;
  END LOOP;
END
$fn$;
COMMENT ON PROCEDURE quo_fdw.sync_mirror(name, bigint) IS 'refresh a mirror in steps of at most step_requests requests, committing after each, until it is complete (for pg_cron)';

GRANT EXECUTE ON PROCEDURE quo_fdw.sync_mirror(name, bigint) TO PUBLIC;

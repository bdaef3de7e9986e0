-- mirror_refresh.sql: refresh_mirror, sync_mirror, and the step they run
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)
--
-- A refresh is a pass over the workspace in phases, each resumable where a
-- step ends:
--   list:users, list:phone_numbers, list:conversations  the whole listings
--       (a listing stopped mid-way resumes at its next page)
--   visits   the conversations whose activity moved, newest activity first,
--            their calls and messages read through the one scan engine
--            (quo_fdw.fetch_visits), several in flight under the rate limit
--   pending  rows that could still change, read again by id
-- Each conversation's visit is written whole or not at all, with its state
-- (schema.conversation_state) in the same transaction.  The watermark
-- moves when a pass completes.

-- The columns of mirror table tbl that a refresh writes (the endpoint's, not
-- generated, not ones a user added), in the table's order, with the
-- endpoint's types.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_columns(m quo_fdw.mirror, tbl name, OUT name text, OUT type text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT a.attname::text, e.type
    FROM pg_attribute a
    JOIN quo_fdw.endpoint_columns(tbl) e ON e.name = a.attname::text
   WHERE a.attrelid = format('%I.%I', m.mirror_schema, tbl)::regclass
     AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
   ORDER BY a.attnum
$$;
COMMENT ON FUNCTION quo_fdw.mirror_columns(quo_fdw.mirror, name) IS 'the columns a refresh writes in a mirror table (internal)';

-- The one upsert of the mirror, as SQL for a data-modifying WITH: the rows
-- of source (a relation with the endpoint's columns) into mirror table tbl,
-- by id.  A row that is already there is rewritten only when a column
-- differs; columns in keep keep their value where the new one is NULL (a
-- message read by id has no participants).  Columns a user added to the
-- table are left alone.  It returns one row per row written: fresh (new).
CREATE OR REPLACE FUNCTION quo_fdw.mirror_upsert_sql(m quo_fdw.mirror, tbl name, source text,
                                                     keep text[] DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  cols text[];
  sel text;
  upd text;
  old_row text;
  new_row text;
BEGIN
  SELECT array_agg(c.name ORDER BY i) INTO cols
    FROM quo_fdw.mirror_columns(m, tbl) WITH ORDINALITY AS c(name, type, i);
  SELECT string_agg(format('s.%I', c), ', ' ORDER BY i),
         string_agg(format('%I = %s', c, CASE WHEN c = ANY (keep) THEN format('COALESCE(excluded.%I, m.%I)', c, c)
                                              ELSE format('excluded.%I', c) END), ', ' ORDER BY i),
         string_agg(format('m.%I', c), ', ' ORDER BY i),
         string_agg(CASE WHEN c = ANY (keep) THEN format('COALESCE(excluded.%I, m.%I)', c, c)
                         ELSE format('excluded.%I', c) END, ', ' ORDER BY i)
    INTO sel, upd, old_row, new_row
    FROM unnest(cols) WITH ORDINALITY AS u(c, i);
  RETURN format($q$INSERT INTO %1$I.%2$I AS m (%3$s, mirrored_at)
    SELECT %4$s, now() FROM (SELECT DISTINCT ON (s.id) * FROM (%5$s) s ORDER BY s.id) s
    ON CONFLICT (id) DO UPDATE SET %6$s, mirrored_at = excluded.mirrored_at
    WHERE ROW(%7$s) IS DISTINCT FROM ROW(%8$s)
    RETURNING m.xmax = 0 AS fresh$q$,
    m.mirror_schema, tbl, (SELECT string_agg(format('%I', c), ', ' ORDER BY i) FROM unnest(cols) WITH ORDINALITY AS u(c, i)),
    sel, source, upd, old_row, new_row);
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_upsert_sql(quo_fdw.mirror, name, text, text[]) IS 'the upsert of a mirror table, as SQL (internal)';

-- One read of the API and its upserts, in one statement: kind 'list' (the
-- whole list of tables[1], from page_token), 'ids' (ids of tables[1]) or
-- 'visits' (the calls and messages of the conversations conv, pns, parts,
-- afters), at most stop_after requests (0: none).  Returns the rows
-- inserted and updated per table, the items done (1-based), whether a list
-- ended and where to resume it, the ids of the rows read, and the items
-- done that were asked for (the others could not be the endpoint's).
CREATE OR REPLACE FUNCTION quo_fdw.mirror_fetch(m quo_fdw.mirror, kind text, tables name[], stop_after bigint,
                                                page_token text DEFAULT NULL, ids text[] DEFAULT NULL,
                                                conv text[] DEFAULT NULL, pns text[] DEFAULT NULL,
                                                parts text[] DEFAULT NULL, afters timestamptz[] DEFAULT NULL,
                                                keep text[] DEFAULT '{}',
                                                OUT inserted bigint[], OUT updated bigint[], OUT done integer[],
                                                OUT list_done boolean, OUT next_token text, OUT row_ids text[],
                                                OUT asked integer[])
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  defs text;
  call text;
  ctes text := '';
  outs text := '';
  t name;
  i integer := 0;
BEGIN
  SELECT string_agg(format('%I %s', c.name, c.type), ', ' ORDER BY c.first) INTO defs
    FROM (SELECT c.name, min(c.type) AS type, min(k * 1000 + c.i) AS first
            FROM unnest(tables) WITH ORDINALITY AS u(t, k),
                 quo_fdw.mirror_columns(m, u.t) WITH ORDINALITY AS c(name, type, i)
           GROUP BY c.name) c;
  call := CASE kind
    WHEN 'list' THEN format('quo_fdw.fetch_list($1, %L, $2, $3) AS f(item integer, item_done boolean, next_page_token text, endpoint text, %s)',
                            tables[1], defs)
    WHEN 'ids' THEN format('quo_fdw.fetch_ids($1, %L, $4, $3) AS f(item integer, item_done boolean, next_page_token text, endpoint text, %s)',
                           tables[1], defs)
    ELSE format('quo_fdw.fetch_visits($1, $5, $6, $7, $8, $9, $3) AS f(item integer, item_done boolean, next_page_token text, endpoint text, %s)',
                defs) END;
  FOREACH t IN ARRAY tables LOOP
    i := i + 1;
    ctes := ctes || format(', u%s AS (%s)', i,
                           quo_fdw.mirror_upsert_sql(m, t,
                             format('SELECT * FROM f WHERE f.item_done IS NULL AND f.endpoint = %L', t), keep));
    outs := outs || format('%s(SELECT count(*) FILTER (WHERE fresh) FROM u%s)', CASE WHEN i > 1 THEN ', ' ELSE '' END, i);
  END LOOP;
  EXECUTE format($q$
    WITH f AS MATERIALIZED (SELECT * FROM %1$s)%2$s
    SELECT ARRAY[%3$s], ARRAY[%4$s],
           (SELECT array_agg(f.item ORDER BY f.item) FROM f WHERE f.item_done),
           (SELECT bool_or(f.item_done) FROM f WHERE f.item_done IS NOT NULL),
           (SELECT f.next_page_token FROM f WHERE f.item_done IS NOT NULL LIMIT 1),
           %5$s,
           (SELECT array_agg(f.item ORDER BY f.item) FROM f WHERE f.item_done AND f.endpoint IS NOT NULL)$q$,
    call, ctes, outs, replace(outs, 'FILTER (WHERE fresh)', 'FILTER (WHERE NOT fresh)'),
    CASE WHEN kind = 'visits' THEN 'NULL::text[]'
         ELSE '(SELECT array_agg(f.id) FROM f WHERE f.item_done IS NULL)' END)
  INTO inserted, updated, done, list_done, next_token, row_ids, asked
  USING m.server, page_token, stop_after, ids, tables::text[], conv, pns, parts, afters;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_fetch(quo_fdw.mirror, text, name[], bigint, text, text[], text[], text[], text[], timestamptz[], text[]) IS 'one read of the API and its upserts (internal)';

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
  f record;
  used bigint;
  left_ bigint;              -- what this step may still spend (NULL: no step)
  stop bigint;
  tbl name;
  moved boolean := false;    -- the step got somewhere (else it is too small)
  stopped boolean := false;  -- a read was stopped before its end
  v_ids text[];             -- the batch of conversations to visit
  v_pns text[];
  v_parts text[];
  v_afters timestamptz[];
  v_lasts timestamptz[];
  n_odd bigint;
  n_unl bigint;
  n bigint;
  odd bigint := 0;
  unlistable bigint := 0;
  items text[];
BEGIN
  IF max_requests IS NOT NULL AND max_requests < 1 THEN
    RAISE EXCEPTION 'max_requests must be at least 1: %', max_requests USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_requests IS NOT NULL AND cap > 0 AND max_requests > cap THEN
    RAISE EXCEPTION 'max_requests (%) is more than quo_fdw.mirror_max_requests (%)', max_requests, cap
      USING ERRCODE = 'configuration_limit_exceeded',
            HINT = 'quo_fdw.mirror_max_requests is the most one refresh or step may make: raise it, or take smaller steps.';
  END IF;
  r.requests := 0; r.conversations_visited := 0; r.conversations_skipped := 0;
  r.calls_inserted := 0; r.calls_updated := 0; r.messages_inserted := 0; r.messages_updated := 0;
  r.conversations_inserted := 0; r.conversations_updated := 0;
  r.users_inserted := 0; r.users_updated := 0; r.phone_numbers_inserted := 0; r.phone_numbers_updated := 0;
  r.calls_removed := 0; r.messages_removed := 0;
  IF to_regclass(format('%I.conversation_state', sch)) IS NULL THEN
    -- a mirror made before 0.4.0: its state, from what it holds (it saw
    -- each conversation as listed at its watermark)
    PERFORM quo_fdw.mirror_state_table(sch);
    EXECUTE format('INSERT INTO %1$I.conversation_state (conversation_id, listed_pass, visited_activity_at, visited_updated_at, visited_at)
                    SELECT x.id, $1, x.last_activity_at, x.updated_at, $1 FROM %1$I.conversations x
                     WHERE $1 IS NOT NULL', sch)
      USING m.watermark;
  END IF;
  IF m.pass_started IS NULL THEN
    m.pass_started := t0;
    m.pass_phase := 'list:users';
    m.pass_token := NULL;
    m.pass_items := NULL;
  END IF;

  BEGIN
    LOOP
      used := quo_fdw.requests_sent() - base;
      left_ := max_requests - used;
      EXIT WHEN left_ <= 0;
      -- a read stops cleanly where the step's budget ends; reaching the
      -- hard cap (quo_fdw.mirror_max_requests) with work left is an ERROR
      IF stopped OR (cap > 0 AND used >= cap) THEN
        RAISE EXCEPTION 'no request left for the next read' USING ERRCODE = 'configuration_limit_exceeded';
      END IF;
      stop := coalesce(least(left_, CASE WHEN cap > 0 THEN cap - used END), 0);

      IF m.pass_phase LIKE 'list:%' THEN
        tbl := substr(m.pass_phase, 6);
        BEGIN
          SELECT * INTO f FROM quo_fdw.mirror_fetch(m, 'list', ARRAY[tbl], stop, page_token => m.pass_token);
        EXCEPTION WHEN fdw_invalid_attribute_value THEN
          -- a page token from an earlier step the API no longer takes: list again
          IF m.pass_token IS NULL THEN
            RAISE;
          END IF;
          m.pass_token := NULL;
          SELECT * INTO f FROM quo_fdw.mirror_fetch(m, 'list', ARRAY[tbl], stop);
        END;
        IF tbl = 'users' THEN
          r.users_inserted := r.users_inserted + f.inserted[1]; r.users_updated := r.users_updated + f.updated[1];
        ELSIF tbl = 'phone_numbers' THEN
          r.phone_numbers_inserted := r.phone_numbers_inserted + f.inserted[1];
          r.phone_numbers_updated := r.phone_numbers_updated + f.updated[1];
        ELSE
          r.conversations_inserted := r.conversations_inserted + f.inserted[1];
          r.conversations_updated := r.conversations_updated + f.updated[1];
          -- which conversations this pass's listing returned
          EXECUTE format('INSERT INTO %I.conversation_state AS s (conversation_id, listed_pass)
                          SELECT DISTINCT u.id, $1 FROM unnest($2::text[]) u(id)
                          ON CONFLICT (conversation_id) DO UPDATE SET listed_pass = excluded.listed_pass', sch)
            USING m.pass_started, coalesce(f.row_ids, '{}');
        END IF;
        moved := moved OR coalesce(cardinality(f.row_ids), 0) > 0 OR f.list_done;
        IF NOT f.list_done THEN
          m.pass_token := f.next_token;   -- stopped: the next step resumes here
          stopped := true;
          CONTINUE;
        END IF;
        m.pass_token := NULL;
        IF tbl = 'users' THEN
          m.pass_phase := 'list:phone_numbers';
        ELSIF tbl = 'phone_numbers' THEN
          m.pass_phase := 'list:conversations';
        ELSE
          -- conversations taken for deleted count as updated; those with
          -- nothing new, as skipped
          r.conversations_updated := r.conversations_updated + quo_fdw.mirror_queue(m);
          EXECUTE format('SELECT count(*) FROM %I.conversation_state WHERE listed_pass = $1 AND queued IS NULL', sch)
            INTO n USING m.pass_started;
          r.conversations_skipped := r.conversations_skipped + n;
          m.missing := (SELECT coalesce(array_agg(x ORDER BY x), '{}') FROM unnest(quo_fdw.mirror_missing(m)) x);
          m.pass_phase := 'visits';
        END IF;

      ELSIF m.pass_phase = 'visits' THEN
        -- the next conversations to visit, newest activity first
        EXECUTE format($q$
          SELECT array_agg(x.id ORDER BY s.queued) AS ids, array_agg(x.phone_number_id ORDER BY s.queued) AS pns,
                 array_agg(array_to_string(x.participants, ',') ORDER BY s.queued) AS parts,
                 array_agg(CASE WHEN s.visited_at IS NULL OR s.renewed THEN $1
                                ELSE greatest($1, s.visited_at - $2) END ORDER BY s.queued) AS afters,
                 array_agg(x.last_activity_at ORDER BY s.queued) AS lasts
            FROM (SELECT * FROM %1$I.conversation_state s WHERE s.queued IS NOT NULL ORDER BY s.queued LIMIT $3) s
            JOIN %1$I.conversations x ON x.id = s.conversation_id$q$, sch)
          INTO v_ids, v_pns, v_parts, v_afters, v_lasts USING m.since, m.lookback, least(coalesce(left_, 2000), 2000);
        IF v_ids IS NULL THEN
          m.pass_phase := 'pending';
          m.pass_items := quo_fdw.mirror_pending(m);
          CONTINUE;
        END IF;
        -- what cannot hold a row in the period, or cannot be listed, is
        -- done without a request (as workspace-wide scans skip it)
        EXECUTE format($q$
          WITH b AS (SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::text[])
                                   AS b(id, after, last, parts, pn)),
               k AS (SELECT b.id,
                            CASE WHEN b.after IS NOT NULL AND b.last IS NOT NULL AND b.last < b.after - interval '1 second' THEN 'pruned'
                                 WHEN b.parts IS NULL OR b.parts = '' OR EXISTS (SELECT 1 FROM unnest(string_to_array(b.parts, ',')) p
                                                                                   WHERE p !~ '^\+[1-9][0-9]{1,14}$') THEN 'odd'
                                 WHEN cardinality(string_to_array(b.parts, ',')) > 10 THEN 'unlistable' END AS why
                       FROM b),
               d AS (UPDATE %1$I.conversation_state s
                        SET visited_activity_at = x.last_activity_at, visited_updated_at = x.updated_at,
                            visited_at = $6, visited_from = b.after, queued = NULL, renewed = false, lagging = 0
                       FROM k JOIN b ON b.id = k.id, %1$I.conversations x
                      WHERE k.why IS NOT NULL AND s.conversation_id = k.id AND x.id = k.id
                  RETURNING k.why)
          SELECT count(*) FILTER (WHERE why = 'odd'), count(*) FILTER (WHERE why = 'unlistable'), count(*) FROM d$q$, sch)
          INTO n_odd, n_unl, n
          USING v_ids, v_afters, v_lasts, v_parts, v_pns, m.pass_started;
        odd := odd + n_odd; unlistable := unlistable + n_unl;
        r.conversations_skipped := r.conversations_skipped + n;
        moved := moved OR n > 0;
        -- the rest: their calls and messages, several in flight
        EXECUTE format($q$
          SELECT array_agg(b.id ORDER BY o), array_agg(b.pn ORDER BY o), array_agg(b.parts ORDER BY o), array_agg(b.after ORDER BY o)
            FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) WITH ORDINALITY AS b(id, pn, parts, after, o)
            JOIN %1$I.conversation_state s ON s.conversation_id = b.id
           WHERE s.queued IS NOT NULL$q$, sch)
          INTO v_ids, v_pns, v_parts, v_afters
          USING v_ids, v_pns, v_parts, v_afters;
        IF v_ids IS NULL THEN
          CONTINUE;
        END IF;
        SELECT * INTO f FROM quo_fdw.mirror_fetch(m, 'visits', '{calls,messages}', stop,
                                  conv => v_ids, pns => v_pns, parts => v_parts, afters => v_afters);
        r.calls_inserted := r.calls_inserted + f.inserted[1]; r.calls_updated := r.calls_updated + f.updated[1];
        r.messages_inserted := r.messages_inserted + f.inserted[2]; r.messages_updated := r.messages_updated + f.updated[2];
        r.conversations_visited := r.conversations_visited + coalesce(cardinality(f.done), 0);
        moved := moved OR coalesce(cardinality(f.done), 0) > 0;
        -- the visits done: their state, in the same transaction as their rows.
        -- A visit that did not find the conversation's last activity (a list
        -- that lags behind it) keeps the old lastActivityAt, so the next
        -- pass visits again (three times at most).
        EXECUTE format($q$
          UPDATE %1$I.conversation_state s
             SET visited_activity_at = CASE WHEN v.lag THEN s.visited_activity_at ELSE v.last_activity_at END,
                 visited_updated_at = v.updated_at, visited_at = $3, visited_from = v.after,
                 queued = NULL, renewed = false, lagging = CASE WHEN v.lag THEN s.lagging + 1 ELSE 0 END
            FROM (SELECT b.id, b.after, x.last_activity_at, x.updated_at,
                         t.lagging < 3 AND x.last_activity_id IS NOT NULL
                         AND x.last_activity_at >= coalesce(b.after, '-infinity')
                         AND NOT EXISTS (SELECT 1 FROM %1$I.calls c WHERE c.id = x.last_activity_id)
                         AND NOT EXISTS (SELECT 1 FROM %1$I.messages g WHERE g.id = x.last_activity_id) AS lag
                    FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS b(id, after, o)
                    JOIN %1$I.conversations x ON x.id = b.id
                    JOIN %1$I.conversation_state t ON t.conversation_id = b.id
                   WHERE b.o = ANY ($4)) v
           WHERE s.conversation_id = v.id$q$, sch)
          USING v_ids, v_afters, m.pass_started, coalesce(f.done, '{}');
        IF coalesce(cardinality(f.done), 0) < cardinality(v_ids) THEN
          stopped := true;   -- the step's budget ended: the rest wait for the next
        END IF;

      ELSIF m.pass_phase = 'pending' THEN
        IF coalesce(cardinality(m.pass_items), 0) = 0 THEN
          -- the pass is complete
          m.watermark := m.pass_started;
          m.pass_started := NULL;
          m.pass_phase := NULL;
          m.pass_items := NULL;
          moved := true;
          EXIT;
        END IF;
        tbl := split_part(m.pass_items[1], ':', 1);
        items := ARRAY(SELECT substr(x, length(tbl) + 2) FROM unnest(m.pass_items) x WHERE x LIKE tbl || ':%');
        SELECT * INTO f FROM quo_fdw.mirror_fetch(m, 'ids', ARRAY[tbl], stop, ids => items,
                                  keep => CASE WHEN tbl = 'messages' THEN '{participants,conversation_id,phone_number_id}'::text[]
                                               ELSE '{}' END);
        -- an id the API answers with its documented 404 is gone: the row
        -- leaves the mirror (else it would cost a request on every refresh).
        -- One that could not be asked for (not the id pattern the document
        -- gives) is kept as it is.
        EXECUTE format('DELETE FROM %I.%I x WHERE x.id = ANY ($1) AND x.id <> ALL ($2)', sch, tbl)
          USING ARRAY(SELECT items[d] FROM unnest(coalesce(f.asked, '{}')) d), coalesce(f.row_ids, '{}');
        GET DIAGNOSTICS n = ROW_COUNT;
        IF tbl = 'calls' THEN
          r.calls_inserted := r.calls_inserted + f.inserted[1]; r.calls_updated := r.calls_updated + f.updated[1];
          r.calls_removed := r.calls_removed + n;
        ELSE
          r.messages_inserted := r.messages_inserted + f.inserted[1]; r.messages_updated := r.messages_updated + f.updated[1];
          r.messages_removed := r.messages_removed + n;
        END IF;
        moved := moved OR coalesce(cardinality(f.done), 0) > 0;
        m.pass_items := ARRAY(SELECT x FROM unnest(m.pass_items) x
                               WHERE x NOT IN (SELECT tbl || ':' || items[d] FROM unnest(coalesce(f.done, '{}')) d));
        IF coalesce(cardinality(f.done), 0) < cardinality(items) THEN
          stopped := true;
        END IF;
      END IF;
    END LOOP;
  EXCEPTION WHEN configuration_limit_exceeded THEN
    RAISE EXCEPTION 'refresh of mirror "%" needs more than quo_fdw.mirror_max_requests (%) Quo API requests', sch, cap
      USING ERRCODE = 'configuration_limit_exceeded',
            DETAIL = format('It stopped after %s requests, before the next one. Nothing was changed.',
                            quo_fdw.requests_sent() - base),
            HINT = 'Raise quo_fdw.mirror_max_requests (SET it for this session, or ALTER ROLE ... SET for the role pg_cron runs as), or refresh in steps: quo_fdw.refresh_mirror(mirror, max_requests) or CALL quo_fdw.sync_mirror(mirror).';
  END;
  IF odd + unlistable > 0 THEN
    RAISE WARNING 'mirror "%" skipped % of the conversations with new activity', sch, odd + unlistable
      USING DETAIL = format('%s have participants the API cannot list by (none, or not E.164 numbers); %s have more than 10 participants, whose messages the API cannot list. Their new rows are not in the mirror.',
                            odd, unlistable);
  END IF;
  r.requests := quo_fdw.requests_sent() - base;
  IF NOT moved AND m.pass_started IS NOT NULL THEN
    RAISE EXCEPTION 'max_requests (%) is too small for the next part of mirror "%"', max_requests, sch
      USING ERRCODE = 'configuration_limit_exceeded',
            DETAIL = format('Its next %s needs more requests than one step may make; this step changed nothing.',
                            CASE WHEN m.pass_phase = 'visits' THEN 'conversation' ELSE 'page or item' END),
            HINT = 'Take larger steps.';
  END IF;
  EXECUTE format('SELECT count(*) FROM %I.conversation_state WHERE queued IS NOT NULL', sch) INTO r.conversations_pending;
  r.complete := m.pass_started IS NULL;
  r.seconds := round(extract(epoch FROM clock_timestamp() - t0), 3);
  IF progress THEN
    RAISE NOTICE 'quo_fdw: mirror "%": % conversations visited, % to visit in this pass, % requests', sch,
      r.conversations_visited, r.conversations_pending, r.requests;
  END IF;
  UPDATE quo_fdw.mirror x
     SET watermark = m.watermark, last_refresh = clock_timestamp(), missing = m.missing,
         pass_started = m.pass_started, pass_phase = m.pass_phase, pass_token = m.pass_token,
         pass_items = m.pass_items, pending = r.conversations_pending, last_result = to_jsonb(r)
   WHERE x.mirror_schema = sch;
  RETURN r;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_step(name, bigint) IS 'one refresh or step of a mirror, as its owner (internal: call quo_fdw.refresh_mirror)';

-- At the end of a pass's conversations listing: the conversations to visit,
-- newest activity first: new to the mirror, back after being taken for
-- deleted, or lastActivityAt or updatedAt moved since their last visit
-- (deleted ones too).  Then a conversation that two listings in a row did
-- not return is taken for deleted (one listing can miss a conversation that
-- moved to its first page while later pages were read): it gets deleted_at,
-- its rows stay.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_queue(m quo_fdw.mirror) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  deleted bigint;
BEGIN
  EXECUTE format($q$
    UPDATE %1$I.conversations x SET deleted_at = $1, mirrored_at = now()
      FROM %1$I.conversation_state s
     WHERE s.conversation_id = x.id AND x.deleted_at IS NULL
       AND s.listed_pass IS DISTINCT FROM $1 AND x.id = ANY ($2)$q$, m.mirror_schema)
    USING m.pass_started, coalesce(m.missing, '{}');
  GET DIAGNOSTICS deleted = ROW_COUNT;
  EXECUTE format($q$
    UPDATE %1$I.conversation_state s SET renewed = true
      FROM %1$I.conversations x
     WHERE x.id = s.conversation_id AND x.deleted_at = $1 AND s.listed_pass IS DISTINCT FROM $1$q$, m.mirror_schema)
    USING m.pass_started;
  EXECUTE format($q$
    UPDATE %1$I.conversation_state s SET queued = q.n
      FROM (SELECT x.id, row_number() OVER (ORDER BY x.last_activity_at DESC NULLS FIRST, x.id) AS n
              FROM %1$I.conversations x JOIN %1$I.conversation_state t ON t.conversation_id = x.id
             WHERE t.listed_pass = $1
               AND (t.visited_at IS NULL OR t.renewed
                    OR t.visited_activity_at IS DISTINCT FROM x.last_activity_at
                    OR t.visited_updated_at IS DISTINCT FROM x.updated_at)) q
     WHERE s.conversation_id = q.id$q$, m.mirror_schema)
    USING m.pass_started;
  RETURN deleted;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_queue(quo_fdw.mirror) IS 'the visits of a pass, and the conversations taken for deleted, counted (internal)';

-- The conversations this pass's listing did not return (not deleted yet).
CREATE OR REPLACE FUNCTION quo_fdw.mirror_missing(m quo_fdw.mirror) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  ids text[];
BEGIN
  EXECUTE format($q$
    SELECT array_agg(x.id) FROM %1$I.conversations x
      LEFT JOIN %1$I.conversation_state s ON s.conversation_id = x.id
     WHERE x.deleted_at IS NULL AND s.listed_pass IS DISTINCT FROM $1$q$, m.mirror_schema)
    INTO ids USING m.pass_started;
  RETURN ids;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_missing(quo_fdw.mirror) IS 'conversations a pass''s listing lacked (internal)';

-- The rows a pass reads again by id: in a state that can still change,
-- created within lookback of now, and not just read by this pass's visit
-- of their conversation.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_pending(m quo_fdw.mirror) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  calls text[];
  messages text[];
  lower timestamptz := greatest(m.since, now() - m.lookback);
BEGIN
  EXECUTE format($q$
    SELECT array_agg('calls:' || x.id ORDER BY x.id) FROM %1$I.calls x
     WHERE x.status IN ('queued', 'initiated', 'ringing', 'in-progress') AND x.created_at >= $1
       AND NOT EXISTS (SELECT 1 FROM %1$I.conversations v JOIN %1$I.conversation_state s ON s.conversation_id = v.id
                        WHERE s.visited_at = $2 AND x.created_at >= coalesce(s.visited_from, '-infinity')
                          AND v.phone_number_id = x.phone_number_id AND v.participants[1] = ANY (x.participants)
                          AND cardinality(v.participants) = 1)$q$, m.mirror_schema)
    INTO calls USING lower, m.pass_started;
  EXECUTE format($q$
    SELECT array_agg('messages:' || x.id ORDER BY x.id) FROM %1$I.messages x
     WHERE x.status IN ('queued', 'sent') AND x.created_at >= $1
       AND NOT EXISTS (SELECT 1 FROM %1$I.conversation_state s
                        WHERE s.conversation_id = x.conversation_id AND s.visited_at = $2
                          AND x.created_at >= coalesce(s.visited_from, '-infinity'))$q$, m.mirror_schema)
    INTO messages USING lower, m.pass_started;
  RETURN coalesce(calls, '{}') || coalesce(messages, '{}');
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_pending(quo_fdw.mirror) IS 'the rows a pass reads again by id (internal)';

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

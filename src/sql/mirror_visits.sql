-- mirror_visits.sql: the visits phase of a pass (the conversations whose
-- activity moved, newest first, their calls and messages read as series on
-- one multi handle) and the pending phase (rows that can still change, read
-- again by id)
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- The visits phase's work within stop requests (as mirror_phase_list): the
-- next conversations of the queue, at most 2,000 a batch; each done whole,
-- with its state, or left for the next step.  whole_step: stop is all a
-- step may spend, so a first conversation it cannot finish never will be
-- (an ERROR, not a step spent for nothing again and again).
CREATE OR REPLACE FUNCTION quo_fdw.mirror_phase_visits(m quo_fdw.mirror, stop bigint, counts jsonb,
                                                       whole_step boolean DEFAULT false,
                                                       OUT mm quo_fdw.mirror, OUT c jsonb, OUT moved boolean,
                                                       OUT stopped boolean, OUT done boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  sch name := m.mirror_schema;
  f record;
  v_ids text[];             -- the batch of conversations to visit
  v_pns text[];
  v_parts text[];
  v_afters timestamptz[];
  v_lasts timestamptz[];
  n_odd bigint;
  n_unl bigint;
  n bigint;
  eps text[] := ARRAY(SELECT t FROM unnest('{calls,messages}'::text[]) t WHERE t = ANY (m.tables));
BEGIN
  mm := m; c := counts; moved := false; stopped := false; done := false;
  -- the next conversations to visit, newest activity first; a queued one
  -- whose conversation row is gone (deleted by hand) is dropped from the queue
  EXECUTE format($q$
    UPDATE %1$I.conversation_state s SET queued = NULL
     WHERE s.queued IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %1$I.conversations x WHERE x.id = s.conversation_id)$q$, sch);
  EXECUTE format($q$
    SELECT array_agg(x.id ORDER BY s.queued), array_agg(x.phone_number_id ORDER BY s.queued),
           array_agg(CASE WHEN array_position(x.participants, NULL) IS NULL
                          THEN array_to_string(x.participants, ',') END ORDER BY s.queued),
           array_agg(CASE WHEN s.visited_at IS NULL OR s.renewed THEN $1
                          ELSE greatest($1, s.visited_at - $2) END ORDER BY s.queued),
           array_agg(x.last_activity_at ORDER BY s.queued)
      FROM (SELECT * FROM %1$I.conversation_state s WHERE s.queued IS NOT NULL ORDER BY s.queued LIMIT $3) s
      JOIN %1$I.conversations x ON x.id = s.conversation_id$q$, sch)
    INTO v_ids, v_pns, v_parts, v_afters, v_lasts
    USING m.since, m.lookback, least(coalesce(nullif(stop, 0), 2000), 2000);
  IF v_ids IS NULL THEN
    done := true;
    RETURN;
  END IF;
  -- what cannot hold a row in the period, or cannot be listed, is done
  -- without a request (as workspace-wide scans skip it); a group of more
  -- than 10 holds no call, and its messages cannot be listed (counted as
  -- unlistable when the mirror holds messages)
  EXECUTE format($q$
    WITH b AS (SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::text[])
                             AS b(id, after, last, parts, pn)),
         k AS (SELECT b.id,
                      CASE WHEN b.after IS NOT NULL AND b.last IS NOT NULL AND b.last < b.after - interval '1 second' THEN 'pruned'
                           WHEN b.parts IS NULL OR b.parts = '' OR EXISTS (SELECT 1 FROM unnest(string_to_array(b.parts, ',')) p
                                                                             WHERE p !~ '^\+[1-9][0-9]{1,14}$') THEN 'odd'
                           WHEN cardinality(string_to_array(b.parts, ',')) > 10
                           THEN CASE WHEN $7 THEN 'unlistable' ELSE 'group' END END AS why
                 FROM b),
         d AS (UPDATE %1$I.conversation_state s
                  SET visited_activity_at = x.last_activity_at, visited_updated_at = x.updated_at,
                      visited_at = $6, visited_from = b.after, queued = NULL, renewed = false, lagging = 0
                 FROM k JOIN b ON b.id = k.id, %1$I.conversations x
                WHERE k.why IS NOT NULL AND s.conversation_id = k.id AND x.id = k.id
            RETURNING k.why)
    SELECT count(*) FILTER (WHERE why = 'odd'), count(*) FILTER (WHERE why = 'unlistable'), count(*) FROM d$q$, sch)
    INTO n_odd, n_unl, n
    USING v_ids, v_afters, v_lasts, v_parts, v_pns, m.pass_started, 'messages' = ANY (m.tables);
  c := quo_fdw.mirror_count(c, 'odd', n_odd);
  c := quo_fdw.mirror_count(c, 'unlistable', n_unl);
  c := quo_fdw.mirror_count(c, 'conversations_skipped', n);
  moved := n > 0;
  -- the rest: their calls and messages, several in flight
  EXECUTE format($q$
    SELECT array_agg(b.id ORDER BY o), array_agg(b.pn ORDER BY o), array_agg(b.parts ORDER BY o), array_agg(b.after ORDER BY o)
      FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) WITH ORDINALITY AS b(id, pn, parts, after, o)
      JOIN %1$I.conversation_state s ON s.conversation_id = b.id
     WHERE s.queued IS NOT NULL$q$, sch)
    INTO v_ids, v_pns, v_parts, v_afters
    USING v_ids, v_pns, v_parts, v_afters;
  IF v_ids IS NULL THEN
    RETURN;   -- all skipped: the next batch
  END IF;
  SELECT * INTO f FROM quo_fdw.mirror_fetch(m, 'visits', eps::name[], stop,
                                            conv => v_ids, pns => v_pns, parts => v_parts, afters => v_afters);
  FOR n IN 1 .. cardinality(eps) LOOP
    c := quo_fdw.mirror_count(c, eps[n] || '_inserted', f.inserted[n]);
    c := quo_fdw.mirror_count(c, eps[n] || '_updated', f.updated[n]);
  END LOOP;
  c := quo_fdw.mirror_count(c, 'conversations_visited', coalesce(cardinality(f.done), 0));
  moved := moved OR coalesce(cardinality(f.done), 0) > 0;
  -- the visits done: their state, in the same transaction as their rows.
  -- A visit that did not find the conversation's last activity (a list that
  -- lags behind it) keeps the old lastActivityAt, so the next pass visits
  -- again (three times at most).  Only a mirror of both calls and messages
  -- can tell: the last activity may be of the table it does not hold.
  EXECUTE format($q$
    UPDATE %1$I.conversation_state s
       SET visited_activity_at = CASE WHEN v.lag THEN s.visited_activity_at ELSE v.last_activity_at END,
           visited_updated_at = v.updated_at, visited_at = $3, visited_from = v.after,
           queued = NULL, renewed = false, lagging = CASE WHEN v.lag THEN s.lagging + 1 ELSE 0 END
      FROM (SELECT b.id, b.after, x.last_activity_at, x.updated_at,
                   %2$s AS lag
              FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS b(id, after, o)
              JOIN %1$I.conversations x ON x.id = b.id
              JOIN %1$I.conversation_state t ON t.conversation_id = b.id
             WHERE b.o = ANY ($4)) v
     WHERE s.conversation_id = v.id$q$, sch,
    CASE WHEN m.tables @> '{calls,messages}'
         THEN format($l$t.lagging < 3 AND x.last_activity_id IS NOT NULL
                        AND x.last_activity_at >= coalesce(b.after, '-infinity')
                        AND NOT EXISTS (SELECT 1 FROM %1$I.calls c WHERE c.id = x.last_activity_id)
                        AND NOT EXISTS (SELECT 1 FROM %1$I.messages g WHERE g.id = x.last_activity_id)$l$, sch)
         ELSE 'false' END)
    USING v_ids, v_afters, m.pass_started, coalesce(f.done, '{}');
  IF coalesce(cardinality(f.done), 0) < cardinality(v_ids) THEN
    stopped := true;   -- the step's budget ended: the rest wait for the next
    IF whole_step AND NOT 1 = ANY (coalesce(f.done, '{}')) AND v_ids[1] IS NOT NULL THEN
      RAISE EXCEPTION 'max_requests (%) is too small for conversation % of mirror "%"', stop, v_ids[1], sch
        USING ERRCODE = 'configuration_limit_exceeded',
              DETAIL = 'Its calls and messages need more requests than one step may make (a conversation is read whole in one step); this step changed nothing.',
              HINT = 'Take larger steps.';
    END IF;
  END IF;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_phase_visits(quo_fdw.mirror, bigint, jsonb, boolean) IS 'the visits phase of a pass (internal)';

-- The pending phase's work within stop requests: the rows noted at its
-- start (pass_items, table:id), read again by id; a row whose id the API
-- answers with its documented 404 is gone and leaves the mirror.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_phase_pending(m quo_fdw.mirror, stop bigint, counts jsonb,
                                                        OUT mm quo_fdw.mirror, OUT c jsonb, OUT moved boolean,
                                                        OUT stopped boolean, OUT done boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  f record;
  tbl name;
  items text[];
  n bigint;
BEGIN
  mm := m; c := counts; moved := false; stopped := false; done := false;
  IF mm.pass_items IS NULL THEN
    mm.pass_items := quo_fdw.mirror_pending(m);
  END IF;
  IF cardinality(mm.pass_items) = 0 THEN
    done := true;
    RETURN;
  END IF;
  tbl := split_part(mm.pass_items[1], ':', 1);
  items := ARRAY(SELECT substr(x, length(tbl) + 2) FROM unnest(mm.pass_items) x WHERE x LIKE tbl || ':%');
  SELECT * INTO f FROM quo_fdw.mirror_fetch(m, 'ids', ARRAY[tbl], stop, ids => items,
                            keep => CASE WHEN tbl = 'messages' THEN '{participants,conversation_id,phone_number_id}'::text[]
                                         ELSE '{}' END);
  -- an id the API answers with its documented 404 is gone: the row leaves
  -- the mirror (else it would cost a request on every refresh).  One that
  -- could not be asked for (not the id pattern the document gives) is kept
  -- as it is.
  EXECUTE format('DELETE FROM %I.%I x WHERE x.id IN (SELECT a FROM unnest($1::text[]) a EXCEPT SELECT r FROM unnest($2::text[]) r)',
                 m.mirror_schema, tbl)
    USING ARRAY(SELECT items[d] FROM unnest(coalesce(f.asked, '{}')) d), coalesce(f.row_ids, '{}');
  GET DIAGNOSTICS n = ROW_COUNT;
  c := quo_fdw.mirror_count(c, tbl || '_inserted', f.inserted[1]);
  c := quo_fdw.mirror_count(c, tbl || '_updated', f.updated[1]);
  c := quo_fdw.mirror_count(c, tbl || '_removed', n);
  moved := coalesce(cardinality(f.done), 0) > 0;
  mm.pass_items := ARRAY(SELECT x FROM unnest(mm.pass_items) x
                         EXCEPT SELECT tbl || ':' || items[d] FROM unnest(coalesce(f.done, '{}')) d);
  mm.pass_items := ARRAY(SELECT x FROM unnest(mm.pass_items) x ORDER BY x);
  IF coalesce(cardinality(f.done), 0) < cardinality(items) THEN
    stopped := true;
  END IF;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_phase_pending(quo_fdw.mirror, bigint, jsonb) IS 'the pending phase of a pass (internal)';

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
  IF 'calls' = ANY (m.tables) THEN
    EXECUTE format($q$
      WITH visited AS (SELECT v.phone_number_id AS pn, v.participants[1] AS who,
                              min(coalesce(s.visited_from, '-infinity')) AS from_
                         FROM %1$I.conversations v JOIN %1$I.conversation_state s ON s.conversation_id = v.id
                        WHERE s.visited_at = $2 AND cardinality(v.participants) = 1
                        GROUP BY 1, 2)
      SELECT array_agg('calls:' || x.id ORDER BY x.id) FROM %1$I.calls x
        LEFT JOIN visited w ON w.pn = x.phone_number_id AND w.who = x.participants[1] AND x.created_at >= w.from_
       WHERE x.status IN ('queued', 'initiated', 'ringing', 'in-progress') AND x.created_at >= $1
         AND w.pn IS NULL$q$, m.mirror_schema)
      INTO calls USING lower, m.pass_started;
  END IF;
  IF 'messages' = ANY (m.tables) THEN
    EXECUTE format($q$
      SELECT array_agg('messages:' || x.id ORDER BY x.id) FROM %1$I.messages x
       WHERE x.status IN ('queued', 'sent') AND x.created_at >= $1
         AND NOT EXISTS (SELECT 1 FROM %1$I.conversation_state s
                          WHERE s.conversation_id = x.conversation_id AND s.visited_at = $2
                            AND x.created_at >= coalesce(s.visited_from, '-infinity'))$q$, m.mirror_schema)
      INTO messages USING lower, m.pass_started;
  END IF;
  RETURN coalesce(calls, '{}') || coalesce(messages, '{}');
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_pending(quo_fdw.mirror) IS 'the rows a pass reads again by id (internal)';

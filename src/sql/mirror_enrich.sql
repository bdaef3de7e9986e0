-- mirror_enrich.sql: the enrichment phases of a pass (enrich:<table>): each
-- call's summary, transcript, recordings and voicemail, which arrive late,
-- read for the calls of enrich_within and asked for again, waiting longer
-- each time, until final or given up
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- The most asks for one call's row of one per-call table.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_max_asks() RETURNS integer
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 6 $$;
COMMENT ON FUNCTION quo_fdw.mirror_max_asks() IS 'the most asks for a per-call row (internal)';

-- The calls whose rows of per-call tables a mirror reads: created within
-- enrich_within of now, and from since; ended (a call under way has
-- nothing yet: it is read once its status moves on).
CREATE OR REPLACE FUNCTION quo_fdw.mirror_enrich_from(m quo_fdw.mirror) RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT greatest(m.since, now() - m.enrich_within) $$;
COMMENT ON FUNCTION quo_fdw.mirror_enrich_from(quo_fdw.mirror) IS 'the oldest call a mirror reads per-call rows for (internal)';

-- The longest a call's per-call rows are awaited after it ended: the asks'
-- doubling waits (1, 2, 4, ... enrich_retry) added up.  A call that ended
-- longer ago than that (a mirror made or widened after it) is asked once:
-- what has not come by then is not coming.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_await_span(m quo_fdw.mirror) RETURNS interval
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT m.enrich_retry * (power(2, quo_fdw.mirror_max_asks() - 1) - 1) $$;
COMMENT ON FUNCTION quo_fdw.mirror_await_span(quo_fdw.mirror) IS 'how long after a call ends its per-call rows are awaited (internal)';

-- One enrichment phase's work within stop requests (as mirror_phase_list):
-- for per-call table tbl, the calls whose ask is due, newest first, at most
-- 500 a batch.  A call found final (every row in a final status of the
-- document's enum) is never asked again; one not there yet (the documented
-- 404, no recording yet) or not final is asked again no sooner than
-- enrich_retry after, the wait doubling each time, mirror_max_asks() times
-- at most, and not past mirror_await_span() after the call ended.  A 403
-- for the pass's first two calls, asked one at a time (a plan without the
-- feature) stops asking for the table for a day, noted in the catalog (quo_fdw.mirrors shows it); a
-- 403 for some is an ask without an answer.  A batch that fails on a bad
-- answer (a row that does not convert, a body that is not JSON) loses
-- nothing: its calls are asked again one at a time, and only the call that
-- fails again counts an ask, with its error noted (enrichment_state.error).
-- A failure of the API as a whole (or three calls in a row failing alone)
-- ends the refresh's per-call reads, no ask counted.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_phase_enrich(m quo_fdw.mirror, stop bigint, counts jsonb,
                                                       OUT mm quo_fdw.mirror, OUT c jsonb, OUT moved boolean,
                                                       OUT stopped boolean, OUT done boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  tbl name := substr(m.pass_phase, 8);
  sch name := m.mirror_schema;
  from_ timestamptz := quo_fdw.mirror_enrich_from(m);
  due text[];
  f record;
  msg text;
  state text;
  n bigint;
  refused constant text := 'Quo API request failed with HTTP 403';   -- noted for a call the API refused
BEGIN
  mm := m; c := counts; moved := false; stopped := false; done := false;
  IF m.unavailable ? tbl AND (m.unavailable -> tbl ->> 'since')::timestamptz + interval '1 day' > now() THEN
    done := true;
    RETURN;
  END IF;
  IF mm.pass_token IS NULL THEN
    -- once a pass: the calls that entered the window, and none that left
    -- it or left the mirror
    EXECUTE format($q$
      DELETE FROM %1$I.enrichment_state e
       WHERE e.tbl = $1
         AND NOT EXISTS (SELECT 1 FROM %1$I.calls x WHERE x.id = e.call_id AND x.created_at >= $2)$q$, sch)
      USING tbl, from_;
    EXECUTE format($q$
      INSERT INTO %1$I.enrichment_state (call_id, tbl, next_ask)
      SELECT x.id, $1, now() FROM %1$I.calls x
       WHERE x.created_at >= $2 AND x.status NOT IN ('queued', 'initiated', 'ringing', 'in-progress')
      ON CONFLICT (call_id, tbl) DO NOTHING$q$, sch)
      USING tbl, from_;
    mm.pass_token := 'seeded';
  END IF;
  -- a call whose last ask failed is asked alone (its bad answer cannot
  -- lose the others'); else a batch, newest first, the pass's first of
  -- one call (a plan without the feature costs one request to learn)
  EXECUTE format($q$
    SELECT array_agg(d.call_id ORDER BY d.created_at DESC, d.call_id)
      FROM (SELECT e.call_id, x.created_at
              FROM %1$I.enrichment_state e JOIN %1$I.calls x ON x.id = e.call_id
             WHERE e.tbl = $1 AND NOT e.done AND e.next_ask <= now() AND e.asks < $3
               AND x.created_at >= $2 AND e.error IS NOT NULL AND e.error <> $4
             ORDER BY x.created_at DESC, e.call_id
             LIMIT 1) d$q$, sch)
    INTO due USING tbl, from_, quo_fdw.mirror_max_asks(), refused;
  IF due IS NULL THEN
    EXECUTE format($q$
      SELECT array_agg(d.call_id ORDER BY d.created_at DESC, d.call_id)
        FROM (SELECT e.call_id, x.created_at
                FROM %1$I.enrichment_state e JOIN %1$I.calls x ON x.id = e.call_id
               WHERE e.tbl = $1 AND NOT e.done AND e.next_ask <= now() AND e.asks < $3
                 AND x.created_at >= $2
               ORDER BY x.created_at DESC, e.call_id
               LIMIT $4) d$q$, sch)
      INTO due USING tbl, from_, quo_fdw.mirror_max_asks(),
                     CASE WHEN mm.pass_token IN ('seeded', 'refused once') THEN 1
                          ELSE least(coalesce(nullif(stop, 0), 500), 500) END;
  END IF;
  IF due IS NULL THEN
    done := true;
    RETURN;
  END IF;
  BEGIN
    SELECT * INTO f FROM quo_fdw.mirror_fetch(m, 'ids', ARRAY[tbl], stop, ids => due,
                                              finals => quo_fdw.mirror_final(tbl), note_forbidden => true);
  EXCEPTION WHEN data_exception OR fdw_error OR invalid_authorization_specification THEN
    -- (fdw_error is the whole HV class; the budget and a cancel are not
    -- caught: they are the refresh's)
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
    IF NOT (state LIKE '22%' OR state IN ('HV00M', 'HV024')) THEN
      -- the API as a whole failed (a 5xx or 429 the retries did not cure,
      -- a lapsed plan, the network, the key): no ask counts, and the
      -- refresh's per-call reads end here, with a WARNING (mirror_step);
      -- what they had not read yet is asked for by the next refresh
      c := c || jsonb_build_object('enrich_error', format('%s: %s', state, msg));
      moved := true;
      done := true;
      RETURN;
    END IF;
    -- a bad answer for some call (a body that is not JSON or not the
    -- document's shape, a value that does not convert, a 400)
    IF cardinality(due) = 1 THEN
      -- the call alone: its ask counts, with what went wrong
      EXECUTE format($q$
        UPDATE %1$I.enrichment_state e
           SET asks = e.asks + 1, error = $3, next_ask = now() + $4 * power(2, e.asks)
         WHERE e.tbl = $1 AND e.call_id = $2$q$, sch)
        USING tbl, due[1], format('%s: %s', state, msg), m.enrich_retry;
      -- three calls in a row failing alone is the API, not the calls
      c := quo_fdw.mirror_count(c, 'lone_failures', 1);
      IF (c ->> 'lone_failures')::integer >= 3 THEN
        c := c || jsonb_build_object('enrich_error', format('%s: %s (three calls in a row)', state, msg));
        done := true;
      END IF;
    ELSE
      -- each call of the batch is asked alone next
      EXECUTE format($q$
        UPDATE %1$I.enrichment_state e SET error = $3
         WHERE e.tbl = $1 AND e.call_id = ANY ($2)$q$, sch)
        USING tbl, due, format('%s: %s (in a batch of %s calls)', state, msg, cardinality(due));
    END IF;
    moved := true;
    RETURN;
  END;
  IF coalesce(cardinality(f.forbidden), 0) > 0 AND cardinality(f.forbidden) = coalesce(cardinality(f.asked), 0)
     AND mm.pass_token = 'seeded' THEN
    -- the pass's first call refused: its ask counts, and one other call is
    -- asked before the table is taken for refused (one call the API
    -- refuses on its own must not stop the asking for every call)
    EXECUTE format($q$
      UPDATE %1$I.enrichment_state e
         SET asks = e.asks + 1, error = $3, next_ask = now() + $4 * power(2, e.asks)
       WHERE e.tbl = $1 AND e.call_id = ANY ($2)$q$, sch)
      USING tbl, due, refused, m.enrich_retry;
    mm.pass_token := 'refused once';
    moved := true;
    RETURN;
  END IF;
  IF coalesce(cardinality(f.forbidden), 0) > 0 AND cardinality(f.forbidden) = coalesce(cardinality(f.asked), 0) THEN
    -- the API refused two calls in a row, every call asked: the
    -- workspace's plan has no such data; not asked for a day (this ask
    -- does not count)
    mm.unavailable := mm.unavailable || jsonb_build_object(tbl, jsonb_build_object('since', now(),
      'error', format('%s for every call asked (%s)', refused, cardinality(f.forbidden) + 1)));
    moved := true;
    done := true;
    RETURN;
  END IF;
  c := quo_fdw.mirror_count(c, tbl || '_inserted', f.inserted[1]) - 'lone_failures';
  c := quo_fdw.mirror_count(c, tbl || '_updated', f.updated[1]);
  moved := coalesce(cardinality(f.done), 0) > 0;
  IF moved THEN
    mm.pass_token := 'asked';
  END IF;
  -- the items done: an ask made (final, or the next later, unless the
  -- call ended too long ago to wait for), or none possible (an id that
  -- cannot be one of the API's: done)
  EXECUTE format($q$
    UPDATE %1$I.enrichment_state e
       SET asks = e.asks + (d.o = ANY ($5))::integer,
           done = d.o = ANY ($3) OR NOT d.o = ANY ($5)
                  OR now() > coalesce(x.completed_at, x.created_at) + $6,
           error = CASE WHEN d.o = ANY ($7) THEN $9 END,
           next_ask = now() + $4 * power(2, e.asks)
      FROM unnest($1::text[]) WITH ORDINALITY AS d(call_id, o), %1$I.calls x
     WHERE e.tbl = $2 AND e.call_id = d.call_id AND x.id = d.call_id AND d.o = ANY ($8)$q$, sch)
    USING due, tbl, coalesce(f.final, '{}'), m.enrich_retry, coalesce(f.asked, '{}'),
          quo_fdw.mirror_await_span(m), coalesce(f.forbidden, '{}'), coalesce(f.done, '{}'), refused;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF mm.unavailable ? tbl THEN
    mm.unavailable := mm.unavailable - tbl::text;   -- it answers again
  END IF;
  IF n = 0 AND coalesce(cardinality(f.done), 0) > 0 THEN
    done := true;   -- nothing changed: never ask the same again in this pass
  ELSIF coalesce(cardinality(f.done), 0) < cardinality(due) THEN
    stopped := true;
  END IF;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_phase_enrich(quo_fdw.mirror, bigint, jsonb) IS 'an enrichment phase of a pass (internal)';

-- The per-call rows a mirror still awaits: asks left, for calls within the
-- window.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_awaited(m quo_fdw.mirror) RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  n bigint := 0;
BEGIN
  IF m.tables::name[] && quo_fdw.mirror_per_call() THEN
    EXECUTE format($q$
      SELECT count(*) FROM %1$I.enrichment_state e JOIN %1$I.calls x ON x.id = e.call_id
       WHERE NOT e.done AND e.asks < $1 AND x.created_at >= $2
         AND NOT coalesce((($3 -> e.tbl::text ->> 'since')::timestamptz + interval '1 day') > now(), false)$q$,
      m.mirror_schema)
      INTO n USING quo_fdw.mirror_max_asks(), quo_fdw.mirror_enrich_from(m), m.unavailable;
  END IF;
  RETURN n;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_awaited(quo_fdw.mirror) IS 'the per-call rows a mirror still awaits (internal)';

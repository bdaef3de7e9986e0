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

-- One enrichment phase's work within stop requests (as mirror_phase_list):
-- for per-call table tbl, the calls whose ask is due, newest first, at most
-- 2,000 a batch.  A call found final (every row in a final status of the
-- document's enum) is never asked again; one not there yet (the documented
-- 404, no recording yet) or not final is asked again no sooner than
-- enrich_retry after, the wait doubling each time, mirror_max_asks() times
-- at most.  A 403 (a plan without the feature) stops asking for the table
-- for a day, noted in the catalog (quo_fdw.mirrors shows it).
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
BEGIN
  mm := m; c := counts; moved := false; stopped := false; done := false;
  IF m.unavailable ? tbl AND (m.unavailable -> tbl ->> 'since')::timestamptz + interval '1 day' > now() THEN
    done := true;
    RETURN;
  END IF;
  IF mm.pass_token IS NULL THEN
    -- once a pass: the calls that entered the window, and none that left it
    EXECUTE format($q$
      DELETE FROM %1$I.enrichment_state e USING %1$I.calls x
       WHERE e.tbl = $1 AND x.id = e.call_id AND x.created_at < $2$q$, sch)
      USING tbl, from_;
    EXECUTE format($q$
      INSERT INTO %1$I.enrichment_state (call_id, tbl, next_ask)
      SELECT x.id, $1, now() FROM %1$I.calls x
       WHERE x.created_at >= $2 AND x.status NOT IN ('queued', 'initiated', 'ringing', 'in-progress')
      ON CONFLICT (call_id, tbl) DO NOTHING$q$, sch)
      USING tbl, from_;
    mm.pass_token := 'seeded';
  END IF;
  EXECUTE format($q$
    SELECT array_agg(e.call_id ORDER BY x.created_at DESC, e.call_id)
      FROM (SELECT e.call_id FROM %1$I.enrichment_state e
             WHERE e.tbl = $1 AND NOT e.done AND e.next_ask <= now() AND e.asks < $3) e
      JOIN %1$I.calls x ON x.id = e.call_id AND x.created_at >= $2
     LIMIT $4$q$, sch)
    INTO due USING tbl, from_, quo_fdw.mirror_max_asks(), least(coalesce(nullif(stop, 0), 2000), 2000);
  IF due IS NULL THEN
    done := true;
    RETURN;
  END IF;
  BEGIN
    SELECT * INTO f FROM quo_fdw.mirror_fetch(m, 'ids', ARRAY[tbl], stop, ids => due,
                                              finals => quo_fdw.mirror_final(tbl));
  EXCEPTION WHEN invalid_authorization_specification THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
    IF msg NOT LIKE '%HTTP 403%' THEN
      RAISE;
    END IF;
    -- the workspace's plan has no such data: not asked for a day
    mm.unavailable := mm.unavailable || jsonb_build_object(tbl, jsonb_build_object('since', now(), 'error', msg));
    moved := true;
    done := true;
    RETURN;
  END;
  c := quo_fdw.mirror_count(c, tbl || '_inserted', f.inserted[1]);
  c := quo_fdw.mirror_count(c, tbl || '_updated', f.updated[1]);
  moved := coalesce(cardinality(f.done), 0) > 0;
  -- the asks made: final, or the next one later
  EXECUTE format($q$
    UPDATE %1$I.enrichment_state e
       SET asks = e.asks + 1, done = d.o = ANY ($3),
           next_ask = now() + $4 * power(2, e.asks)
      FROM unnest($1::text[]) WITH ORDINALITY AS d(call_id, o)
     WHERE e.tbl = $2 AND e.call_id = d.call_id AND d.o = ANY ($5)$q$, sch)
    USING due, tbl, coalesce(f.final, '{}'), m.enrich_retry, coalesce(f.asked, '{}');
  IF mm.unavailable ? tbl THEN
    mm.unavailable := mm.unavailable - tbl::text;   -- it answers again
  END IF;
  IF coalesce(cardinality(f.done), 0) < cardinality(due) THEN
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

-- mirror_lists.sql: the listing phases of a pass (list:<table>): users and
-- phone numbers every pass, contacts, contact fields and tasks at most once
-- per relist_every, the conversations every pass (then the visits queued)
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- One listing phase's work within stop requests: m is the mirror (its
-- pass_phase is 'list:<table>'), counts the refresh's counts.  Returns the
-- mirror as it now is (a listing stopped mid-way keeps where to resume in
-- pass_token), the counts, whether it got anywhere, whether it was
-- stopped, and whether the phase is done.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_phase_list(m quo_fdw.mirror, stop bigint, counts jsonb,
                                                     OUT mm quo_fdw.mirror, OUT c jsonb, OUT moved boolean,
                                                     OUT stopped boolean, OUT done boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  tbl name := substr(m.pass_phase, 6);
  key name := quo_fdw.mirror_key(substr(m.pass_phase, 6));
  f record;
  n bigint;
  gone text[];
  missing text[];
  found_any boolean;
BEGIN
  mm := m; c := counts; moved := false; stopped := false; done := false;
  -- a table listed whole is listed at most once per relist_every
  IF tbl = ANY (quo_fdw.mirror_directory()) AND m.pass_token IS NULL
     AND (m.listed_at ->> tbl)::timestamptz + m.relist_every > now() THEN
    done := true;
    RETURN;
  END IF;
  BEGIN
    SELECT * INTO f FROM quo_fdw.mirror_fetch(m, 'list', ARRAY[tbl], stop, page_token => m.pass_token);
  EXCEPTION WHEN fdw_invalid_attribute_value THEN
    -- a page token from an earlier step the API no longer takes: the
    -- listing starts over (the refresh's loop counts what is left first)
    IF m.pass_token IS NULL THEN
      RAISE;
    END IF;
    mm.pass_token := NULL;
    moved := true;
    RETURN;
  END;
  c := quo_fdw.mirror_count(c, tbl || '_inserted', f.inserted[1]);
  c := quo_fdw.mirror_count(c, tbl || '_updated', f.updated[1]);
  -- which rows this pass's listing returned
  IF tbl = 'conversations' THEN
    EXECUTE format('INSERT INTO %I.conversation_state AS s (conversation_id, listed_pass)
                    SELECT DISTINCT u.id, $1 FROM unnest($2::text[]) u(id)
                    ON CONFLICT (conversation_id) DO UPDATE SET listed_pass = excluded.listed_pass', m.mirror_schema)
      USING m.pass_started, coalesce(f.row_ids, '{}');
  ELSIF tbl = ANY (quo_fdw.mirror_directory()) THEN
    EXECUTE format('INSERT INTO %I.listing_state AS s (tbl, key, listed_pass)
                    SELECT DISTINCT $3, u.k, $1 FROM unnest($2::text[]) u(k)
                    ON CONFLICT (tbl, key) DO UPDATE SET listed_pass = excluded.listed_pass', m.mirror_schema)
      USING m.pass_started, coalesce(f.row_ids, '{}'), tbl;
  END IF;
  moved := coalesce(cardinality(f.row_ids), 0) > 0 OR f.list_done;
  IF NOT f.list_done THEN
    mm.pass_token := f.next_token;   -- stopped: the next step resumes here
    stopped := true;
    RETURN;
  END IF;
  done := true;
  IF tbl = 'conversations' THEN
    -- conversations taken for deleted count as updated; those with nothing
    -- new, as skipped
    c := quo_fdw.mirror_count(c, 'conversations_updated', quo_fdw.mirror_queue(m));
    EXECUTE format('SELECT count(*) FROM %I.conversation_state WHERE listed_pass = $1 AND queued IS NULL', m.mirror_schema)
      INTO n USING m.pass_started;
    c := quo_fdw.mirror_count(c, 'conversations_skipped', n);
    mm.missing := (SELECT coalesce(array_agg(x ORDER BY x), '{}') FROM unnest(quo_fdw.mirror_missing(m)) x);
  ELSIF tbl = ANY (quo_fdw.mirror_directory()) THEN
    -- a row two listings in a row lacked is gone: removed (with its state);
    -- one this listing lacked waits for the next.  A listing that returned
    -- nothing at all removes nothing (an empty answer must not empty the
    -- table): the rows go once a listing that returns any lacks them.
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.listing_state s WHERE s.tbl = $1 AND s.listed_pass = $2)',
                   m.mirror_schema)
      INTO found_any USING tbl, m.pass_started;
    IF NOT found_any THEN
      mm.listed_at := mm.listed_at || jsonb_build_object(tbl, m.pass_started);
      RETURN;
    END IF;
    EXECUTE format($q$
      SELECT array_agg(x.%2$I::text ORDER BY x.%2$I::text) FROM %1$I.%3$I x
        LEFT JOIN %1$I.listing_state s ON s.tbl = $2 AND s.key = x.%2$I::text
       WHERE s.listed_pass IS DISTINCT FROM $1$q$, m.mirror_schema, key, tbl)
      INTO missing USING m.pass_started, tbl;
    gone := ARRAY(SELECT x FROM unnest(missing) x
                    JOIN jsonb_array_elements_text(coalesce(m.row_missing -> tbl, '[]')) y(k) ON y.k = x);
    EXECUTE format('DELETE FROM %1$I.%2$I x WHERE x.%3$I::text = ANY ($1)', m.mirror_schema, tbl, key)
      USING gone;
    GET DIAGNOSTICS n = ROW_COUNT;
    EXECUTE format('DELETE FROM %I.listing_state s WHERE s.tbl = $1 AND s.key = ANY ($2)', m.mirror_schema)
      USING tbl, gone;
    c := quo_fdw.mirror_count(c, tbl || '_removed', n);
    mm.row_missing := mm.row_missing || jsonb_build_object(tbl,
      to_jsonb(ARRAY(SELECT x FROM unnest(missing) x EXCEPT SELECT y FROM unnest(gone) y)));
    mm.listed_at := mm.listed_at || jsonb_build_object(tbl, m.pass_started);
  END IF;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_phase_list(quo_fdw.mirror, bigint, jsonb) IS 'a listing phase of a pass (internal)';

-- At the end of a pass's conversations listing: the conversations to visit,
-- newest activity first: new to the mirror, back after being taken for
-- deleted, or lastActivityAt or updatedAt moved since their last visit
-- (deleted ones too).  Before that, a conversation that two listings in a
-- row did not return is taken for deleted (one listing can miss a
-- conversation that moved to its first page while later pages were read):
-- it gets deleted_at, its rows stay.  Returns how many were.  (A mirror
-- of neither calls nor messages queues nothing.)
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
  IF NOT m.tables && '{calls,messages}' THEN
    RETURN deleted;   -- no calls or messages to read: nothing to visit
  END IF;
  EXECUTE format($q$
    UPDATE %1$I.conversation_state s SET renewed = true
      FROM %1$I.conversations x
     WHERE x.id = s.conversation_id AND x.deleted_at = $1 AND s.listed_pass IS DISTINCT FROM $1$q$, m.mirror_schema)
    USING m.pass_started;
  EXECUTE format($q$
    UPDATE %1$I.conversation_state s SET queued = q.n
      FROM (SELECT x.id, row_number() OVER (ORDER BY x.last_activity_at DESC NULLS LAST, x.id) AS n
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

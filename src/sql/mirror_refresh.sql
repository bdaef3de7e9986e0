-- mirror_refresh.sql: refresh_mirror and its one upsert
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- The one upsert of the mirror: the rows of the mirror's foreign table for
-- tbl (WHERE cond) into its table tbl, by id.  A row that is already there
-- is rewritten only when a column differs; columns in keep keep their value
-- where the new one is NULL (a message fetched by id has no participants);
-- fill gives a value to columns the API leaves NULL.  Columns a user added
-- to the table (not in the foreign table, or generated) are left alone.
-- The scan is held to what is left of the refresh's budget (0: none).
-- cond may use $1, the time bound lower: a typed parameter, so that no
-- DateStyle or time zone abbreviation ever comes between the bound and the
-- request.  Returns the rows inserted and updated, and (with_ids) every id
-- read.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_upsert(m quo_fdw.mirror, tbl name, cond text, budget bigint, base bigint,
                                      keep text[] DEFAULT '{}', fill jsonb DEFAULT '{}',
                                      with_ids boolean DEFAULT false, lower timestamptz DEFAULT NULL,
                                      OUT inserted bigint, OUT updated bigint, OUT ids text[])
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  used bigint := quo_fdw.requests_sent() - base;
  target regclass := format('%I.%I', m.mirror_schema, tbl)::regclass;
  remote regclass := format('quo_fdw.%I', m.remote || '_' || tbl)::regclass;
  cols text[];
  sel text;
  upd text;
  old_row text;
  new_row text;
BEGIN
  IF budget > 0 THEN
    IF used >= budget THEN
      RAISE EXCEPTION 'no request left for the next scan'
        USING ERRCODE = 'configuration_limit_exceeded';
    END IF;
    PERFORM set_config('quo_fdw.max_requests', least(budget - used, 2147483647)::text, true);
  ELSE
    PERFORM set_config('quo_fdw.max_requests', '0', true);
  END IF;
  SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO cols
    FROM pg_attribute a
   WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
     AND EXISTS (SELECT 1 FROM pg_attribute f
                  WHERE f.attrelid = remote AND f.attname = a.attname AND f.attnum > 0 AND NOT f.attisdropped);
  SELECT string_agg(CASE WHEN fill ? c THEN format('COALESCE(s.%I, %L) AS %I', c, fill ->> c, c)
                         ELSE format('s.%I', c) END, ', ' ORDER BY i),
         string_agg(format('%I = %s', c, CASE WHEN c = ANY (keep) THEN format('COALESCE(excluded.%I, m.%I)', c, c)
                                              ELSE format('excluded.%I', c) END), ', ' ORDER BY i),
         string_agg(format('m.%I', c), ', ' ORDER BY i),
         string_agg(CASE WHEN c = ANY (keep) THEN format('COALESCE(excluded.%I, m.%I)', c, c)
                         ELSE format('excluded.%I', c) END, ', ' ORDER BY i)
    INTO sel, upd, old_row, new_row
    FROM unnest(cols) WITH ORDINALITY AS u(c, i);
  EXECUTE format($q$
    WITH s AS MATERIALIZED (SELECT DISTINCT ON (s.id) %1$s FROM (SELECT * FROM %2$s%9$s) s ORDER BY s.id),
         u AS (INSERT INTO %3$s AS m (%4$s, mirrored_at) SELECT s.*, now() FROM s
               ON CONFLICT (id) DO UPDATE SET %5$s, mirrored_at = excluded.mirrored_at
               WHERE ROW(%6$s) IS DISTINCT FROM ROW(%7$s)
               RETURNING m.xmax = 0 AS fresh)
    SELECT count(*) FILTER (WHERE fresh), count(*) FILTER (WHERE NOT fresh),
           CASE WHEN %8$L THEN (SELECT array_agg(s.id) FROM s) END
      FROM u$q$,
    sel, remote, target,
    (SELECT string_agg(format('%I', c), ', ' ORDER BY i) FROM unnest(cols) WITH ORDINALITY AS u(c, i)),
    upd, old_row, new_row, with_ids, CASE WHEN cond <> '' THEN ' WHERE ' || cond ELSE '' END)
  INTO inserted, updated, ids USING lower;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_upsert(quo_fdw.mirror, name, text, bigint, bigint, text[], jsonb, boolean, timestamptz) IS 'the upsert of quo_fdw.refresh_mirror (internal)';

CREATE OR REPLACE FUNCTION quo_fdw.refresh_mirror(mirror_schema name)
RETURNS TABLE (requests bigint, conversations_visited bigint, conversations_skipped bigint,
               calls_inserted bigint, calls_updated bigint,
               messages_inserted bigint, messages_updated bigint,
               conversations_inserted bigint, conversations_updated bigint,
               users_inserted bigint, users_updated bigint,
               phone_numbers_inserted bigint, phone_numbers_updated bigint,
               seconds numeric)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET quo_fdw.max_requests = 1
AS $fn$
DECLARE
  t0 timestamptz := clock_timestamp();
  base bigint := quo_fdw.requests_sent();   -- also loads the library, which defines the settings
  budget bigint := current_setting('quo_fdw.mirror_max_requests')::bigint;
  progress boolean := current_setting('quo_fdw.progress')::boolean;
  told timestamptz := clock_timestamp();
  m quo_fdw.mirror := quo_fdw.mirror_lock(mirror_schema);
  sch name := m.mirror_schema;
  after timestamptz;      -- the visits fetch rows created from here (NULL: all)
  r record;
  u record;
  o_ids text[];
  o_la timestamptz[];
  o_ua timestamptz[];
  o_del timestamptz[];
  listed text[];
  now_missing text[];
  lower timestamptz;
  todo jsonb;
  v jsonb;
  parts text[];
  n_todo bigint;
  n_done bigint := 0;
  odd bigint := 0;
  unlistable bigint := 0;
  call_pn text[] := '{}';        -- the calls visited: number and participant
  call_part text[] := '{}';
  msg_conv text[] := '{}';       -- the conversations whose messages were visited
  pending text[];
  n_gone bigint;
  calls_removed bigint := 0;     -- pending rows whose id is now the documented 404
  messages_removed bigint := 0;
BEGIN
  requests := 0; conversations_visited := 0; conversations_skipped := 0;
  calls_inserted := 0; calls_updated := 0; messages_inserted := 0; messages_updated := 0;
  conversations_inserted := 0; conversations_updated := 0;
  users_inserted := 0; users_updated := 0; phone_numbers_inserted := 0; phone_numbers_updated := 0;
  after := CASE WHEN m.watermark IS NULL THEN m.since
                ELSE greatest(m.since, m.watermark - m.lookback) END;
  BEGIN
    -- users and phone numbers: the whole listings (small)
    SELECT * INTO u FROM quo_fdw.mirror_upsert(m, 'users', '', budget, base);
    users_inserted := u.inserted; users_updated := u.updated;
    SELECT * INTO u FROM quo_fdw.mirror_upsert(m, 'phone_numbers', '', budget, base);
    phone_numbers_inserted := u.inserted; phone_numbers_updated := u.updated;

    -- conversations: the whole listing, compared with what the mirror saw
    EXECUTE format('SELECT array_agg(id), array_agg(last_activity_at), array_agg(updated_at), array_agg(deleted_at)
                      FROM %I.conversations', sch)
      INTO o_ids, o_la, o_ua, o_del;
    SELECT * INTO u FROM quo_fdw.mirror_upsert(m, 'conversations', '', budget, base, with_ids => true);
    conversations_inserted := u.inserted; conversations_updated := u.updated;
    listed := coalesce(u.ids, '{}');
    -- A conversation two listings in a row did not return was deleted: it
    -- gets deleted_at, its rows stay.  (One listing can miss a conversation
    -- that moved to its first page while later pages were read.)
    EXECUTE format('UPDATE %I.conversations x SET deleted_at = $1, mirrored_at = now()
                     WHERE x.deleted_at IS NULL AND x.id <> ALL ($2) AND x.id = ANY ($3)', sch)
      USING t0, listed, coalesce(m.missing, '{}');
    GET DIAGNOSTICS n_todo = ROW_COUNT;
    conversations_updated := conversations_updated + n_todo;
    EXECUTE format('SELECT array_agg(x.id ORDER BY x.id) FROM %I.conversations x
                     WHERE x.deleted_at IS NULL AND x.id <> ALL ($1)', sch)
      INTO now_missing USING listed;

    -- the conversations to visit: new to the mirror (or back after it took
    -- them for deleted: visited from since), or lastActivityAt or updatedAt
    -- moved (from the last watermark less the lookback)
    EXECUTE format($q$
      SELECT coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'pn', x.phone_number_id, 'parts', x.participants,
                                                   'last', x.last_activity_at,
                                                   'new', o.id IS NULL OR (o.del IS NOT NULL AND x.deleted_at IS NULL))
                                ORDER BY x.last_activity_at DESC NULLS FIRST, x.id), '[]')
        FROM %I.conversations x
        LEFT JOIN unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[]) o(id, la, ua, del)
          ON o.id = x.id
       WHERE x.id = ANY ($5)
         AND (o.id IS NULL OR (o.del IS NOT NULL AND x.deleted_at IS NULL)
              OR o.la IS DISTINCT FROM x.last_activity_at OR o.ua IS DISTINCT FROM x.updated_at)$q$, sch)
      INTO todo USING o_ids, o_la, o_ua, o_del, listed;
    n_todo := jsonb_array_length(todo);
    conversations_skipped := cardinality(listed) - n_todo;

    FOR v IN SELECT * FROM jsonb_array_elements(todo) LOOP
      n_done := n_done + 1;
      IF v ->> 'pn' IS NULL THEN
        RAISE EXCEPTION 'invalid response from the Quo API'
          USING ERRCODE = 'fdw_unable_to_create_reply',
                DETAIL = format('Conversation %s in the listing has no phoneNumberId.', v ->> 'id');
      END IF;
      parts := CASE WHEN jsonb_typeof(v -> 'parts') = 'array'
                    THEN ARRAY(SELECT jsonb_array_elements_text(v -> 'parts')) END;
      lower := CASE WHEN (v -> 'new')::boolean THEN m.since ELSE after END;
      IF lower IS NOT NULL AND v ->> 'last' IS NOT NULL
         AND (v ->> 'last')::timestamptz < lower - interval '1 second' THEN
        -- no activity in the period fetched (as workspace-wide scans prune)
        conversations_skipped := conversations_skipped + 1;
        CONTINUE;
      END IF;
      IF coalesce(cardinality(parts), 0) = 0
         OR EXISTS (SELECT 1 FROM unnest(parts) p WHERE p IS NULL OR p !~ '^\+[1-9][0-9]{1,14}$') THEN
        odd := odd + 1;
        conversations_skipped := conversations_skipped + 1;
        CONTINUE;
      END IF;
      IF cardinality(parts) > 10 THEN
        -- the API lists the messages of up to 10 participants, and calls are 1:1
        unlistable := unlistable + 1;
        conversations_skipped := conversations_skipped + 1;
        CONTINUE;
      END IF;
      IF cardinality(parts) = 1 THEN
        -- calls are 1:1: a group conversation holds none
        SELECT * INTO u FROM quo_fdw.mirror_upsert(m, 'calls',
          format('phone_number_id = %L AND %L = ANY (participants)%s', v ->> 'pn', parts[1],
                 CASE WHEN lower IS NOT NULL THEN ' AND created_at >= $1' ELSE '' END),
          budget, base, lower => lower);
        calls_inserted := calls_inserted + u.inserted; calls_updated := calls_updated + u.updated;
        call_pn := call_pn || (v ->> 'pn');
        call_part := call_part || parts[1];
      END IF;
      SELECT * INTO u FROM quo_fdw.mirror_upsert(m, 'messages',
        format('phone_number_id = %L AND participants = %L::text[]%s', v ->> 'pn', parts,
               CASE WHEN lower IS NOT NULL THEN ' AND created_at >= $1' ELSE '' END),
        budget, base, fill => jsonb_build_object('conversation_id', v ->> 'id'), lower => lower);
      messages_inserted := messages_inserted + u.inserted; messages_updated := messages_updated + u.updated;
      msg_conv := msg_conv || (v ->> 'id');
      conversations_visited := conversations_visited + 1;
      IF progress AND clock_timestamp() - told >= interval '5 seconds' THEN
        told := clock_timestamp();
        RAISE NOTICE 'quo_fdw: mirror "%": % of % conversations, % requests', sch, n_done, n_todo,
          quo_fdw.requests_sent() - base;
      END IF;
    END LOOP;
    IF odd + unlistable > 0 THEN
      RAISE WARNING 'mirror "%" skipped % of the % conversations with new activity', sch, odd + unlistable, n_todo
        USING DETAIL = format('%s have participants the API cannot list by (none, or not E.164 numbers); %s have more than 10 participants, whose messages the API cannot list. Their new rows are not in the mirror.',
                              odd, unlistable);
    END IF;

    -- rows that can still change, created within the lookback and not just
    -- fetched by a visit: read again by id
    EXECUTE format($q$
      SELECT array_agg(x.id ORDER BY x.id) FROM %I.calls x
       WHERE x.status IN ('queued', 'initiated', 'ringing', 'in-progress')
         AND x.created_at >= greatest($1, $2)
         AND NOT (x.created_at >= coalesce($3, '-infinity')
                  AND EXISTS (SELECT 1 FROM unnest($4::text[], $5::text[]) c(pn, p)
                               WHERE c.pn = x.phone_number_id AND c.p = ANY (x.participants)))$q$, sch)
      INTO pending USING t0 - m.lookback, m.since, after, call_pn, call_part;
    IF pending IS NOT NULL THEN
      SELECT * INTO u FROM quo_fdw.mirror_upsert(m, 'calls', format('id = ANY (%L::text[])', pending), budget, base,
                                                 with_ids => true);
      calls_inserted := calls_inserted + u.inserted; calls_updated := calls_updated + u.updated;
      -- an id the API answers with its documented 404 is gone: the row leaves
      -- the mirror (else it would cost a request on every refresh)
      EXECUTE format('DELETE FROM %I.calls x WHERE x.id = ANY ($1) AND x.id <> ALL ($2)', sch)
        USING pending, coalesce(u.ids, '{}');
      GET DIAGNOSTICS n_gone = ROW_COUNT;
      calls_removed := n_gone;
    END IF;
    EXECUTE format($q$
      SELECT array_agg(x.id ORDER BY x.id) FROM %I.messages x
       WHERE x.status IN ('queued', 'sent')
         AND x.created_at >= greatest($1, $2)
         AND NOT (x.created_at >= coalesce($3, '-infinity') AND coalesce(x.conversation_id = ANY ($4), false))$q$, sch)
      INTO pending USING t0 - m.lookback, m.since, after, msg_conv;
    IF pending IS NOT NULL THEN
      -- fetched by id, a message has no participants (and may lack its
      -- conversation and number): those keep what the mirror has
      SELECT * INTO u FROM quo_fdw.mirror_upsert(m, 'messages', format('id = ANY (%L::text[])', pending), budget, base,
        keep => '{participants,conversation_id,phone_number_id}', with_ids => true);
      messages_inserted := messages_inserted + u.inserted; messages_updated := messages_updated + u.updated;
      EXECUTE format('DELETE FROM %I.messages x WHERE x.id = ANY ($1) AND x.id <> ALL ($2)', sch)
        USING pending, coalesce(u.ids, '{}');
      GET DIAGNOSTICS n_gone = ROW_COUNT;
      messages_removed := n_gone;
    END IF;
  EXCEPTION WHEN configuration_limit_exceeded THEN
    RAISE EXCEPTION 'refresh of mirror "%" needs more than quo_fdw.mirror_max_requests (%) Quo API requests', sch, budget
      USING ERRCODE = 'configuration_limit_exceeded',
            DETAIL = format('It stopped after %s requests, before the next one. Nothing was changed.',
                            quo_fdw.requests_sent() - base),
            HINT = 'Raise quo_fdw.mirror_max_requests (SET it for this session, or ALTER ROLE ... SET for the role pg_cron runs as); a first refresh of a large workspace can be bounded by create_mirror''s since.';
  END;

  requests := quo_fdw.requests_sent() - base;
  seconds := round(extract(epoch FROM clock_timestamp() - t0), 3);
  UPDATE quo_fdw.mirror x
     SET watermark = t0, last_refresh = clock_timestamp(), missing = now_missing,
         last_result = jsonb_build_object(
           'requests', requests, 'conversations_visited', conversations_visited,
           'conversations_skipped', conversations_skipped,
           'calls_inserted', calls_inserted, 'calls_updated', calls_updated,
           'messages_inserted', messages_inserted, 'messages_updated', messages_updated,
           'conversations_inserted', conversations_inserted, 'conversations_updated', conversations_updated,
           'users_inserted', users_inserted, 'users_updated', users_updated,
           'phone_numbers_inserted', phone_numbers_inserted, 'phone_numbers_updated', phone_numbers_updated,
           'calls_removed', calls_removed, 'messages_removed', messages_removed,
           'seconds', seconds)
   WHERE x.mirror_schema = sch;
  RETURN NEXT;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.refresh_mirror(name) IS 'bring a mirror up to date: re-list conversations, users and phone numbers, visit the conversations that moved, read again by id the rows that can still change; atomic';

REVOKE ALL ON FUNCTION quo_fdw.mirror_upsert(quo_fdw.mirror, name, text, bigint, bigint, text[], jsonb, boolean, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION quo_fdw.mirror_lock(name) FROM PUBLIC;

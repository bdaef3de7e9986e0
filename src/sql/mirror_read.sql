-- mirror_read.sql: one read of the API and its upserts, in one statement
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- The one upsert of the mirror, as SQL for a data-modifying WITH: the rows
-- of source (a relation with the endpoint's columns) into mirror table tbl,
-- by its key (a row without one is left out).  A row that is already there
-- is rewritten only when a column differs; columns in keep keep their value
-- where the new one is NULL (a message read by id has no participants).
-- Columns a user added to the table are left alone.  It returns one row per
-- row written: fresh (new).
CREATE OR REPLACE FUNCTION quo_fdw.mirror_upsert_sql(m quo_fdw.mirror, tbl name, source text,
                                                     keep text[] DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  key name := quo_fdw.mirror_key(tbl);
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
    SELECT %4$s, now() FROM (SELECT DISTINCT ON (s.%9$I) * FROM (%5$s) s WHERE s.%9$I IS NOT NULL ORDER BY s.%9$I) s
    ON CONFLICT (%9$I) DO UPDATE SET %6$s, mirrored_at = excluded.mirrored_at
    WHERE ROW(%7$s) IS DISTINCT FROM ROW(%8$s)
    RETURNING m.xmax = 0 AS fresh$q$,
    m.mirror_schema, tbl, (SELECT string_agg(format('%I', c), ', ' ORDER BY i) FROM unnest(cols) WITH ORDINALITY AS u(c, i)),
    sel, source, upd, old_row, new_row, key);
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_upsert_sql(quo_fdw.mirror, name, text, text[]) IS 'the upsert of a mirror table, as SQL (internal)';

-- One read of the API and its upserts, in one statement: kind 'list' (the
-- whole list of tables[1], from page_token), 'ids' (ids of tables[1]) or
-- 'visits' (the calls and messages of the conversations conv, pns, parts,
-- afters), at most stop_after requests (0: none).  Returns the rows
-- inserted and updated per table, the items done (1-based), whether a list
-- ended and where to resume it, the keys of the rows read (a list, ids),
-- the items done that were asked for (the others could not be the
-- endpoint's), given finals, the items whose rows were all in one of
-- those statuses (a per-call object that will not change), and, with
-- note_forbidden (ids), the items the API refused (403) instead of an
-- ERROR.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_fetch(m quo_fdw.mirror, kind text, tables name[], stop_after bigint,
                                                page_token text DEFAULT NULL, ids text[] DEFAULT NULL,
                                                conv text[] DEFAULT NULL, pns text[] DEFAULT NULL,
                                                parts text[] DEFAULT NULL, afters timestamptz[] DEFAULT NULL,
                                                keep text[] DEFAULT '{}', finals text[] DEFAULT NULL,
                                                note_forbidden boolean DEFAULT false,
                                                OUT inserted bigint[], OUT updated bigint[], OUT done integer[],
                                                OUT list_done boolean, OUT next_token text, OUT row_ids text[],
                                                OUT asked integer[], OUT final integer[], OUT forbidden integer[])
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
    WHEN 'ids' THEN format('quo_fdw.fetch_ids($1, %L, $4, $3) AS f(item integer, item_done boolean, next_page_token text, endpoint text, %s%s)',
                           tables[1], CASE WHEN note_forbidden THEN 'forbidden boolean, ' ELSE '' END, defs)
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
           (SELECT array_agg(f.item ORDER BY f.item) FROM f WHERE f.item_done AND f.endpoint IS NOT NULL),
           %6$s,
           %7$s$q$,
    call, ctes, outs, replace(outs, 'FILTER (WHERE fresh)', 'FILTER (WHERE NOT fresh)'),
    CASE WHEN kind = 'visits' THEN 'NULL::text[]'
         ELSE format('(SELECT array_agg(f.%1$I) FROM f WHERE f.item_done IS NULL AND f.%1$I IS NOT NULL)',
                     quo_fdw.mirror_key(tables[1])) END,
    CASE WHEN finals IS NULL THEN 'NULL::integer[]'
         ELSE format('(SELECT array_agg(x.item ORDER BY x.item) FROM (SELECT f.item FROM f WHERE f.item_done IS NULL
                  GROUP BY f.item HAVING bool_and(f.%I IS NOT NULL AND coalesce(f.status = ANY ($10), false))) x)',
                     quo_fdw.mirror_key(tables[1])) END,
    CASE WHEN note_forbidden THEN '(SELECT array_agg(f.item ORDER BY f.item) FROM f WHERE f.item_done AND f.forbidden)'
         ELSE 'NULL::integer[]' END)
  INTO inserted, updated, done, list_done, next_token, row_ids, asked, final, forbidden
  USING m.server, page_token, stop_after, ids, tables::text[], conv, pns, parts, afters, finals;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_fetch(quo_fdw.mirror, text, name[], bigint, text, text[], text[], text[], text[], timestamptz[], text[], text[], boolean) IS 'one read of the API and its upserts (internal)';

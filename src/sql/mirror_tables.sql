-- mirror_tables.sql: the tables a mirror may hold, as data: their keys,
-- which are listed whole, which per call, what status is final, and the
-- phases of a pass over them
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- Every table a mirror may hold, in the order a pass fills them.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_tables() RETURNS name[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT '{users,phone_numbers,contact_custom_fields,contacts,tasks,conversations,calls,messages,call_summaries,call_transcripts,call_recordings,call_voicemails}'::name[] $$;
COMMENT ON FUNCTION quo_fdw.mirror_tables() IS 'the tables a mirror may hold (internal)';

-- What create_mirror holds when not told: every listable table.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_default_tables() RETURNS name[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT '{users,phone_numbers,contact_custom_fields,contacts,tasks,conversations,calls,messages}'::name[] $$;
COMMENT ON FUNCTION quo_fdw.mirror_default_tables() IS 'the tables a mirror holds by default (internal)';

-- The tables read one call at a time, for the calls of enrich_within.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_per_call() RETURNS name[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT '{call_summaries,call_transcripts,call_recordings,call_voicemails}'::name[] $$;
COMMENT ON FUNCTION quo_fdw.mirror_per_call() IS 'the per-call tables of a mirror (internal)';

-- The tables the API lists with no changed-since filter: re-listed whole at
-- most once per relist_every, a row the API stops listing removed after two
-- listings in a row lack it.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_directory() RETURNS name[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT '{contact_custom_fields,contacts,tasks}'::name[] $$;
COMMENT ON FUNCTION quo_fdw.mirror_directory() IS 'the tables a mirror re-lists per relist_every (internal)';

-- The key of a mirror table: its natural one.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_key(tbl name) RETURNS name
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE tbl WHEN 'contact_custom_fields' THEN 'key'
                      WHEN 'call_summaries' THEN 'call_id'
                      WHEN 'call_transcripts' THEN 'call_id'
                      WHEN 'call_voicemails' THEN 'call_id'
                      ELSE 'id' END::name $$;
COMMENT ON FUNCTION quo_fdw.mirror_key(name) IS 'the key column of a mirror table (internal)';

-- The statuses of a per-call object that are final (the v1 document's
-- enums): the object will not change, and is not asked for again.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_final(tbl name) RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE tbl WHEN 'call_recordings' THEN '{completed,deleted,failed,absent,stopped}'::text[]
                      WHEN 'call_voicemails' THEN '{completed}'::text[]
                      ELSE '{completed,failed,absent}'::text[] END $$;
COMMENT ON FUNCTION quo_fdw.mirror_final(name) IS 'the final statuses of a per-call table (internal)';

-- The phases of a pass over the tables of a mirror, in order.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_phases(tables name[]) RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT array_agg(p ORDER BY o)
    FROM unnest(ARRAY['list:users', 'list:phone_numbers', 'list:contact_custom_fields', 'list:contacts',
                      'list:tasks', 'list:conversations', 'visits', 'pending',
                      'enrich:call_summaries', 'enrich:call_transcripts', 'enrich:call_recordings',
                      'enrich:call_voicemails']) WITH ORDINALITY AS u(p, o)
   WHERE CASE WHEN p LIKE 'list:%' THEN substr(p, 6)::name = ANY (tables)
              WHEN p LIKE 'enrich:%' THEN substr(p, 8)::name = ANY (tables)
              ELSE tables && '{calls,messages}'::name[] END
$$;
COMMENT ON FUNCTION quo_fdw.mirror_phases(name[]) IS 'the phases of a pass (internal)';

-- The phase after phase in a pass over tables (the first for NULL), or NULL
-- at the end.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_next_phase(tables name[], phase text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN phase IS NULL THEN p[1]
              ELSE p[array_position(p, phase) + 1] END
    FROM (SELECT quo_fdw.mirror_phases(tables) AS p) x
$$;
COMMENT ON FUNCTION quo_fdw.mirror_next_phase(name[], text) IS 'the next phase of a pass (internal)';

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

-- Add n to counts' key (the counts a refresh returns).
CREATE OR REPLACE FUNCTION quo_fdw.mirror_count(counts jsonb, key text, n bigint) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT counts || jsonb_build_object(key, coalesce((counts ->> key)::bigint, 0) + coalesce(n, 0)) $$;
COMMENT ON FUNCTION quo_fdw.mirror_count(jsonb, text, bigint) IS 'add to a refresh''s counts (internal)';

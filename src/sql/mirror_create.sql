-- mirror_create.sql: create_mirror, drop_mirror, and the checks and lock
-- every mirror function starts with
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- The owner of a mirror, NULL when there is none: read as the catalog's
-- owner (a role sees only the catalog rows of mirrors it owns, but whose a
-- mirror is is no secret: quo_fdw.mirrors shows it).
CREATE OR REPLACE FUNCTION quo_fdw.mirror_owner_of(mirror_schema name) RETURNS oid
AS 'MODULE_PATHNAME', 'quo_fdw_mirror_owner_of'
LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION quo_fdw.mirror_owner_of(name) IS 'the owner of a mirror (internal)';

-- The mirror of mirror_schema, read without a lock, for a role that must
-- own it: a clear ERROR when there is none (42704) or it is another
-- role's (42501).  A superuser and the members of the owner may act on it.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_owned(mirror_schema name, action text) RETURNS quo_fdw.mirror
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  m quo_fdw.mirror;
  owner oid := quo_fdw.mirror_owner_of(mirror_schema);
BEGIN
  IF owner IS NULL THEN
    RAISE EXCEPTION 'mirror "%" does not exist', mirror_schema
      USING ERRCODE = 'undefined_object',
            HINT = 'quo_fdw.mirrors lists the mirrors; quo_fdw.create_mirror creates one.';
  END IF;
  IF NOT pg_has_role(current_user, owner, 'USAGE') THEN
    RAISE EXCEPTION 'must be owner of mirror "%" to %', mirror_schema, action
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('Mirror "%s" belongs to role %s.', mirror_schema, owner::regrole),
            HINT = 'Its owner, a member of that role, or a superuser may.';
  END IF;
  SELECT * INTO m FROM quo_fdw.mirror x WHERE x.mirror_schema = mirror_owned.mirror_schema;
  IF m.mirror_schema IS NULL THEN
    RAISE EXCEPTION 'mirror "%" does not exist', mirror_schema USING ERRCODE = 'undefined_object';
  END IF;
  RETURN m;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_owned(name, text) IS 'a mirror the current role owns, or an error (internal)';

-- The mirror's catalog row, locked for this transaction; a clear ERROR
-- when another session holds it, there is no such mirror, or it is another
-- role's.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_lock(mirror_schema name) RETURNS quo_fdw.mirror
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  m quo_fdw.mirror := quo_fdw.mirror_owned(mirror_schema, 'change it');
BEGIN
  BEGIN
    SELECT * INTO m FROM quo_fdw.mirror x WHERE x.mirror_schema = mirror_lock.mirror_schema FOR UPDATE NOWAIT;
  EXCEPTION WHEN lock_not_available THEN
    RAISE EXCEPTION 'mirror "%" is being refreshed or dropped by another session', mirror_schema
      USING ERRCODE = 'lock_not_available',
            DETAIL = 'One refresh of a mirror runs at a time; this call changed nothing.',
            HINT = 'Call it again when the other one has ended (from pg_cron: a schedule longer than a refresh takes).';
  END;
  IF m.mirror_schema IS NULL THEN
    RAISE EXCEPTION 'mirror "%" does not exist', mirror_schema USING ERRCODE = 'undefined_object';
  END IF;
  RETURN m;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_lock(name) IS 'lock a mirror''s catalog row (internal)';

CREATE OR REPLACE FUNCTION quo_fdw.create_mirror(server name, mirror_schema name,
                                      since timestamptz DEFAULT NULL,
                                      lookback interval DEFAULT '2 days',
                                      tables text[] DEFAULT NULL,
                                      enrich_within interval DEFAULT '30 days',
                                      enrich_retry interval DEFAULT '10 minutes',
                                      relist_every interval DEFAULT '1 hour')
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  nsp oid;
  made boolean := false;
  clash text;
  t name;
  cols text;
  me oid := (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user);
  held name[];
  bad text;
BEGIN
  IF server IS NULL OR mirror_schema IS NULL OR lookback IS NULL OR enrich_within IS NULL
     OR enrich_retry IS NULL OR relist_every IS NULL THEN
    RAISE EXCEPTION 'quo_fdw.create_mirror needs a server, a schema, a lookback, enrich_within, enrich_retry and relist_every'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF lookback < interval '1 minute' THEN
    RAISE EXCEPTION 'lookback must be at least 1 minute: %', lookback
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The lookback is how far back a refresh looks again for late rows and changes, such as ''2 days''; it also covers the difference between this server''s clock and the API''s.';
  END IF;
  IF enrich_within < interval '0' OR enrich_retry <= interval '0' OR relist_every < interval '0' THEN
    RAISE EXCEPTION 'enrich_within and relist_every must not be negative, and enrich_retry must be more than 0'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- the tables: named, known, and with what they are read through
  held := coalesce(tables::name[], quo_fdw.mirror_default_tables());
  SELECT string_agg(format('%L', x), ', ') INTO bad FROM unnest(held) x WHERE x IS NULL OR x <> ALL (quo_fdw.mirror_tables());
  IF bad IS NOT NULL OR cardinality(held) = 0 THEN
    RAISE EXCEPTION 'a mirror cannot hold %', coalesce(bad, 'no table')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = format('Its tables are some of: %s.', array_to_string(quo_fdw.mirror_tables(), ', '));
  END IF;
  IF held && '{calls,messages}'::name[] AND NOT 'conversations' = ANY (held) THEN
    RAISE EXCEPTION 'a mirror of calls or messages needs conversations too'
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'A refresh finds the calls and messages to read through the conversations.';
  END IF;
  IF held && quo_fdw.mirror_per_call() AND NOT 'calls' = ANY (held) THEN
    RAISE EXCEPTION 'a mirror of per-call tables needs calls too'
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'A refresh reads the per-call tables for the calls it holds.';
  END IF;
  held := ARRAY(SELECT x FROM unnest(quo_fdw.mirror_tables()) x WHERE x = ANY (held));
  IF mirror_schema IN ('quo_fdw', 'public', 'information_schema') OR mirror_schema LIKE 'pg\_%' THEN
    RAISE EXCEPTION 'a mirror cannot be made in schema "%"', mirror_schema
      USING ERRCODE = 'invalid_schema_name',
            HINT = 'Give the mirror a schema of its own: create_mirror creates it.';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_foreign_server s WHERE s.srvname = create_mirror.server) THEN
    RAISE EXCEPTION 'server "%" does not exist', server USING ERRCODE = 'undefined_object';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
                  WHERE s.srvname = create_mirror.server
                    AND w.fdwhandler = '@extschema@.quo_fdw_handler()'::regprocedure) THEN
    RAISE EXCEPTION 'server "%" is not a quo_fdw server', server USING ERRCODE = 'wrong_object_type';
  END IF;
  IF NOT has_server_privilege(server, 'USAGE') THEN
    RAISE EXCEPTION 'permission denied for foreign server %', server
      USING ERRCODE = 'insufficient_privilege',
            HINT = format('A mirror reads the API through the server as its owner: GRANT USAGE ON FOREIGN SERVER %I TO %I.',
                          server, current_user);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_user_mappings u
                  WHERE u.srvname = create_mirror.server AND u.usename IN (current_user::text, 'public')) THEN
    RAISE EXCEPTION 'no user mapping for role "%" on server "%"', current_user, server
      USING ERRCODE = 'invalid_authorization_specification',
            HINT = format('Create one with CREATE USER MAPPING FOR CURRENT_USER SERVER %I OPTIONS (api_key ''...'').', server);
  END IF;
  IF quo_fdw.mirror_owner_of(mirror_schema) IS NOT NULL THEN
    PERFORM quo_fdw.mirror_owned(mirror_schema, 'replace it');
    RAISE EXCEPTION 'mirror "%" already exists', mirror_schema
      USING ERRCODE = 'duplicate_object',
            HINT = format('Refresh it with SELECT * FROM quo_fdw.refresh_mirror(%L), or drop it with quo_fdw.drop_mirror first.', mirror_schema);
  END IF;

  nsp := to_regnamespace(quote_ident(mirror_schema));
  IF nsp IS NULL THEN
    EXECUTE format('CREATE SCHEMA %I', mirror_schema);
    nsp := to_regnamespace(quote_ident(mirror_schema));
    made := true;
  ELSIF (SELECT n.nspowner FROM pg_namespace n WHERE n.oid = nsp) <> me THEN
    -- whoever owns the schema could replace the mirror's tables with
    -- objects that run code as the role refreshing them
    RAISE EXCEPTION 'schema "%" belongs to another role', mirror_schema
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'A mirror''s schema must belong to the role that creates the mirror: name a new schema and create_mirror creates it.';
  END IF;
  SELECT string_agg(format('%I', c.relname), ', ' ORDER BY c.relname) INTO clash
    FROM pg_class c
   WHERE c.relnamespace = nsp
     AND c.relname = ANY (held || '{conversation_state,listing_state,enrichment_state}'::name[]);
  IF clash IS NOT NULL THEN
    RAISE EXCEPTION 'schema "%" already has %', mirror_schema, clash
      USING ERRCODE = 'duplicate_table',
            HINT = 'Give the mirror a schema of its own: create_mirror creates it.';
  END IF;

  -- the tables: the foreign tables' columns and types (the one definition,
  -- src/endpoints.c), the natural key, and when each row was written
  FOREACH t IN ARRAY held LOOP
    SELECT string_agg(format('%I %s', c.name, c.type), ', ') INTO cols FROM quo_fdw.endpoint_columns(t) c;
    EXECUTE format('CREATE TABLE %I.%I (%s, mirrored_at timestamptz NOT NULL, PRIMARY KEY (%I))',
                   mirror_schema, t, cols, quo_fdw.mirror_key(t));
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', mirror_schema, t,
                   format('mirror of the Quo %s on server %s: SELECT * FROM quo_fdw.refresh_mirror(%L) brings it up to date',
                          t, quote_ident(server), mirror_schema));
  END LOOP;
  IF 'calls' = ANY (held) THEN
    -- what a refresh reads again by id (the rows that can still change),
    -- and the calls whose per-call rows it reads
    EXECUTE format($q$CREATE INDEX ON %I.calls (created_at) WHERE status IN ('queued', 'initiated', 'ringing', 'in-progress')$q$,
                   mirror_schema);
    EXECUTE format('CREATE INDEX ON %I.calls (created_at)', mirror_schema);
  END IF;
  IF 'messages' = ANY (held) THEN
    EXECUTE format($q$CREATE INDEX ON %I.messages (created_at) WHERE status IN ('queued', 'sent')$q$, mirror_schema);
  END IF;
  PERFORM quo_fdw.mirror_state_table(mirror_schema);

  INSERT INTO quo_fdw.mirror (mirror_schema, server, owner, since, lookback, created_schema, tables,
                              enrich_within, enrich_retry, relist_every, row_counts)
  VALUES (mirror_schema, server, me::regrole, since, lookback, made, held,
          enrich_within, enrich_retry, relist_every,
          (SELECT jsonb_object_agg(x, 0) FROM unnest(held) x));
END
$fn$;
COMMENT ON FUNCTION quo_fdw.create_mirror(name, name, timestamptz, interval, text[], interval, interval, interval) IS 'create a mirror of a server''s Quo tables (by default every listable one) in local tables, owned by the current role (fetches nothing)';

-- The mirror's bookkeeping, in the mirror's schema (the owner's): per
-- conversation, what its visits read (the refresh's per-conversation
-- watermark); per row of a table listed whole, which listing last returned
-- it; per call and per-call table, the asks made and the next one due.
-- Each is made when missing (a mirror made before 0.4.0 gets them at its
-- first refresh).
CREATE OR REPLACE FUNCTION quo_fdw.mirror_state_table(mirror_schema name) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF to_regclass(format('%I.conversation_state', mirror_schema)) IS NULL THEN
    EXECUTE format($q$
      CREATE TABLE %1$I.conversation_state (
        conversation_id     text PRIMARY KEY,
        listed_pass         timestamptz,   -- the pass whose listing last returned it
        visited_activity_at timestamptz,   -- its lastActivityAt when last visited (NULL: never)
        visited_updated_at  timestamptz,   -- its updatedAt then
        visited_at          timestamptz,   -- the start of that visit's pass
        visited_from        timestamptz,   -- rows created from here were read (NULL: all)
        queued              integer,       -- its place among this pass's visits (NULL: none)
        renewed             boolean NOT NULL DEFAULT false,  -- back after being taken for deleted
        lagging             smallint NOT NULL DEFAULT 0      -- visits that did not find its last activity
      )$q$, mirror_schema);
    EXECUTE format('CREATE INDEX ON %I.conversation_state (queued) WHERE queued IS NOT NULL', mirror_schema);
    EXECUTE format('COMMENT ON TABLE %I.conversation_state IS %L', mirror_schema,
                   'what quo_fdw''s refreshes of this mirror have read of each conversation (do not edit)');
  END IF;
  IF to_regclass(format('%I.listing_state', mirror_schema)) IS NULL THEN
    EXECUTE format($q$
      CREATE TABLE %1$I.listing_state (
        tbl         name,
        key         text,
        listed_pass timestamptz NOT NULL,  -- the pass whose listing last returned the row
        PRIMARY KEY (tbl, key)
      )$q$, mirror_schema);
    EXECUTE format('COMMENT ON TABLE %I.listing_state IS %L', mirror_schema,
                   'which listing last returned each contact, contact field and task (quo_fdw; do not edit)');
  END IF;
  IF to_regclass(format('%I.enrichment_state', mirror_schema)) IS NULL THEN
    EXECUTE format($q$
      CREATE TABLE %1$I.enrichment_state (
        call_id  text,
        tbl      name,
        asks     smallint NOT NULL DEFAULT 0,   -- requests made for it
        done     boolean NOT NULL DEFAULT false, -- found final: never asked again
        next_ask timestamptz NOT NULL,           -- not asked again before this
        error    text,                           -- what the last ask's answer failed with, if it did
        PRIMARY KEY (call_id, tbl)
      )$q$, mirror_schema);
    EXECUTE format('CREATE INDEX ON %I.enrichment_state (tbl, next_ask) WHERE NOT done', mirror_schema);
    EXECUTE format('COMMENT ON TABLE %I.enrichment_state IS %L', mirror_schema,
                   'what quo_fdw''s refreshes have asked of each call''s per-call tables (do not edit)');
  END IF;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_state_table(name) IS 'make a mirror''s state tables (internal)';

CREATE OR REPLACE FUNCTION quo_fdw.drop_mirror(mirror_schema name) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  m quo_fdw.mirror := quo_fdw.mirror_lock(mirror_schema);
  t name;
BEGIN
  -- the mirror's tables: those of its schema, with its names, that its
  -- owner owns (never another role's objects, whatever the catalog says)
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = m.mirror_schema AND c.relkind = 'r' AND c.relowner = m.owner::oid
              AND c.relname = ANY (m.tables::name[] || '{conversation_state,listing_state,enrichment_state}'::name[])
            ORDER BY array_position(m.tables::name[] || '{conversation_state,listing_state,enrichment_state}'::name[], c.relname) LOOP
    EXECUTE format('DROP TABLE %I.%I', m.mirror_schema, t);
  END LOOP;
  DELETE FROM quo_fdw.mirror x WHERE x.mirror_schema = m.mirror_schema;
  IF m.created_schema AND EXISTS (SELECT 1 FROM pg_namespace n
                                   WHERE n.nspname = m.mirror_schema AND n.nspowner = m.owner::oid) THEN
    BEGIN
      EXECUTE format('DROP SCHEMA %I', m.mirror_schema);
    EXCEPTION WHEN dependent_objects_still_exist THEN
      RAISE NOTICE 'schema "%" is kept: it holds objects that are not the mirror''s', m.mirror_schema;
    END;
  END IF;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.drop_mirror(name) IS 'drop a mirror: its tables, its catalog row (and its schema, when create_mirror made it and it is empty)';

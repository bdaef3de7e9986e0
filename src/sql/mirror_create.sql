-- mirror_create.sql: create_mirror, drop_mirror, and the lock on a mirror
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- The tables a mirror holds, in the order a refresh fills them.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_tables() RETURNS name[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT '{users,phone_numbers,conversations,calls,messages}'::name[] $$;
COMMENT ON FUNCTION quo_fdw.mirror_tables() IS 'the tables of a mirror (internal)';

CREATE OR REPLACE FUNCTION quo_fdw.create_mirror(server name, mirror_schema name,
                                      since timestamptz DEFAULT NULL,
                                      lookback interval DEFAULT '2 days')
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  nsp oid;
  made boolean := false;
  prefix name;
  scratch name;
  clash text;
  t name;
BEGIN
  IF server IS NULL OR mirror_schema IS NULL OR lookback IS NULL THEN
    RAISE EXCEPTION 'quo_fdw.create_mirror needs a server, a schema and a lookback'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF lookback < interval '1 minute' THEN
    RAISE EXCEPTION 'lookback must be at least 1 minute: %', lookback
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The lookback is how far back a refresh looks again for late rows and changes, such as ''2 days''; it also covers the difference between this server''s clock and the API''s.';
  END IF;
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
  IF EXISTS (SELECT 1 FROM quo_fdw.mirror m WHERE m.mirror_schema = create_mirror.mirror_schema) THEN
    RAISE EXCEPTION 'mirror "%" already exists', mirror_schema
      USING ERRCODE = 'duplicate_object',
            HINT = format('Refresh it with SELECT * FROM quo_fdw.refresh_mirror(%L), or drop it with quo_fdw.drop_mirror first.', mirror_schema);
  END IF;

  nsp := to_regnamespace(quote_ident(mirror_schema));
  IF nsp IS NULL THEN
    EXECUTE format('CREATE SCHEMA %I', mirror_schema);
    nsp := to_regnamespace(quote_ident(mirror_schema));
    made := true;
  ELSIF (SELECT n.nspowner FROM pg_namespace n WHERE n.oid = nsp) <> (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user) THEN
    -- whoever owns the schema could replace the mirror's tables with
    -- objects that run code as the role refreshing them
    RAISE EXCEPTION 'schema "%" belongs to another role', mirror_schema
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'A mirror''s schema must belong to the role that creates the mirror: name a new schema and create_mirror creates it.';
  END IF;
  SELECT string_agg(format('%I', c.relname), ', ' ORDER BY c.relname) INTO clash
    FROM pg_class c WHERE c.relnamespace = nsp AND c.relname = ANY (quo_fdw.mirror_tables());
  IF clash IS NOT NULL THEN
    RAISE EXCEPTION 'schema "%" already has %', mirror_schema, clash
      USING ERRCODE = 'duplicate_table',
            HINT = 'Give the mirror a schema of its own: create_mirror creates it.';
  END IF;

  -- the foreign tables the refreshes read: imported (the one definition of
  -- their columns), renamed, moved into quo_fdw
  prefix := 'm' || nsp::bigint;
  WHILE EXISTS (SELECT 1 FROM quo_fdw.mirror x WHERE x.remote = prefix)
        OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = 'quo_fdw'::regnamespace AND c.relname LIKE prefix || '\_%') LOOP
    prefix := prefix || 'x';   -- a name left by a restored dump or a dropped schema
  END LOOP;
  scratch := 'quo_fdw_import_' || nsp::bigint;
  EXECUTE format('CREATE SCHEMA %I', scratch);
  EXECUTE format('IMPORT FOREIGN SCHEMA quo LIMIT TO (users, phone_numbers, conversations, calls, messages) FROM SERVER %I INTO %I',
                 server, scratch);
  FOREACH t IN ARRAY quo_fdw.mirror_tables() LOOP
    EXECUTE format('ALTER FOREIGN TABLE %I.%I RENAME TO %I', scratch, t, prefix || '_' || t);
    EXECUTE format('ALTER FOREIGN TABLE %I.%I SET SCHEMA quo_fdw', scratch, prefix || '_' || t);
    EXECUTE format('COMMENT ON FOREIGN TABLE quo_fdw.%I IS %L', prefix || '_' || t,
                   format('what mirror %s reads for %s (quo_fdw.refresh_mirror)', quote_ident(mirror_schema), t));
    EXECUTE format('CREATE TABLE %I.%I (LIKE quo_fdw.%I, mirrored_at timestamptz NOT NULL, PRIMARY KEY (id))',
                   mirror_schema, t, prefix || '_' || t);
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', mirror_schema, t,
                   format('mirror of the Quo %s on server %s: SELECT * FROM quo_fdw.refresh_mirror(%L) brings it up to date',
                          t, quote_ident(server), mirror_schema));
  END LOOP;
  EXECUTE format('DROP SCHEMA %I', scratch);
  -- what a refresh reads again by id: the rows that can still change
  EXECUTE format($q$CREATE INDEX ON %I.calls (created_at) WHERE status IN ('queued', 'initiated', 'ringing', 'in-progress')$q$,
                 mirror_schema);
  EXECUTE format($q$CREATE INDEX ON %I.messages (created_at) WHERE status IN ('queued', 'sent')$q$, mirror_schema);

  INSERT INTO quo_fdw.mirror (mirror_schema, server, since, lookback, remote, created_schema)
  VALUES (mirror_schema, server, since, lookback, prefix, made);
END
$fn$;
COMMENT ON FUNCTION quo_fdw.create_mirror(name, name, timestamptz, interval) IS 'create a mirror of the Quo calls, messages, conversations, users and phone numbers of a server in local tables (fetches nothing)';

-- The mirror's catalog row, locked for this transaction; a clear ERROR when
-- another session holds it or there is no such mirror.
CREATE OR REPLACE FUNCTION quo_fdw.mirror_lock(mirror_schema name) RETURNS quo_fdw.mirror
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  m quo_fdw.mirror;
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
    RAISE EXCEPTION 'mirror "%" does not exist', mirror_schema
      USING ERRCODE = 'undefined_object',
            HINT = 'quo_fdw.mirrors lists the mirrors; quo_fdw.create_mirror creates one.';
  END IF;
  RETURN m;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.mirror_lock(name) IS 'lock a mirror''s catalog row (internal)';

CREATE OR REPLACE FUNCTION quo_fdw.drop_mirror(mirror_schema name) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  m quo_fdw.mirror := quo_fdw.mirror_lock(mirror_schema);
  t name;
BEGIN
  FOREACH t IN ARRAY quo_fdw.mirror_tables() LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I.%I', m.mirror_schema, t);
    EXECUTE format('DROP FOREIGN TABLE IF EXISTS quo_fdw.%I', m.remote || '_' || t);
  END LOOP;
  DELETE FROM quo_fdw.mirror x WHERE x.mirror_schema = m.mirror_schema;
  IF m.created_schema AND to_regnamespace(quote_ident(m.mirror_schema)) IS NOT NULL THEN
    BEGIN
      EXECUTE format('DROP SCHEMA %I', m.mirror_schema);
    EXCEPTION WHEN dependent_objects_still_exist THEN
      RAISE NOTICE 'schema "%" is kept: it holds objects that are not the mirror''s', m.mirror_schema;
    END;
  END IF;
END
$fn$;
COMMENT ON FUNCTION quo_fdw.drop_mirror(name) IS 'drop a mirror: its tables, the foreign tables it reads, its catalog row (and its schema, when create_mirror made it and it is empty)';


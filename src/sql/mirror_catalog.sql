-- mirror_catalog.sql: the schema quo_fdw, quo_fdw.requests_sent() and the mirrors' catalog (install only: an update alters them)
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- The schema quo_fdw holds the mirror's functions, its catalog and the
-- foreign tables each mirror reads (quo_fdw.m<oid of the mirror schema>_calls
-- and so on).  An install made into a schema of that name already has it.
-- An existing schema of that name must belong to the installing role, and no
-- other role may create in it: the mirror's functions are called by
-- superusers (pg_cron), and another role's overload there would run as them.
DO $do$
BEGIN
  IF to_regnamespace('quo_fdw') IS NULL THEN
    CREATE SCHEMA quo_fdw;
  ELSIF EXISTS (SELECT 1 FROM pg_namespace n
                 WHERE n.nspname = 'quo_fdw'
                   AND (n.nspowner <> (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user)
                        OR EXISTS (SELECT 1 FROM aclexplode(n.nspacl) a
                                    WHERE a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner))) THEN
    RAISE EXCEPTION 'schema quo_fdw already exists, and another role owns it or may create in it'
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'quo_fdw 0.3.0 puts its mirror functions in schema quo_fdw: drop or rename that schema first.';
  END IF;
END
$do$;
COMMENT ON SCHEMA quo_fdw IS 'quo_fdw''s mirrors: create_mirror, refresh_mirror, drop_mirror, the view mirrors';

CREATE FUNCTION quo_fdw.requests_sent() RETURNS bigint
AS 'MODULE_PATHNAME', 'quo_fdw_requests_sent'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION quo_fdw.requests_sent() IS 'Quo API requests this session has sent (every attempt, retries included)';

-- The catalog: one row per mirror, dumped by pg_dump.  Any role may read
-- it; a row belongs to its owner, the role that created the mirror, and
-- only a member of that role (or a superuser) may add, change or remove it
-- (the policies below; the mirror functions add their own checks and
-- clear errors).  Refreshes run as the owner, whoever calls them.
CREATE TABLE quo_fdw.mirror (
  mirror_schema  name PRIMARY KEY,
  server         name NOT NULL,
  since          timestamptz,
  lookback       interval NOT NULL,
  created_schema boolean NOT NULL,      -- create_mirror made mirror_schema (drop_mirror drops it when empty)
  watermark      timestamptz,           -- start of the last complete pass; NULL: none yet
  last_refresh   timestamptz,           -- end of the last refresh or step that committed
  last_result    jsonb,                 -- what it returned
  missing        text[],                -- conversations the last complete listing lacked (deleted when the next lacks them too)
  owner          regrole NOT NULL,      -- who owns the mirror: refreshes run as this role
  pass_started   timestamptz,           -- start of the pass under way; NULL: none (the mirror is complete)
  pass_phase     text,                  -- where the pass is: list:<table>, visits, pending
  pass_token     text,                  -- list phase: the page to resume the listing at
  pass_items     text[],                -- pending phase: the rows still to read again (table:id)
  pending        bigint NOT NULL DEFAULT 0,  -- conversations still to visit in the pass
  tables         text[] NOT NULL,       -- the tables it holds (quo_fdw.mirror_tables())
  enrich_within  interval NOT NULL DEFAULT '30 days',     -- per-call rows are read for calls this recent
  enrich_retry   interval NOT NULL DEFAULT '10 minutes',  -- first wait before asking again (doubling)
  relist_every   interval NOT NULL DEFAULT '1 hour',      -- contacts, fields, tasks listed at most this often
  listed_at      jsonb NOT NULL DEFAULT '{}',  -- per table listed whole: the start of its last complete listing
  row_missing    jsonb NOT NULL DEFAULT '{}',  -- per table listed whole: keys its last listing lacked
  unavailable    jsonb NOT NULL DEFAULT '{}',  -- per per-call table: when and why the API refused it (403)
  awaited        bigint NOT NULL DEFAULT 0,    -- per-call rows still awaited
  row_counts     jsonb NOT NULL DEFAULT '{}'   -- rows per table, as the refreshes counted them
);
COMMENT ON TABLE quo_fdw.mirror IS 'quo_fdw''s mirrors (see the view quo_fdw.mirrors)';
SELECT pg_catalog.pg_extension_config_dump('quo_fdw.mirror', '');

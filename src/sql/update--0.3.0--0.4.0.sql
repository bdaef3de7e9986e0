-- update--0.3.0--0.4.0.sql: what an update from 0.3.0 changes before the
-- objects of a fresh install that follow it in the assembled
-- quo_fdw--0.3.0--0.4.0.sql (see the Makefile)
--
-- 0.4.0: mirrors are refreshed in resumable steps, recent activity first,
-- several requests in flight (the one scan engine, through
-- quo_fdw.fetch_visits and friends instead of per-mirror foreign tables),
-- belong to the role that made them, and may hold contacts, contact fields,
-- tasks and the per-call tables.  A mirror's per-conversation
-- state (its schema's conversation_state) is made by its first refresh
-- after the update, from what the mirror holds, so that refresh reads no
-- more than the one before it would have.

ALTER TABLE quo_fdw.mirror
  ADD COLUMN owner regrole,
  ADD COLUMN pass_started timestamptz,
  ADD COLUMN pass_phase text,
  ADD COLUMN pass_token text,
  ADD COLUMN pass_items text[],
  ADD COLUMN pending bigint NOT NULL DEFAULT 0,
  ADD COLUMN tables text[],
  ADD COLUMN enrich_within interval NOT NULL DEFAULT '30 days',
  ADD COLUMN enrich_retry interval NOT NULL DEFAULT '10 minutes',
  ADD COLUMN relist_every interval NOT NULL DEFAULT '1 hour',
  ADD COLUMN listed_at jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN row_missing jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN unavailable jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN awaited bigint NOT NULL DEFAULT 0,
  ADD COLUMN row_counts jsonb NOT NULL DEFAULT '{}';
-- a 0.3.0 mirror holds the five tables it had
UPDATE quo_fdw.mirror SET tables = '{users,phone_numbers,conversations,calls,messages}';
ALTER TABLE quo_fdw.mirror ALTER COLUMN tables SET NOT NULL;
-- a 0.3.0 mirror's schema belonged to the role that made it
UPDATE quo_fdw.mirror m
   SET owner = coalesce((SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname = m.mirror_schema),
                        (SELECT e.extowner FROM pg_catalog.pg_extension e WHERE e.extname = 'quo_fdw'))::regrole;
ALTER TABLE quo_fdw.mirror ALTER COLUMN owner SET NOT NULL;

-- the foreign tables 0.3.0 read each mirror through
DO $do$
DECLARE
  m record;
  t name;
BEGIN
  FOR m IN SELECT x.remote FROM quo_fdw.mirror x LOOP
    FOREACH t IN ARRAY '{users,phone_numbers,conversations,calls,messages}'::name[] LOOP
      EXECUTE format('DROP FOREIGN TABLE IF EXISTS quo_fdw.%I', m.remote || '_' || t);
    END LOOP;
  END LOOP;
END
$do$;
ALTER TABLE quo_fdw.mirror DROP COLUMN remote;

-- functions whose arguments or results changed
DROP FUNCTION quo_fdw.refresh_mirror(name);
DROP FUNCTION quo_fdw.create_mirror(name, name, timestamptz, interval);
-- (the view quo_fdw.mirrors is replaced in place, its 0.3.0 columns first,
-- so that views of it survive the update; the function it counted with
-- goes after it: update-after--0.3.0--0.4.0.sql)
DROP FUNCTION quo_fdw.mirror_upsert(quo_fdw.mirror, name, text, bigint, bigint, text[], jsonb, boolean);
-- 0.3.0 kept the catalog's lock to the extension's owner; every mirror's
-- owner takes it now (quo_fdw.mirror_lock checks that the caller owns it)
GRANT EXECUTE ON FUNCTION quo_fdw.mirror_lock(name) TO PUBLIC;

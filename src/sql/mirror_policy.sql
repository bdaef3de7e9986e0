-- mirror_policy.sql: who may read and write the mirrors' catalog
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- A row of the catalog is read and written only by a member of its owner
-- (its pass's state names the workspace's rows); every role sees which
-- mirrors exist and whose they are in the view quo_fdw.mirrors (the
-- catalog's owner's: policies do not hold it back).  A row is added for a
-- schema a member of the owner owns, on a server the owner may use.  A
-- superuser passes the policies (and may refresh any mirror: as its owner).
-- Any role with USAGE on a quo_fdw server and a user mapping may own
-- mirrors: the schema's functions are for every role (they check who may
-- do what); no role but the extension's owner may create in it.
GRANT USAGE ON SCHEMA quo_fdw TO PUBLIC;
ALTER TABLE quo_fdw.mirror ENABLE ROW LEVEL SECURITY;
-- A row is added by its owner (with its privileges: USAGE, as the refresh's
-- check), for a schema the owner owns that is not a system one; of a row,
-- only the refresh's state may change afterwards (the columns below), so
-- no row is ever pointed at another schema, server or owner.
GRANT SELECT, INSERT, DELETE ON quo_fdw.mirror TO PUBLIC;
GRANT UPDATE (watermark, last_refresh, last_result, missing, pass_started, pass_phase, pass_token,
              pass_items, pending, listed_at, row_missing, unavailable, awaited, row_counts)
  ON quo_fdw.mirror TO PUBLIC;
CREATE POLICY mirror_read ON quo_fdw.mirror FOR SELECT
  USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
CREATE POLICY mirror_add ON quo_fdw.mirror FOR INSERT
  WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE')
              AND mirror_schema OPERATOR(pg_catalog.<>) ALL (ARRAY['public', 'quo_fdw', 'information_schema']::pg_catalog.name[])
              AND pg_catalog.left(mirror_schema::pg_catalog.text, 3) OPERATOR(pg_catalog.<>) 'pg_'
              AND EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n
                           WHERE n.nspname OPERATOR(pg_catalog.=) mirror_schema
                             AND n.nspowner OPERATOR(pg_catalog.=) owner::pg_catalog.oid));
CREATE POLICY mirror_change ON quo_fdw.mirror FOR UPDATE
  USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
  WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
CREATE POLICY mirror_remove ON quo_fdw.mirror FOR DELETE
  USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));


--
-- mirror_owner: a mirror owned by a role that is not a superuser, with
-- USAGE on the server and a user mapping and nothing else; another role
-- can neither refresh, step, drop nor replace it (42501) and reads it only
-- through the owner's grants; a superuser's refresh runs as the owner
-- (its user mapping, its privileges); nothing the owner or another role
-- plants runs as the superuser
--
SET timezone = 'UTC';
\set SHOW_CONTEXT never
\getenv api_key QUO_TEST_KEY
SELECT mock_reset();
CREATE ROLE regress_quo_owner;
CREATE ROLE regress_quo_other;
GRANT USAGE ON FOREIGN SERVER quo_mock TO regress_quo_owner, regress_quo_other;
CREATE USER MAPPING FOR regress_quo_owner SERVER quo_mock OPTIONS (api_key :'api_key');
CREATE USER MAPPING FOR regress_quo_other SERVER quo_mock OPTIONS (api_key :'api_key');
CREATE SCHEMA owned_mirror AUTHORIZATION regress_quo_owner;

-- the owner: create, a step, steps to the end (sync_mirror commits), the view
SET ROLE regress_quo_owner;
SELECT quo_fdw.create_mirror('quo_mock', 'owned_mirror');
SELECT requests <= 40 AS within_budget, complete FROM quo_fdw.refresh_mirror('owned_mirror', 40);
CALL quo_fdw.sync_mirror('owned_mirror', 200);
SELECT mirror_schema, owner, complete, conversations_pending, calls > 0 AS has_calls
  FROM quo_fdw.mirrors WHERE mirror_schema = 'owned_mirror';
SELECT tableowner, count(*) FROM pg_tables WHERE schemaname = 'owned_mirror' GROUP BY 1;
RESET ROLE;

-- without USAGE on the server or without a user mapping, no mirror
CREATE ROLE regress_quo_nousage;
CREATE SCHEMA nousage_mirror AUTHORIZATION regress_quo_nousage;
SET ROLE regress_quo_nousage;
\set VERBOSITY terse
SELECT quo_fdw.create_mirror('quo_mock', 'nousage_mirror');
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER quo_mock TO regress_quo_nousage;
SET ROLE regress_quo_nousage;
SELECT quo_fdw.create_mirror('quo_mock', 'nousage_mirror');
\set VERBOSITY default
RESET ROLE;
DROP SCHEMA nousage_mirror;
REVOKE USAGE ON FOREIGN SERVER quo_mock FROM regress_quo_nousage;
DROP ROLE regress_quo_nousage;

-- another role: 42501 for refresh, step, sync, drop and replace; its
-- writes to the catalog touch nothing; it cannot read the tables
SET ROLE regress_quo_other;
\set VERBOSITY terse
SELECT requests FROM quo_fdw.refresh_mirror('owned_mirror');
\echo :LAST_ERROR_SQLSTATE
SELECT requests FROM quo_fdw.refresh_mirror('owned_mirror', 10);
\echo :LAST_ERROR_SQLSTATE
CALL quo_fdw.sync_mirror('owned_mirror');
\echo :LAST_ERROR_SQLSTATE
SELECT quo_fdw.drop_mirror('owned_mirror');
\echo :LAST_ERROR_SQLSTATE
SELECT quo_fdw.create_mirror('quo_mock', 'owned_mirror');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM owned_mirror.calls;
\echo :LAST_ERROR_SQLSTATE
UPDATE quo_fdw.mirror SET lookback = '1 minute', owner = 'regress_quo_other' WHERE mirror_schema = 'owned_mirror';
DELETE FROM quo_fdw.mirror WHERE mirror_schema = 'owned_mirror';
INSERT INTO quo_fdw.mirror (mirror_schema, server, lookback, created_schema, owner)
VALUES ('owned_mirror2', 'quo_mock', '1 day', false, 'regress_quo_owner');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT mirror_schema, owner, lookback, calls FROM quo_fdw.mirrors WHERE mirror_schema = 'owned_mirror';
-- the catalog's row is the owner's to read (its pass's state names the
-- workspace's rows): another role sees the mirror in the view only
SELECT count(*) AS catalog_rows_seen FROM quo_fdw.mirror;
RESET ROLE;
-- the owner's grants let it read
SET ROLE regress_quo_owner;
GRANT USAGE ON SCHEMA owned_mirror TO regress_quo_other;
GRANT SELECT ON owned_mirror.calls TO regress_quo_other;
RESET ROLE;
SET ROLE regress_quo_other;
SELECT count(*) > 0 AS reads_calls FROM owned_mirror.calls;
SELECT calls > 0 AS counts_calls, messages FROM quo_fdw.mirrors WHERE mirror_schema = 'owned_mirror';
RESET ROLE;

-- a superuser refreshes it as the owner: with the owner's user mapping
-- (its own key is wrong here) and the owner's privileges.  The owner has
-- put a trigger on a mirror table that records who runs it and tries to
-- take the superuser's role back; another role has planted in public a
-- function that unqualified SQL would resolve to before pg_catalog's
SET ROLE regress_quo_owner;
CREATE TABLE owned_mirror.seen (who text, reset_role text, escalate text);
CREATE FUNCTION owned_mirror.spy() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r text := 'allowed'; e text := 'allowed';
BEGIN
  BEGIN
    EXECUTE 'RESET ROLE';
  EXCEPTION WHEN OTHERS THEN r := sqlstate;
  END;
  BEGIN
    EXECUTE 'ALTER ROLE regress_quo_owner SUPERUSER';
  EXCEPTION WHEN OTHERS THEN e := sqlstate;
  END;
  INSERT INTO owned_mirror.seen VALUES (current_user, r, e);
  RETURN NEW;
END $$;
CREATE TRIGGER spy BEFORE INSERT OR UPDATE ON owned_mirror.calls FOR EACH ROW EXECUTE FUNCTION owned_mirror.spy();
RESET ROLE;
GRANT CREATE ON SCHEMA public TO regress_quo_other;
SET ROLE regress_quo_other;
CREATE TABLE public.planted_calls (who text);
GRANT INSERT ON public.planted_calls TO PUBLIC;
CREATE FUNCTION public.array_to_string(text[], text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.planted_calls VALUES (current_user);
  RETURN 'planted';
END $$;
CREATE FUNCTION public.pg_has_role(name, regrole, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.planted_calls VALUES (current_user);
  RETURN true;
END $$;
RESET ROLE;
ALTER USER MAPPING FOR CURRENT_USER SERVER quo_mock OPTIONS (SET api_key 'wrong-key-0123456789abcdef');
SELECT mock('change', '{"op": "call", "conversation": "CN00000003", "status": "completed", "duration": 30, "ago": 60}');
SET search_path = public, pg_catalog;
SELECT calls_inserted, complete FROM quo_fdw.refresh_mirror('owned_mirror');
SELECT mock('change', '{"op": "call", "conversation": "CN00000005", "status": "completed", "duration": 31, "ago": 50}');
CALL quo_fdw.sync_mirror('owned_mirror', 50);
RESET search_path;
ALTER USER MAPPING FOR CURRENT_USER SERVER quo_mock OPTIONS (SET api_key :'api_key');
SELECT who, reset_role, escalate, count(*) FROM owned_mirror.seen GROUP BY 1, 2, 3;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_quo_owner';
SELECT count(*) AS planted_calls FROM public.planted_calls;
SELECT count(*) AS bad_keys FROM mock_log() l WHERE l LIKE '%-> 401';
DROP FUNCTION public.array_to_string(text[], text), public.pg_has_role(name, regrole, text);
DROP TABLE public.planted_calls;
REVOKE CREATE ON SCHEMA public FROM regress_quo_other;

-- what the owner's code sets in a superuser's refresh is undone when it
-- returns: a trigger that moves search_path to the owner's schema (where a
-- lower() of the owner's waits) leaves the superuser's search_path as it was
SET ROLE regress_quo_owner;
CREATE FUNCTION owned_mirror.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'owner''s lower' $$;
CREATE FUNCTION owned_mirror.move_path() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('search_path', 'owned_mirror, pg_catalog', false);
  PERFORM set_config('statement_timeout', '1ms', false);
  RETURN NEW;
END $$;
CREATE TRIGGER move_path BEFORE INSERT OR UPDATE ON owned_mirror.calls FOR EACH ROW EXECUTE FUNCTION owned_mirror.move_path();
RESET ROLE;
SELECT mock('change', '{"op": "call", "conversation": "CN00000007", "status": "completed", "duration": 32, "ago": 40}');
SHOW search_path;
SELECT calls_inserted FROM quo_fdw.refresh_mirror('owned_mirror');
SHOW search_path;
SHOW statement_timeout;
SELECT lower('ABC');
SET ROLE regress_quo_owner;
DROP TRIGGER move_path ON owned_mirror.calls;
DROP FUNCTION owned_mirror.move_path(), owned_mirror.lower(text);
-- the view never reads a mirror's tables: one the owner replaced by a view
-- that would run its code as the reader is not read by quo_fdw.mirrors,
-- and a refresh refuses to write to what is not the owner's table
ALTER TABLE owned_mirror.phone_numbers RENAME TO phone_numbers_kept;
CREATE TABLE owned_mirror.view_reads (who text);
CREATE FUNCTION owned_mirror.evil() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO owned_mirror.view_reads VALUES (current_user);
  RETURN true;
END $$;
CREATE VIEW owned_mirror.phone_numbers AS SELECT p.* FROM owned_mirror.phone_numbers_kept p WHERE owned_mirror.evil();
GRANT USAGE ON SCHEMA owned_mirror TO PUBLIC;
GRANT SELECT ON owned_mirror.phone_numbers TO PUBLIC;
GRANT INSERT ON owned_mirror.view_reads TO PUBLIC;
RESET ROLE;
SELECT mirror_schema, phone_numbers FROM quo_fdw.mirrors WHERE mirror_schema = 'owned_mirror';
SELECT count(*) AS view_runs FROM owned_mirror.view_reads;
\set VERBOSITY terse
SELECT requests FROM quo_fdw.refresh_mirror('owned_mirror');
\set VERBOSITY default
SET ROLE regress_quo_owner;
DROP VIEW owned_mirror.phone_numbers;
DROP TABLE owned_mirror.view_reads;
DROP FUNCTION owned_mirror.evil();
ALTER TABLE owned_mirror.phone_numbers_kept RENAME TO phone_numbers;
-- its catalog row cannot be pointed at another schema or owner
\set VERBOSITY terse
UPDATE quo_fdw.mirror SET mirror_schema = 'other_schema', created_schema = true WHERE mirror_schema = 'owned_mirror';
UPDATE quo_fdw.mirror SET owner = 'regress_quo_other' WHERE mirror_schema = 'owned_mirror';
\set VERBOSITY default
RESET ROLE;
-- a table another role put in the owner's schema in a state table's place
-- stops the refresh before anything runs
CREATE TABLE owned_mirror.listing_state_planted (x int);
SET ROLE regress_quo_owner;
DROP TABLE owned_mirror.listing_state;
RESET ROLE;
ALTER TABLE owned_mirror.listing_state_planted RENAME TO listing_state;
\set VERBOSITY terse
SELECT requests FROM quo_fdw.refresh_mirror('owned_mirror');
-- and drop_mirror leaves it (it is not the owner's), dropping the rest
SET ROLE regress_quo_owner;
\set VERBOSITY default

-- a role whose name must be quoted ("Mixed Case"): its mirror is its own,
-- refreshed as it
RESET ROLE;
CREATE ROLE "Regress Quo Mixed";
GRANT USAGE ON FOREIGN SERVER quo_mock TO "Regress Quo Mixed";
CREATE USER MAPPING FOR "Regress Quo Mixed" SERVER quo_mock OPTIONS (api_key :'api_key');
CREATE SCHEMA mixed_mirror AUTHORIZATION "Regress Quo Mixed";
SET ROLE "Regress Quo Mixed";
SELECT quo_fdw.create_mirror('quo_mock', 'mixed_mirror', tables => '{users,phone_numbers}');
SELECT requests > 0 AS read, complete FROM quo_fdw.refresh_mirror('mixed_mirror');
SELECT mirror_schema, owner, users > 0 AS has_users FROM quo_fdw.mirrors WHERE mirror_schema = 'mixed_mirror';
RESET ROLE;
SELECT complete FROM quo_fdw.refresh_mirror('mixed_mirror');
SET ROLE regress_quo_other;
\set VERBOSITY terse
SELECT quo_fdw.drop_mirror('mixed_mirror');
\set VERBOSITY default
RESET ROLE;
SET ROLE "Regress Quo Mixed";
SELECT quo_fdw.drop_mirror('mixed_mirror');
RESET ROLE;
DROP SCHEMA mixed_mirror;
DROP USER MAPPING FOR "Regress Quo Mixed" SERVER quo_mock;
REVOKE USAGE ON FOREIGN SERVER quo_mock FROM "Regress Quo Mixed";
DROP ROLE "Regress Quo Mixed";

-- the owner drops it
SET ROLE regress_quo_owner;
DROP TABLE owned_mirror.seen;
DROP FUNCTION owned_mirror.spy() CASCADE;
SELECT quo_fdw.drop_mirror('owned_mirror');
SELECT tablename, tableowner <> 'regress_quo_owner' AS not_the_owners FROM pg_tables WHERE schemaname = 'owned_mirror';
RESET ROLE;
DROP TABLE owned_mirror.listing_state;
SELECT count(*) AS mirrors FROM quo_fdw.mirror;
DROP SCHEMA owned_mirror;
DROP USER MAPPING FOR regress_quo_owner SERVER quo_mock;
DROP USER MAPPING FOR regress_quo_other SERVER quo_mock;
REVOKE USAGE ON FOREIGN SERVER quo_mock FROM regress_quo_owner, regress_quo_other;
DROP ROLE regress_quo_owner, regress_quo_other;
SELECT mock_reset();

--
-- upgrade: CREATE EXTENSION quo_fdw VERSION '0.1.0' then ALTER EXTENSION
-- UPDATE gives exactly the objects (and their definitions and comments) of
-- a fresh install of the default version
--
\set regress_db :DBNAME
CREATE DATABASE regress_quo_upgrade;
\c regress_quo_upgrade
-- every object of the extension, with what defines it
CREATE FUNCTION ext_objects() RETURNS TABLE (object text, definition text)
LANGUAGE sql AS $$
  SELECT pg_describe_object(d.classid, d.objid, d.objsubid),
         concat_ws(' | ',
           (SELECT format('%s(%s) returns %s, %s, %s', p.proname, pg_get_function_identity_arguments(p.oid),
                          p.prorettype::regtype, p.prosrc, p.probin)
              FROM pg_proc p WHERE d.classid = 'pg_proc'::regclass AND p.oid = d.objid),
           (SELECT format('handler %s, validator %s', w.fdwhandler::regproc, w.fdwvalidator::regproc)
              FROM pg_foreign_data_wrapper w
             WHERE d.classid = 'pg_foreign_data_wrapper'::regclass AND w.oid = d.objid),
           (SELECT 'acl ' || string_agg(format('%s:%s', a.grantee::regrole, a.privilege_type), ',' ORDER BY format('%s:%s', a.grantee::regrole, a.privilege_type))
              FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
             WHERE d.classid = 'pg_proc'::regclass AND p.oid = d.objid),
           (SELECT 'acl ' || string_agg(format('%s:%s', a.grantee::regrole, a.privilege_type), ',' ORDER BY format('%s:%s', a.grantee::regrole, a.privilege_type))
              FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
             WHERE d.classid = 'pg_class'::regclass AND c.oid = d.objid),
           obj_description(d.objid, (SELECT relname FROM pg_class WHERE oid = d.classid)))
    FROM pg_depend d
   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
     AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'quo_fdw')
$$;
CREATE EXTENSION quo_fdw VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'quo_fdw';
ALTER EXTENSION quo_fdw UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'quo_fdw';
CREATE TABLE updated AS SELECT * FROM ext_objects();
DROP EXTENSION quo_fdw;
CREATE EXTENSION quo_fdw;
SELECT extversion FROM pg_extension WHERE extname = 'quo_fdw';
CREATE TABLE fresh AS SELECT * FROM ext_objects();
-- (from PostgreSQL 17 the row types of the extension's table and view are
-- members too: not listed here, compared below)
SELECT count(*) AS objects FROM fresh WHERE object NOT LIKE 'type %';
SELECT object FROM fresh WHERE object NOT LIKE 'type %' ORDER BY 1;
-- no object differs, in either direction
(SELECT 'only after update' AS side, * FROM updated EXCEPT SELECT 'only after update', * FROM fresh)
UNION ALL
(SELECT 'only in fresh install', * FROM fresh EXCEPT SELECT 'only in fresh install', * FROM updated);
-- the update path is the one shipped
SELECT source, target, path FROM pg_extension_update_paths('quo_fdw') WHERE path IS NOT NULL ORDER BY 1, 2;
-- from 0.2.0, the last release, with a server in use: the same objects,
-- the catalog dumped by pg_dump, and the mirror works
DROP EXTENSION quo_fdw;
CREATE EXTENSION quo_fdw VERSION '0.2.0';
\getenv mock_url QUO_MOCK_URL
\getenv api_key QUO_TEST_KEY
CREATE SERVER quo_up FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'mock_url', rate_limit '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo_up OPTIONS (api_key :'api_key');
ALTER EXTENSION quo_fdw UPDATE;
SELECT extversion, extrelocatable, extconfig::regclass[] FROM pg_extension WHERE extname = 'quo_fdw';
CREATE TABLE updated_from_020 AS SELECT * FROM ext_objects();
(SELECT 'only after update' AS side, * FROM updated_from_020 EXCEPT SELECT 'only after update', * FROM fresh)
UNION ALL
(SELECT 'only in fresh install', * FROM fresh EXCEPT SELECT 'only in fresh install', * FROM updated_from_020);
SELECT quo_fdw.create_mirror('quo_up', 'up_mirror');
SELECT requests > 0 AS fetched, calls_inserted > 0 AS calls, messages_inserted > 0 AS messages
  FROM quo_fdw.refresh_mirror('up_mirror');
SELECT mirror_schema, calls > 0 AS calls FROM quo_fdw.mirrors;
SELECT quo_fdw.drop_mirror('up_mirror');
DROP EXTENSION quo_fdw CASCADE;
-- from 0.3.0 with a mirror refreshed: the same objects as a fresh install,
-- the mirror's rows kept, and its next refresh works with the new functions
CREATE EXTENSION quo_fdw VERSION '0.3.0';
CREATE SERVER quo_up FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'mock_url', rate_limit '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo_up OPTIONS (api_key :'api_key');
SELECT quo_fdw.create_mirror('quo_up', 'up_mirror');
SELECT calls_inserted > 0 AS calls FROM quo_fdw.refresh_mirror('up_mirror');
CREATE TABLE rows_030 AS SELECT id FROM up_mirror.calls;
-- a user's view of quo_fdw.mirrors does not stop the update, and still works
CREATE VIEW my_mirrors AS SELECT mirror_schema, calls FROM quo_fdw.mirrors;
ALTER EXTENSION quo_fdw UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'quo_fdw';
CREATE TABLE updated_from_030 AS SELECT * FROM ext_objects();
(SELECT 'only after update' AS side, * FROM updated_from_030 EXCEPT SELECT 'only after update', * FROM fresh)
UNION ALL
(SELECT 'only in fresh install', * FROM fresh EXCEPT SELECT 'only in fresh install', * FROM updated_from_030);
SELECT (SELECT count(*) FROM up_mirror.calls) = (SELECT count(*) FROM rows_030) AS rows_kept;
SELECT requests, calls_inserted, messages_inserted FROM quo_fdw.refresh_mirror('up_mirror');
SELECT mirror_schema, calls = (SELECT count(*) FROM up_mirror.calls) AS counted FROM my_mirrors;
-- the old counting function is gone, and every role may take a mirror's lock
SELECT to_regprocedure('quo_fdw.mirror_rows(name,name)') AS old_mirror_rows,
       has_function_privilege('public', 'quo_fdw.mirror_lock(name)', 'EXECUTE') AS lock_for_all;
DROP VIEW my_mirrors;
SELECT quo_fdw.drop_mirror('up_mirror');
DROP EXTENSION quo_fdw CASCADE;
\c :regress_db
DROP DATABASE regress_quo_upgrade;

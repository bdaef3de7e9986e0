--
-- options: the validator, user mappings, hand-written tables, IMPORT
--
\set VERBOSITY default
-- unknown options get the closest valid name
CREATE SERVER bad1 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_ur 'https://api.quo.com');
\echo :LAST_ERROR_SQLSTATE
CREATE SERVER bad2 FOREIGN DATA WRAPPER quo_fdw OPTIONS (request_timeout '5', conect_timeout '2');
CREATE SERVER bad3 FOREIGN DATA WRAPPER quo_fdw OPTIONS (colour 'blue');
-- the key is accepted only in a user mapping
CREATE SERVER bad4 FOREIGN DATA WRAPPER quo_fdw OPTIONS (api_key 'secret-in-the-wrong-place');
-- bad values
CREATE SERVER bad5 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'ftp://api.quo.com');
CREATE SERVER bad6 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'https://user:pw@api.quo.com');
CREATE SERVER bad7 FOREIGN DATA WRAPPER quo_fdw OPTIONS (request_timeout 'soon');
CREATE SERVER bad8 FOREIGN DATA WRAPPER quo_fdw OPTIONS (connect_timeout '-1');
CREATE SERVER bad9 FOREIGN DATA WRAPPER quo_fdw OPTIONS (connect_timeout '0');
CREATE SERVER bad10 FOREIGN DATA WRAPPER quo_fdw OPTIONS (max_retries 'many');
CREATE SERVER bad11 FOREIGN DATA WRAPPER quo_fdw OPTIONS (max_retries '-1');
CREATE SERVER bad12 FOREIGN DATA WRAPPER quo_fdw OPTIONS (rate_limit '1000');
CREATE SERVER bad13 FOREIGN DATA WRAPPER quo_fdw OPTIONS (rate_limit '2.5');
CREATE SERVER bad13a FOREIGN DATA WRAPPER quo_fdw OPTIONS (max_concurrent_requests '0');
CREATE SERVER bad13b FOREIGN DATA WRAPPER quo_fdw OPTIONS (max_concurrent_requests '17');
CREATE SERVER bad13c FOREIGN DATA WRAPPER quo_fdw OPTIONS (fanout 'sometimes');
-- plain http only for loopback hosts; anything else must be https
CREATE SERVER bad14 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'http://api.quo.com');
CREATE SERVER bad15 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'http://10.0.0.1:8080');
CREATE SERVER bad16 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'http://127.0.0.1.evil.example');
CREATE SERVER bad17 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'http://localhost.evil.example');
CREATE SERVER ok_lo1 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'http://127.0.0.1:8080');
CREATE SERVER ok_lo2 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'http://localhost');
CREATE SERVER ok_lo3 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'http://[::1]:9000');
CREATE SERVER ok_lo4 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'http://127.1.2.3');
CREATE SERVER ok_https FOREIGN DATA WRAPPER quo_fdw
  OPTIONS (base_url 'https://quo-proxy.example.com:8443', max_retries '0', rate_limit '5',
           max_concurrent_requests '16', fanout 'off');
DROP SERVER ok_lo1, ok_lo2, ok_lo3, ok_lo4, ok_https;
CREATE SERVER ok1 FOREIGN DATA WRAPPER quo_fdw OPTIONS (connect_timeout '2.5', request_timeout '30');
ALTER SERVER ok1 OPTIONS (ADD base_url 'https://api.quo.com/');
ALTER SERVER ok1 OPTIONS (SET request_timeout 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (apikey 'c1a3f0e9b7d24c6a8e5f1b2d3c4a5e6f');
CREATE USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (api_key '');
CREATE USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (api_key 'c1a3f0e9b7d24c6a
8e5f1b2d3c4a5e6f');
-- keys too short to be real (with the key 'k', every "k" in a message
-- would be redacted as [api_key]), or with spaces or control characters
CREATE USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (api_key 'k');
\echo :LAST_ERROR_SQLSTATE
CREATE USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (api_key 'c1a3f0e9b7d24c6');
CREATE USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (api_key 'c1a3f0e9b7d24c6a 8e5f1b2d3c4a5e6f');
CREATE USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (api_key E'c1a3f0e9b7d24c6a\t8e5f1b2d3c4a5e6f');
CREATE USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (api_key E'c1a3f0e9b7d24c6a\x7f8e5f1b2d3c4a5e6f');
-- 16 characters: the shortest key accepted
CREATE USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (api_key 'c1a3f0e9b7d24c6a');
ALTER USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (SET api_key 'k');
\echo :LAST_ERROR_SQLSTATE
ALTER USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (SET api_key 'c1a3f0e9b7d24c6a ');
ALTER USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (SET api_key 'c1a3f0e9b7d24c6a8e5f1b2d3c4a5e6f');
DROP USER MAPPING FOR CURRENT_USER SERVER ok1;
-- table options
CREATE FOREIGN TABLE t_bad (id text) SERVER ok1 OPTIONS (endpoint 'cals');
CREATE FOREIGN TABLE t_bad (id text) SERVER ok1 OPTIONS (endpoint 'calls', fanout 'perhaps');
CREATE FOREIGN TABLE t_ok_fanout (id text) SERVER ok1 OPTIONS (endpoint 'calls', fanout 'false');
DROP FOREIGN TABLE t_ok_fanout;
CREATE FOREIGN TABLE t_bad (id text) SERVER ok1 OPTIONS (endpoint 'voicemails');
CREATE FOREIGN TABLE t_bad (id text) SERVER ok1 OPTIONS (endpoint 'calls', user_id 'US1');
CREATE FOREIGN TABLE t_bad (id text) SERVER ok1 OPTIONS (endpoint 'conversations', user_id 'bob');
CREATE FOREIGN TABLE t_bad (id text) SERVER ok1 OPTIONS (endpoint 'conversations', exclude_inactive 'maybe');
CREATE FOREIGN TABLE t_bad (id text) SERVER ok1 OPTIONS (user_id 'US1');
CREATE FOREIGN TABLE t_bad (id text OPTIONS (colname 'id')) SERVER ok1 OPTIONS (endpoint 'calls');
DROP SERVER ok1;

-- a role without a user mapping gets an error naming the server
CREATE ROLE regress_quo_nomap;
GRANT USAGE ON SCHEMA quo TO regress_quo_nomap;
GRANT SELECT ON quo.conversations TO regress_quo_nomap;
SET ROLE regress_quo_nomap;
SELECT count(*) FROM quo.conversations;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- a PUBLIC mapping serves every role
CREATE USER MAPPING FOR PUBLIC SERVER quo_mock OPTIONS (api_key 'wrong-key-0f1e2d3c4b5a69788796');
SET ROLE regress_quo_nomap;
SELECT count(*) FROM quo.conversations;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP USER MAPPING FOR PUBLIC SERVER quo_mock;
-- a mapping without a key
CREATE USER MAPPING FOR regress_quo_nomap SERVER quo_mock;
SET ROLE regress_quo_nomap;
SELECT count(*) FROM quo.conversations;
RESET ROLE;
DROP USER MAPPING FOR regress_quo_nomap SERVER quo_mock;
-- a short key from before the rule (written into the catalog here) is
-- refused when a scan runs, and never sent
CREATE USER MAPPING FOR regress_quo_nomap SERVER quo_mock OPTIONS (api_key 'c1a3f0e9b7d24c6a8e5f1b2d3c4a5e6f');
UPDATE pg_user_mapping SET umoptions = '{api_key=k}'
 WHERE umuser = 'regress_quo_nomap'::regrole
   AND umserver = (SELECT oid FROM pg_foreign_server WHERE srvname = 'quo_mock');
SELECT mock_reset();
SET ROLE regress_quo_nomap;
SELECT count(*) FROM quo.conversations;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS requests FROM mock_log();
DROP USER MAPPING FOR regress_quo_nomap SERVER quo_mock;
REVOKE ALL ON quo.conversations FROM regress_quo_nomap;
REVOKE ALL ON SCHEMA quo FROM regress_quo_nomap;
DROP ROLE regress_quo_nomap;

-- hand-written tables: any subset of columns, in any order, renamed
CREATE FOREIGN TABLE my_convs (
  conv text OPTIONS (column_name 'id'),
  updated_at timestamptz,
  phone_number_id text
) SERVER quo_mock OPTIONS (endpoint 'conversations');
SELECT conv, phone_number_id, updated_at FROM my_convs ORDER BY updated_at DESC, conv LIMIT 3;
-- the endpoint defaults to the table name
CREATE FOREIGN TABLE conversations (id text) SERVER quo_mock;
SELECT count(*) FROM conversations;
DROP FOREIGN TABLE conversations;
-- table options that become request parameters
CREATE FOREIGN TABLE alice_convs (id text, phone_number_id text)
  SERVER quo_mock OPTIONS (endpoint 'conversations', user_id 'USalice0001', exclude_inactive 'on');
SELECT mock_reset();
SELECT count(*) FROM alice_convs;
SELECT * FROM mock_log();
DROP FOREIGN TABLE alice_convs;
-- a column that is not the endpoint's, or of the wrong type
CREATE FOREIGN TABLE bad_cols (id text, colour text) SERVER quo_mock OPTIONS (endpoint 'conversations');
SELECT id FROM bad_cols;
DROP FOREIGN TABLE bad_cols;
CREATE FOREIGN TABLE bad_type (id text, created_at text) SERVER quo_mock OPTIONS (endpoint 'conversations');
SELECT id FROM bad_type;
DROP FOREIGN TABLE bad_type;
CREATE FOREIGN TABLE no_endpoint (id text) SERVER quo_mock;
SELECT id FROM no_endpoint;
DROP FOREIGN TABLE no_endpoint;

-- IMPORT FOREIGN SCHEMA: LIMIT TO and EXCEPT
CREATE SCHEMA imp1;
IMPORT FOREIGN SCHEMA quo LIMIT TO (calls, messages) FROM SERVER quo_mock INTO imp1;
\det imp1.*
CREATE SCHEMA imp2;
IMPORT FOREIGN SCHEMA quo EXCEPT (calls) FROM SERVER quo_mock INTO imp2;
\det imp2.*
IMPORT FOREIGN SCHEMA public FROM SERVER quo_mock INTO imp2;
\echo :LAST_ERROR_SQLSTATE
DROP SCHEMA imp1 CASCADE;
DROP SCHEMA imp2 CASCADE;

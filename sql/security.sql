--
-- security: who may point a server at a base_url other than the default.
-- A role that is not a superuser may use https://api.quo.com or a URL a
-- superuser lists in quo_fdw.allowed_base_urls, checked when the option is
-- set and again when a scan runs.
--
\set VERBOSITY default
\getenv mock_url QUO_MOCK_URL
\getenv api_key QUO_TEST_KEY
-- the library is loaded, so quo_fdw.allowed_base_urls is its setting
-- (not a placeholder) in every statement below
LOAD 'quo_fdw';
CREATE ROLE regress_quo_creator;
GRANT USAGE ON FOREIGN DATA WRAPPER quo_fdw TO regress_quo_creator;
CREATE SCHEMA regress_quo_sec AUTHORIZATION regress_quo_creator;

-- a role with USAGE on the wrapper, not a superuser
SET ROLE regress_quo_creator;
-- the mock (an http service on loopback), a metadata endpoint, another port
CREATE SERVER regress_quo_s1 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'mock_url');
\echo :LAST_ERROR_SQLSTATE
CREATE SERVER regress_quo_s1 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'https://169.254.169.254');
\echo :LAST_ERROR_SQLSTATE
CREATE SERVER regress_quo_s1 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'http://localhost:5432/');
-- the default, however it is written
CREATE SERVER regress_quo_s1 FOREIGN DATA WRAPPER quo_fdw;
CREATE SERVER regress_quo_s2 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'HTTPS://API.Quo.com/', rate_limit '0');
-- nor may it move a server there
ALTER SERVER regress_quo_s1 OPTIONS (ADD base_url 'https://169.254.169.254');
\echo :LAST_ERROR_SQLSTATE
ALTER SERVER regress_quo_s2 OPTIONS (SET base_url :'mock_url');
-- its other options are its own
ALTER SERVER regress_quo_s1 OPTIONS (ADD rate_limit '5');
-- the list is a superuser's
SET quo_fdw.allowed_base_urls = 'https://169.254.169.254';
\echo :LAST_ERROR_SQLSTATE
SELECT set_config('quo_fdw.allowed_base_urls', 'https://169.254.169.254', false);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- entries are base_urls
SET quo_fdw.allowed_base_urls = 'https://quo-proxy.example.com, api.quo.com';
SET quo_fdw.allowed_base_urls = 'http://10.0.0.1';
SHOW quo_fdw.allowed_base_urls;

-- a superuser lists the mock (scheme and host in any case, a trailing '/')
-- and a proxy; the role may then use them
SELECT 'https://quo-proxy.example.com, ' || upper(:'mock_url') || '/' AS allowed \gset
SET quo_fdw.allowed_base_urls = :'allowed';
CREATE USER MAPPING FOR regress_quo_creator SERVER quo_mock OPTIONS (api_key :'api_key');
GRANT USAGE ON SCHEMA quo TO regress_quo_creator;
GRANT SELECT ON quo.conversations TO regress_quo_creator;
SELECT mock_reset();
SET ROLE regress_quo_creator;
CREATE SERVER regress_quo_mock FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'mock_url', rate_limit '0');
CREATE SERVER regress_quo_proxy FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url 'https://Quo-Proxy.EXAMPLE.com/');
ALTER SERVER regress_quo_s2 OPTIONS (SET base_url :'mock_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_quo_mock OPTIONS (api_key :'api_key');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_quo_s2 OPTIONS (api_key :'api_key');
CREATE FOREIGN TABLE regress_quo_sec.convs (id text) SERVER regress_quo_mock OPTIONS (endpoint 'conversations');
CREATE FOREIGN TABLE regress_quo_sec.convs2 (id text) SERVER regress_quo_s2 OPTIONS (endpoint 'conversations');
-- rows come back through the listed URL
SELECT count(*) FROM regress_quo_sec.convs;
SELECT count(*) FROM regress_quo_sec.convs2;
-- a superuser's server serves the role whatever the list holds
SELECT count(*) FROM quo.conversations;
RESET ROLE;
SELECT count(*) AS requests FROM mock_log();

-- the list emptied: the role's servers on the mock are refused when a scan
-- runs, before any request; EXPLAIN alone sends none and still works
SET quo_fdw.allowed_base_urls = '';
SELECT mock_reset();
SET ROLE regress_quo_creator;
SELECT count(*) FROM regress_quo_sec.convs;
\echo :LAST_ERROR_SQLSTATE
EXPLAIN (COSTS OFF) SELECT count(*) FROM regress_quo_sec.convs2;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM regress_quo_sec.convs2;
-- a change to any option of such a server needs a superuser now (the
-- validator sees the whole option list, base_url included); dropping the
-- base_url goes back to the default
ALTER SERVER regress_quo_mock OPTIONS (SET rate_limit '1');
ALTER SERVER regress_quo_s2 OPTIONS (DROP base_url);
-- the superuser's server still serves the role
SELECT count(*) FROM quo.conversations;
RESET ROLE;
-- and the superuser: its own server works, the role's is refused
SELECT count(*) FROM quo.conversations;
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_quo_mock OPTIONS (api_key :'api_key');
SELECT count(*) FROM regress_quo_sec.convs;
SELECT count(*) AS requests FROM mock_log();

-- a server given away: set up by a superuser, owned now by a role that is
-- not one (no validator runs for OWNER TO): refused when a scan runs
CREATE SERVER regress_quo_given FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'mock_url', rate_limit '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_quo_given OPTIONS (api_key :'api_key');
CREATE FOREIGN TABLE regress_quo_sec.given (id text) SERVER regress_quo_given OPTIONS (endpoint 'conversations');
SELECT count(*) FROM regress_quo_sec.given;
ALTER SERVER regress_quo_given OWNER TO regress_quo_creator;
SELECT count(*) FROM regress_quo_sec.given;
\echo :LAST_ERROR_SQLSTATE
ALTER SERVER regress_quo_given OWNER TO CURRENT_USER;
SELECT count(*) FROM regress_quo_sec.given;

-- clean up
RESET quo_fdw.allowed_base_urls;
\set VERBOSITY terse
DROP SCHEMA regress_quo_sec CASCADE;
DROP SERVER regress_quo_s1, regress_quo_s2, regress_quo_mock, regress_quo_proxy, regress_quo_given CASCADE;
\set VERBOSITY default
DROP USER MAPPING FOR regress_quo_creator SERVER quo_mock;
REVOKE ALL ON quo.conversations FROM regress_quo_creator;
REVOKE ALL ON SCHEMA quo FROM regress_quo_creator;
REVOKE ALL ON FOREIGN DATA WRAPPER quo_fdw FROM regress_quo_creator;
DROP ROLE regress_quo_creator;
SELECT mock_reset();

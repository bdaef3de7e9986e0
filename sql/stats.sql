--
-- stats: quo_fdw.stats counts every attempt, by answer, with retries,
-- rate-limit waits, bytes, rows and the last error, per server, across
-- sessions (the test cluster preloads quo_fdw); quo_fdw.stats_reset; who
-- sees and who resets which rows; the key in no column
--
SET timezone = 'UTC';
\set VERBOSITY default
\set SHOW_CONTEXT never
-- make installcheck may run against a server without the preload: then
-- the view says what it needs, and that is all this file can check
SELECT 'quo_fdw' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
       AS preloaded \gset
\if :preloaded
\else
SELECT * FROM quo_fdw.stats;
\quit
\endif
\getenv mock_url QUO_MOCK_URL
\getenv api_key QUO_TEST_KEY
CREATE SERVER quo_stats FOREIGN DATA WRAPPER quo_fdw
  OPTIONS (base_url :'mock_url', request_timeout '20', rate_limit '0', max_retries '2');
CREATE USER MAPPING FOR PUBLIC SERVER quo_stats OPTIONS (api_key :'api_key');
CREATE SCHEMA qs;
IMPORT FOREIGN SCHEMA quo LIMIT TO (calls, messages) FROM SERVER quo_stats INTO qs;
GRANT USAGE ON SCHEMA qs TO PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA qs TO PUBLIC;
-- rows each query returned, to compare with the rows counted
CREATE TABLE seen (n bigint);
\d quo_fdw.stats

SELECT quo_fdw.stats_reset();
SELECT mock_reset();
SELECT count(*) AS entries FROM quo_fdw.stats;
SELECT now() AS t0 \gset

-- this session: pages of a list, a documented 404, a 503 and a 429 retried,
-- an answer cut short retried
INSERT INTO seen SELECT count(*) FROM qs.calls
 WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants) RETURNING n;
INSERT INTO seen SELECT count(*) FROM qs.calls WHERE id = 'AC99999999' RETURNING n;
SELECT mock_fault('{"action": "status", "status": 503, "retry_after": "0"}');
INSERT INTO seen SELECT count(*) FROM qs.calls WHERE id = 'AC00000001' RETURNING n;
SELECT mock_fault('{"action": "status", "status": 429, "retry_after": 0}');
INSERT INTO seen SELECT count(*) FROM qs.messages
 WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550100002'] RETURNING n;
SELECT mock_fault('{"action": "truncate"}');
INSERT INTO seen SELECT count(*) FROM qs.calls WHERE id IN ('AC00000002', 'AC00000008') RETURNING n;
-- a join's lookups
CREATE TABLE wanted (id text);
INSERT INTO wanted VALUES ('AC00000004'), ('AC00000005'), ('AC99999998');
ANALYZE wanted;
INSERT INTO seen SELECT count(*) FROM wanted w JOIN qs.calls c ON c.id = w.id RETURNING n;

-- two more sessions: a 404, 429s retried twice, then a list; they end
-- before the counts are read
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SELECT format('dbname=%s port=%s host=%s user=%s', current_database(), current_setting('port'),
              split_part(current_setting('unix_socket_directories'), ',', 1), current_user) AS conn \gset
SELECT dblink_connect('s2', :'conn');
SELECT dblink_connect('s3', :'conn');
INSERT INTO seen SELECT n FROM dblink('s2', $$SELECT count(*) FROM qs.messages WHERE id = 'AC99999999'$$) t(n bigint) RETURNING n;
SELECT mock_fault('{"action": "status", "status": 429, "retry_after": 0, "times": 2}');
INSERT INTO seen SELECT n FROM dblink('s3', $$SELECT count(*) FROM qs.calls WHERE id = 'AC00000014'$$) t(n bigint) RETURNING n;
INSERT INTO seen SELECT n FROM dblink('s2', $$SELECT count(*) FROM qs.calls
  WHERE phone_number_id = 'PNsales0001' AND '+15550100003' = ANY (participants)$$) t(n bigint) RETURNING n;
SELECT dblink_disconnect('s2');
SELECT dblink_disconnect('s3');

-- the log of the mock, by answer
CREATE TABLE answers AS
SELECT count(*) AS requests,
       count(*) FILTER (WHERE l ~ '-> 2\d\d$') AS r2xx,
       count(*) FILTER (WHERE l ~ '-> 404$') AS r404,
       count(*) FILTER (WHERE l ~ '-> 429$') AS r429,
       count(*) FILTER (WHERE l ~ '-> 4\d\d$' AND l !~ '-> (404|429)$') AS r4xx,
       count(*) FILTER (WHERE l ~ '-> 5\d\d$') AS r5xx,
       count(*) FILTER (WHERE l ~ '-> truncated$') AS truncated
  FROM mock_log() l;
SELECT * FROM answers;
-- the statistics, the same: every attempt, each answer in its class
SELECT server, database = current_database() AS this_database, requests, responses_2xx, responses_404,
       responses_429, responses_4xx, responses_5xx, transport_errors, retries, rate_limit_waits,
       rate_limit_wait_ms, rows, bytes_received > 0 AS bytes, last_error
  FROM quo_fdw.stats;
SELECT s.requests = a.requests AS requests, s.responses_2xx = a.r2xx AS r2xx, s.responses_404 = a.r404 AS r404,
       s.responses_429 = a.r429 AS r429, s.responses_4xx = a.r4xx AS r4xx, s.responses_5xx = a.r5xx AS r5xx,
       s.transport_errors = a.truncated AS transport,
       -- every failed attempt above was retried
       s.retries = a.r429 + a.r5xx + a.truncated AS retries,
       s.rows = (SELECT sum(n) FROM seen) AS rows,
       s.first_request >= :'t0' AND s.first_request <= s.last_request AND s.last_request <= now() AS times
  FROM quo_fdw.stats s, answers a WHERE s.server = 'quo_stats';

-- bytes: what EXPLAIN ANALYZE reports for the scan
SELECT quo_fdw.stats_reset('quo_stats');
SELECT count(*) AS entries FROM quo_fdw.stats;
SELECT (regexp_match(l, '[0-9]+'))[1]::bigint AS explain_bytes
  FROM explain_analyze($$SELECT * FROM qs.calls WHERE phone_number_id = 'PNsales0001'$$) l
 WHERE l LIKE '%Quo Bytes Received%' \gset
SELECT bytes_received = :explain_bytes AS same_bytes, bytes_received > 1000 AS some FROM quo_fdw.stats;

-- the last error: its SQLSTATE and message as the ERROR gave them, the
-- API's text quoted as errors quote it (the key it echoed as [api_key])
SELECT mock_fault('{"action": "echo_key", "status": 401}');
SELECT count(*) FROM qs.calls WHERE id = 'AC00000013';
\echo :LAST_ERROR_SQLSTATE
SELECT last_error >= :'t0' AS last_error, last_error_sqlstate, last_error_message, responses_4xx
  FROM quo_fdw.stats WHERE server = 'quo_stats';
-- an answer that is not JSON: the last error is the newer one
SELECT mock_fault('{"action": "html"}');
SELECT count(*) FROM qs.calls WHERE id = 'AC00000013';
SELECT last_error_sqlstate, last_error_message FROM quo_fdw.stats WHERE server = 'quo_stats';
-- the key is in no column
SELECT count(*) AS rows_with_key FROM quo_fdw.stats s WHERE strpos(s::text, :'api_key') > 0;
-- a cancel is not an error of the API's
SET statement_timeout = '300ms';
SELECT mock_fault('{"action": "hang", "seconds": 2}');
SELECT count(*) FROM qs.calls WHERE id = 'AC00000013';
RESET statement_timeout;
SELECT last_error_sqlstate FROM quo_fdw.stats WHERE server = 'quo_stats';
SELECT pg_sleep(2);
SELECT mock_reset();

-- rate-limit waits: 5 lookups at 2 requests a second, the last 3 wait
CREATE SERVER quo_stats_slow FOREIGN DATA WRAPPER quo_fdw
  OPTIONS (base_url :'mock_url', request_timeout '20', rate_limit '2');
CREATE USER MAPPING FOR PUBLIC SERVER quo_stats_slow OPTIONS (api_key :'api_key');
CREATE FOREIGN TABLE slow_calls (id text) SERVER quo_stats_slow OPTIONS (endpoint 'calls');
SELECT pg_sleep(1.1);
SELECT count(*) FROM slow_calls WHERE id IN ('AC00000001', 'AC00000002', 'AC00000003', 'AC00000004', 'AC00000005');
SELECT requests, rate_limit_waits, rate_limit_wait_ms BETWEEN 2000 AND 6000 AS waited
  FROM quo_fdw.stats WHERE server = 'quo_stats_slow';

-- who sees which rows: USAGE on the server, or pg_read_all_stats
CREATE ROLE regress_quo_stats_none;
CREATE ROLE regress_quo_stats_user;
CREATE ROLE regress_quo_stats_reader IN ROLE pg_read_all_stats;
CREATE ROLE regress_quo_stats_owner;
GRANT USAGE ON FOREIGN SERVER quo_stats TO regress_quo_stats_user;
GRANT USAGE ON FOREIGN DATA WRAPPER quo_fdw TO regress_quo_stats_owner;
ALTER SERVER quo_stats_slow OWNER TO regress_quo_stats_owner;
SET ROLE regress_quo_stats_none;
SELECT count(*) AS visible FROM quo_fdw.stats;
SET ROLE regress_quo_stats_user;
SELECT server FROM quo_fdw.stats ORDER BY 1;
SET ROLE regress_quo_stats_reader;
SELECT server FROM quo_fdw.stats ORDER BY 1;
SET ROLE regress_quo_stats_owner;
SELECT server FROM quo_fdw.stats ORDER BY 1;

-- who resets which: a server's owner, a superuser; NULL resets what the
-- caller owns (a superuser: everything)
SET ROLE regress_quo_stats_user;
SELECT quo_fdw.stats_reset('quo_stats');
\echo :LAST_ERROR_SQLSTATE
SELECT quo_fdw.stats_reset('quo_stats_slow');
SELECT quo_fdw.stats_reset();
SET ROLE regress_quo_stats_reader;
SELECT quo_fdw.stats_reset('quo_stats');
SELECT server FROM quo_fdw.stats ORDER BY 1;
SET ROLE regress_quo_stats_owner;
SELECT quo_fdw.stats_reset();
RESET ROLE;
SELECT server FROM quo_fdw.stats ORDER BY 1;
SELECT quo_fdw.stats_reset('no_such_server');
SELECT quo_fdw.stats_reset();
SELECT count(*) AS entries FROM quo_fdw.stats;

-- a renamed server's row follows its name; a dropped server's row keeps
-- the name it had, for pg_read_all_stats only, until a reset
SELECT count(*) FROM qs.calls WHERE id = 'AC00000001';
ALTER SERVER quo_stats RENAME TO quo_stats_renamed;
SELECT server, requests FROM quo_fdw.stats;
ALTER SERVER quo_stats_renamed RENAME TO quo_stats;
CREATE SERVER quo_stats_gone FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'mock_url', rate_limit '0');
CREATE USER MAPPING FOR PUBLIC SERVER quo_stats_gone OPTIONS (api_key :'api_key');
GRANT USAGE ON FOREIGN SERVER quo_stats_gone TO regress_quo_stats_user;
CREATE FOREIGN TABLE gone_calls (id text) SERVER quo_stats_gone OPTIONS (endpoint 'calls');
SELECT count(*) FROM gone_calls WHERE id = 'AC00000001';
DROP FOREIGN TABLE gone_calls;
DROP USER MAPPING FOR PUBLIC SERVER quo_stats_gone;
REVOKE USAGE ON FOREIGN SERVER quo_stats_gone FROM regress_quo_stats_user;
DROP SERVER quo_stats_gone;
SELECT server, requests FROM quo_fdw.stats ORDER BY 1;
SET ROLE regress_quo_stats_user;
SELECT server, requests FROM quo_fdw.stats ORDER BY 1;
RESET ROLE;

-- quo_fdw.stats = off: nothing is counted
SET quo_fdw.stats = off;
SELECT count(*) FROM qs.calls WHERE id = 'AC00000001';
RESET quo_fdw.stats;
SELECT server, requests FROM quo_fdw.stats;
SET ROLE regress_quo_stats_user;
SET quo_fdw.stats = off;
RESET ROLE;

SELECT quo_fdw.stats_reset();
SELECT mock_reset();
DROP FOREIGN TABLE slow_calls;
DROP USER MAPPING FOR PUBLIC SERVER quo_stats_slow;
DROP SERVER quo_stats_slow;
DROP SCHEMA qs CASCADE;
DROP USER MAPPING FOR PUBLIC SERVER quo_stats;
DROP SERVER quo_stats;
DROP TABLE seen, answers, wanted;
REVOKE USAGE ON FOREIGN DATA WRAPPER quo_fdw FROM regress_quo_stats_owner;
DROP ROLE regress_quo_stats_none, regress_quo_stats_user, regress_quo_stats_reader, regress_quo_stats_owner;

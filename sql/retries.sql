--
-- retries: 429, 500, 502, 503, 504, lost connections and timeouts are
-- retried with backoff, Retry-After honoured; client errors are not; when
-- retries run out the error says how many attempts were made
--
SET timezone = 'UTC';
SET search_path = quo, public;
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT mock_reset();
ALTER SERVER quo_mock OPTIONS (ADD max_retries '2');
CREATE VIEW c2 AS SELECT id, duration FROM calls
 WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);

-- each retryable status, failing once: the answer is still complete
SELECT mock_fault('{"action": "status", "status": 429, "retry_after": 0}');
SELECT count(*) FROM c2;
SELECT mock_fault('{"action": "status", "status": 500}');
SELECT count(*) FROM c2;
SELECT mock_fault('{"action": "status", "status": 502}');
SELECT count(*) FROM c2;
SELECT mock_fault('{"action": "status", "status": 503, "retry_after": "0"}');
SELECT count(*) FROM c2;
SELECT mock_fault('{"action": "status", "status": 504}');
SELECT count(*) FROM c2;
-- a Retry-After given as an HTTP-date in the past means now
SELECT mock_fault('{"action": "status", "status": 429, "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"}');
SELECT count(*) FROM c2;
SELECT * FROM mock_log();
SELECT mock_reset();

-- a failure in the middle of a long scan is retried and the scan goes on
SELECT mock_fault('{"action": "status", "status": 503, "skip": 7, "times": 2}');
SELECT * FROM explain_analyze($$SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants)$$);
SELECT count(*) FILTER (WHERE l LIKE '%-> 503') AS failed, count(*) AS requests FROM mock_log() l;
SELECT mock_reset();

-- lost connections and timeouts are retried too
SELECT mock_fault('{"action": "drop", "times": 2}');
SELECT count(*) FROM c2;
ALTER SERVER quo_mock OPTIONS (SET request_timeout '0.5');
SELECT mock_fault('{"action": "hang", "seconds": 2}');
SELECT count(*) FROM c2;
ALTER SERVER quo_mock OPTIONS (SET request_timeout '20');
SELECT mock_reset();

-- when retries run out: the last status, Quo's title and trace, and the attempts
SELECT mock_fault('{"action": "status", "status": 503, "times": 3, "title": "Service Unavailable"}');
SELECT count(*) FROM c2;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();

-- 400, 401, 403 and 404 are answers, not accidents: one request each
SELECT mock_fault('{"action": "status", "status": 400}');
SELECT count(*) FROM c2;
SELECT mock_fault('{"action": "status", "status": 401}');
SELECT count(*) FROM c2;
SELECT mock_fault('{"action": "status", "status": 403}');
SELECT count(*) FROM c2;
SELECT mock_fault('{"action": "status", "status": 404, "match": "/v1/conversations"}');
SELECT count(*) FROM conversations;
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();

-- a Retry-After longer than quo_fdw waits (60 s), or past statement_timeout,
-- ends the query at once with the API's answer
SELECT mock_fault('{"action": "status", "status": 429, "retry_after": 120}');
SELECT count(*) FROM c2;
SELECT mock_fault('{"action": "status", "status": 503, "retry_after": 30}');
SET statement_timeout = '5s';
SELECT count(*) FROM c2;
RESET statement_timeout;
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
-- the same for an id lookup started ahead, reported after rows of the one
-- before it: the DETAIL is intact (it used to be freed before it was read)
SELECT mock_fault('{"action": "status", "status": 429, "retry_after": 120, "match": "/v1/calls/AC00000004"}');
SELECT mock_fault('{"action": "latency", "seconds": 0.2, "match": "/v1/calls/AC00000001"}');
SELECT id FROM calls WHERE id IN ('AC00000001', 'AC00000004');
SELECT mock_reset();

-- Retry-After that is neither delta-seconds nor an HTTP-date (inf, nan, -1)
-- is unreadable: quo_fdw backs off with jitter (250 ms or more) and the
-- answer is complete
SELECT mock_fault('{"action": "status", "status": 429, "retry_after": "inf"}');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM c2;
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '250 ms' AS backed_off;
SELECT mock_fault('{"action": "status", "status": 429, "retry_after": "nan"}');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM c2;
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '250 ms' AS backed_off;
SELECT mock_fault('{"action": "status", "status": 429, "retry_after": "-1"}');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM c2;
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '250 ms' AS backed_off;
SELECT regexp_replace(l, '\?.*->', '?... ->') AS request FROM mock_log() l;
SELECT mock_reset();
-- a number too large for any clock (1e300 seconds, 20 digits) is a wait
-- longer than quo_fdw's 60 s: the API's 429 at once, saying so
SELECT mock_fault('{"action": "status", "status": 429, "retry_after": "1e300"}');
SELECT count(*) FROM c2;
SELECT mock_fault('{"action": "status", "status": 429, "retry_after": "99999999999999999999"}');
SELECT count(*) FROM c2;
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();

-- max_retries 0 turns retries off
ALTER SERVER quo_mock OPTIONS (SET max_retries '0');
SELECT mock_fault('{"action": "status", "status": 502}');
SELECT count(*) FROM c2;
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
ALTER SERVER quo_mock OPTIONS (DROP max_retries);
DROP VIEW c2;

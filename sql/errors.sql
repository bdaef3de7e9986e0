--
-- errors: every API error shape and status, broken responses, a dead
-- network, timeouts and cancels: a clean ERROR with context, never an
-- empty or partial result
--
SET timezone = 'UTC';
SET search_path = quo, public;
\set VERBOSITY default
\set SHOW_CONTEXT never
-- the mock's address and key, for servers of our own
\getenv mock_url QUO_MOCK_URL
\getenv api_key QUO_TEST_KEY
SELECT mock_reset();
-- one attempt each here: retries have their own test
ALTER SERVER quo_mock OPTIONS (ADD max_retries '0');
CREATE VIEW c2 AS SELECT id, duration FROM calls
 WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
CREATE VIEW big AS SELECT id FROM calls
 WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants);

-- documented error bodies, by status
SELECT mock_fault('{"action": "status", "status": 400, "message": "participants must be E.164"}');
SELECT * FROM c2;
\echo :LAST_ERROR_SQLSTATE
SELECT mock_fault('{"action": "status", "status": 402, "match": "/v1/messages"}');
SELECT count(*) FROM messages WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550100002'];
\echo :LAST_ERROR_SQLSTATE
SELECT mock_fault('{"action": "status", "status": 403, "message": "Not a user of this number"}');
SELECT * FROM c2;
\echo :LAST_ERROR_SQLSTATE
SELECT mock_fault('{"action": "status", "status": 404, "match": "/v1/conversations"}');
SELECT count(*) FROM conversations;
\echo :LAST_ERROR_SQLSTATE
SELECT mock_fault('{"action": "status", "status": 429, "retry_after": 1, "title": "Too Many Requests"}');
SELECT * FROM c2;
\echo :LAST_ERROR_SQLSTATE
SELECT mock_fault('{"action": "status", "status": 500}');
SELECT * FROM c2;
\echo :LAST_ERROR_SQLSTATE
SELECT mock_fault('{"action": "status", "status": 503, "title": "Service Unavailable"}');
SELECT * FROM c2;
-- the other shape: {"error": {"message", "key", "trace"}}
SELECT mock_fault('{"action": "alt_error", "status": 400, "message": "Invalid participants", "key": "invalid_participants"}');
SELECT * FROM c2;
\echo :LAST_ERROR_SQLSTATE
-- a non-JSON error body is quoted, briefly
SELECT mock_fault('{"action": "raw", "status": 502, "body": "<html>Bad gateway</html>"}');
SELECT * FROM c2;

-- the API's text is quoted by whole characters (300 at most): a LATIN1
-- client gets the API's 502, not an encoding error, and a character LATIN1
-- lacks (the euro sign) is shown as '?' rather than failing the error
CREATE FUNCTION error_detail(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
  EXECUTE q;
  RETURN NULL;
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN d;
END $$;
SET client_encoding = 'LATIN1';
SELECT mock_fault('{"action": "status", "status": 502, "message": "x' || repeat('\u00e9', 400) || '"}');
\set VERBOSITY terse
SELECT * FROM c2;
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT mock_fault('{"action": "status", "status": 502, "message": "x' || repeat('\u00e9', 400) || '"}');
SELECT length(m) AS chars, length(replace(m, chr(233), '')) AS other_chars, right(m, 3) AS tail
  FROM split_part(split_part(error_detail('SELECT * FROM c2'), 'Message: ', 2), '. Trace: ', 1) AS m;
SELECT mock_fault('{"action": "status", "status": 502, "message": "price: 5 \u20ac", "title": "Bad \u20ac"}');
SELECT * FROM c2;
\echo :LAST_ERROR_SQLSTATE
RESET client_encoding;
DROP FUNCTION error_detail(text);

-- a page that fails mid-scan: an error, not 100 rows as if complete
SELECT mock_fault('{"action": "status", "status": 500, "skip": 1}');
SELECT count(*) FROM big;
-- a 500 on an id lookup is an error too (only Quo's documented 404 means no row)
SELECT mock_fault('{"action": "status", "status": 500, "match": "/v1/calls/AC00000002"}');
SELECT id FROM calls WHERE id IN ('AC00000001', 'AC00000002');
-- and so is a 404 that is not Quo's: a proxy's page, or no body at all
SELECT mock_fault('{"action": "raw", "status": 404, "body": "<html>Not Found</html>", "match": "/v1/calls/AC00000002"}');
SELECT id FROM calls WHERE id IN ('AC00000001', 'AC00000002');
\echo :LAST_ERROR_SQLSTATE
SELECT mock_fault('{"action": "raw", "status": 404, "body": "", "match": "/v1/calls/AC00000002"}');
SELECT id FROM calls WHERE id = 'AC00000002';
-- a 404 in Quo's shape is no row only with the code the document gives
-- that operation (0100404 for GET /v1/calls/{callId}): a gateway's
-- look-alike (0000404) or another operation's code (messages' 0200404) is
-- the error with the base_url HINT, on an id lookup and on an id join
SELECT mock_fault('{"action": "raw", "status": 404, "match": "/v1/calls/AC00000002", "body": "{\"message\": \"Not Found\", \"code\": \"0000404\", \"status\": 404, \"title\": \"Not Found\"}"}');
SELECT id FROM calls WHERE id IN ('AC00000001', 'AC00000002');
\echo :LAST_ERROR_SQLSTATE
EXPLAIN (COSTS OFF)
SELECT count(s.status) FROM calls c LEFT JOIN call_summaries s ON s.call_id = c.id
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (c.participants);
SELECT mock_fault('{"action": "raw", "status": 404, "match": "/v1/call-summaries/AC00000005", "body": "{\"message\": \"Not Found\", \"code\": \"0100404\", \"status\": 404, \"title\": \"Not Found\"}"}');
SELECT count(s.status) FROM calls c LEFT JOIN call_summaries s ON s.call_id = c.id
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (c.participants);
SELECT mock_fault('{"action": "raw", "status": 404, "match": "/v1/calls/AC00000002", "body": "{\"message\": \"Not Found\", \"code\": \"0200404\", \"status\": 404, \"title\": \"Not Found\"}"}');
SELECT id FROM calls WHERE id = 'AC00000002';
-- the operation's own code is no row: the mock answers it for an unknown id
SELECT id FROM calls WHERE id IN ('AC00000001', 'AC99999999');
SELECT id FROM messages WHERE id = 'AC99999999';

-- a base_url with a wrong path: what answers there is not the Quo API, and
-- its 404s are errors for id lookups and id joins as for list scans, never
-- an empty result
\set wrong_url :mock_url '/api'
CREATE SERVER quo_wrongpath FOREIGN DATA WRAPPER quo_fdw
  OPTIONS (base_url :'wrong_url', request_timeout '20', rate_limit '0', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo_wrongpath OPTIONS (api_key :'api_key');
CREATE SCHEMA wrongpath;
IMPORT FOREIGN SCHEMA quo LIMIT TO (calls) FROM SERVER quo_wrongpath INTO wrongpath;
CREATE TABLE wanted (call_id text);
INSERT INTO wanted VALUES ('AC00000001'), ('AC00000004');
ANALYZE wanted;
SELECT mock_reset();
SELECT id, status FROM wrongpath.calls WHERE id = 'AC00000001';
\echo :LAST_ERROR_SQLSTATE
EXPLAIN (COSTS OFF)
SELECT w.call_id, c.status FROM wanted w JOIN wrongpath.calls c ON c.id = w.call_id;
SELECT w.call_id, c.status FROM wanted w JOIN wrongpath.calls c ON c.id = w.call_id;
SELECT w.call_id, c.status FROM wanted w LEFT JOIN wrongpath.calls c ON c.id = w.call_id;
SELECT count(*) FROM wrongpath.calls
 WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
-- the right server: a missing id is still no row
SELECT id FROM calls WHERE id = 'AC99999999';
SELECT * FROM mock_log();
SELECT mock_reset();
DROP TABLE wanted;
DROP SCHEMA wrongpath CASCADE;
DROP USER MAPPING FOR CURRENT_USER SERVER quo_wrongpath;
DROP SERVER quo_wrongpath;

-- broken 200 responses
SELECT mock_fault('{"action": "badjson"}');
SELECT * FROM c2;
\echo :LAST_ERROR_SQLSTATE
SELECT mock_fault('{"action": "truncate"}');
-- libcurl words the reason its own way (7.88 "transfer closed with N bytes
-- remaining to read", 8.x "end of response with N bytes missing")
DO $$
DECLARE st text; msg text; det text;
BEGIN
  PERFORM count(*) FROM big;
  RAISE NOTICE 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
  RAISE NOTICE '% %: %', st, msg,
    regexp_replace(det, 'libcurl: [^0-9]*([0-9]+) bytes (remaining to read|missing)\.$', 'libcurl: \1 bytes short.');
END $$;
SELECT mock_fault('{"action": "html"}');
SELECT * FROM c2;
SELECT mock_fault('{"action": "raw", "body": "{\"data\": {\"id\": \"AC1\"}, \"nextPageToken\": null}"}');
SELECT * FROM c2;
SELECT mock_fault('{"action": "raw", "body": "{\"items\": []}"}');
SELECT * FROM c2;
SELECT mock_fault('{"action": "raw", "body": "[1, 2]"}');
SELECT * FROM c2;
SELECT mock_fault('{"action": "raw", "body": "{\"data\": [], \"nextPageToken\": 17}"}');
SELECT * FROM c2;
SELECT mock_fault('{"action": "raw", "body": "{\"data\": [7], \"nextPageToken\": null}"}');
SELECT * FROM c2;
SELECT mock_fault('{"action": "raw", "body": "{\"data\": []} trailing"}');
SELECT * FROM c2;
-- a token that never changes, or comes back, would page forever
SELECT mock_fault('{"action": "same_token", "times": -1}');
SELECT count(*) FROM big;
SELECT mock_reset();
SELECT mock_fault('{"action": "cycle", "times": -1}');
SELECT count(*) FROM big;
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
-- nesting deeper than 64 levels, strings of megabytes, bodies over 64 MB
SELECT mock_fault('{"action": "deep", "depth": 100000}');
SELECT * FROM c2;
SELECT mock_fault('{"action": "deep", "depth": 20}');
SELECT jsonb_array_length(raw->'nested') FROM calls
 WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants) AND raw ? 'nested';
-- a body of 300,000 empty objects (0.9 MB) would cost json-c some 200 MB:
-- refused before parsing; a thousand are parsed (rows of NULLs)
SELECT mock_fault('{"action": "many", "count": 300000}');
SELECT * FROM c2;
SELECT mock_fault('{"action": "many", "count": 1000}');
SELECT count(*) FROM c2;
SELECT mock_fault('{"action": "huge", "match": "/v1/messages", "bytes": 5000000}');
SELECT length(text), count(*) FROM messages
 WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550100002'] GROUP BY 1 ORDER BY 1;
SELECT mock_fault('{"action": "huge", "match": "/v1/messages", "bytes": 70000000}');
SELECT count(*) FROM messages WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550100002'];
\echo :LAST_ERROR_SQLSTATE
SELECT mock_reset();

-- a value of the wrong type names the table, column and value
SELECT mock_fault('{"action": "wrong_type", "field": "duration", "value": "abc"}');
SELECT * FROM c2;
\echo :LAST_ERROR_SQLSTATE
SELECT mock_fault('{"action": "wrong_type", "field": "duration", "value": 10000000000}');
SELECT * FROM c2;
SELECT mock_fault('{"action": "wrong_type", "field": "duration", "value": 1.5}');
SELECT * FROM c2;
SELECT mock_fault('{"action": "wrong_type", "field": "createdAt", "value": "yesterday"}');
SELECT id, created_at FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
SELECT mock_fault('{"action": "wrong_type", "field": "createdAt", "value": "2024-02-30T10:00:00Z"}');
SELECT id, created_at FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
SELECT mock_fault('{"action": "wrong_type", "field": "participants", "value": "+15550100002"}');
SELECT id, participants FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
SELECT mock_fault('{"action": "wrong_type", "field": "participants", "value": ["+1555", 5]}');
SELECT id, participants FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
SELECT mock_fault('{"action": "wrong_type", "field": "status", "value": {"code": 1}}');
SELECT id, status FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
SELECT mock_fault('{"action": "wrong_type", "field": "text", "value": "nul \u0000 inside"}');
SELECT id, text FROM messages WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550100002'];
-- an unused column is not converted, so its bad value does not matter
SELECT mock_fault('{"action": "wrong_type", "field": "duration", "value": "abc"}');
SELECT id FROM c2 ORDER BY id;
-- unknown fields are ignored; a missing field is NULL
SELECT mock_fault('{"action": "wrong_type", "field": "brandNewField", "value": [1, {"a": 2}]}');
SELECT id, raw ? 'brandNewField' AS has_new, raw->'brandNewField' AS value FROM calls
 WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants) ORDER BY id DESC LIMIT 2;
SELECT mock_reset();

-- a dead network: nothing listens there
CREATE SERVER quo_dead FOREIGN DATA WRAPPER quo_fdw
  OPTIONS (base_url 'http://127.0.0.1:9', connect_timeout '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo_dead OPTIONS (api_key 'dead-network-key-0123456789abcdef');
CREATE FOREIGN TABLE dead_convs (id text) SERVER quo_dead OPTIONS (endpoint 'conversations');
\set VERBOSITY terse
SELECT * FROM dead_convs;
\echo :LAST_ERROR_SQLSTATE
-- a dropped connection (libcurl itself retries once on a fresh connection)
SELECT mock_fault('{"action": "drop", "times": 2}');
SELECT * FROM c2;
\echo :LAST_ERROR_SQLSTATE
SELECT mock_reset();
-- a request that outlives request_timeout
ALTER SERVER quo_mock OPTIONS (SET request_timeout '0.5');
SELECT mock_fault('{"action": "hang", "seconds": 3}');
SELECT * FROM c2;
\echo :LAST_ERROR_SQLSTATE
ALTER SERVER quo_mock OPTIONS (SET request_timeout '20');
-- statement_timeout (and so a cancel) stops a request in flight: 57014
SELECT mock_fault('{"action": "hang", "seconds": 15}');
SET statement_timeout = '300ms';
SELECT * FROM c2;
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
-- the backend is fine afterwards, and so is the connection cache
SELECT count(*) FROM c2;
\set VERBOSITY default
DROP FOREIGN TABLE dead_convs;
DROP USER MAPPING FOR CURRENT_USER SERVER quo_dead;
DROP SERVER quo_dead;
SELECT mock_reset();

-- a LATIN1 database: the API's UTF-8 is converted, and what LATIN1 lacks
-- (the euro sign, Japanese) becomes '?' instead of an encoding error
\set regress_db :DBNAME
SELECT mock_fault('{"action": "status", "status": 502, "message": "caf\u00e9 5 \u20ac \u65e5\u672c"}');
CREATE DATABASE regress_quo_latin1 TEMPLATE template0 ENCODING 'LATIN1' LOCALE 'C';
\c regress_quo_latin1
SET client_encoding = 'UTF8';
CREATE EXTENSION quo_fdw;
CREATE SERVER quo_latin1 FOREIGN DATA WRAPPER quo_fdw
  OPTIONS (base_url :'mock_url', request_timeout '20', rate_limit '0', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo_latin1 OPTIONS (api_key :'api_key');
IMPORT FOREIGN SCHEMA quo LIMIT TO (calls, contacts) FROM SERVER quo_latin1 INTO public;
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
\echo :LAST_ERROR_SQLSTATE
-- values are sent as UTF-8 whatever the database's encoding
SELECT count(*) FROM contacts WHERE external_id = 'Müller-1';
\c :regress_db
SELECT line FROM mock_log() AS line WHERE line LIKE '%externalIds%';
DROP DATABASE regress_quo_latin1 WITH (FORCE);
SET timezone = 'UTC';
SET search_path = quo, public;
SELECT mock_reset();
ALTER SERVER quo_mock OPTIONS (DROP max_retries);
DROP VIEW c2, big;

--
-- encoding: raw and jsonb columns in a database that is not UTF-8,
-- integers beyond 64 bits kept as the API sent them, and row-conversion
-- errors quoted so that a LATIN1 client can read them
--
SET search_path = quo, public;
\set VERBOSITY default
\set SHOW_CONTEXT never
-- the mock's address, key and client, for a database of our own
\getenv mock_url QUO_MOCK_URL
\getenv api_key QUO_TEST_KEY
\getenv mockctl QUO_MOCKCTL
SELECT mock_reset();
-- the next matching request is answered with this body, byte for byte
CREATE FUNCTION mock_body(body text, match text DEFAULT '') RETURNS void LANGUAGE sql AS $$
  SELECT mock_fault(json_build_object('action', 'raw', 'body', body, 'match', match)::text)
$$;

-- integers beyond 64 bits: exact in a jsonb column and in raw, as numbers;
-- the largest 64-bit ones, fractions, exponents and digits in strings as
-- they were
SELECT mock_body('{"data": {"id": "664d0db69fcac7cf2e6e0001", "customFields": ['
  '123456789012345678901234, -123456789012345678901, '
  '18446744073709551615, 18446744073709551616, -9223372036854775808, -9223372036854775809, '
  '0.12345678901234567890123, 12345678901234567890123e2, 1234567890123456789012.5, '
  '"123456789012345678901234", {"123456789012345678901234": 98765432109876543210987654321}]}}');
SELECT jsonb_array_elements(custom_fields)::text AS custom_field
  FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
SELECT mock_body('{"data": {"id": "664d0db69fcac7cf2e6e0001", "customFields": ['
  '123456789012345678901234, -123456789012345678901]}}');
SELECT raw->'customFields'->0 AS big, raw->'customFields'->1 AS negative,
       jsonb_typeof(raw->'customFields'->0) AS type,
       (raw->'customFields'->>0)::numeric = 123456789012345678901234 AS exact,
       raw::text
  FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
-- the shortest integer beyond 64 bits (19 digits) at each of 19 offsets:
-- the fast path looks at every 19th byte for a long run of digits
CREATE FUNCTION big_at(k int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  PERFORM mock_body(format('{"data": {"id": "664d0db69fcac7cf2e6e0001", "customFields": ["%s", -9223372036854775809]}}',
                           repeat('x', k)));
  SELECT custom_fields->>1 INTO r FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
  RETURN r;
END $$;
SELECT count(*) AS offsets, count(*) FILTER (WHERE big_at(k) = '-9223372036854775809') AS exact
  FROM generate_series(0, 18) k;
DROP FUNCTION big_at(int);
-- the same in a page of many rows
SELECT mock_fault('{"match": "/v1/contacts?", "action": "wrong_type", "field": "customFields", '
  '"value": [{"key": "score", "value": 123456789012345678901234}]}');
SELECT count(*) AS contacts,
       count(*) FILTER (WHERE custom_fields->0->'value' = '123456789012345678901234') AS big
  FROM contacts;
-- into an integer column it is the wrong value, shown as sent
SELECT mock_fault('{"action": "wrong_type", "field": "duration", "value": 123456789012345678901234}');
SELECT id, duration FROM calls WHERE id = 'AC00000002';
\echo :LAST_ERROR_SQLSTATE
SELECT mock_fault('{"action": "wrong_type", "field": "duration", "value": -123456789012345678901}');
SELECT id, duration FROM calls WHERE id = 'AC00000002';
\echo :LAST_ERROR_SQLSTATE
-- a float8 column gets its nearest double, not 2^64
SELECT mock_fault('{"match": "/v1/call-transcripts", "action": "wrong_type", "field": "duration", "value": 123456789012345678901234}');
SELECT duration, duration = 123456789012345678901234::float8 AS nearest FROM call_transcripts WHERE call_id = 'AC00000013';
-- a 308-digit integer is still a double; one of 309 digits is beyond every
-- double, and so is NaN (json-c reads it, JSON has no such number): the
-- column's wrong value, as float8in refuses "1e309", not Infinity or NaN
SELECT mock_fault('{"match": "/v1/call-transcripts", "action": "wrong_type", "field": "duration", "value": '
  || repeat('9', 308) || '}');
SELECT duration = ('1e308')::float8 AS nearest FROM call_transcripts WHERE call_id = 'AC00000013';
SELECT mock_fault('{"match": "/v1/call-transcripts", "action": "wrong_type", "field": "duration", "value": '
  || repeat('9', 309) || '}');
SELECT duration FROM call_transcripts WHERE call_id = 'AC00000013';
\echo :SQLSTATE
SELECT mock_fault('{"match": "/v1/call-transcripts", "action": "wrong_type", "field": "duration", "value": -'
  || repeat('9', 309) || '}');
SELECT duration FROM call_transcripts WHERE call_id = 'AC00000013';
\echo :SQLSTATE
SELECT mock_fault('{"match": "/v1/call-transcripts", "action": "wrong_type", "field": "duration", "value": NaN}');
SELECT duration FROM call_transcripts WHERE call_id = 'AC00000013';
\echo :SQLSTATE

-- the next request is answered with these bytes: each character of body is
-- the byte it numbers (chr(255) is 0xff)
CREATE FUNCTION mock_bytes(body text, status int DEFAULT 200) RETURNS void LANGUAGE sql AS $$
  SELECT mock_fault(json_build_object('action', 'raw', 'body', body, 'latin1', true, 'status', status)::text)
$$;
-- JSON only: json-c by default also reads comments and single-quoted
-- strings, which would give it other strings than the count of values and
-- the search for big integers see: a quote in a comment must not hide
-- 250,000 values from the count, nor an apostrophe a big integer from the
-- search.  Such a body is refused, as one that is not JSON
SELECT mock_fault('{"match": "/v1/contacts?", "action": "many", "count": 250000, "prefix": "/*\"*/", "element": "1"}');
SELECT count(*) FROM contacts;
\echo :SQLSTATE
SELECT mock_body('{"data": {"id": "664d0db69fcac7cf2e6e0001", "customFields": /* it''s */ [123456789012345678901234]}}');
SELECT custom_fields FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :SQLSTATE
SELECT mock_body(E'// a comment\n{"data": {"id": "664d0db69fcac7cf2e6e0001", "customFields": [1]}}');
SELECT custom_fields FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :SQLSTATE
SELECT mock_body('{"data": {"id": "664d0db69fcac7cf2e6e0001", "customFields": [''x'', 123456789012345678901234]}}');
SELECT custom_fields FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :SQLSTATE
-- in strings they are text like any other
SELECT mock_body('{"data": {"id": "664d0db69fcac7cf2e6e0001", "customFields": ["/* it''s */", "//", 123456789012345678901234]}}');
SELECT custom_fields FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
-- an error body that is not JSON is still the API's HTTP error, its body quoted
SELECT mock_bytes('{"message": "Bad request", /* a comment */ "code": "0800400", "status": 400, "title": "Bad Request"}', 400);
SELECT custom_fields FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :SQLSTATE

-- invalid UTF-8 in a UTF-8 database: what a text column refuses (22021),
-- raw and a jsonb column refuse too, so no bad byte is stored
SELECT mock_bytes('{"data": {"id": "664d0db69fcac7cf2e6e0001", "defaultFields": {"firstName": "a' || chr(255) || chr(254) || 'b"}}}');
SELECT first_name FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :SQLSTATE
SELECT mock_bytes('{"data": {"id": "664d0db69fcac7cf2e6e0001", "defaultFields": {"firstName": "a' || chr(255) || chr(254) || 'b"}}}');
CREATE TEMP TABLE stored (raw jsonb);
INSERT INTO stored SELECT raw FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :SQLSTATE
SELECT count(*) AS stored FROM stored;
DROP TABLE stored;
SELECT mock_bytes('{"data": {"id": "664d0db69fcac7cf2e6e0001", "customFields": ["a' || chr(255) || chr(254) || 'b"]}}');
SELECT octet_length(custom_fields::text) AS octets FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :SQLSTATE
-- an encoded surrogate (ED A0 80) and an overlong slash (C0 AF) likewise
SELECT mock_bytes('{"data": {"id": "664d0db69fcac7cf2e6e0001", "customFields": ["a' || chr(237) || chr(160) || chr(128) || 'b"]}}');
SELECT octet_length(custom_fields::text) AS octets FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :SQLSTATE
SELECT mock_bytes('{"data": {"id": "664d0db69fcac7cf2e6e0001", "customFields": ["a' || chr(192) || chr(175) || 'b"]}}');
SELECT octet_length(raw::text) AS octets FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :SQLSTATE
-- valid UTF-8 is untouched (the bytes of Chlo\u00e9 sent one by one)
SELECT mock_bytes('{"data": {"id": "664d0db69fcac7cf2e6e0001", "customFields": ["Chlo' || chr(195) || chr(169) || '"]}}');
SELECT custom_fields->>0 AS name FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
-- an error body with bad bytes is still the API's error, quoted with '?'
SELECT mock_bytes('{"message": "No such ' || chr(255) || ' contact", "code": "0800400", "status": 400, '
  '"title": "Bad ' || chr(254) || ' Request"}', 400);
SELECT custom_fields FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :SQLSTATE
SELECT mock_bytes('not JSON ' || chr(255) || ' at all', 400);
SELECT custom_fields FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :SQLSTATE
DROP FUNCTION mock_bytes(text, int);

-- a wrong-typed value is quoted for the client: a LATIN1 client reads the
-- error, with '?' for what LATIN1 lacks and a space for a control character
SET client_encoding = 'LATIN1';
SELECT mock_fault('{"action": "wrong_type", "field": "duration", "value": "5 \u20ac\u009b31m each"}');
SELECT id, duration FROM calls WHERE id = 'AC00000002';
\echo :LAST_ERROR_SQLSTATE
SELECT mock_body('{"data": ["\u65e5\u672c\u0085"], "nextPageToken": null}', '/v1/contacts?');
SELECT id FROM contacts;
\echo :LAST_ERROR_SQLSTATE
RESET client_encoding;

-- the API key is never shown, in a wrong-typed value either
SELECT mock_fault('{"match": "/v1/contacts/", "action": "wrong_type", "field": "defaultFields", '
  '"value": {"firstName": {"echo": "' || :'api_key' || '"}}}');
SELECT first_name FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :SQLSTATE
SELECT mock_body('{"data": ["key ' || :'api_key' || '"], "nextPageToken": null}', '/v1/contacts?');
SELECT id FROM contacts;
\echo :SQLSTATE

-- a LATIN1 database: raw and jsonb columns hold the characters the text
-- columns hold, and what LATIN1 lacks is the text columns' error
\set regress_db :DBNAME
CREATE DATABASE regress_quo_encoding TEMPLATE template0 ENCODING 'LATIN1' LOCALE 'C';
\c regress_quo_encoding
SET client_encoding = 'UTF8';
CREATE EXTENSION quo_fdw;
CREATE SERVER quo_encoding FOREIGN DATA WRAPPER quo_fdw
  OPTIONS (base_url :'mock_url', request_timeout '20', rate_limit '0', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo_encoding OPTIONS (api_key :'api_key');
IMPORT FOREIGN SCHEMA quo LIMIT TO (contacts) FROM SERVER quo_encoding INTO public;
-- the mock's faults from this database too (as in setup)
CREATE TABLE mock_config (cmd text NOT NULL);
INSERT INTO mock_config VALUES (:'mockctl');
CREATE TABLE mock_out (n serial, line text);
CREATE FUNCTION mock_fault(spec text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('COPY mock_out (line) FROM PROGRAM %L',
                 (SELECT c.cmd FROM mock_config c) || ' fault ''' || replace(spec, '''', '''\''''') || '''');
END $$;
-- contact 3 is Chloé García
SELECT first_name, raw->'defaultFields'->>'firstName' AS raw_first_name,
       raw->'defaultFields'->>'firstName' = first_name AS same,
       convert_to(raw->'defaultFields'->>'firstName', 'LATIN1') AS raw_bytes,
       convert_to(last_name, 'LATIN1') AS text_bytes,
       octet_length(raw->'defaultFields'->>'lastName') AS raw_octets
  FROM contacts WHERE id = '664d0db69fcac7cf2e6e0003';
-- a jsonb column
SELECT mock_fault('{"match": "/v1/contacts/", "action": "wrong_type", "field": "customFields", '
  '"value": [{"name": "Ren\u00e9e", "value": "caf\u00e9 cr\u00e8me"}]}');
SELECT custom_fields->0->>'name' AS name, custom_fields->0->>'value' AS value,
       convert_to(custom_fields->0->>'name', 'LATIN1') AS bytes,
       octet_length(custom_fields::text) AS octets
  FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
-- a character LATIN1 cannot hold: the text column's error, in raw and in
-- a jsonb column alike, with the row it is in
\set SHOW_CONTEXT errors
SELECT mock_fault('{"match": "/v1/contacts/", "action": "wrong_type", "field": "defaultFields", '
  '"value": {"firstName": "5 \u20ac"}}');
SELECT first_name FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :LAST_ERROR_SQLSTATE
SELECT mock_fault('{"match": "/v1/contacts/", "action": "wrong_type", "field": "defaultFields", '
  '"value": {"firstName": "5 \u20ac"}}');
SELECT raw->>'id' AS id FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :LAST_ERROR_SQLSTATE
SELECT mock_fault('{"match": "/v1/contacts/", "action": "wrong_type", "field": "customFields", '
  '"value": [{"name": "\u65e5\u672c"}]}');
SELECT id, custom_fields FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\echo :LAST_ERROR_SQLSTATE
\set SHOW_CONTEXT never
-- integers beyond 64 bits here too
SELECT mock_fault('{"match": "/v1/contacts/", "action": "wrong_type", "field": "customFields", '
  '"value": [123456789012345678901234, -123456789012345678901]}');
SELECT custom_fields::text, raw->'customFields' = custom_fields AS same_in_raw
  FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
\c :regress_db
DROP DATABASE regress_quo_encoding WITH (FORCE);
SET search_path = quo, public;
DROP FUNCTION mock_body(text, text);
SELECT mock_reset();

--
-- setup: the extension, a server on the mock Quo API, a user mapping,
-- the imported tables, and helpers that drive the mock.
--
CREATE EXTENSION quo_fdw;
\getenv mock_url QUO_MOCK_URL
\getenv api_key QUO_TEST_KEY
-- rate_limit 0: the functional tests run unthrottled (ratelimit tests the limit)
CREATE SERVER quo_mock FOREIGN DATA WRAPPER quo_fdw
  OPTIONS (base_url :'mock_url', request_timeout '20', rate_limit '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo_mock OPTIONS (api_key :'api_key');
CREATE SCHEMA quo;
IMPORT FOREIGN SCHEMA quo FROM SERVER quo_mock INTO quo;
\det+ quo.*
\d quo.calls
\d quo.conversations
\d quo.messages

-- The mock is driven through COPY FROM PROGRAM, which the server runs: the
-- command is $QUO_MOCKCTL from psql's environment (test/installcheck.sh sets
-- it: mockctl.py where the server's OS user can read it, and the mock's
-- address).
\getenv mockctl QUO_MOCKCTL
CREATE TABLE mock_config (cmd text NOT NULL);
INSERT INTO mock_config VALUES (:'mockctl');
CREATE TABLE mock_out (n serial, line text);
CREATE FUNCTION mock(cmd text, arg text DEFAULT '') RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE mock_out;
  EXECUTE format('COPY mock_out (line) FROM PROGRAM %L',
                 (SELECT c.cmd FROM mock_config c) || ' ' || cmd || ' ''' || replace(arg, '''', '''\''''') || '''');
  RETURN QUERY SELECT line FROM mock_out ORDER BY n;
END $$;
-- EXPLAIN ANALYZE the same on every version: PostgreSQL 18 prints actual
-- rows with two decimals, shown here rounded as 15 to 17 print them
CREATE FUNCTION explain_analyze(q text, with_verbose boolean DEFAULT false) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE line text; m text[];
BEGIN
  FOR line IN EXECUTE format('EXPLAIN (ANALYZE, VERBOSE %s, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) %s',
                             CASE WHEN with_verbose THEN 'on' ELSE 'off' END, q) LOOP
    m := regexp_match(line, 'actual rows=([0-9.]+)');
    IF m IS NOT NULL THEN
      -- ties to even, as printf's %.0f does
      line := replace(line, 'actual rows=' || m[1], 'actual rows=' ||
                      CASE WHEN m[1]::numeric - floor(m[1]::numeric) = 0.5
                           THEN floor(m[1]::numeric) + floor(m[1]::numeric) % 2
                           ELSE round(m[1]::numeric) END);
    END IF;
    RETURN NEXT line;
  END LOOP;
END $$;
-- the requests the mock saw since the last reset, one per row
CREATE FUNCTION mock_log() RETURNS SETOF text LANGUAGE sql AS $$ SELECT mock('log') $$;
CREATE FUNCTION mock_reset() RETURNS void LANGUAGE sql AS $$ SELECT mock('reset') $$;
CREATE FUNCTION mock_fault(spec text) RETURNS void LANGUAGE sql AS $$ SELECT mock('fault', spec) $$;
SELECT mock_reset();
SELECT count(*) AS requests FROM mock_log();

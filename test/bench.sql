-- make bench: quo_fdw against a PL/Python pager and the raw transfer of the
-- same 1,000 pages (100,000 messages) from the mock.  Best of 3 runs each.
-- psql variables: base_url, api_key, plpython (true when PL/Python is installed).
\set ON_ERROR_STOP 1
\pset footer off
DROP DATABASE IF EXISTS quo_bench;
CREATE DATABASE quo_bench;
\c quo_bench
CREATE EXTENSION quo_fdw;
-- each bench runs its query three times in one statement: no budget
SET quo_fdw.max_requests = 0;
CREATE SERVER quo FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'base_url', rate_limit '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo OPTIONS (api_key :'api_key');
CREATE SCHEMA quo;
IMPORT FOREIGN SCHEMA quo FROM SERVER quo INTO quo;
CREATE TABLE results (method text, run int, rows bigint, seconds numeric);
CREATE TABLE config (base_url text, api_key text);
INSERT INTO config VALUES (:'base_url', :'api_key');

CREATE FUNCTION bench(method text, query text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; n bigint;
BEGIN
  FOR i IN 1..3 LOOP
    t0 := clock_timestamp();
    EXECUTE query INTO n;
    INSERT INTO results VALUES (method, i, n, extract(epoch FROM clock_timestamp() - t0));
  END LOOP;
END $$;

SELECT bench('quo_fdw: count(*)',
  $q$SELECT count(*) FROM quo.messages WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550177777']$q$);
SELECT bench('quo_fdw: every column, raw included',
  $q$SELECT count(*) FROM (SELECT * FROM quo.messages WHERE phone_number_id = 'PNsales0001'
                            AND participants = ARRAY['+15550177777']) s WHERE s::text <> ''$q$);

\if :plpython
CREATE EXTENSION plpython3u;
-- what a user writes today: page through the API in PL/Python (gzip, as
-- Python's requests library asks for by default)
CREATE FUNCTION py_messages(base_url text, api_key text, pn text, who text)
RETURNS TABLE (id text, text text, created_at timestamptz) LANGUAGE plpython3u AS $py$
import gzip, http.client, json, urllib.parse
u = urllib.parse.urlparse(base_url)
conn = http.client.HTTPConnection(u.hostname, u.port)
token = None
while True:
    q = {"phoneNumberId": pn, "participants": who, "maxResults": 100}
    if token:
        q["pageToken"] = token
    conn.request("GET", "/v1/messages?" + urllib.parse.urlencode(q),
                 headers={"Authorization": api_key, "Accept-Encoding": "gzip"})
    r = conn.getresponse()
    body = r.read()
    if r.getheader("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    page = json.loads(body)
    for m in page["data"]:
        yield (m["id"], m["text"], m["createdAt"])
    token = page.get("nextPageToken")
    if not token:
        break
$py$;
SELECT bench('PL/Python pager (3 columns)',
  format($q$SELECT count(*) FROM py_messages(%L, %L, 'PNsales0001', '+15550177777')$q$, :'base_url', :'api_key'));
\endif

-- the raw transfer: the same pages fetched and discarded, no parsing
\getenv raw_cmd QUO_BENCH_RAW
CREATE TEMP TABLE raw_out (line text);
DO $$
DECLARE t0 timestamptz; cmd text := current_setting('bench.raw_cmd');
BEGIN
  FOR i IN 1..3 LOOP
    t0 := clock_timestamp();
    TRUNCATE raw_out;
    EXECUTE format('COPY raw_out FROM PROGRAM %L', cmd);
    INSERT INTO results SELECT 'raw transfer (Python, gunzip, no parsing)', i, line::bigint,
      extract(epoch FROM clock_timestamp() - t0) FROM raw_out;
  END LOOP;
END $$;

\echo
\echo '== 100,000 messages, 1,000 pages from the mock API (best of 3)'
SELECT method, max(rows) AS rows, min(seconds)::numeric(8,2) AS seconds,
       (max(rows) / min(seconds))::bigint AS rows_per_second
  FROM results GROUP BY method ORDER BY min(seconds);

-- the same count(*) scan with quo_fdw.stats on and off (the bench cluster
-- preloads quo_fdw, so "on" counts into shared memory: 1,000 requests and
-- 100,000 rows a run), 9 runs each, alternating which goes first; the
-- backend's own CPU time (/proc/self/schedstat, in nanoseconds) as well as
-- the wall clock, which the mock dominates
CREATE FUNCTION backend_cpu_seconds() RETURNS numeric LANGUAGE sql AS $$
  SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::numeric / 1e9
$$;
CREATE TABLE stats_bench (stats text, run int, rows bigint, seconds numeric, cpu_seconds numeric);
SELECT quo_fdw.stats_reset() \g /dev/null
DO $$
DECLARE t0 timestamptz; c0 numeric; n bigint; s text;
  q text := $q$SELECT count(*) FROM quo.messages WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550177777']$q$;
BEGIN
  FOR i IN 1..9 LOOP
    FOREACH s IN ARRAY CASE WHEN i % 2 = 1 THEN ARRAY['on', 'off'] ELSE ARRAY['off', 'on'] END LOOP
      PERFORM set_config('quo_fdw.stats', s, false);
      c0 := backend_cpu_seconds();
      t0 := clock_timestamp();
      EXECUTE q INTO n;
      INSERT INTO stats_bench VALUES (s, i, n, extract(epoch FROM clock_timestamp() - t0), backend_cpu_seconds() - c0);
    END LOOP;
  END LOOP;
  PERFORM set_config('quo_fdw.stats', 'on', false);
END $$;
\echo
\echo '== the count(*) scan with quo_fdw.stats on and off (9 runs each, alternating)'
SELECT stats, max(rows) AS rows, min(seconds)::numeric(8,2) AS best_seconds,
       (percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds))::numeric(8,2) AS median_seconds,
       min(cpu_seconds)::numeric(8,3) AS best_cpu_seconds,
       (percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_seconds))::numeric(8,3) AS median_cpu_seconds,
       (max(cpu_seconds) - min(cpu_seconds))::numeric(8,3) AS cpu_spread
  FROM stats_bench GROUP BY stats ORDER BY stats DESC;
SELECT (100 * (percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE stats = 'on') /
               percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE stats = 'off') - 1))::numeric(6,1)
         AS median_wall_difference_percent,
       (100 * (percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_seconds) FILTER (WHERE stats = 'on') /
               nullif(percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_seconds) FILTER (WHERE stats = 'off'), 0) - 1))::numeric(6,1)
         AS median_cpu_difference_percent,
       (100 * (min(cpu_seconds) FILTER (WHERE stats = 'on') /
               nullif(min(cpu_seconds) FILTER (WHERE stats = 'off'), 0) - 1))::numeric(6,1)
         AS best_cpu_difference_percent
  FROM stats_bench;
-- what "on" counted: its 9 runs
SELECT requests, responses_2xx, rows, pg_size_pretty(bytes_received) AS received FROM quo_fdw.stats WHERE server = 'quo';

-- per-row CPU against C: the same 1,000 pages fetched with libcurl and
-- parsed with json-c by test/bench_c.c (which also reads each message's id,
-- text and createdAt), its own CPU time against the backend's for quo_fdw's
-- count(*) scan and for a scan of those three columns; 15 rounds, each one
-- of the three in turn, so that a slow minute of the machine slows all
-- three; the figure is the median of the rounds' ratios
CREATE TABLE cpu_bench (run int, method text, cpu_seconds numeric, seconds numeric);
CREATE TEMP TABLE c_out (line text);
DO $$
DECLARE t0 timestamptz; c0 numeric; n bigint; cmd text := current_setting('bench.c_cmd');
BEGIN
  FOR i IN 1..15 LOOP
    c0 := backend_cpu_seconds(); t0 := clock_timestamp();
    SELECT count(*) INTO n FROM quo.messages WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550177777'];
    INSERT INTO cpu_bench VALUES (i, 'quo_fdw: count(*)', backend_cpu_seconds() - c0, extract(epoch FROM clock_timestamp() - t0));
    c0 := backend_cpu_seconds(); t0 := clock_timestamp();
    SELECT count(id) + count(text) + count(created_at) INTO n
      FROM quo.messages WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550177777'];
    INSERT INTO cpu_bench VALUES (i, 'quo_fdw: id, text, created_at', backend_cpu_seconds() - c0, extract(epoch FROM clock_timestamp() - t0));
    TRUNCATE c_out;
    EXECUTE format('COPY c_out FROM PROGRAM %L', cmd || ' 2>/dev/null');
    INSERT INTO cpu_bench SELECT i, 'C: libcurl + json-c', split_part(line, ' ', 2)::numeric, split_part(line, ' ', 3)::numeric
      FROM c_out WHERE split_part(line, ' ', 1) = '100000';
    IF NOT FOUND THEN RAISE EXCEPTION 'bench_c did not fetch the 100,000 messages'; END IF;
  END LOOP;
END $$;
\echo
\echo '== per-row CPU: quo_fdw against a C program fetching and parsing the same pages (15 rounds)'
SELECT q.method, (percentile_cont(0.5) WITHIN GROUP (ORDER BY q.cpu_seconds))::numeric(8,3) AS median_cpu_seconds,
       (percentile_cont(0.5) WITHIN GROUP (ORDER BY c.cpu_seconds))::numeric(8,3) AS c_median_cpu_seconds,
       (percentile_cont(0.5) WITHIN GROUP (ORDER BY q.cpu_seconds / c.cpu_seconds))::numeric(6,2) AS cpu_ratio_to_c,
       (percentile_cont(0.5) WITHIN GROUP (ORDER BY q.seconds / c.seconds))::numeric(6,2) AS wall_ratio_to_c
  FROM cpu_bench q JOIN cpu_bench c ON c.run = q.run AND c.method LIKE 'C:%'
 WHERE q.method LIKE 'quo_fdw:%' GROUP BY q.method ORDER BY q.method;

-- a fan-out at the rate-limit floor: 150 conversations listed through the
-- conversations, 200 ms of latency on every request, the default rate limit
-- (10 requests/s) and 4 requests in flight.  Sequentially this would take
-- requests x 0.2 s; the floor is requests / 10 s.
-- the mock is driven as the suite drives it (sql/setup.sql): the command
-- comes from psql's environment (test/run.sh sets QUO_MOCKCTL)
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
CREATE SERVER quo10 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'base_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo10 OPTIONS (api_key :'api_key');
CREATE SCHEMA q10;
IMPORT FOREIGN SCHEMA quo FROM SERVER quo10 INTO q10;
SELECT count(*) FROM mock('reset') \g /dev/null
SELECT count(*) FROM mock('workspace', '{"bulk_conversations": 150, "bulk_messages": 20}') \g /dev/null
SELECT count(*) FROM mock('fault', '{"action": "latency", "seconds": 0.2, "times": -1}') \g /dev/null
SELECT pg_sleep(1.2) \g /dev/null
CREATE TABLE fanout (rows bigint, seconds numeric, requests bigint);
DO $$
DECLARE t0 timestamptz; n bigint;
BEGIN
  t0 := clock_timestamp();
  SELECT count(*) INTO n FROM q10.messages WHERE phone_number_id = 'PNbulk00003';
  INSERT INTO fanout VALUES (n, extract(epoch FROM clock_timestamp() - t0),
                             (SELECT count(*) FROM mock('log')));
END $$;
-- the mirror's first refresh of the same workspace at the same floor: its
-- visits are series on one multi handle (quo_fdw.fetch_visits), one
-- statement a batch, so they run like the fan-out's; then the same again
-- in steps of 100 (quo_fdw.refresh_mirror(mirror, 100))
CREATE TABLE mirror_bench (how text, seconds numeric, requests bigint);
DO $$
DECLARE t0 timestamptz; r quo_fdw.refresh_result; total bigint := 0;
BEGIN
  PERFORM quo_fdw.create_mirror('quo10', 'mb_one');
  PERFORM quo_fdw.create_mirror('quo10', 'mb_steps');
  t0 := clock_timestamp();
  r := quo_fdw.refresh_mirror('mb_one');
  INSERT INTO mirror_bench VALUES ('one refresh', extract(epoch FROM clock_timestamp() - t0), r.requests);
  t0 := clock_timestamp();
  LOOP
    r := quo_fdw.refresh_mirror('mb_steps', 100);
    total := total + r.requests;
    EXIT WHEN r.complete;
  END LOOP;
  INSERT INTO mirror_bench VALUES ('steps of 100', extract(epoch FROM clock_timestamp() - t0), total);
END $$;
SELECT count(*) FROM mock('reset') \g /dev/null
\echo
\echo '== fan-out: 150 conversations, 200 ms latency per request, 10 requests/s, 4 in flight'
SELECT rows, requests, seconds::numeric(8,2) AS seconds,
       (requests * 0.2)::numeric(8,2) AS sequential_seconds,
       (requests / 10.0)::numeric(8,2) AS floor_seconds,
       (seconds / (requests / 10.0))::numeric(8,2) AS ratio_to_floor
  FROM fanout;
\echo
\echo '== mirror, first refresh of the same 205 conversations, same latency and rate limit'
SELECT how, requests, seconds::numeric(8,2) AS seconds,
       (requests * 0.2)::numeric(8,2) AS sequential_seconds,
       (requests / 10.0)::numeric(8,2) AS floor_seconds,
       (seconds / (requests / 10.0))::numeric(8,2) AS ratio_to_floor
  FROM mirror_bench;
\c postgres
DROP DATABASE quo_bench;

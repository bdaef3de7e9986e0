--
-- explain: EXPLAIN VERBOSE shows the request; EXPLAIN ANALYZE counts
-- requests, pages, rows, retries and bytes
--
SET timezone = 'UTC';
SET search_path = quo, public;
SELECT mock_reset();

-- 2,345 rows over 24 pages, on one reused connection, with the documented
-- headers: the bare key, a User-Agent, gzip accepted
SELECT * FROM explain_analyze($$SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants)$$, with_verbose => true);
SELECT mock('stats');
-- the next scan in this backend reuses the connection too
SELECT count(*) FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
SELECT mock('stats');
-- id lookups: a 404 is a request without a page
SELECT * FROM explain_analyze($$SELECT id FROM calls WHERE id IN ('AC00000001', 'AC00000002', 'AC99999999')$$);
-- a pushed LIMIT: one short page
SELECT * FROM explain_analyze($$SELECT id FROM messages WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550109999'] LIMIT 3$$, with_verbose => true);
-- the Limit node stops the scan: only the pages needed are fetched
SELECT * FROM explain_analyze($$SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants)
   AND duration >= 0 LIMIT 150$$);
-- no request at all
SELECT * FROM explain_analyze($$SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants)
   AND created_at < '2020-01-01' AND created_at > '2021-01-01'$$, with_verbose => true);
-- the key never appears in EXPLAIN, in any format
\getenv api_key QUO_TEST_KEY
CREATE TEMP TABLE plans (format text, plan text);
DO $$
DECLARE f text; p text; line text;
BEGIN
  FOREACH f IN ARRAY ARRAY['text', 'json', 'xml', 'yaml'] LOOP
    p := '';
    FOR line IN EXECUTE format('EXPLAIN (ANALYZE, VERBOSE, FORMAT %s) SELECT * FROM quo.conversations WHERE phone_number_id = %L',
                            f, 'PNsupport02') LOOP
      p := p || line || E'\n';
    END LOOP;
    INSERT INTO plans VALUES (f, p);
  END LOOP;
END $$;
SELECT format, plan LIKE '%' || :'api_key' || '%' AS shows_key, plan LIKE '%phoneNumbers=PNsupport02%' AS shows_request
  FROM plans ORDER BY 1;
SELECT count(*) AS requests FROM mock_log();

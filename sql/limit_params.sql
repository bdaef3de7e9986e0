--
-- limit_params: LIMIT as maxResults, prepared statements, parameters
--
SET timezone = 'UTC';
SET search_path = quo, public;
SELECT mock_reset();

-- LIMIT n with nothing left to filter locally: maxResults=n, one page
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM messages WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550109999'] LIMIT 5;
SELECT id FROM messages WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550109999'] LIMIT 5;
SELECT count(*) FROM (SELECT id FROM calls WHERE phone_number_id = 'PNsales0001'
                        AND '+15550109999' = ANY (participants) LIMIT 3 OFFSET 4) s;
-- more than a page: maxResults stays 100, and no page past the limit
SELECT count(*) FROM (SELECT id FROM calls WHERE phone_number_id = 'PNsales0001'
                        AND '+15550109999' = ANY (participants) LIMIT 150) s;
SELECT * FROM mock_log();
SELECT mock_reset();

-- not pushed: a local filter, a sort, an aggregate, a join
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants)
   AND duration > 600 LIMIT 5;
SELECT count(*) FROM (SELECT id FROM calls WHERE phone_number_id = 'PNsales0001'
   AND '+15550109999' = ANY (participants) AND duration > 600 LIMIT 5) s;
SELECT id, created_at FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants)
 ORDER BY created_at LIMIT 3;
SELECT regexp_replace(l, 'pageToken=[^&]*', 'pageToken=T') AS request, count(*)
  FROM mock_log() l GROUP BY 1 ORDER BY 1;
SELECT mock_reset();

-- prepared statements: the same pushdown with $1, custom and generic plans
PREPARE by_contact(text, text, timestamptz) AS
  SELECT id, created_at FROM calls
   WHERE phone_number_id = $1 AND $2 = ANY (participants) AND created_at >= $3
   ORDER BY created_at;
EXECUTE by_contact('PNsales0001', '+15550100002', '2024-03-01 10:15:06.692+00');
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_contact('PNsales0001', '+15550100002', '2024-03-01 10:15:06.692+00');
EXECUTE by_contact('PNsales0001', '+15550100002', '2024-03-01 10:15:06.692+00');
EXECUTE by_contact('PNsupport02', '+15550100002', '2024-01-01');
EXECUTE by_contact(NULL, '+15550100002', '2024-01-01');
PREPARE by_ids(text[]) AS SELECT id, duration FROM calls WHERE id = ANY ($1) ORDER BY id;
EXECUTE by_ids(ARRAY['AC00000002', 'AC00000001']);
EXECUTE by_ids('{}');
EXECUTE by_ids(NULL);
PREPARE group_msgs(text[]) AS SELECT count(*) FROM messages WHERE phone_number_id = 'PNsales0001' AND participants = $1;
EXECUTE group_msgs(ARRAY['+15550100001', '+15550100002', '+15550100003']);
RESET plan_cache_mode;
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();

-- a value computed before the scan: a stable expression and a sub-select
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at < '2024-03-01'::timestamptz + interval '10 hours';
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at < '2024-03-01'::timestamptz + interval '10 hours' ORDER BY id;
SELECT * FROM mock_log();
SELECT mock_reset();
-- (a sub-select's value: initplan.sql)


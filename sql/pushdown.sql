--
-- pushdown: every documented filter reachable from WHERE, exact at the
-- boundaries, and no request when no row can match
--
SET timezone = 'UTC';
SET search_path = quo, public;
SELECT mock_reset();

-- calls: phone_number_id, participants (three spellings), userId
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550100002'];
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND participants @> ARRAY['+15550100002'];
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM calls WHERE 'PNsales0001' = phone_number_id AND ARRAY['+15550100002'] <@ participants
   AND user_id = 'USalice0001';
SELECT id, user_id FROM calls WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550100002'] ORDER BY id;
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND participants @> ARRAY['+15550100002']
   AND user_id = 'USalice0001' ORDER BY id;
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND user_id = 'USbob000002';
SELECT * FROM mock_log();
SELECT mock_reset();

-- values are percent-encoded: '+' is sent as %2B (a bare '+' would be a space)
SELECT count(*) FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
SELECT * FROM mock_log();
SELECT mock_reset();

-- created_at: = < <= > >= BETWEEN, collapsed to one range, widened by a
-- second each way and rechecked, so the boundary row is exact
-- (AC00000003 was created at 2024-03-01 10:15:06.692 UTC)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at >= '2024-03-01 10:15:06.692+00' AND created_at > '2024-03-01'
   AND created_at < '2024-03-02' AND created_at <= '2024-03-01 12:00';
SELECT id, created_at FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at >= '2024-03-01 10:15:06.692+00' ORDER BY id;
SELECT id, created_at FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at > '2024-03-01 10:15:06.692+00' ORDER BY id;
SELECT id, created_at FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at <= '2024-03-01 10:15:06.692+00' ORDER BY id;
SELECT id, created_at FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at < '2024-03-01 10:15:06.692+00' ORDER BY id;
SELECT id, created_at FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at = '2024-03-01 10:15:06.692+00';
SELECT id, created_at FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at BETWEEN '2024-03-01 10:15:06.692+00' AND '2024-03-01 10:15:06.692+00';
-- a date and a timestamp without time zone compare as the operators do
SELECT count(*) FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at >= date '2024-03-01' AND created_at < timestamp '2024-03-01 10:15:06.692';
-- bounds ISO 8601 cannot carry (before year 1, after 9999) are not sent, only checked
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at > '4713-01-01 BC' AND created_at < '20000-01-01';
SELECT count(*) FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at > '4713-01-01 BC' AND created_at < '20000-01-01';
SELECT * FROM mock_log();
SELECT mock_reset();

-- a contradictory range, a NULL, or an id outside the documented pattern costs no request
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at > '2024-03-02' AND created_at < '2024-03-01';
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at > '2024-03-02' AND created_at < '2024-03-01';
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND created_at > '2024-03-01 10:15:06.692+00' AND created_at <= '2024-03-01 10:15:06.692+00';
SELECT id FROM calls WHERE phone_number_id = NULL AND '+15550100002' = ANY (participants);
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND NULL = ANY (participants);
SELECT id FROM calls WHERE phone_number_id = 'not-a-number-id' AND '+15550100002' = ANY (participants);
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND phone_number_id = 'PNsupport02'
   AND '+15550100002' = ANY (participants);
SELECT id FROM calls WHERE id = 'not-a-call-id';
SELECT count(*) AS requests FROM mock_log();

-- id: one GET per distinct id; a 404 is no row; other quals are checked locally
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, status FROM calls WHERE id = ANY (ARRAY['AC00000003', 'AC00000001', 'AC00000003', 'AC99999999'])
   AND status = 'completed';
SELECT id, status FROM calls WHERE id = ANY (ARRAY['AC00000003', 'AC00000001', 'AC00000003', 'AC99999999'])
   AND status = 'completed' ORDER BY id;
SELECT id FROM calls WHERE id IN ('AC00000004', 'AC00000005') AND phone_number_id = 'PNsupport02';
SELECT id FROM calls WHERE id = 'AC x/y?z';
SELECT id, text FROM messages WHERE id = 'AC00000006';
-- (id lookups run several at a time: their order of arrival varies)
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();

-- NULL elements.  In "col IN (...)" and "col = ANY (array)" a NULL equals
-- nothing: every other value is still sent, and the answer is exact
-- (AC00000001 and AC00000004 exist; PNsales0001 and PNsupport02 have
-- 28 and 27 conversations)
SELECT id FROM calls WHERE id IN ('AC00000001', NULL, 'AC00000004') ORDER BY id;
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
SELECT count(*) FROM conversations WHERE phone_number_id IN ('PNsales0001', NULL, 'PNsupport02');
SELECT * FROM mock_log();
SELECT mock_reset();
-- the same with the NULL in a parameter of a generic plan, as the array
-- or inside ARRAY[...]
SET plan_cache_mode = force_generic_plan;
PREPARE ids(text[]) AS SELECT id FROM calls WHERE id = ANY ($1) ORDER BY id;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE ids(ARRAY['AC00000004', NULL, 'AC00000001', NULL]);
EXECUTE ids(ARRAY['AC00000004', NULL, 'AC00000001', NULL]);
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
PREPARE phones(text) AS
  SELECT phone_number_id, count(*) FROM conversations
   WHERE phone_number_id = ANY (ARRAY['PNsupport02', $1, 'PNsales0001']) GROUP BY 1 ORDER BY 1;
EXECUTE phones(NULL);
SELECT * FROM mock_log();
SELECT mock_reset();
-- only NULLs: no row can match, no request
EXECUTE ids(ARRAY[NULL, NULL]::text[]);
SELECT count(*) FROM conversations WHERE phone_number_id = ANY (ARRAY[NULL, NULL]::text[]);
SELECT count(*) AS requests FROM mock_log();
DEALLOCATE ids;
DEALLOCATE phones;
RESET plan_cache_mode;
SELECT mock_reset();

-- NULL elements and participants (text[]).  "col @> array" is never true
-- when the array holds a NULL: no request.  "col = array" is true when the
-- row's array has NULLs at the same places: a calls row read from JSON can
-- (a null in its JSON array is a NULL element), so the other values are
-- sent and the rows rechecked; the participants of a messages row are the
-- values that were sent, never NULL, so no messages row can match.
SELECT mock_fault('{"action": "raw", "match": "participants=%2B15550100002", "body": "{\"data\": [{\"id\": \"AC77777701\", \"participants\": [\"+15550100002\", null]}, {\"id\": \"AC77777702\", \"participants\": [\"+15550100002\"]}], \"nextPageToken\": null, \"totalItems\": 2}"}');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, participants FROM calls WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550100002', NULL];
SELECT id, participants FROM calls WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550100002', NULL];
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND participants @> ARRAY['+15550100002', NULL];
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND ARRAY[NULL, '+15550100002'] <@ participants;
SELECT id FROM messages WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550100001', NULL];
SELECT id FROM messages WHERE phone_number_id = 'PNsales0001' AND participants @> ARRAY['+15550100001', NULL];
SELECT * FROM mock_log();
SELECT mock_reset();

-- independent id lookups are in flight together (up to 4 ahead of the one
-- being read); under a LIMIT none is started ahead, so none is wasted
SELECT mock_fault('{"action": "latency", "seconds": 0.3, "times": -1}');
SELECT count(*) FROM calls WHERE id IN ('AC00000001', 'AC00000002', 'AC00000003', 'AC00000004', 'AC00000005');
SELECT (regexp_match(mock('flight'), '\d+'))[1]::int > 1 AS requests_overlapped;
SELECT mock_reset();
SELECT mock_fault('{"action": "latency", "seconds": 0.1, "times": -1}');
SELECT id FROM calls WHERE id IN ('AC00000001', 'AC00000002', 'AC00000003', 'AC00000004') LIMIT 1;
SELECT mock('flight'), count(*) AS requests FROM mock_log();
SELECT mock_reset();

-- messages: group conversations take up to 10 participants
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM messages WHERE phone_number_id = 'PNsales0001'
   AND participants = ARRAY['+15550100001', '+15550100002', '+15550100003'];
SELECT count(*) FROM messages WHERE phone_number_id = 'PNsales0001'
   AND participants @> ARRAY['+15550100003', '+15550100001', '+15550100002'];
SELECT count(*) FROM messages WHERE phone_number_id = 'PNsales0001'
   AND '+15550100001' = ANY (participants) AND '+15550100002' = ANY (participants)
   AND '+15550100003' = ANY (participants);
SELECT count(*) FROM messages WHERE phone_number_id = 'PNsales0001'
   AND participants @> ARRAY['+15550100001', '+15550100002', '+15550100003', '+15550100004', '+15550100005',
                             '+15550100006', '+15550100007', '+15550100008', '+15550100009', '+15550100010',
                             '+15550100011'];
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM messages WHERE phone_number_id IN ('PNsales0001', 'PNsupport02')
   AND '+15550100004' = ANY (participants);
-- (series run concurrently: the order they reach the mock varies)
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();

-- conversations: phone_number_id = / IN / = ANY as phoneNumbers, 100 per request
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM conversations WHERE phone_number_id IN ('PNsupport02', 'PNsales0001', '+15550001000');
SELECT phone_number_id, count(*) FROM conversations WHERE phone_number_id = 'PNsupport02' GROUP BY 1;
SELECT count(*) FROM conversations WHERE phone_number_id = ANY (ARRAY['PNsales0001', 'PNsupport02', 'PNnone']);
SELECT count(*) FROM conversations
 WHERE phone_number_id = ANY (array_append(ARRAY(SELECT 'PN' || i FROM generate_series(1, 150) i), 'PNsupport02'));
SELECT count(*) FROM conversations WHERE phone_number_id = '+15550001000';
SELECT regexp_replace(l, 'phoneNumbers=PN[0-9]+&', '', 'g') AS request FROM mock_log() l ORDER BY 1;
SELECT mock_reset();

-- conversations: created_at and updated_at ranges
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM conversations WHERE created_at >= '2024-03-10' AND updated_at < '2024-03-12';
SELECT id, created_at, updated_at FROM conversations
 WHERE created_at >= '2024-03-10' AND updated_at < '2024-03-12' ORDER BY id;
SELECT * FROM mock_log();
SELECT mock_reset();

-- what cannot be pushed is filtered locally, and the answer is still right
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND (status = 'missed' OR duration > 1000) AND created_at > now() - random() * interval '1 day';
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
   AND (status = 'missed' OR duration > 1000) ORDER BY id;
SELECT count(*) FROM conversations WHERE phone_number_id = 'PNsales0001' OR phone_number_id = 'PNsupport02';

-- with fanout off, calls and messages need phone_number_id and
-- participants (or an id), as the API does
ALTER FOREIGN TABLE calls OPTIONS (ADD fanout 'false');
ALTER SERVER quo_mock OPTIONS (ADD fanout 'false');
SELECT id FROM calls;
\echo :LAST_ERROR_SQLSTATE
SELECT id FROM calls WHERE phone_number_id = 'PNsales0001';
SELECT id FROM messages WHERE '+15550100002' = ANY (participants);
SELECT id FROM messages WHERE phone_number_id = 'PNsales0001' AND participants @> '{}';
ALTER FOREIGN TABLE calls OPTIONS (DROP fanout);
ALTER SERVER quo_mock OPTIONS (DROP fanout);
SELECT count(*) AS requests FROM mock_log();

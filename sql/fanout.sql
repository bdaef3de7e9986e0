--
-- fanout: calls and messages workspace-wide, listed through the
-- conversations, compared with the mock's own ground truth; the request
-- counts show pruning and the budget at work
--
SET timezone = 'UTC';
SET search_path = quo, public;
SELECT mock_reset();
-- the mock's exact answer for a query: count, md5 of the sorted ids, ...
CREATE FUNCTION truth(q text) RETURNS TABLE (k text, v text) LANGUAGE sql AS $$
  SELECT split_part(l, ' ', 1), split_part(l, ' ', 2) FROM mock('truth', q) l $$;
CREATE FUNCTION truth_of(q text, key text) RETURNS text LANGUAGE sql AS $$
  SELECT v FROM truth(q) WHERE k = key $$;

-- every call in the workspace
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM calls;
SELECT count(*) AS calls,
       md5(coalesce(string_agg(id, ',' ORDER BY id COLLATE "C"), '')) = truth_of('kind=calls', 'ids_md5') AS same_ids,
       count(*) = truth_of('kind=calls', 'count')::bigint AS same_count
  FROM calls;
SELECT count(*) AS requests,
       count(*) FILTER (WHERE l LIKE 'GET /v1/conversations?%') AS listing
  FROM mock_log() l;
SELECT mock_reset();

-- EXPLAIN ANALYZE without the lines that vary from run to run
CREATE FUNCTION explain_fanout(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN SELECT * FROM explain_analyze(q, with_verbose => true) LOOP
    IF line !~ 'Peak Requests In Flight|Rate Limit Wait|Bytes Received|Output:' THEN
      RETURN NEXT line;
    END IF;
  END LOOP;
END $$;

-- workspace-wide calls since a date: conversations last active before it
-- cost no request
SELECT count(*) AS calls,
       md5(coalesce(string_agg(id, ',' ORDER BY id COLLATE "C"), ''))
         = truth_of('kind=calls&after=2024-03-10 00:00:00+00', 'ids_md5') AS same_ids
  FROM calls WHERE created_at >= '2024-03-10';
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
SELECT * FROM explain_fanout($$SELECT id FROM calls WHERE created_at >= '2024-03-10'$$);
SELECT mock_reset();

-- a narrow recent window visits only the conversations active in it
SELECT truth_of('kind=messages&after=2024-03-16 00:00:00+00&before=2024-03-17 00:00:00+00', 'conversations') AS active;
SELECT count(*) AS messages,
       md5(coalesce(string_agg(id, ',' ORDER BY id COLLATE "C"), ''))
         = truth_of('kind=messages&after=2024-03-16 00:00:00+00&before=2024-03-17 00:00:00+00', 'ids_md5') AS same_ids
  FROM messages WHERE created_at BETWEEN '2024-03-16' AND '2024-03-17';
SELECT count(*) AS requests, count(DISTINCT substring(l from 'participants=[^&]*')) AS conversations_visited
  FROM mock_log() l WHERE l NOT LIKE 'GET /v1/conversations%';
SELECT mock_reset();

-- all calls of one number: the listing asks for that number only
SELECT count(*) AS calls, sum(duration) AS seconds,
       md5(coalesce(string_agg(id, ',' ORDER BY id COLLATE "C"), ''))
         = truth_of('kind=calls&phone=PNsupport02', 'ids_md5') AS same_ids
  FROM calls WHERE phone_number_id = 'PNsupport02';
SELECT l AS listing FROM mock_log() l WHERE l LIKE 'GET /v1/conversations%';
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
-- two numbers through IN, one listing request; rows of the other number never appear
SELECT phone_number_id, count(*) FROM calls
 WHERE phone_number_id IN ('PNsales0001', 'PNsupport02') AND created_at < '2024-03-12'
 GROUP BY 1 ORDER BY 1;
SELECT truth_of('kind=calls&phone=PNsales0001&before=2024-03-11 23:59:59.999+00', 'count') AS sales,
       truth_of('kind=calls&phone=PNsupport02&before=2024-03-11 23:59:59.999+00', 'count') AS support;
SELECT count(*) FILTER (WHERE l LIKE 'GET /v1/conversations?phoneNumbers=PNsales0001&phoneNumbers=PNsupport02&%') AS listing
  FROM mock_log() l;
SELECT mock_reset();

-- messages of a number, group conversations included; participants and
-- conversation_id come from the conversation
SELECT count(*) AS messages,
       count(*) FILTER (WHERE cardinality(participants) > 1) AS in_groups,
       count(*) FILTER (WHERE conversation_id IS NULL) AS without_conversation,
       md5(coalesce(string_agg(id, ',' ORDER BY id COLLATE "C"), ''))
         = truth_of('kind=messages&phone=PNsales0001', 'ids_md5') AS same_ids
  FROM messages WHERE phone_number_id = 'PNsales0001';
SELECT mock_reset();

-- where the API leaves conversationId null, the conversation fills it
SELECT mock_fault('{"action": "wrong_type", "field": "conversationId", "value": null, "match": "/v1/messages?", "times": -1}');
SELECT count(*) AS messages, count(*) FILTER (WHERE conversation_id IS NULL) AS without_conversation,
       count(*) FILTER (WHERE raw->>'conversationId' IS NULL) AS api_left_null
  FROM messages WHERE phone_number_id = 'PNsupport02';
SELECT mock_reset();

-- a participants condition without the number: the conversations are
-- listed once (the listing takes no participants) and only those of that
-- participant visited, one per Quo number it talks to; the answer is the
-- mock's, and the condition is exact (no Filter)
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM calls WHERE '+15550100002' = ANY (participants);
SELECT count(*) AS calls,
       md5(coalesce(string_agg(id, ',' ORDER BY id COLLATE "C"), ''))
         = truth_of('kind=calls&participant=+15550100002', 'ids_md5') AS same_ids,
       count(*) = truth_of('kind=calls&participant=+15550100002', 'count')::bigint AS same_count
  FROM calls WHERE '+15550100002' = ANY (participants);
SELECT l FROM mock_log() l ORDER BY l COLLATE "C";
SELECT mock_reset();
-- EXPLAIN ANALYZE counts the conversations skipped by participants (the
-- group conversation it is in holds no calls: unlistable)
SELECT * FROM explain_fanout($$SELECT id FROM calls WHERE '+15550100002' = ANY (participants)$$);
SELECT mock_reset();
-- with the other pushed filters: a created_at range (which also prunes the
-- conversation last active before it) and user_id, sent on the one visit
SELECT count(*) AS calls,
       md5(coalesce(string_agg(id, ',' ORDER BY id COLLATE "C"), ''))
         = truth_of('kind=calls&participant=+15550100005&user=UScarol0003&after=2024-03-05 00:00:00+00', 'ids_md5') AS same_ids
  FROM calls WHERE '+15550100005' = ANY (participants) AND user_id = 'UScarol0003' AND created_at >= '2024-03-05';
SELECT count(*) AS requests,
       count(*) FILTER (WHERE l LIKE 'GET /v1/calls?%participants=%2B15550100005&userId=UScarol0003&createdAfter=2024-03-04T23%3A59%3A59.000Z&%') AS visits
  FROM mock_log() l;
SELECT mock_reset();

-- an IN list of participants ("&&": one of them; "<@": only them): the
-- conversations of any of them, nothing else; the rows are rechecked
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM calls WHERE participants && ARRAY['+15550100002', '+15550100005', '+15550199999'];
SELECT count(*) AS calls,
       md5(coalesce(string_agg(id, ',' ORDER BY id COLLATE "C"), ''))
         = truth_of('kind=calls&any_participant=+15550100002&any_participant=+15550100005&any_participant=+15550199999', 'ids_md5') AS same_ids
  FROM calls WHERE participants && ARRAY['+15550100002', '+15550100005', '+15550199999'];
SELECT count(*) AS requests, count(*) FILTER (WHERE l LIKE 'GET /v1/conversations?%') AS listing
  FROM mock_log() l;
SELECT mock_reset();
SELECT count(*) AS calls,
       count(*) = truth_of('kind=calls&any_participant=+15550100002&any_participant=+15550100005', 'count')::bigint AS same_count
  FROM calls WHERE participants <@ ARRAY['+15550100002', '+15550100005'];
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
-- "@>" of two numbers visits the conversations of either (a call's row may
-- list two participants: one matching both can come from the conversation
-- of the second); the rows are rechecked (the mock's calls list one)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM calls WHERE participants @> ARRAY['+15550100005', '+15550100002'];
SELECT count(*) AS calls FROM calls WHERE participants @> ARRAY['+15550100005', '+15550100002'];
SELECT count(*) AS requests,
       count(*) FILTER (WHERE l LIKE 'GET /v1/calls?%participants=%2B15550100005&%') AS visits_first,
       count(*) FILTER (WHERE l LIKE 'GET /v1/calls?%participants=%2B15550100002&%') AS visits_second
  FROM mock_log() l;
SELECT mock_reset();
-- with a number, "&&" chooses among that number's conversations
SELECT count(*) AS calls,
       count(*) = truth_of('kind=calls&phone=PNsales0001&any_participant=+15550100002&any_participant=+15550100005', 'count')::bigint AS same_count
  FROM calls WHERE phone_number_id = 'PNsales0001' AND participants && ARRAY['+15550100002', '+15550100005'];
SELECT l FROM mock_log() l ORDER BY l COLLATE "C";
SELECT mock_reset();

-- messages: "participants = ARRAY[...]" of a group conversation visits that
-- conversation only; "v = ANY" the conversations that hold v, the group
-- too; both exact, decided on the conversation's participants
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM messages WHERE participants = ARRAY['+15550100001', '+15550100002', '+15550100003'];
SELECT count(*) AS messages,
       md5(coalesce(string_agg(id, ',' ORDER BY id COLLATE "C"), ''))
         = truth_of('kind=messages&participants=+15550100001,+15550100002,+15550100003', 'ids_md5') AS same_ids,
       min(conversation_id) = max(conversation_id) AS one_conversation
  FROM messages WHERE participants = ARRAY['+15550100001', '+15550100002', '+15550100003'];
SELECT l FROM mock_log() l ORDER BY l COLLATE "C";
SELECT mock_reset();
-- the same numbers in another order are another array: no conversation
SELECT count(*) AS messages FROM messages WHERE participants = ARRAY['+15550100002', '+15550100001', '+15550100003'];
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
SELECT count(*) AS messages, count(*) FILTER (WHERE cardinality(participants) = 3) AS in_the_group,
       md5(coalesce(string_agg(id, ',' ORDER BY id COLLATE "C"), ''))
         = truth_of('kind=messages&participant=+15550100002', 'ids_md5') AS same_ids
  FROM messages WHERE '+15550100002' = ANY (participants);
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
SELECT count(*) AS messages,
       count(*) = truth_of('kind=messages&participant=+15550100001&participant=+15550100003', 'count')::bigint AS same_count
  FROM messages WHERE participants @> ARRAY['+15550100003', '+15550100001'];
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
-- nothing can match: no request at all
SELECT count(*) FROM calls WHERE NULL = ANY (participants);
SELECT count(*) FROM messages WHERE participants && '{}';
SELECT count(*) FROM messages WHERE participants @> ARRAY['+15550100002', NULL];
SELECT count(*) AS requests FROM mock_log();
-- the budget counts the visits the participants leave
SET quo_fdw.max_requests = 2;
SELECT count(*) FROM calls WHERE '+15550100002' = ANY (participants);
RESET quo_fdw.max_requests;
SELECT mock_reset();

-- a rescan per participant (a correlated sub-select) lists once for the
-- query and visits each participant's conversations
CREATE TABLE people (phone text);
INSERT INTO people VALUES ('+15550199999'), ('+15550100002'), ('+15550100005');
SELECT p.phone, (SELECT count(*) FROM calls c WHERE p.phone = ANY (c.participants)) AS calls,
       truth_of('kind=calls&participant=' || p.phone, 'count') AS truth
  FROM people p ORDER BY 1;
SELECT count(*) FILTER (WHERE l LIKE 'GET /v1/conversations?%') AS listings, count(*) AS requests
  FROM mock_log() l;
SELECT mock_reset();
-- EXPLAIN ANALYZE: the requests of every loop, the last loop's conversations
SELECT * FROM explain_fanout($$SELECT (SELECT count(*) FROM calls c WHERE p.phone = ANY (c.participants)) FROM people p$$);
SELECT mock_reset();
DROP TABLE people;

-- a small local table, even unanalyzed, keeps one precise request per row
CREATE TEMP TABLE custs (pn text, phone text);
INSERT INTO custs VALUES ('PNsales0001', '+15550100002');
EXPLAIN (COSTS OFF)
SELECT * FROM custs u JOIN calls c ON c.phone_number_id = u.pn AND u.phone = ANY (c.participants);
SELECT count(*) FROM custs u JOIN calls c ON c.phone_number_id = u.pn AND u.phone = ANY (c.participants);
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
DROP TABLE custs;

-- a conversation of 12 participants cannot be listed: one WARNING, counted
SELECT mock('workspace', '{"big_group": true}');
SELECT count(*) AS messages,
       md5(coalesce(string_agg(id, ',' ORDER BY id COLLATE "C"), ''))
         = truth_of('kind=messages&phone=PNsales0001', 'ids_md5') AS same_ids,
       truth_of('kind=messages&phone=PNsales0001', 'unlistable_count') AS rows_skipped
  FROM messages WHERE phone_number_id = 'PNsales0001';
SELECT * FROM explain_fanout($$SELECT id FROM messages WHERE phone_number_id = 'PNsales0001' AND created_at >= '2024-03-20'$$);
SELECT mock_reset();

-- the budget: stopped after the listing, before any conversation is visited
SET quo_fdw.max_requests = 20;
SELECT count(*) FROM calls;
SELECT count(*) AS requests, count(*) FILTER (WHERE l NOT LIKE 'GET /v1/conversations%') AS visits
  FROM mock_log() l;
SELECT mock_reset();
-- under a LIMIT not every conversation is needed: only paging is held to it
SELECT count(*) FROM (SELECT id FROM calls LIMIT 3) s;
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
-- a scan that passes it while paging stops the same way (the big conversation has 24 pages)
SET quo_fdw.max_requests = 10;
SELECT count(*) FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants);
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
-- id lookups beyond it are refused before the first
SET quo_fdw.max_requests = 3;
SELECT count(*) FROM calls WHERE id IN ('AC00000001', 'AC00000004', 'AC00000005', 'AC00000006');
SELECT count(*) AS requests FROM mock_log();
RESET quo_fdw.max_requests;

-- faults mid-fan-out: retried 503s give the exact answer; a 400 on one
-- conversation fails the query, never a partial result
SELECT mock_fault('{"action": "status", "status": 503, "match": "/v1/calls?", "skip": 5, "times": 3}');
SELECT count(*) = truth_of('kind=calls&phone=PNsupport02', 'count')::bigint AS exact
  FROM calls WHERE phone_number_id = 'PNsupport02';
SELECT count(*) FILTER (WHERE l LIKE '%-> 503') AS failed_then_retried FROM mock_log() l;
SELECT mock_reset();
ALTER SERVER quo_mock OPTIONS (ADD max_retries '0');
SELECT mock_fault('{"action": "status", "status": 400, "match": "/v1/calls?phoneNumberId=PNsupport02&participants=%2B15550100026&"}');
SELECT count(*) FROM calls WHERE phone_number_id = 'PNsupport02';
ALTER SERVER quo_mock OPTIONS (DROP max_retries);
SELECT mock_reset();

-- a fan-out rescanned (a correlated sub-select, LATERAL) lists the
-- conversations once for the whole query, and prunes by each rescan's own
-- bound: three windows, one listing, answers equal to the truth
CREATE TABLE windows (since timestamptz);
INSERT INTO windows VALUES ('2024-03-10 00:00+00'), ('2024-03-15 00:00+00'), ('2024-03-01 00:00+00');
SELECT w.since, (SELECT count(*) FROM calls c WHERE c.created_at >= w.since) AS calls,
       truth_of('kind=calls&after=' || to_char(w.since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS+00'), 'count') AS truth
  FROM windows w ORDER BY 1;
SELECT count(*) FILTER (WHERE l LIKE 'GET /v1/conversations?%') AS listings,
       count(*) FILTER (WHERE l NOT LIKE 'GET /v1/conversations?%') > 0 AS visits
  FROM mock_log() l;
SELECT mock_reset();
SELECT w.since, c.n FROM windows w,
       LATERAL (SELECT count(*) AS n FROM messages m WHERE m.created_at >= w.since) c ORDER BY 1;
SELECT count(*) FILTER (WHERE l LIKE 'GET /v1/conversations?%') AS listings FROM mock_log() l;
SELECT mock_reset();
-- EXPLAIN ANALYZE: the listing counted once, the last loop's conversations
SELECT * FROM explain_fanout($$SELECT (SELECT count(*) FROM calls c WHERE c.created_at >= w.since) FROM windows w$$);
SELECT mock_reset();
DROP TABLE windows;
-- the listings kept are the query's 8 most recent: rescans on 10 numbers,
-- then the first again, list 11 times (the first was let go), and answer
-- as a scan of each number alone
CREATE TABLE numbers (n serial, pn text);
INSERT INTO numbers (pn) SELECT 'PNnone' || lpad(i::text, 4, '0') FROM generate_series(1, 9) i;
INSERT INTO numbers (pn) VALUES ('PNsales0001'), ('PNnone0001');
SELECT count(*) FILTER (WHERE c > 0) AS numbers_with_calls, sum(c) AS calls
  FROM (SELECT (SELECT count(*) FROM calls c WHERE c.phone_number_id = x.pn AND c.created_at >= '2024-03-15') AS c
          FROM numbers x ORDER BY x.n) s;
SELECT count(*) FILTER (WHERE l LIKE 'GET /v1/conversations?%') AS listings FROM mock_log() l;
SELECT count(*) AS calls FROM calls WHERE phone_number_id = 'PNsales0001' AND created_at >= '2024-03-15';
SELECT mock_reset();
DROP TABLE numbers;

-- fanout 'false' on the table (or server) restores the error, with a
-- participants condition too: nothing can be listed
ALTER FOREIGN TABLE calls OPTIONS (ADD fanout 'false');
SELECT count(*) FROM calls WHERE created_at >= '2024-03-10';
SELECT count(*) FROM calls WHERE '+15550100002' = ANY (participants);
\echo :LAST_ERROR_SQLSTATE
ALTER FOREIGN TABLE calls OPTIONS (DROP fanout);
SELECT count(*) AS requests FROM mock_log();

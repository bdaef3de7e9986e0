--
-- rows: JSON to SQL values, streaming over pages, the raw column
--
SET timezone = 'UTC';
SET search_path = quo, public;

-- the big 1:1 conversation: 2,345 calls and 2,345 messages over 24 pages
SELECT mock_reset();
SELECT count(*), count(DISTINCT id), min(created_at), max(created_at)
  FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants);
SELECT count(*) AS requests, count(*) FILTER (WHERE l LIKE '%pageToken=%') AS with_token,
       count(*) FILTER (WHERE l LIKE '%maxResults=100%') AS full_pages
  FROM mock_log() l;
SELECT count(*), count(DISTINCT id) FROM messages
 WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550109999'];

-- short pages that are not the last: every row still arrives, once
SELECT mock_reset();
SELECT mock_fault('{"action": "short_pages", "times": -1}');
SELECT count(*), count(DISTINCT id) FROM messages
 WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550109999'];
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();

-- timestamps with milliseconds, without, and with an offset are all instants
(SELECT id, raw->>'createdAt' AS api_value, created_at, raw->>'answeredAt' AS api_answered, answered_at
   FROM calls
  WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants)
    AND raw->>'createdAt' LIKE '%+02:00' AND answered_at IS NOT NULL ORDER BY id LIMIT 2)
UNION ALL
(SELECT id, raw->>'createdAt', created_at, raw->>'answeredAt', answered_at
   FROM calls
  WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants)
    AND raw->>'createdAt' ~ ':\d\dZ$' ORDER BY id LIMIT 2)
UNION ALL
(SELECT id, raw->>'createdAt', created_at, raw->>'answeredAt', answered_at
   FROM calls
  WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants)
    AND raw->>'createdAt' LIKE '%.___Z' ORDER BY id LIMIT 2);
SELECT count(*) FILTER (WHERE raw->>'createdAt' LIKE '%+02:00') AS with_offset,
       count(*) FILTER (WHERE raw->>'createdAt' ~ ':\d\dZ$') AS without_ms,
       bool_and(created_at = (raw->>'createdAt')::timestamptz) AS all_equal
  FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants);

-- JSON null is SQL NULL; arrays are text[]; integers are integers
SELECT id, status, answered_at IS NULL AS unanswered, answered_by, initiated_by, call_route,
       duration, forwarded_to, ai_handled, updated_at IS NULL AS never_updated, participants
  FROM calls
 WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants)
 ORDER BY created_at;

-- text: unicode (accents, CJK, emoji from surrogate pairs), newlines, quotes, backslashes
SELECT id, text, length(text) AS chars, octet_length(text) AS bytes, to_numbers, from_number, direction
  FROM messages
 WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550109999']
 ORDER BY created_at LIMIT 12;

-- group conversation messages; participants is the set they were fetched for
SELECT count(*), min(participants::text), max(participants::text), count(DISTINCT conversation_id)
  FROM messages
 WHERE phone_number_id = 'PNsales0001'
   AND participants = ARRAY['+15550100001', '+15550100002', '+15550100003'];

-- raw is the API object as returned (key order aside)
SELECT raw FROM calls WHERE id = 'AC00000003';
SELECT jsonb_object_keys(raw) AS key FROM messages WHERE id = 'AC00000006' ORDER BY 1;
SELECT c.raw = m.raw AS same FROM calls c, calls m WHERE c.id = 'AC00000003' AND m.id = 'AC00000003';

-- conversations: nulls, arrays, every timestamp column
SELECT id, phone_number_id, name, participants, assigned_to, created_at, updated_at, deleted_at,
       last_activity_at, last_activity_id, muted_until, snoozed_until
  FROM conversations ORDER BY id LIMIT 12;
SELECT count(*), count(created_at), count(name), count(assigned_to), count(muted_until) FROM conversations;

-- a row the API does not have is no row
SELECT count(*) FROM calls WHERE id = 'AC99999999';
SELECT count(*) FROM messages WHERE id = 'AC99999999';

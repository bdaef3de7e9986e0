--
-- The per-call tables: call_summaries, call_transcripts, call_recordings,
-- call_voicemails.  No list operation: call_id is required, each distinct
-- id is one GET, a 404 is no row, a 403 an ERROR with a HINT.
--
SET timezone = 'UTC';
SET search_path = quo, public;
SELECT mock_reset();
\d call_summaries
\d call_transcripts
\d call_recordings
\d call_voicemails

-- without call_id: the clear 0A000 error, and no request
SELECT * FROM call_summaries;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM call_voicemails WHERE id = 'VM1';
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS requests FROM mock_log();

-- by id: a summary, one with jobs, one without (404: no row), and an id
-- outside ^AC (no request)
SELECT call_id, status, summary, next_steps, jobs IS NOT NULL AS has_jobs
  FROM call_summaries WHERE call_id IN ('AC00000013', 'AC00000033', 'AC00000008', 'nope')
 ORDER BY call_id;
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();

-- transcripts: a fractional duration, dialogue as jsonb
SELECT call_id, status, created_at, duration, jsonb_array_length(dialogue) AS segments,
       dialogue->0 ? 'content' AS has_content
  FROM call_transcripts WHERE call_id = ANY (ARRAY['AC00000013', 'AC00000003']);
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();

-- recordings: an array per call, one row per recording; call_id is the id
-- asked for (the objects carry none); a call with none is no row
SELECT call_id, id, status, type, url, duration, start_time
  FROM call_recordings WHERE call_id IN ('AC00000002', 'AC00000001', 'AC00000003')
 ORDER BY call_id, id;
SELECT raw ? 'callId' AS raw_has_call_id FROM call_recordings WHERE call_id = 'AC00000001';
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();

-- voicemails: completed, still processing (null fields), none
SELECT call_id, id, status, transcript IS NOT NULL AS has_transcript,
       recording_url IS NOT NULL AS has_url, duration
  FROM call_voicemails WHERE call_id IN ('AC00000004', 'AC00000005', 'AC00000001')
 ORDER BY call_id;
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();

-- EXPLAIN shows the requests
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM call_recordings WHERE call_id IN ('AC00000002', 'AC00000001', 'x');

-- the join with calls: one conversation's calls, each with its summary
-- (INNER) or NULL (LEFT): one page of calls, then one GET per call, up to
-- max_concurrent_requests at once (an id-lookup join)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c.id, s.status FROM calls c LEFT JOIN call_summaries s ON s.call_id = c.id
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (c.participants);
SELECT c.id, c.status, s.status AS summary_status, s.summary[1] AS first_line
  FROM calls c JOIN call_summaries s ON s.call_id = c.id
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (c.participants)
 ORDER BY c.id;
SELECT count(*) FILTER (WHERE line LIKE '%/v1/calls?%') AS call_pages,
       count(*) FILTER (WHERE line LIKE '%/v1/call-summaries/%') AS summary_gets
  FROM mock_log() AS line;
SELECT mock_reset();
SELECT c.id, c.status, s.status AS summary_status
  FROM calls c LEFT JOIN call_summaries s ON s.call_id = c.id
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (c.participants)
 ORDER BY c.id;
SELECT mock_reset();
-- every table joined at once: summary, transcript length, recordings, voicemail
SELECT c.id, c.status, s.status AS summary, t.duration AS transcript_seconds,
       (SELECT count(*) FROM call_recordings r WHERE r.call_id = c.id) AS recordings,
       v.id AS voicemail
  FROM calls c
  LEFT JOIN call_summaries s ON s.call_id = c.id
  LEFT JOIN call_transcripts t ON t.call_id = c.id
  LEFT JOIN call_voicemails v ON v.call_id = c.id
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100003' = ANY (c.participants)
 ORDER BY c.id;
SELECT mock_reset();

-- the whole workspace against the mock's ground truth: every call's
-- summaries, transcripts, recordings and voicemails.  The join's lookups
-- are one scan under quo_fdw.max_requests: 2,507 calls need a larger one.
SELECT count(*) FROM calls c JOIN call_summaries s ON s.call_id = c.id;
SET quo_fdw.max_requests = 5000;
SELECT count(*) AS summaries, md5(string_agg(s.call_id, ',' ORDER BY s.call_id)) AS ids_md5
  FROM calls c JOIN call_summaries s ON s.call_id = c.id;
SELECT * FROM mock('percall', 'kind=summaries');
SELECT count(DISTINCT r.call_id) AS calls, count(*) AS recordings,
       md5(string_agg(DISTINCT r.call_id, ',' ORDER BY r.call_id)) AS ids_md5
  FROM calls c JOIN call_recordings r ON r.call_id = c.id;
SELECT * FROM mock('percall', 'kind=recordings');
SELECT count(*) AS voicemails, md5(string_agg(v.call_id, ',' ORDER BY v.call_id)) AS ids_md5
  FROM calls c JOIN call_voicemails v ON v.call_id = c.id;
SELECT * FROM mock('percall', 'kind=voicemails');
SELECT count(*) AS transcripts, md5(string_agg(t.call_id, ',' ORDER BY t.call_id)) AS ids_md5,
       count(*) FILTER (WHERE t.duration <> floor(t.duration)) AS fractional
  FROM calls c JOIN call_transcripts t ON t.call_id = c.id;
SELECT * FROM mock('percall', 'kind=transcripts');
RESET quo_fdw.max_requests;
SELECT mock_reset();

-- a 403 (a plan without the feature) is an ERROR with a HINT, not no row
SELECT mock_fault('{"match": "/v1/call-summaries", "action": "status", "status": 403, "times": -1}');
SELECT * FROM call_summaries WHERE call_id = 'AC00000013';
SELECT mock_reset();
SELECT mock_fault('{"match": "/v1/call-transcripts", "action": "status", "status": 403, "times": -1}');
SELECT c.id, t.status FROM calls c LEFT JOIN call_transcripts t ON t.call_id = c.id
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (c.participants);
SELECT mock_reset();
-- a 500 after the retries is an ERROR too (one retry here, to be quick)
ALTER SERVER quo_mock OPTIONS (ADD max_retries '1');
SELECT mock_fault('{"match": "/v1/call-voicemails", "action": "status", "status": 500, "times": -1}');
SELECT * FROM call_voicemails WHERE call_id = 'AC00000004';
ALTER SERVER quo_mock OPTIONS (DROP max_retries);
SELECT mock_reset();
-- a null in a recordings array is an ERROR, in a scan and in a join
-- (never a joined row of NULLs)
SELECT mock_fault('{"match": "/v1/call-recordings/AC00000001", "action": "raw", "body": "{\"data\": [null]}", "times": -1}');
SELECT * FROM call_recordings WHERE call_id = 'AC00000001';
SELECT c.id, r.id FROM calls c JOIN call_recordings r ON r.call_id = c.id
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (c.participants);
SELECT c.id, r.id FROM calls c LEFT JOIN call_recordings r ON r.call_id = c.id
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (c.participants);
SELECT mock_reset();
-- INSERT ... SELECT uses the id-lookup join too
CREATE TEMP TABLE summaries_copy (call_id text, status text);
EXPLAIN (COSTS OFF)
INSERT INTO summaries_copy SELECT s.call_id, s.status FROM calls c JOIN call_summaries s ON s.call_id = c.id
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (c.participants);
INSERT INTO summaries_copy SELECT s.call_id, s.status FROM calls c JOIN call_summaries s ON s.call_id = c.id
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (c.participants);
SELECT * FROM summaries_copy ORDER BY call_id;
SELECT mock_reset();
-- a value of the wrong type names the column
SELECT mock_fault('{"match": "/v1/call-transcripts", "action": "wrong_type", "field": "duration", "value": "long"}');
SELECT duration FROM call_transcripts WHERE call_id = 'AC00000013';
SELECT mock_reset();

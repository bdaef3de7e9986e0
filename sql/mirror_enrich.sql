--
-- mirror_enrich: a mirror of every table, the per-call ones included: equal
-- to the mock's truth for all twelve after its first refresh; then the mock
-- changes (a summary that was a 404 appears, a transcript completes, a
-- recording is added, a contact is added, changed and deleted, a task is
-- completed) and the next refreshes pick it all up at the stated cost; a
-- summary that never comes is asked for at most six times; a 403 on a
-- per-call route stops the asking and is reported
--
SET timezone = 'UTC';
\set SHOW_CONTEXT never
SELECT mock_reset();
CREATE FUNCTION etruth(q text, key text) RETURNS text LANGUAGE sql AS $$
  SELECT split_part(l, ' ', 2) FROM mock('truth', q) l WHERE split_part(l, ' ', 1) = key $$;
CREATE FUNCTION ptruth(kind text, key text) RETURNS text LANGUAGE sql AS $$
  SELECT split_part(l, ' ', 2) FROM mock('percall', 'kind=' || kind) l WHERE split_part(l, ' ', 1) = key $$;
-- each table of a mirror against the mock's truth: rows, and the md5 of the
-- sorted ids (the calls' ids for the per-call tables)
CREATE FUNCTION whole_truth(m name) RETURNS TABLE (tbl text, mirror_rows bigint, same boolean) LANGUAGE plpgsql AS $$
DECLARE
  t text;
  n bigint;
  h text;
  kinds jsonb := '{"call_summaries": "summaries", "call_transcripts": "transcripts",
                   "call_recordings": "recordings", "call_voicemails": "voicemails"}';
BEGIN
  FOREACH t IN ARRAY '{calls,messages,contacts,tasks}'::text[] LOOP
    EXECUTE format('SELECT count(*), md5(string_agg(id, '','' ORDER BY id COLLATE "C")) FROM %I.%I', m, t) INTO n, h;
    tbl := t; mirror_rows := n;
    same := n = etruth('kind=' || t, 'count')::bigint AND h = etruth('kind=' || t, 'ids_md5');
    RETURN NEXT;
  END LOOP;
  FOREACH t IN ARRAY '{call_summaries,call_transcripts,call_recordings,call_voicemails}'::text[] LOOP
    EXECUTE format('SELECT (SELECT count(*) FROM %1$I.%2$I),
                           md5(string_agg(call_id, '','' ORDER BY call_id COLLATE "C"))
                      FROM (SELECT DISTINCT call_id FROM %1$I.%2$I) x', m, t)
      INTO n, h;
    tbl := t; mirror_rows := n;
    same := n = ptruth(kinds ->> t, 'rows')::bigint AND h = ptruth(kinds ->> t, 'ids_md5');
    RETURN NEXT;
  END LOOP;
END $$;
-- the requests the mock saw, by route
CREATE FUNCTION routes() RETURNS TABLE (route text, requests bigint) LANGUAGE sql AS $$
  SELECT split_part(split_part(split_part(l, ' ', 2), '?', 1), '/', 3), count(*)
    FROM mock_log() l GROUP BY 1 ORDER BY 1 $$;

-- a mirror of every table; per-call rows for the calls of the last 5 years
-- (the test workspace's are of 2024), asked for again an hour later, then
-- two hours, ...; contacts, fields and tasks listed again after an hour.
-- The hours pass in this test by moving the mirror's clocks back (its
-- enrichment_state and listed_at); a mirror of a few calls below waits
-- for a short enrich_retry for real.
\set VERBOSITY terse
SELECT quo_fdw.create_mirror('quo_mock', 'bad', tables => '{calls,nothing}');
SELECT quo_fdw.create_mirror('quo_mock', 'bad', tables => '{calls}');
SELECT quo_fdw.create_mirror('quo_mock', 'bad', tables => '{conversations,call_summaries}');
SELECT quo_fdw.create_mirror('quo_mock', 'bad', tables => '{}');
SELECT quo_fdw.create_mirror('quo_mock', 'bad', enrich_retry => '0 seconds');
\set VERBOSITY default
SELECT quo_fdw.create_mirror('quo_mock', 'whole', tables => quo_fdw.mirror_tables()::text[],
                             enrich_within => '5 years', enrich_retry => '1 hour', relist_every => '1 hour');
-- an hour (or more) passes for the mirror
CREATE FUNCTION hours_pass(m name, h integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('UPDATE %I.enrichment_state SET next_ask = next_ask - $1', m) USING make_interval(hours => h);
  UPDATE quo_fdw.mirror x
     SET listed_at = coalesce((SELECT jsonb_object_agg(k, (v #>> '{}')::timestamptz - make_interval(hours => h))
                                 FROM jsonb_each(x.listed_at) e(k, v)), '{}')
   WHERE x.mirror_schema = m;
END $$;
SELECT c.relname AS tbl, pg_get_constraintdef(k.oid) AS key
  FROM pg_class c JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p'
 WHERE c.relnamespace = 'whole'::regnamespace ORDER BY 1;
SELECT mirror_schema, tables, per_call_awaited, unavailable FROM quo_fdw.mirrors WHERE mirror_schema = 'whole';
-- three calls that ended ten minutes ago, whose per-call data has not
-- come yet: no summary (the documented 404), a transcript in progress, no
-- recording, no voicemail.  The workspace's other calls ended in 2024:
-- what they lack is not coming, they are asked for once.
SELECT min(id) AS one_to_one FROM quo.conversations
 WHERE phone_number_id = 'PNsales0001' AND cardinality(participants) = 1 \gset
SELECT array_agg(split_part(l, ' ', 2) ORDER BY l) AS late_calls
  FROM mock('change', format('[%s]', concat_ws(', ', VARIADIC ARRAY(
    SELECT format('{"op": "call", "conversation": "%s", "status": "completed", "duration": 60, "ago": %s}', :'one_to_one', 660 + g)
      FROM generate_series(1, 3) g)))) l \gset
SELECT mock('change', format('[%s]', concat_ws(', ', VARIADIC ARRAY(
  SELECT x FROM unnest(:'late_calls'::text[]) c,
    LATERAL (VALUES (format('{"op": "percall", "kind": "summaries", "call": "%s", "value": null}', c)),
                    (format('{"op": "percall", "kind": "transcripts", "call": "%s", "value": {"status": "in-progress", "createdAt": "2024-03-20T10:00:00Z", "duration": 0, "dialogue": []}}', c)),
                    (format('{"op": "percall", "kind": "recordings", "call": "%s", "value": []}', c)),
                    (format('{"op": "percall", "kind": "voicemails", "call": "%s", "value": null}', c))) v(x)))));

-- the first refresh: every table, equal to the truth; the per-call tables
-- cost one request per call that has ended, each
SELECT mock('clearlog');
SELECT requests, complete, contacts_inserted, contact_custom_fields_inserted, tasks_inserted,
       call_summaries_inserted, call_transcripts_inserted, call_recordings_inserted, call_voicemails_inserted,
       per_call_awaited
  FROM quo_fdw.refresh_mirror('whole');
SELECT * FROM routes();
SELECT count(*) AS ended_calls FROM whole.calls WHERE status NOT IN ('queued', 'initiated', 'ringing', 'in-progress');
SELECT * FROM whole_truth('whole');
SELECT count(*) = (SELECT count(*) FROM quo.contact_custom_fields) AS fields_same,
       (SELECT count(*) FROM (SELECT key, name, type FROM whole.contact_custom_fields
                              EXCEPT SELECT key, name, type FROM quo.contact_custom_fields) d) AS fields_differ
  FROM whole.contact_custom_fields;
-- what is awaited: the recent calls' per-call rows, not there (404) or
-- not final, by table; the old calls' are done (final, or not coming)
SELECT e.tbl, count(*) FILTER (WHERE e.done) AS done, count(*) FILTER (WHERE NOT e.done) AS awaited,
       count(*) FILTER (WHERE NOT e.done AND e.call_id <> ALL (:'late_calls')) AS old_awaited, max(e.asks) AS asks
  FROM whole.enrichment_state e GROUP BY 1 ORDER BY 1;

-- at once again: nothing is due (the retry has not come), the directory
-- is not listed again (within relist_every): the three listings only
SELECT mock('clearlog');
SELECT requests, complete FROM quo_fdw.refresh_mirror('whole');
SELECT * FROM routes();

-- the mock changes: a summary for a call that had none (a 404), a
-- transcript that completes, a recording for a call that had none; a
-- contact added, one changed, one deleted; a task completed
SELECT (:'late_calls'::text[])[1] AS no_summary, (:'late_calls'::text[])[2] AS busy_transcript,
       (:'late_calls'::text[])[3] AS no_recording \gset
SELECT min(id) AS changed_contact, max(id) AS deleted_contact FROM whole.contacts \gset
SELECT min(id) AS open_task FROM whole.tasks WHERE NOT completed \gset
SELECT mock('change', format('[%s]', concat_ws(', ',
  format('{"op": "percall", "kind": "summaries", "call": "%s", "value": {"status": "completed", "summary": ["The customer asked for a refund."], "nextSteps": ["Send the refund"]}}', :'no_summary'),
  format('{"op": "percall", "kind": "transcripts", "call": "%s", "value": {"status": "completed", "createdAt": "2024-03-20T10:00:00Z", "duration": 61.5, "dialogue": [{"content": "Hello", "start": 0, "end": 1.5, "identifier": "+15550100002", "userId": null}]}}', :'busy_transcript'),
  format('{"op": "percall", "kind": "recordings", "call": "%s", "value": [{"id": "CRlate0001", "status": "completed", "duration": 42, "startTime": "2024-03-20T10:00:00Z", "type": "audio/mpeg", "url": "https://storage.example.com/recordings/late.mp3"}]}', :'no_recording'),
  '{"op": "contact", "id": "regress-new-contact", "first_name": "Nora", "company": "Northwind", "phone_numbers": ["+15550100002"]}',
  format('{"op": "update_contact", "id": "%s", "company": "Contoso"}', :'changed_contact'),
  format('{"op": "delete_contact", "id": "%s"}', :'deleted_contact'),
  format('{"op": "update_task", "id": "%s", "completed": true}', :'open_task'))));

-- an hour later, past the retry and relist_every: the directory is listed
-- again (its pages), every awaited per-call row is asked for once more;
-- nothing else
SELECT per_call_awaited AS awaited_before FROM quo_fdw.mirrors WHERE mirror_schema = 'whole' \gset
SELECT hours_pass('whole', 1);
SELECT mock('clearlog');
SELECT requests, contacts_inserted, contacts_updated, contacts_removed, tasks_updated,
       call_summaries_inserted, call_transcripts_updated, call_recordings_inserted
  FROM quo_fdw.refresh_mirror('whole');
SELECT * FROM routes();
SELECT (SELECT sum(requests) FROM routes() WHERE route LIKE 'call-%') = :awaited_before AS one_ask_per_awaited;
SELECT s.summary, s.status FROM whole.call_summaries s WHERE s.call_id = :'no_summary';
SELECT t.status, jsonb_array_length(t.dialogue) AS segments FROM whole.call_transcripts t WHERE t.call_id = :'busy_transcript';
SELECT r.id, r.status, r.duration FROM whole.call_recordings r WHERE r.call_id = :'no_recording';
SELECT first_name, company FROM whole.contacts WHERE id IN ('regress-new-contact', :'changed_contact') ORDER BY 1;
SELECT count(*) AS deleted_still_there FROM whole.contacts WHERE id = :'deleted_contact';
SELECT completed FROM whole.tasks WHERE id = :'open_task';
-- a second listing lacking the deleted contact removes it (two hours on:
-- the second asks wait twice as long, and are due too)
SELECT hours_pass('whole', 2);
SELECT contacts_removed FROM quo_fdw.refresh_mirror('whole');
SELECT count(*) AS deleted_still_there FROM whole.contacts WHERE id = :'deleted_contact';
SELECT * FROM whole_truth('whole');

-- a call whose summary never comes is asked for six times, waiting 50 ms,
-- then 100, 200, 400, 800 ms between asks (for real, on a mirror of the
-- calls of the last days of the workspace), then given up; one found
-- final is never asked for again
-- (the call comes now, with a completedAt 8 seconds on: it is awaited for
-- 31 retries after that, longer than the six asks take)
SELECT split_part(l, ' ', 2) AS never
  FROM mock('change', format('[{"op": "call", "conversation": "%s", "status": "completed", "duration": 0, "ago": 0}]',
                             :'one_to_one')) l \gset
SELECT mock('change', format('[{"op": "percall", "kind": "summaries", "call": "%s", "value": null}]', :'never'));
SELECT quo_fdw.create_mirror('quo_mock', 'late', tables => '{conversations,calls,call_summaries}',
                             since => '2024-05-15', enrich_within => '5 years', enrich_retry => '0.05 seconds');
SELECT requests > 0 AS read, complete FROM quo_fdw.refresh_mirror('late');
SELECT min(call_id) AS final_one FROM late.call_summaries WHERE status = 'completed' \gset
SELECT count(*) > 0 AS calls, count(*) < 200 AS few FROM late.calls;
SELECT mock('clearlog');
-- each refresh its own transaction, as from sync_mirror or pg_cron (a
-- transaction's now() does not move)
SELECT 'SELECT pg_sleep(0.25), (quo_fdw.refresh_mirror(''late'')).complete' FROM generate_series(1, 10) \gexec
SELECT count(*) FILTER (WHERE l LIKE '%/v1/call-summaries/' || :'never' || ' %') AS more_asks_of_the_never,
       count(*) FILTER (WHERE l LIKE '%/v1/call-summaries/' || :'final_one' || ' %') AS more_asks_of_the_final
  FROM mock_log() l;
SELECT asks, done FROM late.enrichment_state WHERE call_id IN (:'never', :'final_one') ORDER BY call_id;
SELECT per_call_awaited FROM quo_fdw.mirrors WHERE mirror_schema = 'late';
SELECT max(asks) AS most_asks_of_the_old FROM late.enrichment_state WHERE call_id <> :'never';
CREATE TABLE late_summaries AS SELECT call_id FROM late.call_summaries;
SELECT quo_fdw.drop_mirror('late');

-- a bad answer for one call (a body that is not JSON) loses nothing: the
-- batch it was in is asked again one call at a time, only that call's ask
-- counts, its error noted; asked alone next time, it is read once the API
-- answers.  A call id the API cannot have (a row the owner added) is done
-- with no request.
SELECT quo_fdw.create_mirror('quo_mock', 'badans', tables => '{conversations,calls,call_summaries}',
                             since => '2024-05-15', enrich_within => '5 years', enrich_retry => '1 hour');
INSERT INTO badans.calls (id, status, created_at, mirrored_at) VALUES ('not-a-call', 'completed', '2024-05-20', now());
SELECT mock_fault(format('{"action": "badjson", "times": -1, "match": "/v1/call-summaries/%s"}', :'final_one'));
SELECT mock('clearlog');
SELECT requests > 0 AS read, complete, call_summaries_inserted FROM quo_fdw.refresh_mirror('badans');
SELECT count(*) AS real_calls FROM badans.calls WHERE id <> 'not-a-call' \gset
-- one ask of the newest call first, the batch of the rest (failed), then
-- each of them alone
SELECT count(*) FILTER (WHERE l LIKE '%/v1/call-summaries/%') = 2 * :real_calls - 1 AS batch_then_each,
       count(*) FILTER (WHERE l LIKE '%/v1/call-summaries/' || :'final_one' || ' %') AS asks_of_the_bad
  FROM mock_log() l;
SELECT call_id = :'final_one' AS the_bad_one, asks, done, error IS NOT NULL AS error_noted, left(error, 5) AS sqlstate
  FROM badans.enrichment_state WHERE error IS NOT NULL OR call_id = 'not-a-call' ORDER BY call_id;
SELECT (SELECT count(*) FROM badans.call_summaries) =
       (SELECT count(*) FROM late_summaries WHERE call_id <> :'final_one') AS all_but_the_bad;
-- an hour on, the API answers: the bad one is asked alone and read
SELECT mock('clearfaults');
SELECT hours_pass('badans', 1);
SELECT mock('clearlog');
SELECT call_summaries_inserted, per_call_awaited FROM quo_fdw.refresh_mirror('badans');
SELECT count(*) FILTER (WHERE l LIKE '%/v1/call-summaries/%') AS summary_requests FROM mock_log() l;
SELECT asks, done, error FROM badans.enrichment_state WHERE call_id = :'final_one';
SELECT quo_fdw.drop_mirror('badans');
DROP TABLE late_summaries;

-- a 403 on a per-call route (a plan without the feature) stops the asking
-- for that table: noted in quo_fdw.mirrors, not raised
SELECT quo_fdw.create_mirror('quo_mock', 'noplan', tables => '{conversations,calls,call_voicemails}',
                             enrich_within => '5 years', enrich_retry => '0.05 seconds');
SELECT mock_fault('{"action": "status", "status": 403, "times": -1, "match": "/v1/call-voicemails/"}');
SELECT mock('clearlog');
SELECT complete, call_voicemails_inserted FROM quo_fdw.refresh_mirror('noplan');
-- (the pass's first two asks are of one call each: all the 403 costs)
SELECT count(*) FILTER (WHERE l LIKE '%call-voicemails%') AS voicemail_requests FROM mock_log() l;
SELECT mirror_schema, unavailable ? 'call_voicemails' AS refused,
       unavailable -> 'call_voicemails' ->> 'error' AS error, per_call_awaited
  FROM quo_fdw.mirrors WHERE mirror_schema = 'noplan';
SELECT pg_sleep(0.1);
SELECT mock('clearlog');
SELECT complete FROM quo_fdw.refresh_mirror('noplan');
SELECT count(*) FILTER (WHERE l LIKE '%call-voicemails%') AS voicemail_requests FROM mock_log() l;
SELECT mock('clearfaults');
SELECT quo_fdw.drop_mirror('noplan');

-- one call the API refuses on its own (a 403 for the pass's first call
-- only) does not stop the asking: the next call is asked, then the rest;
-- the refused call's ask counts
SELECT quo_fdw.create_mirror('quo_mock', 'onecall', tables => '{conversations,calls,call_summaries}',
                             since => '2024-05-15', enrich_within => '5 years', enrich_retry => '1 hour');
SELECT mock_fault('{"action": "status", "status": 403, "times": 1, "match": "/v1/call-summaries/"}');
SELECT complete, call_summaries_inserted > 0 AS read_the_rest FROM quo_fdw.refresh_mirror('onecall');
SELECT mirror_schema, unavailable FROM quo_fdw.mirrors WHERE mirror_schema = 'onecall';
SELECT asks, done, error FROM onecall.enrichment_state WHERE error IS NOT NULL;
SELECT mock('clearfaults');
SELECT quo_fdw.drop_mirror('onecall');

-- the API failing as a whole while per-call rows are read (a lapsed plan:
-- 402) ends the per-call reads with a WARNING, one request spent, no ask
-- counted; the pass completes and the next refresh reads them
SELECT quo_fdw.create_mirror('quo_mock', 'lapsed', tables => '{conversations,calls,call_summaries}',
                             since => '2024-05-15', enrich_within => '5 years', enrich_retry => '1 hour');
SELECT mock_fault('{"action": "status", "status": 402, "times": -1, "match": "/v1/call-summaries/"}');
SELECT mock('clearlog');
\set VERBOSITY terse
SELECT complete, call_summaries_inserted, per_call_awaited > 0 AS awaited FROM quo_fdw.refresh_mirror('lapsed');
\set VERBOSITY default
SELECT count(*) FILTER (WHERE l LIKE '%/v1/call-summaries/%') AS summary_requests FROM mock_log() l;
SELECT max(asks) AS most_asks FROM lapsed.enrichment_state;
SELECT mock('clearfaults');
SELECT complete, per_call_awaited FROM quo_fdw.refresh_mirror('lapsed');
SELECT (SELECT count(*) FROM lapsed.call_summaries) = (SELECT count(*) FROM quo.call_summaries s
                                                        JOIN lapsed.calls c ON c.id = s.call_id) AS summaries_same;
SELECT quo_fdw.drop_mirror('lapsed');

-- a whole refresh that reaches quo_fdw.mirror_max_requests while asking
-- for per-call rows keeps what it read and completes, with a WARNING; the
-- rest are asked for by the next.  (A mirror of calls without messages
-- cannot tell a lagging list: the refresh after costs the listing only.)
SELECT quo_fdw.create_mirror('quo_mock', 'nocap', tables => '{conversations,calls}', since => '2024-05-15');
SELECT requests AS visit_requests FROM quo_fdw.refresh_mirror('nocap') \gset
SELECT quo_fdw.drop_mirror('nocap');
SELECT quo_fdw.create_mirror('quo_mock', 'capped', tables => '{conversations,calls,call_summaries}',
                             since => '2024-05-15', enrich_within => '5 years', enrich_retry => '1 hour');
SELECT :visit_requests + 3 AS cap \gset
SET quo_fdw.mirror_max_requests = :cap;
\set VERBOSITY terse
SELECT requests = :cap AS at_the_cap, complete, call_summaries_inserted AS summaries_read
  FROM quo_fdw.refresh_mirror('capped');
\set VERBOSITY default
RESET quo_fdw.mirror_max_requests;
SELECT count(*) FILTER (WHERE asks = 0) AS not_asked, count(*) FILTER (WHERE asks = 1) AS asked
  FROM capped.enrichment_state \gset
SELECT :not_asked > 0 AS some_left, :asked AS asked_within_the_cap;
SELECT mock('clearlog');
SELECT complete FROM quo_fdw.refresh_mirror('capped');
SELECT count(*) FILTER (WHERE l LIKE '%/v1/call-summaries/%') = :not_asked AS the_rest_asked,
       count(*) FILTER (WHERE l NOT LIKE '%/v1/call-summaries/%') AS other_requests
  FROM mock_log() l;
SELECT (SELECT count(*) FROM capped.call_summaries) = (SELECT count(*) FROM quo.call_summaries s
                                                         JOIN capped.calls c ON c.id = s.call_id) AS summaries_same;
SELECT quo_fdw.drop_mirror('capped');

-- a mirror of conversations only queues no visit; a listing of contacts
-- that comes back empty removes nothing, twice in a row
SELECT quo_fdw.create_mirror('quo_mock', 'dir', tables => '{conversations,contacts}', relist_every => '1 hour');
SELECT complete, conversations_pending, contacts_inserted FROM quo_fdw.refresh_mirror('dir');
SELECT count(*) FILTER (WHERE queued IS NOT NULL) AS queued FROM dir.conversation_state;
SELECT mock_fault('{"action": "raw", "times": -1, "match": "/v1/contacts?", "body": "{\"data\": [], \"totalItems\": 0, \"nextPageToken\": null}"}');
SELECT hours_pass('dir', 1);
SELECT contacts_removed FROM quo_fdw.refresh_mirror('dir');
SELECT hours_pass('dir', 1);
SELECT contacts_removed FROM quo_fdw.refresh_mirror('dir');
SELECT count(*) AS contacts_kept FROM dir.contacts;
SELECT mock('clearfaults');
SELECT quo_fdw.drop_mirror('dir');

-- the same workspace in steps of 500: each within it, equal when complete
SELECT quo_fdw.create_mirror('quo_mock', 'whole_steps', tables => quo_fdw.mirror_tables()::text[],
                             enrich_within => '5 years', enrich_retry => '1 hour', relist_every => '1 hour');
CREATE TABLE esteps (n serial, requests bigint, complete boolean);
DO $$
DECLARE r quo_fdw.refresh_result;
BEGIN
  LOOP
    r := quo_fdw.refresh_mirror('whole_steps', 500);
    INSERT INTO esteps (requests, complete) VALUES (r.requests, r.complete);
    EXIT WHEN r.complete OR (SELECT count(*) FROM esteps) > 100;
  END LOOP;
END $$;
SELECT count(*) > 1 AS steps, bool_and(requests <= 500) AS within_budget, bool_or(complete) AS complete FROM esteps;
SELECT * FROM whole_truth('whole_steps');
DROP TABLE esteps;

-- a report over the mirror, read with no request: calls per customer
-- company this quarter with their AI summary (docs/mirror.md)
SELECT mock('clearlog');
SELECT coalesce(k.company, '(no company)') AS company, count(DISTINCT c.id) AS calls,
       count(s.call_id) AS summarized,
       (array_agg(array_to_string(s.summary, ' ') ORDER BY c.created_at DESC) FILTER (WHERE s.summary IS NOT NULL))[1] AS latest_summary
  FROM whole.calls c
  LEFT JOIN whole.contacts k ON c.participants[1] = ANY (k.phone_numbers)
  LEFT JOIN whole.call_summaries s ON s.call_id = c.id AND s.status = 'completed'
 WHERE c.created_at >= '2024-01-01' AND c.created_at < '2024-04-01'
 GROUP BY 1 ORDER BY calls DESC, 1 LIMIT 5;
SELECT count(*) AS requests FROM mock_log();

SELECT quo_fdw.drop_mirror('whole_steps');
SELECT quo_fdw.drop_mirror('whole');
DROP FUNCTION etruth(text, text), ptruth(text, text), whole_truth(name), routes(), hours_pass(name, integer);
SELECT mock_reset();

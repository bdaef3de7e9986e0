--
-- mirror_steps: the mirror at a real workspace's size (1,500 conversations
-- more), refreshed in steps of at most max_requests: each step within its
-- budget, the most recently active conversations first and whole, a failed
-- step changing nothing, the whole equal to the mock's truth and costing
-- what one pass costs (plus a little per step), counted
--
SET timezone = 'UTC';
\set SHOW_CONTEXT never
SELECT mock_reset();
SELECT mock('workspace', '{"bulk_conversations": 1500, "bulk_messages": 2}');
CREATE FUNCTION steps_truth(q text, key text) RETURNS text LANGUAGE sql AS $$
  SELECT split_part(l, ' ', 2) FROM mock('truth', q) l WHERE split_part(l, ' ', 1) = key $$;
-- rows of two mirrors' table that differ (every column but mirrored_at)
CREATE FUNCTION mirrors_differ(a name, b name, tbl name) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE cols text; n bigint;
BEGIN
  SELECT string_agg(quote_ident(c.name), ', ') INTO cols FROM quo_fdw.endpoint_columns(tbl) c;
  EXECUTE format('SELECT count(*) FROM ((SELECT %1$s FROM %2$I.%4$I EXCEPT ALL SELECT %1$s FROM %3$I.%4$I)
                  UNION ALL (SELECT %1$s FROM %3$I.%4$I EXCEPT ALL SELECT %1$s FROM %2$I.%4$I)) d', cols, a, b, tbl)
    INTO n;
  RETURN n;
END $$;
-- a fingerprint of a mirror: its tables, its state and its catalog row
CREATE FUNCTION steps_state(m_schema name) RETURNS text LANGUAGE plpgsql AS $$
DECLARE t name; h text := ''; part text;
BEGIN
  FOREACH t IN ARRAY '{users,phone_numbers,conversations,calls,messages}'::name[] LOOP
    EXECUTE format('SELECT count(*) || '':'' || md5(coalesce(string_agg(x::text, '','' ORDER BY x.id COLLATE "C"), '''')) FROM %I.%I x',
                   m_schema, t) INTO part;
    h := h || t || '=' || part || ' ';
  END LOOP;
  EXECUTE format('SELECT md5(coalesce(string_agg(x::text, '','' ORDER BY x.conversation_id COLLATE "C"), '''')) FROM %I.conversation_state x',
                 m_schema) INTO part;
  RETURN h || part || (SELECT md5(row(watermark, pass_started, pass_phase, pass_token, pass_items, pending)::text)
                         FROM quo_fdw.mirror WHERE mirror_schema = m_schema);
END $$;

-- one pass in one transaction: what a pass costs
SELECT quo_fdw.create_mirror('quo_mock', 'one_pass');
SELECT mock('clearlog');
SELECT requests, conversations_visited, complete, conversations_pending FROM quo_fdw.refresh_mirror('one_pass');
SELECT (last_result->>'requests')::bigint AS pass_requests FROM quo_fdw.mirror WHERE mirror_schema = 'one_pass' \gset
SELECT count(*) FILTER (WHERE l LIKE 'GET /v1/conversations?%') AS listing_pages,
       count(*) FILTER (WHERE l NOT LIKE '%-> 200' AND l NOT LIKE '%-> 404') AS failed
  FROM mock_log() l;
SELECT count(*) = steps_truth('kind=calls', 'count')::bigint AS calls_count,
       md5(string_agg(id, ',' ORDER BY id COLLATE "C")) = steps_truth('kind=calls', 'ids_md5') AS calls_ids
  FROM one_pass.calls;
SELECT count(*) = steps_truth('kind=messages', 'count')::bigint AS messages_count,
       md5(string_agg(id, ',' ORDER BY id COLLATE "C")) = steps_truth('kind=messages', 'ids_md5') AS messages_ids
  FROM one_pass.messages;
SELECT count(*) AS conversations FROM one_pass.conversations;

-- after one step of a first backfill the most recently active
-- conversations are whole: the ones visited are exactly the newest by
-- lastActivityAt, and their calls and messages are those of the complete
-- mirror; the step kept to its budget
SELECT quo_fdw.create_mirror('quo_mock', 'first_step');
SELECT requests <= 250 AS within_budget, requests, complete, conversations_visited, conversations_pending
  FROM quo_fdw.refresh_mirror('first_step', 250);
CREATE TEMP VIEW step_done AS
  SELECT x.id, x.phone_number_id, x.participants,
         row_number() OVER (ORDER BY x.last_activity_at DESC NULLS LAST, x.id) AS rank,
         s.queued IS NULL AS done
    FROM first_step.conversations x JOIN first_step.conversation_state s ON s.conversation_id = x.id;
SELECT count(*) FILTER (WHERE done) AS done, max(rank) FILTER (WHERE done) = count(*) FILTER (WHERE done) AS newest_first
  FROM step_done;
SELECT (SELECT count(*) FROM ((SELECT id, raw FROM first_step.messages EXCEPT SELECT id, raw FROM one_pass.messages)
                              UNION ALL
                              (SELECT m.id, m.raw FROM one_pass.messages m JOIN step_done d ON d.id = m.conversation_id AND d.done
                               EXCEPT SELECT id, raw FROM first_step.messages)) x) AS messages_differ,
       (SELECT count(*) FROM ((SELECT id, raw FROM first_step.calls EXCEPT SELECT id, raw FROM one_pass.calls)
                              UNION ALL
                              (SELECT c.id, c.raw FROM one_pass.calls c
                                 JOIN step_done d ON d.done AND d.phone_number_id = c.phone_number_id AND d.participants = c.participants
                               EXCEPT SELECT id, raw FROM first_step.calls)) x) AS calls_differ,
       (SELECT count(*) FROM first_step.messages) > 0 AS has_messages;
SELECT mirror_schema, complete, conversations_pending > 0 AS pending, pass_started IS NOT NULL AS pass_under_way,
       watermark IS NULL AS no_watermark_yet
  FROM quo_fdw.mirrors WHERE mirror_schema = 'first_step';

-- a step that fails (a persistent 503 on the messages) changes nothing:
-- not its rows, not the state, not the catalog; the earlier step is kept,
-- and the next step resumes where it was
ALTER SERVER quo_mock OPTIONS (ADD max_retries '1');
SELECT steps_state('first_step') AS before_failure \gset
SELECT mock_fault('{"action": "status", "status": 503, "retry_after": "0", "times": -1, "match": "GET /v1/messages?"}');
\set VERBOSITY terse
SELECT requests FROM quo_fdw.refresh_mirror('first_step', 250);
\set VERBOSITY default
SELECT mock('clearfaults');
ALTER SERVER quo_mock OPTIONS (DROP max_retries);
SELECT steps_state('first_step') = :'before_failure' AS unchanged;
SELECT conversations_pending AS pending_before FROM quo_fdw.mirrors WHERE mirror_schema = 'first_step' \gset
SELECT requests <= 250 AS within_budget, conversations_visited > 0 AS visited,
       conversations_pending < :pending_before AS resumed
  FROM quo_fdw.refresh_mirror('first_step', 250);

-- a step too small for the next conversation (its calls and its messages)
-- says so and changes nothing; one larger than quo_fdw.mirror_max_requests
-- is refused
SELECT steps_state('first_step') AS before_small \gset
\set VERBOSITY terse
SELECT requests FROM quo_fdw.refresh_mirror('first_step', 1);
SET quo_fdw.mirror_max_requests = 100;
SELECT requests FROM quo_fdw.refresh_mirror('first_step', 101);
RESET quo_fdw.mirror_max_requests;
SELECT requests FROM quo_fdw.refresh_mirror('first_step', 0);
\set VERBOSITY default
SELECT steps_state('first_step') = :'before_small' AS unchanged;
DROP VIEW step_done;
SELECT quo_fdw.drop_mirror('first_step');

-- the first backfill in steps of 250: never over a step's budget, equal to
-- the mock's truth and to the one-pass mirror when complete, costing one
-- pass plus at most a listing page per step
SELECT quo_fdw.create_mirror('quo_mock', 'stepped');
CREATE TABLE steps (n serial, requests bigint, complete boolean, pending bigint, visited bigint);
DO $$
DECLARE r quo_fdw.refresh_result;
BEGIN
  LOOP
    r := quo_fdw.refresh_mirror('stepped', 250);
    INSERT INTO steps (requests, complete, pending, visited)
    VALUES (r.requests, r.complete, r.conversations_pending, r.conversations_visited);
    EXIT WHEN r.complete OR (SELECT count(*) FROM steps) > 100;
  END LOOP;
END $$;
SELECT count(*) AS steps, max(requests) AS most_in_a_step, bool_and(requests <= 250) AS within_budget,
       sum(requests) AS requests, sum(requests) - :pass_requests AS more_than_one_pass,
       sum(requests) - :pass_requests <= count(*) * 16 AS within_a_listing_per_step,
       (array_agg(complete ORDER BY n DESC))[1] AS complete
  FROM steps;
-- pending visits went down at every step
SELECT bool_and(s.pending < p.pending OR s.complete) AS always_fewer
  FROM steps s JOIN steps p ON p.n = s.n - 1;
SELECT t, mirrors_differ('stepped', 'one_pass', t) AS differ
  FROM unnest('{users,phone_numbers,conversations,calls,messages}'::name[]) t;
SELECT count(*) = steps_truth('kind=calls', 'count')::bigint AS calls_count,
       md5(string_agg(id, ',' ORDER BY id COLLATE "C")) = steps_truth('kind=calls', 'ids_md5') AS calls_ids
  FROM stepped.calls;
SELECT count(*) = steps_truth('kind=messages', 'count')::bigint AS messages_count,
       md5(string_agg(id, ',' ORDER BY id COLLATE "C")) = steps_truth('kind=messages', 'ids_md5') AS messages_ids
  FROM stepped.messages;
SELECT complete, conversations_pending, pass_started IS NULL AS no_pass, watermark IS NOT NULL AS watermark_set
  FROM quo_fdw.mirrors WHERE mirror_schema = 'stepped';

-- with nothing new, a refresh costs the listings: users, phone numbers,
-- and a page per 100 conversations
SELECT mock('clearlog');
SELECT requests, conversations_visited, complete FROM quo_fdw.refresh_mirror('stepped');
SELECT count(*) AS requests FROM mock_log();
-- and the same in steps: one step completes it
SELECT requests, complete FROM quo_fdw.refresh_mirror('stepped', 250);

-- with quo_fdw.progress on, each step says how far the pass is
SET quo_fdw.progress = on;
SELECT complete FROM quo_fdw.refresh_mirror('stepped', 250);
RESET quo_fdw.progress;

SELECT quo_fdw.drop_mirror('stepped');
SELECT quo_fdw.drop_mirror('one_pass');
DROP TABLE steps;
DROP FUNCTION steps_truth(text, text), mirrors_differ(name, name, name), steps_state(name);
SELECT mock('workspace', '{}');
SELECT mock_reset();

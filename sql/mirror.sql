--
-- mirror: quo_fdw.create_mirror, refresh_mirror, drop_mirror and the view
-- quo_fdw.mirrors against the mock; the mock's workspace changes between
-- refreshes, and every refresh is compared with the mock's ground truth and
-- a full scan of the foreign tables, and its requests are counted
--
SET timezone = 'UTC';
\set SHOW_CONTEXT never
SELECT mock_reset();
-- the mock's exact answer: count and md5 of the sorted ids
CREATE FUNCTION mtruth(q text, key text) RETURNS text LANGUAGE sql AS $$
  SELECT split_part(l, ' ', 2) FROM mock('truth', q) l WHERE split_part(l, ' ', 1) = key $$;
-- rows of a mirror table that a full scan of the foreign table does not
-- return, and the other way round (every column but mirrored_at)
CREATE FUNCTION mirror_diff(mirror name, tbl name, OUT only_mirror bigint, OUT only_api bigint)
LANGUAGE plpgsql AS $$
DECLARE cols text;
BEGIN
  SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_attribute WHERE attrelid = format('quo.%I', tbl)::regclass AND attnum > 0 AND NOT attisdropped;
  EXECUTE format('SELECT count(*) FROM (SELECT %s FROM %I.%I EXCEPT ALL SELECT %s FROM quo.%I) d', cols, mirror, tbl, cols, tbl)
    INTO only_mirror;
  EXECUTE format('SELECT count(*) FROM (SELECT %s FROM quo.%I EXCEPT ALL SELECT %s FROM %I.%I) d', cols, tbl, cols, mirror, tbl)
    INTO only_api;
END $$;
-- a fingerprint of everything a mirror holds, with its catalog row
CREATE FUNCTION mirror_state(m_schema name) RETURNS text LANGUAGE plpgsql AS $$
DECLARE t name; h text := ''; part text;
BEGIN
  FOREACH t IN ARRAY '{users,phone_numbers,conversations,calls,messages}'::name[] LOOP
    EXECUTE format('SELECT count(*) || '':'' || md5(coalesce(string_agg(x::text, '','' ORDER BY x.id COLLATE "C"), '''')) FROM %I.%I x',
                   m_schema, t) INTO part;
    h := h || t || '=' || part || ' ';
  END LOOP;
  RETURN h || (SELECT md5(row(watermark, last_refresh, last_result)::text) FROM quo_fdw.mirror WHERE mirror_schema = m_schema);
END $$;
-- the requests the mock saw, with the createdAfter bound (a time of this run) masked
CREATE FUNCTION mlog() RETURNS SETOF text LANGUAGE sql AS $$
  SELECT regexp_replace(l, 'createdAfter=[^&]*', 'createdAfter=<after>') FROM mock_log() l ORDER BY 1 $$;
-- a refresh's result without the seconds
CREATE FUNCTION refresh(mirror name) RETURNS TABLE (requests bigint, visited bigint, skipped bigint,
  calls text, messages text, conversations text, users text, phone_numbers text) LANGUAGE sql AS $$
  SELECT requests, conversations_visited, conversations_skipped,
         calls_inserted || '+' || calls_updated, messages_inserted || '+' || messages_updated,
         conversations_inserted || '+' || conversations_updated, users_inserted || '+' || users_updated,
         phone_numbers_inserted || '+' || phone_numbers_updated
    FROM quo_fdw.refresh_mirror(mirror) $$;

-- wrong calls: clear errors, nothing created
\set VERBOSITY terse
SELECT quo_fdw.create_mirror('no_such_server', 'quo_local');
CREATE FOREIGN DATA WRAPPER not_quo;
CREATE SERVER not_quo_server FOREIGN DATA WRAPPER not_quo;
SELECT quo_fdw.create_mirror('not_quo_server', 'quo_local');
SELECT quo_fdw.create_mirror('quo_mock', 'quo_local', lookback => '-1 day');
SELECT quo_fdw.create_mirror('quo_mock', 'quo_local', lookback => '30 seconds');
SELECT quo_fdw.create_mirror('quo_mock', 'public');
SELECT quo_fdw.create_mirror('quo_mock', 'quo_fdw');
CREATE ROLE regress_quo_other;
CREATE SCHEMA other_owned AUTHORIZATION regress_quo_other;
SELECT quo_fdw.create_mirror('quo_mock', 'other_owned');
DROP SCHEMA other_owned;
DROP ROLE regress_quo_other;
SELECT quo_fdw.create_mirror('quo_mock', NULL);
CREATE SCHEMA has_calls;
CREATE TABLE has_calls.calls (id text);
SELECT quo_fdw.create_mirror('quo_mock', 'has_calls');
DROP SCHEMA has_calls CASCADE;
SELECT * FROM quo_fdw.refresh_mirror('quo_local');
SELECT quo_fdw.drop_mirror('quo_local');
\set VERBOSITY default
SELECT count(*) AS mirrors FROM quo_fdw.mirror;
SELECT nspname FROM pg_namespace WHERE nspname IN ('quo_local', 'has_calls') OR nspname LIKE 'quo_fdw_import%';

-- create: tables with the foreign tables' columns, no request
SELECT quo_fdw.create_mirror('quo_mock', 'quo_local');
\set VERBOSITY terse
SELECT quo_fdw.create_mirror('quo_mock', 'quo_local');
\set VERBOSITY default
\d quo_local.calls
\d quo_local.messages
SELECT c.relname, (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0) AS columns
  FROM pg_class c WHERE c.relnamespace = 'quo_local'::regnamespace AND c.relkind = 'r' ORDER BY 1;
SELECT mirror_schema, server, since, lookback, watermark, last_refresh, last_result,
       calls, messages, conversations, users, phone_numbers FROM quo_fdw.mirrors;
SELECT count(*) AS requests FROM mock_log();

-- the first refresh: everything, equal to the mock's truth and to a full
-- scan; a conversation deleted but still listed is visited like any other,
-- and quo_fdw.max_requests does not apply (the refresh has its own budget)
SELECT mock('change', '{"op": "delete_conversation", "id": "CN00000001", "listed": true}');
SELECT quo_fdw.requests_sent() AS before \gset
SET quo_fdw.max_requests = 1;
SELECT * FROM refresh('quo_local');
SHOW quo_fdw.max_requests;
RESET quo_fdw.max_requests;
SELECT count(*) AS requests_logged, (SELECT last_result->>'requests' FROM quo_fdw.mirror) AS requests_reported,
       quo_fdw.requests_sent() - :before AS requests_counted
  FROM mock_log();
SELECT count(*) FILTER (WHERE l LIKE 'GET /v1/conversations?%') AS conversations,
       count(*) FILTER (WHERE l LIKE 'GET /v1/users?%') AS users,
       count(*) FILTER (WHERE l LIKE 'GET /v1/phone-numbers%') AS phone_numbers,
       count(*) FILTER (WHERE l LIKE 'GET /v1/calls?%') AS calls,
       count(*) FILTER (WHERE l LIKE 'GET /v1/messages?%') AS messages,
       count(*) FILTER (WHERE l NOT LIKE '%-> 200') AS failed
  FROM mock_log() l;
SELECT count(*) = mtruth('kind=calls', 'count')::bigint AS calls_count,
       md5(string_agg(id, ',' ORDER BY id COLLATE "C")) = mtruth('kind=calls', 'ids_md5') AS calls_ids
  FROM quo_local.calls;
SELECT count(*) = mtruth('kind=messages', 'count')::bigint AS messages_count,
       md5(string_agg(id, ',' ORDER BY id COLLATE "C")) = mtruth('kind=messages', 'ids_md5') AS messages_ids
  FROM quo_local.messages;
SELECT count(*) AS calls_of_the_deleted FROM quo_local.calls c JOIN quo_local.conversations v
    ON v.phone_number_id = c.phone_number_id AND v.participants = c.participants
 WHERE v.id = 'CN00000001' AND v.deleted_at IS NOT NULL;
SELECT t, d.* FROM unnest('{users,phone_numbers,conversations,calls,messages}'::name[]) t, mirror_diff('quo_local', t) d;
SELECT count(*) FILTER (WHERE mirrored_at IS NULL) AS no_mirrored_at, count(DISTINCT mirrored_at) AS refreshes
  FROM quo_local.calls;

-- columns of the user's own in a mirror table are left alone
ALTER TABLE quo_local.calls ADD COLUMN minutes integer GENERATED ALWAYS AS (duration / 60) STORED,
                            ADD COLUMN note text;
-- nothing changed: the three listings, nothing written
SELECT mock('clearlog');
SELECT * FROM refresh('quo_local');
SELECT * FROM mlog();

-- a call ringing and a message sent a minute ago in conversation 3: its
-- two visits (only rows created since the last refresh's start less the
-- lookback)
SELECT mock('change', '[{"op": "call", "conversation": "CN00000003", "status": "ringing", "ago": 60},
                        {"op": "message", "conversation": "CN00000003", "status": "sent", "ago": 50}]');
SELECT mock('clearlog');
SELECT * FROM refresh('quo_local');
SELECT * FROM mlog();
SELECT id, status, duration, created_at > now() - interval '1 hour' AS recent FROM quo_local.calls
 WHERE id LIKE 'AC9%' ORDER BY id;
SELECT id, status, conversation_id, participants FROM quo_local.messages WHERE id LIKE 'AC9%' ORDER BY id;

-- then: the ringing call completes and the message is delivered without
-- moving their conversation (read again by id); new rows in conversations
-- 5 and 7; a new conversation with a call and a message; a new
-- conversation whose call is ten days old (older than the lookback: a
-- conversation new to the mirror is read from since); conversation 13
-- deleted and no longer listed, conversation 11 deleted and still listed
SELECT mock('clearlog');
SELECT mock('change', '[{"op": "update_call", "id": "AC90000001", "status": "completed", "duration": 95},
                        {"op": "update_message", "id": "AC90000002", "status": "delivered"},
                        {"op": "call", "conversation": "CN00000005", "status": "completed", "duration": 30, "ago": 40},
                        {"op": "message", "conversation": "CN00000005", "status": "received", "ago": 30},
                        {"op": "message", "conversation": "CN00000007", "status": "delivered", "ago": 20},
                        {"op": "conversation", "phone": "PNsupport02", "participants": ["+15550199001"]},
                        {"op": "call", "conversation": "CN90000001", "status": "missed", "ago": 10},
                        {"op": "message", "conversation": "CN90000001", "status": "received", "ago": 5},
                        {"op": "conversation", "phone": "PNsales0001", "participants": ["+15550199002"]},
                        {"op": "call", "conversation": "CN90000002", "status": "completed", "duration": 61, "ago": 864000},
                        {"op": "delete_conversation", "id": "CN00000013", "listed": false},
                        {"op": "delete_conversation", "id": "CN00000011", "listed": true}]');
SELECT mock('clearlog');
SELECT * FROM refresh('quo_local');
-- 3 listings; 2 visits in each of 5, 7 and the two new ones; the call and
-- the message read again by id; none for 11 (deleted and still listed: it
-- moved, but has no activity since the last refresh) or the unlisted one
SELECT * FROM mlog();
SELECT id, status, duration FROM quo_local.calls WHERE id LIKE 'AC9%' ORDER BY id;
SELECT id, status, conversation_id, participants FROM quo_local.messages WHERE id LIKE 'AC9%' ORDER BY id;
-- the unlisted one is taken for deleted when the next listing lacks it too
SELECT id, deleted_at IS NOT NULL AS deleted FROM quo_local.conversations
 WHERE id IN ('CN00000013', 'CN00000011', 'CN90000001', 'CN90000002') ORDER BY id;
-- the deleted conversations keep their rows
SELECT count(*) > 0 AS kept_calls FROM quo_local.calls c JOIN quo_local.conversations v
    ON v.phone_number_id = c.phone_number_id AND v.participants = c.participants
 WHERE v.id = 'CN00000013';
-- equal to the new truth and to a full scan, but for the rows of the
-- conversation the API no longer lists (kept, with deleted_at)
CREATE TEMP VIEW gone AS SELECT phone_number_id, participants, id FROM quo_local.conversations WHERE id = 'CN00000013';
SELECT count(*) = mtruth('kind=calls', 'count')::bigint AS calls_count,
       md5(string_agg(id, ',' ORDER BY id COLLATE "C")) = mtruth('kind=calls', 'ids_md5') AS calls_ids
  FROM quo_local.calls c
 WHERE NOT EXISTS (SELECT 1 FROM gone g WHERE g.phone_number_id = c.phone_number_id AND g.participants = c.participants);
SELECT count(*) = mtruth('kind=messages', 'count')::bigint AS messages_count,
       md5(string_agg(id, ',' ORDER BY id COLLATE "C")) = mtruth('kind=messages', 'ids_md5') AS messages_ids
  FROM quo_local.messages m WHERE m.conversation_id <> (SELECT id FROM gone);
SELECT t, d.*,
       CASE t WHEN 'calls' THEN (SELECT count(*) FROM quo_local.calls c JOIN gone g
                                   ON g.phone_number_id = c.phone_number_id AND g.participants = c.participants)
              WHEN 'messages' THEN (SELECT count(*) FROM quo_local.messages m JOIN gone g ON g.id = m.conversation_id)
              WHEN 'conversations' THEN 1 ELSE 0 END AS rows_of_the_deleted
  FROM unnest('{users,phone_numbers,conversations,calls,messages}'::name[]) t, mirror_diff('quo_local', t) d;

-- nothing pending any more: the listings only; the unlisted conversation
-- is now deleted
SELECT mock('clearlog');
SELECT * FROM refresh('quo_local');
SELECT count(*) AS requests FROM mock_log();
SELECT id, deleted_at IS NOT NULL AS deleted FROM quo_local.conversations WHERE id = 'CN00000013';
SELECT count(*) AS with_minutes FROM quo_local.calls WHERE minutes = duration / 60;

-- a refresh that fails changes nothing, and the next one completes
SELECT mock('change', '{"op": "message", "conversation": "CN00000005", "status": "received", "ago": 5}');
SELECT mirror_state('quo_local') AS state \gset
ALTER SERVER quo_mock OPTIONS (ADD max_retries '1');
SELECT mock_fault('{"action": "status", "status": 503, "retry_after": "0", "times": -1, "match": "GET /v1/messages?"}');
\set VERBOSITY terse
SELECT * FROM refresh('quo_local');
\set VERBOSITY default
SELECT mirror_state('quo_local') = :'state' AS unchanged;
SELECT mock('clearfaults');
-- over its budget
SET quo_fdw.mirror_max_requests = 4;
SELECT * FROM refresh('quo_local');
RESET quo_fdw.mirror_max_requests;
SELECT mirror_state('quo_local') = :'state' AS unchanged;
-- canceled while it waits on the API
SELECT mock_fault('{"action": "latency", "seconds": 3, "match": "GET /v1/messages?"}');
SET statement_timeout = '1s';
SELECT * FROM refresh('quo_local');
RESET statement_timeout;
SELECT mirror_state('quo_local') = :'state' AS unchanged;
SELECT mock('clearfaults');
ALTER SERVER quo_mock OPTIONS (DROP max_retries);
SELECT mock('clearlog');
SELECT * FROM refresh('quo_local');
SELECT * FROM mlog();
SELECT count(*) AS new_message FROM quo_local.messages WHERE id = 'AC90000009';

-- two refreshes of one mirror at once: the second fails at once, saying
-- why; readers see the old state until the first commits; another mirror
-- refreshes meanwhile
CREATE EXTENSION dblink;
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s user=%s', current_database(),
                      current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1),
                      current_user));
SELECT mock('change', '{"op": "call", "conversation": "CN00000007", "status": "completed", "duration": 12, "ago": 5}');
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', $$SELECT calls_inserted FROM quo_fdw.refresh_mirror('quo_local')$$) AS t(calls_inserted bigint);
SELECT * FROM refresh('quo_local');
SELECT count(*) AS new_call_seen FROM quo_local.calls WHERE id = 'AC90000010';
SELECT quo_fdw.create_mirror('quo_mock', 'quo_since', since => '2024-03-20');
SELECT requests > 0 AS fetched FROM refresh('quo_since');
SELECT dblink_exec('other', 'COMMIT');
SELECT dblink_disconnect('other');
SELECT count(*) AS new_call_seen FROM quo_local.calls WHERE id = 'AC90000010';
-- since bounds the history: equal to the full scan from that time
SELECT min(created_at) >= '2024-03-20' AS bounded,
       count(*) = (SELECT count(*) FROM quo.calls WHERE created_at >= '2024-03-20') AS same_count
  FROM quo_since.calls;
SELECT count(*) AS differ FROM (
  (SELECT id, status, raw FROM quo_since.messages EXCEPT SELECT id, status, raw FROM quo.messages WHERE created_at >= '2024-03-20')
  UNION ALL
  (SELECT id, status, raw FROM quo.messages WHERE created_at >= '2024-03-20' EXCEPT SELECT id, status, raw FROM quo_since.messages)) d;

-- the view
SELECT mirror_schema, server, since, lookback, watermark <= last_refresh AS ordered,
       last_result->'requests' AS last_requests, calls, messages, conversations, users, phone_numbers
  FROM quo_fdw.mirrors ORDER BY 1;

-- a reporting view over the mirror (docs/mirror.md): calls per user per day
CREATE VIEW quo_local.calls_per_user_day AS
SELECT coalesce(u.first_name || ' ' || u.last_name, u.email) AS user_name, date_trunc('day', c.created_at) AS day,
       count(*) AS calls, count(*) FILTER (WHERE c.status = 'completed') AS completed,
       sum(c.duration) AS seconds
  FROM quo_local.calls c JOIN quo_local.users u ON u.id = c.user_id
 GROUP BY 1, 2;
SELECT * FROM quo_local.calls_per_user_day ORDER BY day, user_name LIMIT 6;

-- a pending row whose id the API now answers with its documented 404 (the
-- call and the message are gone) leaves the mirror at the next refresh,
-- and costs no request after: 2 lookups, then the listings only
SELECT mock('change', '[{"op": "call", "conversation": "CN00000003", "status": "ringing", "ago": 30},
                        {"op": "message", "conversation": "CN00000003", "status": "sent", "ago": 20}]');
SELECT * FROM refresh('quo_local');
SELECT mock('change', '[{"op": "delete_call", "id": "AC90000011"}, {"op": "delete_message", "id": "AC90000012"}]');
SELECT mock('clearlog');
SELECT * FROM refresh('quo_local');
SELECT * FROM mlog();
SELECT (SELECT count(*) FROM quo_local.calls WHERE id = 'AC90000011') AS call_left,
       (SELECT count(*) FROM quo_local.messages WHERE id = 'AC90000012') AS message_left,
       last_result->'calls_removed' AS calls_removed, last_result->'messages_removed' AS messages_removed
  FROM quo_fdw.mirror WHERE mirror_schema = 'quo_local';
SELECT mock('clearlog');
SELECT requests FROM refresh('quo_local');
-- a pending row whose id cannot be the API's (not AC...) is not asked for,
-- and so never taken for gone
INSERT INTO quo_local.calls (id, status, created_at, phone_number_id, participants, mirrored_at)
VALUES ('XX00000001', 'ringing', now(), 'PNsales0001', '{+15550100002}', now());
SELECT requests, calls FROM refresh('quo_local');
SELECT count(*) AS kept FROM quo_local.calls WHERE id = 'XX00000001';
DELETE FROM quo_local.calls WHERE id = 'XX00000001';

-- time bounds never go through DateStyle or time zone abbreviations: a
-- mirror made and refreshed under 'SQL, DMY' in Asia/Shanghai (whose CST
-- would read back as US Central) and in Asia/Kolkata (IST, Israel) holds
-- exactly the rows from since, and its next refresh's bound is not moved
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Asia/Shanghai';
SELECT quo_fdw.create_mirror('quo_mock', 'quo_cst', since => '2024-03-20 00:00+08');
SELECT requests > 0 AS fetched FROM refresh('quo_cst');
SELECT count(*) AS calls, count(*) = (SELECT count(*) FROM quo.calls WHERE created_at >= '2024-03-20 00:00+08') AS exact
  FROM quo_cst.calls;
SELECT count(*) AS messages, count(*) = (SELECT count(*) FROM quo.messages WHERE created_at >= '2024-03-20 00:00+08') AS exact
  FROM quo_cst.messages;
SET TimeZone = 'Asia/Kolkata';
SELECT mock('change', '{"op": "call", "conversation": "CN00000005", "status": "completed", "duration": 7, "ago": 3600}');
SELECT calls FROM refresh('quo_cst');
SELECT count(*) = (SELECT count(*) FROM quo.calls WHERE created_at >= '2024-03-20 00:00+08') AS exact FROM quo_cst.calls;
RESET DateStyle;
SET TimeZone = 'UTC';
SELECT quo_fdw.drop_mirror('quo_cst');

-- drop: the tables, the foreign tables it read, the catalog row, and the
-- schema create_mirror made (kept while it holds other objects)
SELECT quo_fdw.drop_mirror('quo_since');
-- not while a view of the user's reads a mirror table (the ERROR undoes it all)
SELECT quo_fdw.drop_mirror('quo_local');
SELECT count(*) AS tables_left FROM pg_class WHERE relnamespace = 'quo_local'::regnamespace AND relkind = 'r';
DROP VIEW quo_local.calls_per_user_day, gone;
SELECT quo_fdw.drop_mirror('quo_local');
SELECT count(*) AS mirrors FROM quo_fdw.mirror;
SELECT count(*) AS foreign_tables_left FROM pg_class WHERE relnamespace = 'quo_fdw'::regnamespace AND relkind = 'f';
SELECT nspname FROM pg_namespace WHERE nspname IN ('quo_local', 'quo_since');
DROP SERVER not_quo_server;
DROP FOREIGN DATA WRAPPER not_quo;
SELECT mock_reset();

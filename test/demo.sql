-- make demo: a tour of quo_fdw against the bundled mock workspace (or the
-- real API when QUO_API_KEY is set).  psql variables: base_url, api_key.
\set ON_ERROR_STOP 1
\pset footer off
SET timezone = 'UTC';
DROP DATABASE IF EXISTS quo_demo;
CREATE DATABASE quo_demo;
\c quo_demo
SET timezone = 'UTC';
CREATE EXTENSION quo_fdw;
CREATE SERVER quo FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'base_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo OPTIONS (api_key :'api_key');
CREATE SCHEMA quo;
IMPORT FOREIGN SCHEMA quo FROM SERVER quo INTO quo;

\echo
\echo '== Local CRM data: accounts and their phone numbers'
CREATE TABLE accounts (name text, phone text, plan text);
INSERT INTO accounts VALUES
  ('Acme Corp', '+15550100002', 'enterprise'),
  ('Globex', '+15550100005', 'pro'),
  ('Initech', '+15550109999', 'pro'),
  ('Umbrella', '+15550100017', 'free');
TABLE accounts;

\echo '== Conversations per Quo number, with the most recent activity'
SELECT phone_number_id, count(*) AS conversations, max(last_activity_at) AS last_activity
  FROM quo.conversations GROUP BY 1 ORDER BY 1;

\echo '== Which conversation belongs to which account (a join with a local table)'
SELECT a.name, c.id AS conversation, c.phone_number_id, c.last_activity_at
  FROM accounts a JOIN quo.conversations c ON a.phone = ANY (c.participants)
 ORDER BY a.name, c.phone_number_id;

-- pick a busy 1:1 conversation and a group conversation to report on
SELECT phone_number_id AS pn, participants[1] AS who
  FROM quo.conversations WHERE cardinality(participants) = 1
 ORDER BY last_activity_at DESC NULLS LAST LIMIT 1 \gset
SELECT phone_number_id AS gpn, participants::text AS gparts
  FROM (SELECT phone_number_id, participants, last_activity_at FROM quo.conversations
         WHERE cardinality(participants) > 1
        UNION ALL SELECT :'pn', ARRAY[:'who'], NULL) g
 ORDER BY last_activity_at DESC NULLS LAST LIMIT 1 \gset
\echo '== Reporting on' :'pn' 'with' :'who'

\echo '== Call report for one account: answered vs missed, talk time (WHERE becomes API filters)'
SELECT status, count(*) AS calls, sum(duration) AS seconds
  FROM quo.calls
 WHERE phone_number_id = :'pn' AND :'who' = ANY (participants)
   AND created_at >= '2024-04-01' AND created_at < '2024-05-01'
 GROUP BY status ORDER BY calls DESC;

\echo '== Calls per account: the join turns each account into one precise request (docs/pushdown.md)'
SELECT a.name, count(c.id) AS calls, sum(c.duration) AS seconds
  FROM accounts a
  JOIN quo.calls c ON c.phone_number_id = :'pn' AND a.phone = ANY (c.participants)
 GROUP BY a.name ORDER BY a.name;

\echo '== Calls per user name in that conversation (users name the calls: one users listing)'
SELECT coalesce(u.first_name || ' ' || u.last_name, u.email) AS user_name, count(*) AS calls,
       sum(c.duration) AS seconds
  FROM quo.calls c JOIN quo.users u ON u.id = c.user_id
 WHERE c.phone_number_id = :'pn' AND :'who' = ANY (c.participants)
 GROUP BY 1 ORDER BY 1;

\echo '== Missed calls per line, by the line''s name (phone_numbers)'
SELECT p.name AS line, count(*) FILTER (WHERE c.status IN ('missed', 'no-answer')) AS missed,
       count(*) AS calls
  FROM quo.calls c JOIN quo.phone_numbers p ON p.id = c.phone_number_id
 WHERE c.phone_number_id = :'pn' AND :'who' = ANY (c.participants)
 GROUP BY p.name;

\echo '== Five completed calls with the customer''s company and the call''s AI summary (one request per call; no summary is NULL)'
-- a real workspace whose plan has no summaries gets the 403 and its HINT
\set ON_ERROR_STOP 0
SELECT c.id, ct.company AS customer, s.status AS summary_status, s.summary[1] AS summary
  FROM (SELECT * FROM quo.calls
         WHERE phone_number_id = :'pn' AND :'who' = ANY (participants) AND status = 'completed' LIMIT 5) c
  LEFT JOIN quo.call_summaries s ON s.call_id = c.id
  LEFT JOIN quo.contacts ct ON c.participants[1] = ANY (ct.phone_numbers)
 ORDER BY c.id;
\set ON_ERROR_STOP 1

\echo '== The request that report made'
EXPLAIN (VERBOSE, COSTS OFF)
SELECT status FROM quo.calls
 WHERE phone_number_id = :'pn' AND :'who' = ANY (participants)
   AND created_at >= '2024-04-01' AND created_at < '2024-05-01';

\echo '== Five texts of that conversation (LIMIT becomes maxResults=5: one small request)'
SELECT created_at, direction, text
  FROM quo.messages
 WHERE phone_number_id = :'pn' AND participants = ARRAY[:'who']
 LIMIT 5;

\echo '== Every text of a group conversation, streamed page by page'
SELECT count(*) AS messages, min(created_at), max(created_at)
  FROM quo.messages
 WHERE phone_number_id = :'gpn' AND participants = :'gparts'::text[];

\echo '== Calls by id, straight from the API (a missing id is no row)'
SELECT array_agg(id)::text AS ids FROM (SELECT id FROM quo.calls
  WHERE phone_number_id = :'pn' AND :'who' = ANY (participants) LIMIT 2) s \gset
SELECT id, direction, status, duration, raw->>'callRoute' AS route
  FROM quo.calls WHERE id = ANY (:'ids'::text[] || 'AC99999999'::text) ORDER BY id;

\echo '== EXPLAIN ANALYZE counts requests and pages (docs/pushdown.md, EXPLAIN)'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM quo.calls
 WHERE phone_number_id = :'pn' AND :'who' = ANY (participants);

\echo '== A mirror for reporting views: local tables, refreshed for the cost of what changed (docs/mirror.md)'
SET quo_fdw.mirror_max_requests = 5000;
SELECT quo_fdw.create_mirror('quo', 'quo_local');
\echo '-- the first refresh fetches everything'
SELECT requests, conversations_visited, calls_inserted, messages_inserted, conversations_inserted,
       users_inserted, phone_numbers_inserted
  FROM quo_fdw.refresh_mirror('quo_local');
\echo '-- the next one, with nothing new, costs the listings only'
SELECT requests, conversations_visited, conversations_skipped,
       calls_inserted + calls_updated AS calls_written, messages_inserted + messages_updated AS messages_written
  FROM quo_fdw.refresh_mirror('quo_local');
\echo '-- a reporting view over the mirror (no request when it is read): calls per user per day'
CREATE VIEW quo_local.calls_per_user_day AS
SELECT coalesce(u.first_name || ' ' || u.last_name, u.email) AS user_name,
       date_trunc('day', c.created_at)::date AS day,
       count(*) AS calls, count(*) FILTER (WHERE c.status = 'completed') AS completed,
       sum(c.duration) AS seconds
  FROM quo_local.calls c JOIN quo_local.users u ON u.id = c.user_id
 GROUP BY 1, 2;
SELECT * FROM quo_local.calls_per_user_day ORDER BY day DESC, user_name LIMIT 6;
SELECT mirror_schema, last_result->'requests' AS last_requests, calls, messages, conversations, users
  FROM quo_fdw.mirrors;

\echo '== A workspace-wide question: no number, no participant; the calls are listed through the conversations (docs/workspace-scans.md)'
SELECT quo_fdw.requests_sent() AS before \gset
SELECT count(*) AS missed_calls FROM quo.calls WHERE status = 'missed';
SELECT quo_fdw.requests_sent() - :before AS requests;

\echo '== A question the API cannot answer gets an error that says what to add'
\echo '-- summaries exist only per call: there is no list of them (docs/tables.md, the per-call tables)'
\set ON_ERROR_STOP 0
SELECT count(*) FROM quo.call_summaries WHERE status = 'completed';
\set ON_ERROR_STOP 1
\echo '== Read on: README.md, and a page per topic in docs/'
\c postgres
DROP DATABASE quo_demo;

--
-- joins: with a local table on the outer side of a nested loop, each
-- outer row becomes one precise request (parameterized foreign paths)
--
SET timezone = 'UTC';
SET search_path = quo, public;
SELECT mock_reset();
CREATE TABLE wanted (call_id text);
INSERT INTO wanted VALUES ('AC00000001'), ('AC00000004'), ('AC99999999');
CREATE TABLE accounts (name text, phone text);
INSERT INTO accounts VALUES ('Acme', '+15550100002'), ('Globex', '+15550100005'), ('Nobody', '+15550199999');
ANALYZE wanted, accounts;

-- calls by id from a local list: GET /v1/calls/{id} per row
EXPLAIN (COSTS OFF, VERBOSE)
SELECT w.call_id, c.status FROM wanted w JOIN calls c ON c.id = w.call_id;
SELECT w.call_id, c.status, c.duration FROM wanted w JOIN calls c ON c.id = w.call_id ORDER BY 1;
SELECT * FROM mock_log();
SELECT mock_reset();

-- the same through LATERAL and a correlated sub-select; a missing call is NULL
SELECT w.call_id, c.status
  FROM wanted w LEFT JOIN LATERAL (SELECT status FROM calls WHERE id = w.call_id) c ON true ORDER BY 1;
SELECT w.call_id, (SELECT status FROM calls c WHERE c.id = w.call_id) FROM wanted w ORDER BY 1;
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();

-- a report per account: participants come from the local table
EXPLAIN (COSTS OFF)
SELECT a.name, count(c.id) FROM accounts a
  JOIN calls c ON c.phone_number_id = 'PNsales0001' AND a.phone = ANY (c.participants) GROUP BY a.name;
SELECT a.name, count(c.id) AS calls, sum(c.duration) AS seconds
  FROM accounts a JOIN calls c ON c.phone_number_id = 'PNsales0001' AND a.phone = ANY (c.participants)
 GROUP BY a.name ORDER BY 1;
SELECT a.name, count(m.id) AS texts
  FROM accounts a LEFT JOIN messages m ON m.phone_number_id = 'PNsupport02' AND m.participants = ARRAY[a.phone]
 GROUP BY a.name ORDER BY 1;
SELECT * FROM mock_log();
SELECT mock_reset();

-- EXPLAIN ANALYZE counts the requests of every loop
SELECT * FROM explain_analyze($$SELECT c.status FROM wanted w JOIN calls c ON c.id = w.call_id$$);
SELECT mock_reset();

-- two scans at once on the backend's one multi handle: a request the outer
-- scan started ahead finishes while the inner scan waits, and the outer scan
-- claims it before waiting (the timeout turns a hang into a failure)
SET statement_timeout = '20s';
SELECT mock_fault('{"action": "latency", "match": "/v1/calls/AC00000004", "seconds": 0.3}');
SELECT mock_fault('{"action": "latency", "match": "/v1/messages/", "seconds": 0.8, "times": -1}');
SELECT c.id, m.id AS message FROM calls c LEFT JOIN messages m ON m.id = c.id
 WHERE c.id IN ('AC00000001', 'AC00000004') ORDER BY 1;
RESET statement_timeout;
SELECT mock_reset();

-- an outer side with no rows: the nested loop never sets the join parameter,
-- so EXPLAIN ANALYZE shows the request's shape and that none was made (it
-- used to evaluate the unset parameter and crash the backend)
DELETE FROM wanted;
SELECT * FROM explain_analyze($$SELECT c.status FROM wanted w JOIN calls c ON c.id = w.call_id$$, with_verbose => true);
SELECT * FROM explain_analyze($$SELECT a.name, c.id FROM accounts a
  JOIN calls c ON c.phone_number_id = 'PNsales0001' AND a.phone = ANY (c.participants)
 WHERE a.name = 'no such account'$$, with_verbose => true);
SELECT count(*) AS requests FROM mock_log();
INSERT INTO wanted VALUES ('AC00000001'), ('AC00000004'), ('AC99999999');

-- a join that cannot supply the phone number: each account's phone is the
-- participant of a fan-out whose listing is made once for the query (the
-- rescans reuse it), and only that account's conversations are visited
EXPLAIN (COSTS OFF, VERBOSE) SELECT count(*) FROM accounts a JOIN calls c ON a.phone = ANY (c.participants);
SELECT a.name, count(*) FROM accounts a JOIN calls c ON a.phone = ANY (c.participants) GROUP BY 1 ORDER BY 1;
SELECT count(*) FILTER (WHERE l LIKE 'GET /v1/conversations%') AS listings, count(*) AS requests FROM mock_log() l;
SELECT mock_reset();
-- EXPLAIN ANALYZE: the requests of every loop, the last loop's conversations
SELECT l FROM explain_analyze($$SELECT count(*) FROM accounts a JOIN calls c ON a.phone = ANY (c.participants)
 WHERE a.name <> 'Nobody'$$) l WHERE l !~ 'Peak Requests In Flight|Rate Limit Wait|Bytes Received';
SELECT mock_reset();
-- an outer side of thousands of rows: one fan-out of every conversation,
-- joined here (4 visits a row would cost more)
CREATE TABLE many_accounts AS
  SELECT 'n' || i AS name, '+1555' || lpad(i::text, 7, '0') AS phone FROM generate_series(1, 5000) i;
ANALYZE many_accounts;
EXPLAIN (COSTS OFF) SELECT count(*) FROM many_accounts a JOIN calls c ON a.phone = ANY (c.participants);
DROP TABLE many_accounts;
SELECT count(*) AS requests FROM mock_log();
-- with fanout off it says what is missing
ALTER FOREIGN TABLE calls OPTIONS (ADD fanout 'off');
SELECT count(*) FROM accounts a JOIN calls c ON a.phone = ANY (c.participants);
ALTER FOREIGN TABLE calls OPTIONS (DROP fanout);
-- quo_fdw.max_requests holds for the whole query, rescans included: a
-- nested loop over 30 local call ids under a budget of 20 stops before the
-- 21st request, as does a correlated sub-select (each rescan used to start
-- the count again, and all 30 were made)
CREATE TABLE many_ids AS SELECT 'AC' || lpad(i::text, 8, '0') AS call_id FROM generate_series(1, 30) i;
ANALYZE many_ids;
SET quo_fdw.max_requests = 20;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
EXPLAIN (COSTS OFF) SELECT count(c.status) FROM many_ids w JOIN calls c ON c.id = w.call_id;
SELECT count(c.status) FROM many_ids w JOIN calls c ON c.id = w.call_id;
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
SELECT count((SELECT status FROM calls c WHERE c.id = w.call_id)) FROM many_ids w;
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
-- within it, the query answers
SET quo_fdw.max_requests = 30;
SELECT count(c.status) FROM many_ids w JOIN calls c ON c.id = w.call_id;
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
-- two scans of one query share it (here 2 + 2 of 3)
SET quo_fdw.max_requests = 3;
SELECT (SELECT count(*) FROM calls WHERE id IN ('AC00000001', 'AC00000002')) AS a,
       (SELECT count(*) FROM calls WHERE id IN ('AC00000003', 'AC00000004')) AS b;
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
-- the queries a function runs for each row are the statement's too: a
-- function per row stops at the budget as a join does
CREATE FUNCTION call_status(i text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN (SELECT status FROM calls WHERE id = i);
END $$;
SET quo_fdw.max_requests = 5;
-- (no CONTEXT: PostgreSQL 18 words it "PL/pgSQL expression", older ones "SQL expression")
\set SHOW_CONTEXT never
SELECT count(call_status(call_id)) FROM many_ids;
\set SHOW_CONTEXT errors
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
DROP FUNCTION call_status(text);
SET quo_fdw.max_requests = 3;
-- and each statement has its own
SELECT count(*) FROM calls WHERE id IN ('AC00000001', 'AC00000002');
SELECT count(*) FROM calls WHERE id IN ('AC00000003', 'AC00000004');
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
RESET quo_fdw.max_requests;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
DROP TABLE many_ids;
DROP TABLE wanted, accounts;

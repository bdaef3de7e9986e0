--
-- join_lookup: a join of two Quo tables whose inner side is read by id
-- (users, tasks, calls, messages) runs as one foreign scan over its outer
-- side: the ids of a window of outer rows are looked up at once, under
-- max_concurrent_requests and the rate limit, one GET per distinct id
--
SET timezone = 'UTC';
SET search_path = quo, public;
SELECT mock_reset();

-- a modest outer side: the plan is the join, not a listing of every user
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c.id, u.first_name FROM calls c JOIN users u ON u.id = c.user_id
 WHERE c.id IN ('AC00000001', 'AC00000004', 'AC00000009');
SELECT c.id, c.user_id, u.first_name, u.role FROM calls c JOIN users u ON u.id = c.user_id
 WHERE c.id IN ('AC00000001', 'AC00000004', 'AC00000009') ORDER BY 1;
-- two calls of one user: one GET for the user
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();
-- any table read by id can be the inner side: calls and their messages by id
EXPLAIN (COSTS OFF)
SELECT c.id, m.id AS message FROM calls c LEFT JOIN messages m ON m.id = c.id
 WHERE c.id IN ('AC00000001', 'AC00000004');

-- INNER and LEFT over tasks: a NULL assignee and a system user (SYU..., not
-- a user id) cost no request; LEFT keeps their tasks, null-extended
EXPLAIN (VERBOSE, COSTS OFF)
SELECT t.id, u.email FROM tasks t LEFT JOIN users u ON u.id = t.assigned_to
 WHERE t.id IN ('TK00000001', 'TK00000002', 'TK00000008', 'TK00000009');
SELECT t.id, t.assigned_to, u.email FROM tasks t LEFT JOIN users u ON u.id = t.assigned_to
 WHERE t.id IN ('TK00000001', 'TK00000002', 'TK00000008', 'TK00000009') ORDER BY 1;
SELECT t.id, t.assigned_to, u.email FROM tasks t JOIN users u ON u.id = t.assigned_to
 WHERE t.id IN ('TK00000001', 'TK00000002', 'TK00000008', 'TK00000009') ORDER BY 1;
SELECT * FROM mock_log() WHERE mock_log LIKE 'GET /v1/users%' ORDER BY 1;
SELECT mock_reset();

-- every task: the planner lists the users for a hash join (a listing of
-- users is cheaper than a lookup per task); without hash and merge joins
-- (nor a materialized listing), the id-lookup join rather than a nested
-- loop of one lookup at a time
EXPLAIN (COSTS OFF)
SELECT t.id, u.email FROM tasks t LEFT JOIN users u ON u.id = t.assigned_to;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
EXPLAIN (COSTS OFF)
SELECT t.id, u.email FROM tasks t LEFT JOIN users u ON u.id = t.assigned_to;
-- exact: the same answer as the listing joined here
CREATE TEMP TABLE by_lookup AS
SELECT t.id, t.assigned_to, u.email, u.first_name FROM tasks t LEFT JOIN users u ON u.id = t.assigned_to;
-- one GET per distinct user id, besides the two pages of tasks
SELECT * FROM mock_log() ORDER BY 1;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
CREATE TEMP TABLE by_listing AS
SELECT t.id, t.assigned_to, u.email, u.first_name FROM tasks t LEFT JOIN users u ON u.id = t.assigned_to;
SELECT count(*) AS rows, count(email) AS with_user,
       count(*) FILTER (WHERE assigned_to IS NULL) AS unassigned,
       count(*) FILTER (WHERE assigned_to LIKE 'SYU%') AS system_user
  FROM by_lookup;
SELECT count(*) AS differences FROM
  ((TABLE by_lookup EXCEPT ALL TABLE by_listing) UNION ALL (TABLE by_listing EXCEPT ALL TABLE by_lookup)) d;
DROP TABLE by_lookup, by_listing;
SELECT mock_reset();

-- Quo's documented 404 is no user: the INNER join drops the row, the LEFT
-- join keeps it null-extended (a fault for one user, and an id the mock
-- does not know)
SELECT mock_fault('{"match": "/v1/users/UScarol0003", "action": "status", "status": 404, "times": -1}');
SELECT t.id, u.first_name FROM tasks t JOIN users u ON u.id = t.assigned_to
 WHERE t.id IN ('TK00000002', 'TK00000003', 'TK00000004') ORDER BY 1;
SELECT t.id, u.first_name FROM tasks t LEFT JOIN users u ON u.id = t.assigned_to
 WHERE t.id IN ('TK00000002', 'TK00000003', 'TK00000004') ORDER BY 1;
SELECT t.id, u.id AS user_id FROM tasks t LEFT JOIN users u ON u.id = coalesce(t.assigned_to, 'USnobody')
 WHERE t.id IN ('TK00000001', 'TK00000002') ORDER BY 1;
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();

-- other conditions of an INNER join, and of the inner table, are checked on
-- the joined rows
EXPLAIN (VERBOSE, COSTS OFF)
SELECT t.id, u.role FROM tasks t JOIN users u ON u.id = t.assigned_to AND u.role <> t.title
 WHERE t.id IN ('TK00000002', 'TK00000003', 'TK00000004') AND u.role = 'member';
SELECT t.id, u.role FROM tasks t JOIN users u ON u.id = t.assigned_to AND u.role <> t.title
 WHERE t.id IN ('TK00000002', 'TK00000003', 'TK00000004') AND u.role = 'member';
-- a LEFT join with another ON condition is not an id-lookup join
EXPLAIN (COSTS OFF)
SELECT t.id, u.role FROM tasks t LEFT JOIN users u ON u.id = t.assigned_to AND u.role = 'member'
 WHERE t.id IN ('TK00000002', 'TK00000003');
-- nor is a join with a local table: each outer row is a parameterized lookup
CREATE TEMP TABLE wanted_users (id text);
INSERT INTO wanted_users VALUES ('USbob000002'), ('UScarol0003');
ANALYZE wanted_users;
EXPLAIN (COSTS OFF)
SELECT w.id, u.first_name FROM wanted_users w JOIN users u ON u.id = w.id;
DROP TABLE wanted_users;
SELECT mock_reset();

-- lookups run concurrently: with latency on every user, the three distinct
-- users of the first tasks are in flight at once
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SELECT mock_fault('{"match": "/v1/users/", "action": "latency", "seconds": 0.2, "times": -1}');
CREATE TEMP TABLE plan_lines (line text);
INSERT INTO plan_lines
SELECT * FROM explain_analyze($$SELECT t.id, u.email FROM tasks t JOIN users u ON u.id = t.assigned_to$$);
SELECT line FROM plan_lines WHERE line !~ 'Peak';
SELECT substring(line from '[0-9]+$')::int > 1 AS concurrent FROM plan_lines WHERE line ~ 'Peak';
SELECT substring(m from '[0-9]+$')::int > 1 AS mock_saw_concurrent FROM mock('flight') m;
SELECT mock_reset();
-- and one at a time with max_concurrent_requests 1
ALTER SERVER quo_mock OPTIONS (ADD max_concurrent_requests '1');
SELECT mock_fault('{"match": "/v1/users/", "action": "latency", "seconds": 0.1, "times": -1}');
SELECT * FROM explain_analyze($$SELECT t.id, u.email FROM tasks t JOIN users u ON u.id = t.assigned_to$$);
SELECT mock('flight');
ALTER SERVER quo_mock OPTIONS (DROP max_concurrent_requests);
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
DROP TABLE plan_lines;
SELECT mock_reset();

-- the rate limit holds: at 2 requests a second, against a mock that
-- answers 429 past 2 a second, five lookups get no 429
ALTER SERVER quo_mock OPTIONS (SET rate_limit '2');
SELECT mock_fault('{"action": "enforce_rate", "rps": 2}');
SELECT count(*) AS rows, count(u.id) AS users FROM tasks t LEFT JOIN users u ON u.id = 'USx' || t.id
 WHERE t.id IN ('TK00000001', 'TK00000002', 'TK00000003', 'TK00000004', 'TK00000005');
SELECT count(*) FILTER (WHERE l LIKE 'GET /v1/users/%') AS lookups,
       count(*) FILTER (WHERE l LIKE '% 429') AS too_many FROM mock_log() l;
SELECT m FROM mock('stats') m WHERE m LIKE 'max requests in one second%';
ALTER SERVER quo_mock OPTIONS (SET rate_limit '0');
SELECT mock_reset();

-- failures are the table's errors: a 403 with its hint, a 500 after its
-- retries; never an empty or partial answer
SELECT mock_fault('{"match": "/v1/users/", "action": "status", "status": 403, "times": -1}');
SELECT t.id, u.email FROM tasks t JOIN users u ON u.id = t.assigned_to
 WHERE t.id IN ('TK00000002', 'TK00000003');
SELECT mock_reset();
ALTER SERVER quo_mock OPTIONS (ADD max_retries '1');
SELECT mock_fault('{"match": "/v1/users/", "action": "status", "status": 500, "times": -1}');
SELECT t.id, u.email FROM tasks t LEFT JOIN users u ON u.id = t.assigned_to
 WHERE t.id IN ('TK00000002', 'TK00000003');
ALTER SERVER quo_mock OPTIONS (DROP max_retries);
SELECT mock_reset();

-- quo_fdw.max_requests holds the join's lookups too: stopped before the third
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SET quo_fdw.max_requests = 2;
SELECT count(*) FROM tasks t LEFT JOIN users u ON u.id = 'USx' || t.id;
RESET quo_fdw.max_requests;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
SELECT mock_reset();

-- EXPLAIN makes no request; EXPLAIN ANALYZE with an empty outer side works
EXPLAIN (VERBOSE, COSTS OFF)
SELECT t.id, u.email FROM tasks t LEFT JOIN users u ON u.id = lower(t.assigned_to)
 WHERE t.id IN ('TK00000002', 'TK00000003');
SELECT * FROM explain_analyze($$SELECT t.id, u.email FROM tasks t JOIN users u ON u.id = t.assigned_to
 WHERE t.id IN ('TK99999999', 'nope')$$, with_verbose => true);
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();

-- rescans: under a correlated sub-select and a LATERAL sub-query, the join
-- runs again for each outer value
EXPLAIN (COSTS OFF)
SELECT v.x, (SELECT u.first_name FROM tasks t JOIN users u ON u.id = t.assigned_to WHERE t.id = v.x) AS name
  FROM (VALUES ('TK00000002'), ('TK00000003'), ('TK00000001'), ('TK00000004')) v(x);
SELECT v.x, (SELECT u.first_name FROM tasks t JOIN users u ON u.id = t.assigned_to WHERE t.id = v.x) AS name
  FROM (VALUES ('TK00000002'), ('TK00000003'), ('TK00000001'), ('TK00000004')) v(x) ORDER BY 1;
EXPLAIN (COSTS OFF)
SELECT v.x, s.first_name
  FROM (VALUES ('TK00000002'), ('TK00000003'), ('TK00000001')) v(x)
  LEFT JOIN LATERAL (SELECT u.first_name FROM tasks t JOIN users u ON u.id = t.assigned_to
                      WHERE t.id = v.x OFFSET 0) s ON true;
SELECT v.x, s.first_name
  FROM (VALUES ('TK00000002'), ('TK00000003'), ('TK00000001')) v(x)
  LEFT JOIN LATERAL (SELECT u.first_name FROM tasks t JOIN users u ON u.id = t.assigned_to
                      WHERE t.id = v.x OFFSET 0) s ON true ORDER BY 1;
SELECT count(*) FILTER (WHERE l LIKE 'GET /v1/users/%') AS user_lookups FROM mock_log() l;
SELECT mock_reset();

-- a LIMIT above the join: the window starts at one row and grows, so few
-- lookups are made past the rows needed
EXPLAIN (COSTS OFF)
SELECT t.id, u.email FROM tasks t JOIN users u ON u.id = t.assigned_to
 WHERE t.id IN ('TK00000001', 'TK00000002', 'TK00000003', 'TK00000004', 'TK00000005',
                'TK00000006', 'TK00000007', 'TK00000009', 'TK00000010') LIMIT 1;
SELECT t.id, u.email FROM tasks t JOIN users u ON u.id = t.assigned_to
 WHERE t.id IN ('TK00000001', 'TK00000002', 'TK00000003', 'TK00000004', 'TK00000005',
                'TK00000006', 'TK00000007', 'TK00000009', 'TK00000010') LIMIT 1;
-- at most two lookups made (the window's second row is submitted with the
-- first; whether it starts before the first answer is timing), of the
-- seven ids of the nine tasks
SELECT substring(e from '[0-9]+$')::int BETWEEN 1 AND 2 AS at_most_two
  FROM explain_analyze($$SELECT t.id, u.email FROM tasks t JOIN users u ON u.id = t.assigned_to
 WHERE t.id IN ('TK00000001', 'TK00000002', 'TK00000003', 'TK00000004', 'TK00000005',
                'TK00000006', 'TK00000007', 'TK00000009', 'TK00000010') LIMIT 1$$) WITH ORDINALITY x(e, n)
 WHERE e ~ 'Quo Requests Made' ORDER BY n LIMIT 1;
SELECT mock_reset();

-- a join of joins: the assignee and the creator of each task
EXPLAIN (COSTS OFF)
SELECT t.id, a.first_name AS assignee, c.first_name AS creator
  FROM tasks t LEFT JOIN users a ON a.id = t.assigned_to JOIN users c ON c.id = t.created_by
 WHERE t.id IN ('TK00000001', 'TK00000002', 'TK00000003', 'TK00000008');
SELECT t.id, a.first_name AS assignee, c.first_name AS creator
  FROM tasks t LEFT JOIN users a ON a.id = t.assigned_to JOIN users c ON c.id = t.created_by
 WHERE t.id IN ('TK00000001', 'TK00000002', 'TK00000003', 'TK00000008') ORDER BY 1;
SELECT mock_reset();

-- a cancel (statement_timeout) while lookups hang leaves no request behind
SELECT mock_fault('{"match": "/v1/users/", "action": "hang", "seconds": 10, "times": -1}');
SET statement_timeout = '500ms';
SELECT t.id, u.email FROM tasks t JOIN users u ON u.id = t.assigned_to
 WHERE t.id IN ('TK00000002', 'TK00000003', 'TK00000004');
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SELECT mock_reset();
SET client_min_messages = debug1;
SELECT t.id, u.email FROM tasks t JOIN users u ON u.id = t.assigned_to
 WHERE t.id IN ('TK00000002');
RESET client_min_messages;
SELECT mock_reset();

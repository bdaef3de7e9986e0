--
-- users: GET /v1/users (maxResults 1..50, pages) and GET /v1/users/{userId}
--
SET timezone = 'UTC';
SET search_path = quo, public;
SELECT mock_reset();
\d users
SELECT id, email, first_name, last_name, picture_url, role, created_at, updated_at FROM users ORDER BY id;
SELECT raw FROM users WHERE id = 'USdave00004';
SELECT * FROM mock_log();
SELECT mock_reset();

-- id = v and IN: a get by id each; a value outside ^US costs no request,
-- and an id the API does not know is no row
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM users WHERE id IN ('USbob000002', 'USnobody', 'bob');
SELECT id, first_name, role FROM users WHERE id IN ('USbob000002', 'USnobody', 'bob') ORDER BY id;
SELECT * FROM mock_log() ORDER BY 1;
SELECT id FROM users WHERE id = 'alice';
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();

-- pages of 50, the endpoint's largest, to the last row
SELECT mock('workspace', '{"bulk_users": 120}');
SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE id LIKE 'USbulk%') AS bulk FROM users;
SELECT * FROM mock_log();
-- a LIMIT within 1..50 is the page size; a larger one pages by 50
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM users LIMIT 3;
SELECT mock_reset();
SELECT mock('workspace', '{"bulk_users": 120}');
SELECT count(*) FROM (SELECT id FROM users LIMIT 3) s;
SELECT count(*) FROM (SELECT id FROM users LIMIT 70) s;
SELECT * FROM mock_log();
SELECT mock_reset();

-- names for reports: calls per user name in one conversation
SELECT coalesce(u.first_name, u.id) AS user_name, count(*) AS calls
  FROM calls c JOIN users u ON u.id = c.user_id
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (c.participants)
 GROUP BY 1 ORDER BY 1;
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();

-- a nested loop: one get by id per distinct outer id, none for a NULL
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT v.id, u.first_name FROM (VALUES ('USbob000002'), ('UScarol0003'), (NULL)) v(id) JOIN users u ON u.id = v.id;
SELECT v.id, u.first_name FROM (VALUES ('USbob000002'), ('UScarol0003'), (NULL)) v(id) JOIN users u ON u.id = v.id
 ORDER BY 1;
SELECT * FROM mock_log() ORDER BY 1;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
SELECT mock_reset();

-- the API's errors for users are reported as for every table
SELECT mock_fault('{"match": "/v1/users", "action": "status", "status": 403}');
SELECT count(*) FROM users;
SELECT mock_reset();

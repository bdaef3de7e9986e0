--
-- tasks: GET /v1/tasks (maxResults 1..100; the last page has no
-- nextPageToken) and GET /v1/tasks/{taskId}
--
SET timezone = 'UTC';
SET search_path = quo, public;
SELECT mock_reset();
\d tasks
-- every task, in two pages (100 and 30)
SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE completed) AS completed,
       count(*) FILTER (WHERE is_deleted) AS deleted, count(due_date) AS with_due_date,
       count(*) FILTER (WHERE assigned_to LIKE 'SYU%') AS assigned_to_system
  FROM tasks;
SELECT * FROM mock_log();
SELECT mock_reset();
-- get by id: every column, nullable ones null; an unknown id is no row,
-- one outside ^TK costs no request
SELECT id, phone_number_id, conversation_id, activity_id, title, description, assigned_to,
       assigned_by, created_by, revision, due_date, created_at, completed, is_deleted
  FROM tasks WHERE id IN ('TK00000001', 'TK00000005', 'TK99999999', 'task-1') ORDER BY id;
SELECT raw->>'orgId' AS org, raw->>'phoneNumberGroupId' AS group_id FROM tasks WHERE id = 'TK00000002';
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();
-- LIMIT within 1..100 is the page size
SELECT count(*) FROM (SELECT id FROM tasks LIMIT 5) s;
SELECT * FROM mock_log();
SELECT mock_reset();
-- open tasks per assignee name, with users
SELECT coalesce(u.first_name, t.assigned_to, '(nobody)') AS assignee, count(*) AS open_tasks
  FROM tasks t LEFT JOIN users u ON u.id = t.assigned_to
 WHERE NOT t.completed AND NOT t.is_deleted
 GROUP BY 1 ORDER BY 1;
SELECT mock_reset();
-- a boolean the API sends as something else is an error naming the
-- column; a null is NULL
SELECT mock_fault('{"match": "/v1/tasks", "action": "wrong_type", "field": "completed", "value": "yes"}');
SELECT count(*) FILTER (WHERE completed) FROM tasks;
SELECT mock_fault('{"match": "/v1/tasks", "action": "wrong_type", "field": "isDeleted", "value": 1}');
SELECT count(*) FILTER (WHERE is_deleted) FROM tasks;
SELECT mock_reset();
SELECT mock_fault('{"match": "/v1/tasks/TK00000003", "action": "wrong_type", "field": "completed", "value": null}');
SELECT id, completed FROM tasks WHERE id = 'TK00000003';
SELECT mock_reset();
-- a column declared with another type than the API's
CREATE FOREIGN TABLE bad_tasks (id text, completed text) SERVER quo_mock OPTIONS (endpoint 'tasks');
SELECT count(*) FROM bad_tasks;
DROP FOREIGN TABLE bad_tasks;

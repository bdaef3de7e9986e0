--
-- initplan: a value from a sub-select (an initplan) becomes the request's
-- id.  EXPLAIN without ANALYZE shows it as EXPLAIN names it: $0 up to
-- PostgreSQL 16, (InitPlan 1).col1 from 17 (expected/initplan_1.out).
--
SET search_path = quo, public;
SELECT mock_reset();
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM calls WHERE id = (SELECT min(id) FROM (VALUES ('AC00000003'), ('AC00000004')) v(id));
SELECT id FROM calls WHERE id = (SELECT min(id) FROM (VALUES ('AC00000003'), ('AC00000004')) v(id));
SELECT * FROM mock_log();
SELECT mock_reset();
-- an initplan of a node above the scan, and a correlated sub-select's
-- parameter: EXPLAIN without ANALYZE shows them as $n (the scan cannot see
-- the nodes above it)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM calls WHERE id = (SELECT min(id) FROM (VALUES ('AC00000003'), ('AC00000004')) v(id));
SELECT count(*) FROM calls WHERE id = (SELECT min(id) FROM (VALUES ('AC00000003'), ('AC00000004')) v(id));
EXPLAIN (VERBOSE, COSTS OFF)
SELECT v.id, (SELECT c.status FROM calls c WHERE c.id = v.id) FROM (VALUES ('AC00000003'), ('AC00000004')) v(id);
SELECT v.id, (SELECT c.status FROM calls c WHERE c.id = v.id) FROM (VALUES ('AC00000003'), ('AC00000004')) v(id);
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();

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

--
-- fanout: calls and messages workspace-wide, listed through the
-- conversations, compared with the mock's own ground truth; the request
-- counts show pruning and the budget at work
--
SET timezone = 'UTC';
SET search_path = quo, public;
SELECT mock_reset();
-- the mock's exact answer for a query: count, md5 of the sorted ids, ...
CREATE FUNCTION truth(q text) RETURNS TABLE (k text, v text) LANGUAGE sql AS $$
  SELECT split_part(l, ' ', 1), split_part(l, ' ', 2) FROM mock('truth', q) l $$;
CREATE FUNCTION truth_of(q text, key text) RETURNS text LANGUAGE sql AS $$
  SELECT v FROM truth(q) WHERE k = key $$;

-- every call in the workspace
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM calls;
SELECT count(*) AS calls,
       md5(coalesce(string_agg(id, ',' ORDER BY id COLLATE "C"), '')) = truth_of('kind=calls', 'ids_md5') AS same_ids,
       count(*) = truth_of('kind=calls', 'count')::bigint AS same_count
  FROM calls;
SELECT count(*) AS requests,
       count(*) FILTER (WHERE l LIKE 'GET /v1/conversations?%') AS listing
  FROM mock_log() l;
SELECT mock_reset();

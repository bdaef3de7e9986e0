--
-- memory: one page in memory at a time.  Scanning 100,000 messages (1,000
-- pages, every column converted, raw included) grows the backend's peak
-- resident memory by less than 64 MB; 2,000 rescans in a join add little.
--
SET search_path = quo, public;
SELECT mock_reset();
CREATE FUNCTION peak_rss_kb() RETURNS bigint LANGUAGE sql AS
$$ SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+) kB'))[1]::bigint $$;
-- a nested loop that rescans the foreign table 2,000 times (one request per
-- outer row) keeps the same footprint: each rescan's values and request
-- series are freed before the next (JIT off: LLVM's own one-time memory
-- would dominate the number)
SET jit = off;
CREATE TEMP TABLE many_accounts AS
  SELECT '+1555' || lpad(i::text, 7, '0') AS phone FROM generate_series(1, 2000) i;
ANALYZE many_accounts;
SELECT mock_reset();
SELECT peak_rss_kb() AS before_kb \gset
SELECT count(c.id) FROM many_accounts a
  JOIN calls c ON c.phone_number_id = 'PNsales0001' AND a.phone = ANY (c.participants);
SELECT count(*) AS requests FROM mock_log();
SELECT peak_rss_kb() - :before_kb < 16 * 1024 AS grew_less_than_16mb;
RESET jit;
SELECT mock_reset();
SELECT peak_rss_kb() AS before_kb \gset
SELECT count(*) AS messages, count(DISTINCT id) AS distinct_ids,
       sum(length(text)) > 0 AS has_text, sum(length(raw::text)) > 0 AS has_raw,
       min(created_at) < max(created_at) AS has_times
  FROM messages
 WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550177777'];
SELECT count(*) AS requests FROM mock_log();
SELECT peak_rss_kb() - :before_kb < 64 * 1024 AS grew_less_than_64mb;
-- 100,000 messages over 1,000 conversations of a workspace, listed through
-- the conversations, four requests in flight, every column converted: the
-- backend's peak memory does not grow with the workspace (the query itself
-- keeps nothing per row: sorts for DISTINCT would measure PostgreSQL)
SELECT mock('workspace', '{"bulk_conversations": 1000, "bulk_messages": 100}');
SELECT mock_reset();
SELECT mock('workspace', '{"bulk_conversations": 1000, "bulk_messages": 100}') \g /dev/null
SET jit = off;			-- a fan-out's cost would have LLVM loaded: 55 MB of its own
SELECT peak_rss_kb() AS before_kb \gset
SELECT count(*) AS messages, count(conversation_id) AS with_conversation,
       sum(length(raw::text)) > 0 AS has_raw
  FROM messages WHERE phone_number_id = 'PNbulk00003';
SELECT count(*) AS requests FROM mock_log();
SELECT peak_rss_kb() - :before_kb < 16 * 1024 AS grew_less_than_16mb;
RESET jit;
DROP FUNCTION peak_rss_kb();
SELECT mock_reset();

#!/usr/bin/env bash
# Workspace-wide scans (listed through the conversations) under load:
#  1. with 200 ms of latency per request, quo_fdw.progress reports how far a
#     long fan-out is (a NOTICE at most every 5 s), and up to four requests
#     overlap (the mock's peak in flight);
#  2. a cancel during a fan-out stops it with 57014: no request is sent after
#     it, the backend holds none, and the session's next query is answered.
# Run by test/run.sh.
set -euo pipefail
psql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=0 -d contrib_regression "$@"; }
psqlc() { psql -At -c "$1"; }
trap 'psqlc "SELECT mock_reset()" >/dev/null' EXIT
psqlc "SELECT mock_reset()" >/dev/null
psqlc "SELECT mock('workspace', '{\"bulk_conversations\": 120, \"bulk_messages\": 3}')" >/dev/null
psqlc "SELECT mock_fault('{\"action\": \"latency\", \"seconds\": 0.2, \"times\": -1}')" >/dev/null

echo "== 1. progress of a fan-out of 120 conversations, 0.2 s each, 4 at a time"
out=$WORK/t_fanout.progress.out
psql > "$out" 2>&1 <<'SQL'
SET quo_fdw.progress = on;
SELECT count(*) AS messages FROM quo.messages WHERE phone_number_id = 'PNbulk00003';
SQL
cat "$out"
grep -qE '^ +360$' "$out"
grep -qE 'NOTICE:  quo_fdw: "messages": [0-9]+ of 120 conversations, [0-9]+ rows, [0-9]+ requests, about [0-9]+ s left' "$out"
# requests overlapped up to max_concurrent_requests (4); the mock counts a
# request until its handler returns, a moment after the client has the
# answer and may send the next, so it can see one more
flight=$(psqlc "SELECT (regexp_match(mock('flight'), '[0-9]+'))[1]")
echo "mock: at most $flight requests in flight"
[ "$flight" -ge 3 ] && [ "$flight" -le 5 ]

echo "== 2. a cancel during a fan-out"
psqlc "SELECT mock_reset()" >/dev/null
psqlc "SELECT mock('workspace', '{\"bulk_conversations\": 400, \"bulk_messages\": 3}')" >/dev/null
psqlc "SELECT mock_fault('{\"action\": \"latency\", \"seconds\": 0.2, \"times\": -1}')" >/dev/null
out=$WORK/t_fanout.cancel.out
psql -v VERBOSITY=verbose > "$out" 2>&1 <<'SQL' &
SET application_name = 't_fanout_cancel';
SELECT count(*) FROM quo.messages WHERE phone_number_id = 'PNbulk00003';
\echo state=:LAST_ERROR_SQLSTATE
SET client_min_messages = debug1;
SELECT count(*) AS after_cancel FROM quo.messages WHERE phone_number_id = 'PNsales0001' AND participants = ARRAY['+15550100002'];
SQL
bg=$!
for _ in $(seq 1 100); do
  n=$(psqlc "SELECT count(*) FROM mock_log() l WHERE l LIKE 'GET /v1/messages%'")
  [ "$n" -ge 12 ] && break
  sleep 0.1
done
psqlc "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 't_fanout_cancel'" >/dev/null
sleep 1
n1=$(psqlc "SELECT count(*) FROM mock_log() l WHERE l LIKE '%PNbulk00003%'")
sleep 1.5
n2=$(psqlc "SELECT count(*) FROM mock_log() l WHERE l LIKE '%PNbulk00003%'")
wait $bg || true
cat "$out"
echo "bulk requests 1 s after the cancel: $n1, 2.5 s after: $n2 (of 400 conversations)"
grep -q "state=57014" "$out"
[ "$n1" = "$n2" ]
[ "$n1" -lt 100 ]
grep -q 'scan of "messages" starts with 0 HTTP requests held by this backend' "$out"
grep -A2 "after_cancel" "$out" | grep -qE '^ +[0-9]+$'

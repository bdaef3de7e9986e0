#!/usr/bin/env bash
# A query cancel (pg_cancel_backend) stops quo_fdw wherever it waits: in a
# request in flight to a hung API, and in a backoff sleep before a retry
# (here a 503 asking for Retry-After: 30).  The query fails with SQLSTATE
# 57014 and the session goes on working.  Run by test/run.sh.
set -euo pipefail
psql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=0 -d contrib_regression "$@"; }

cancel_case() {
  local name=$1 fault=$2 out=$WORK/t_cancel.$1.out
  psql -c "SELECT mock_reset()" >/dev/null
  psql -c "SELECT mock_fault('$fault')" >/dev/null
  psql -v VERBOSITY=verbose > "$out" 2>&1 <<SQL &
SET application_name = 't_cancel_$name';
SELECT count(*) FROM quo.calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
\echo state=:LAST_ERROR_SQLSTATE
SELECT mock_reset();
SELECT count(*) AS after_cancel FROM quo.calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
SQL
  local bg=$!
  # wait until the query is running, then give its first request time to
  # reach the hung mock (or to get its 503 and start the 30 s backoff)
  for _ in $(seq 1 100); do
    n=$(psql -At -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 't_cancel_$name' AND state = 'active'")
    [ "$n" = 1 ] && break
    sleep 0.1
  done
  sleep 1
  psql -At -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 't_cancel_$name'"
  wait $bg || true
  echo "--- $name"; cat "$out"
  grep -q "state=57014" "$out"
  grep -q "canceling statement due to user request" "$out"
  grep -A2 "after_cancel" "$out" | grep -q " 5$"
}

cancel_case hang '{"action": "hang", "seconds": 15}'
cancel_case backoff '{"action": "status", "status": 503, "retry_after": 30}'
psql -c "SELECT mock_reset()" >/dev/null

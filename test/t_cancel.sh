#!/usr/bin/env bash
# A query cancel (pg_cancel_backend) stops quo_fdw wherever it waits: in a
# request in flight to a hung API, in a backoff sleep before a retry (here a
# 503 asking for Retry-After: 30), and in a wait for a rate-limit slot.  The
# query fails with SQLSTATE 57014, the session goes on working, and no
# request is left behind.  While it waits, a second session sees the wait
# in pg_stat_activity.  Run by test/run.sh.
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
  # the wait shows in pg_stat_activity (wait_event is Extension before
  # PostgreSQL 17, quo_fdw's own named events from 17)
  ev=$(psql -At -c "SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity WHERE application_name = 't_cancel_$name'")
  echo "--- $name: wait event seen from another session: $ev"
  grep -qE '^Extension/(Extension|QuoApiRequest|QuoRetryBackoff)$' <<<"$ev"
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

# A cancel while waiting for a rate-limit slot between id lookups (1 request
# a second).  The request the scan needs first goes first; the cancel leaves
# no request held by the backend (its next scan says how many it starts
# with, at DEBUG1), and the session's next query is answered.
out=$WORK/t_cancel.rate.out
psql -c "ALTER SERVER quo_mock OPTIONS (SET rate_limit '1')" >/dev/null
trap 'psql -c "ALTER SERVER quo_mock OPTIONS (SET rate_limit '"'"'0'"'"')" >/dev/null' EXIT
psql -v VERBOSITY=verbose > "$out" 2>&1 <<'SQL' &
SET application_name = 't_cancel_rate';
SELECT id FROM quo.calls WHERE id IN ('AC00000001', 'AC00000004', 'AC00000005', 'AC00000006', 'AC00000008', 'AC00000009');
\echo state=:LAST_ERROR_SQLSTATE
SET client_min_messages = debug1;
SELECT id AS after_cancel FROM quo.calls WHERE id = 'AC00000004';
SQL
bg=$!
for _ in $(seq 1 100); do
  n=$(psql -At -c "SELECT count(*) FROM mock_log()")
  [ "$n" -ge 3 ] && break
  sleep 0.1
done
ev=$(psql -At -c "SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity WHERE application_name = 't_cancel_rate'")
echo "--- rate: wait event seen from another session: $ev"
psql -At -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 't_cancel_rate'"
wait $bg || true
echo "--- rate"; cat "$out"
psql -At -c "SELECT * FROM mock_log()" | tee "$WORK/t_cancel.rate.log"
grep -qE '^Extension/(Extension|QuoRateLimit|QuoApiRequest)$' <<<"$ev"
grep -q "state=57014" "$out"
grep -q 'scan of "calls" starts with 0 HTTP requests held by this backend' "$out"
grep -A2 "after_cancel" "$out" | grep -q "AC00000004"
# the first request made is the one the first row needs
head -1 "$WORK/t_cancel.rate.log" | grep -q "GET /v1/calls/AC00000001 "
psql -c "SELECT mock_reset()" >/dev/null

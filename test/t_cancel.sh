#!/usr/bin/env bash
# A query cancel (pg_cancel_backend) stops a request in flight: the query
# fails with SQLSTATE 57014 instead of waiting for the hung API, and the
# session goes on working.  Run by test/run.sh with PGHOST/PGPORT set.
set -euo pipefail
psql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=0 -d contrib_regression "$@"; }
out=$WORK/t_cancel.psql.out
psql -c "SELECT mock_reset()" >/dev/null
psql -c "SELECT mock_fault('{\"action\": \"hang\", \"seconds\": 15}')" >/dev/null
# the hung query, in a session of its own, tagged so we can find it
psql -v VERBOSITY=verbose > "$out" 2>&1 <<'SQL' &
SET application_name = 't_cancel';
SELECT count(*) FROM quo.calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
\echo state=:LAST_ERROR_SQLSTATE
SELECT count(*) AS after_cancel FROM quo.calls WHERE phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (participants);
SQL
bg=$!
# wait until the request is in flight, then cancel it
for _ in $(seq 1 100); do
  n=$(psql -At -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 't_cancel' AND state = 'active'")
  [ "$n" = 1 ] && break
  sleep 0.1
done
sleep 0.3
psql -At -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 't_cancel'"
wait $bg || true
cat "$out"
grep -q "state=57014" "$out"
grep -q "canceling statement due to user request" "$out"
# the session lives on and the next query works (the hang fault was used up)
grep -A2 "after_cancel" "$out" | grep -q " 5$"

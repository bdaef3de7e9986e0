#!/usr/bin/env bash
# A statement_timeout ends a query with a long IN list on time: the request
# builder neither takes long nor ignores interrupts.  The query has 40,000
# distinct ids in "id = ANY (...)", twice (so both the removal of repeats
# and the intersection of the two lists are exercised), under
# statement_timeout = '1s'.  Run by test/run.sh.
#
# What tells a slow builder from a fast one is not a wall-clock threshold
# but what the mock saw: building must be done (in milliseconds) before the
# timeout, so the scan is looking ids up when the timeout ends it (SQLSTATE
# 57014) and the mock has seen requests.  A quadratic builder that does not
# check for interrupts takes seconds, the timeout comes during the build
# and the query ends before any request.  The elapsed time is only checked
# against a generous bound, as a hang detector.
set -euo pipefail
psql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=0 -d contrib_regression "$@"; }
out=$WORK/t_interrupt.out

psql -c "SELECT mock_reset()" >/dev/null
start=$(date +%s%N)
psql -v VERBOSITY=verbose > "$out" 2>&1 <<'SQL'
SET quo_fdw.max_requests = 0;  -- no budget: 40,000 lookups are the point
SET statement_timeout = '1s';
SELECT count(*) FROM quo.calls
 WHERE id = ANY (ARRAY(SELECT 'AC9' || lpad(i::text, 8, '0') FROM generate_series(1, 40000) i))
   AND id = ANY (ARRAY(SELECT 'AC9' || lpad(i::text, 8, '0') FROM generate_series(40000, 1, -1) i));
\echo state=:LAST_ERROR_SQLSTATE
SQL
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
requests=$(psql -At -c "SELECT count(*) FROM mock_log()")
psql -c "SELECT mock_reset()" >/dev/null

cat "$out"
echo "elapsed ${elapsed_ms} ms, the mock saw ${requests} requests"
grep -q "state=57014" "$out"
grep -q "canceling statement due to statement timeout" "$out"
[ "$requests" -ge 1 ]
[ "$elapsed_ms" -lt 10000 ]

#!/usr/bin/env bash
# Several sessions at once against one API key.
#  1. With the mock enforcing Quo's 10 requests/second like the real API,
#     four sessions paging at once provoke no 429: quo_fdw is preloaded, so
#     its rate limit is shared by every backend using the key.
#  2. With 503s, 429s and dropped connections injected, every session gets
#     the right answer or a clean error, and no backend crashes (the server
#     log is checked by run.sh).
set -euo pipefail
psql() { "$PG_BIN/psql" -X -q -At -d contrib_regression "$@"; }
psql -c "SELECT mock_reset()" >/dev/null
psql -c "SHOW shared_preload_libraries"
psql <<'SQL' >/dev/null
DROP SCHEMA IF EXISTS rl CASCADE;
CREATE SCHEMA rl;
CREATE FOREIGN TABLE rl.calls (id text, phone_number_id text, participants text[])
  SERVER quo_mock OPTIONS (endpoint 'calls');
SQL
# a server with the default limit (10/s); same key as the rest of the suite
psql -c "ALTER SERVER quo_mock OPTIONS (SET rate_limit '10')"
trap 'psql -c "ALTER SERVER quo_mock OPTIONS (SET rate_limit '"'"'0'"'"')" >/dev/null; psql -c "DROP SCHEMA rl CASCADE" >/dev/null' EXIT
q="SELECT count(*) FROM rl.calls WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants)"

echo "== 1. four sessions at once, the API enforcing 10 requests a second"
psql -c "SELECT mock_fault('{\"action\": \"enforce_rate\", \"rps\": 10}')" >/dev/null
pids=()
for i in 1 2 3 4; do (psql -c "$q" > "$WORK/conc1.$i" 2>&1) & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || true; done
for i in 1 2 3 4; do echo "session $i: $(cat "$WORK/conc1.$i")"; [ "$(cat "$WORK/conc1.$i")" = 2345 ] || exit 1; done
n429=$(psql -c "SELECT count(*) FROM mock_log() l WHERE l LIKE '%-> 429'")
total=$(psql -c "SELECT count(*) FROM mock_log()")
psql -c "SELECT * FROM mock('stats')"
echo "requests: $total, answered 429: $n429"
[ "$total" -eq 96 ] || { echo "expected 96 requests (4 x 24 pages)"; exit 1; }
[ "$n429" -eq 0 ] || { echo "the shared rate limit let 429s through"; exit 1; }
psql -c "SELECT * FROM mock('stats')" | grep -q "max requests in one second \([0-9]\|10\)$"

echo "== 2. six sessions with 503s, 429s and dropped connections injected"
psql -c "SELECT mock_reset()" >/dev/null
psql -c "ALTER SERVER quo_mock OPTIONS (SET rate_limit '0')" >/dev/null
psql -c "SELECT mock_fault('{\"action\": \"status\", \"status\": 503, \"times\": 8, \"skip\": 3}')" >/dev/null
psql -c "SELECT mock_fault('{\"action\": \"status\", \"status\": 429, \"retry_after\": 0, \"times\": 6, \"skip\": 10}')" >/dev/null
psql -c "SELECT mock_fault('{\"action\": \"drop\", \"times\": 5, \"skip\": 20}')" >/dev/null
psql -c "SELECT mock_fault('{\"action\": \"status\", \"status\": 503, \"times\": 20, \"skip\": 60}')" >/dev/null
pids=()
for i in 1 2 3 4 5 6; do (psql -c "$q" > "$WORK/conc2.$i" 2>&1) & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || true; done
ok=0; errs=0
for i in 1 2 3 4 5 6; do
  r=$(cat "$WORK/conc2.$i")
  echo "session $i: $r"
  if [ "$r" = 2345 ]; then ok=$((ok + 1))
  elif grep -qE "^ERROR:  (Quo API request failed|connection to the Quo API was lost)" <<<"$r"; then errs=$((errs + 1))
  else echo "neither the right answer nor a clean error"; exit 1; fi
done
echo "right answers: $ok, clean errors: $errs"
[ "$ok" -ge 1 ]
retries=$(psql -c "SELECT count(*) FROM mock_log() l WHERE l LIKE '%-> 503' OR l LIKE '%-> 429' OR l LIKE '%-> dropped'")
echo "failed requests injected and seen: $retries"
[ "$retries" -ge 10 ]

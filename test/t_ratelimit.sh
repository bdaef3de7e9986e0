#!/usr/bin/env bash
# The client-side rate limit belongs to the API key (quo_fdw is preloaded,
# so the limit is in shared memory and every backend shares it).
#  1. Two servers with the same key and different rate_limit (2 and 3), a
#     session on each at once, id lookups, the mock enforcing Quo's 10/s:
#     no 429, and never more than 2 requests (the smaller limit) in one
#     second.  Servers that reset each other's limit would reach the sum.
#  2, 3. More keys in use at once than the limit's table holds (32): 33
#     keys at rate_limit 2 (wrong keys: the mock answers 401, which is
#     still a request).  No key may ever see more than 2 requests in one
#     second: a key without a ring of its own shares the overflow ring, it
#     is never left unlimited (2: a session per key, at once, so no key's
#     wait paces another's), and no key's ring is taken while it is in use
#     (3: one session, the keys in turn, so that a table reusing the least
#     recently used ring would hand every key a fresh ring on each turn).
set -euo pipefail
psql() { "$PG_BIN/psql" -X -q -At -d contrib_regression "$@"; }
nkeys=33
cycles=5

cleanup() {
  set +e
  exec 7>&- 2>/dev/null
  rm -f "$WORK/rlim.gate"
  {
    echo "SET client_min_messages = warning;"
    echo "DROP SCHEMA IF EXISTS rlim CASCADE;"
    echo "DROP SERVER IF EXISTS regress_quo_rl2, regress_quo_rl3 CASCADE;"
    for i in $(seq 1 $nkeys); do echo "DROP SERVER IF EXISTS regress_quo_rk$i CASCADE;"; done
  } | psql >/dev/null
  psql -c "SELECT mock_reset()" >/dev/null
}
trap cleanup EXIT

# the most requests the mock saw in one second: all keys ("") or one key
peak() {
  psql -c "SELECT * FROM mock('stats')" |
    sed -n "s/^max requests in one second ${1:+for one key }\([0-9]*\)$/\1/p"
}

psql -c "SELECT mock_reset()" >/dev/null
# seven calls the mock holds (the other ids of the series are messages)
ids="'AC00000001', 'AC00000002', 'AC00000003', 'AC00000004', 'AC00000005', 'AC00000008', 'AC00000013'"
n=$(psql -c "SELECT count(*) FROM quo.calls WHERE id IN ($ids)" 2>&1 || true)
[ "$n" = 7 ] ||
  { echo "the mock does not hold the seven calls: $n"; exit 1; }

psql -v url="$QUO_MOCK_URL" -v key="$QUO_TEST_KEY" <<'SQL' >/dev/null
CREATE SCHEMA rlim;
CREATE SERVER regress_quo_rl2 FOREIGN DATA WRAPPER quo_fdw
  OPTIONS (base_url :'url', rate_limit '2');
CREATE SERVER regress_quo_rl3 FOREIGN DATA WRAPPER quo_fdw
  OPTIONS (base_url :'url', rate_limit '3');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_quo_rl2 OPTIONS (api_key :'key');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_quo_rl3 OPTIONS (api_key :'key');
CREATE FOREIGN TABLE rlim.calls2 (id text) SERVER regress_quo_rl2 OPTIONS (endpoint 'calls');
CREATE FOREIGN TABLE rlim.calls3 (id text) SERVER regress_quo_rl3 OPTIONS (endpoint 'calls');
SQL

echo "== 1. one key, two servers at rate_limit 2 and 3, two sessions at once"
# The limit knows only the rates that have been used: a lookup at 2/s
# first, so that the session at 3/s cannot have a first window to itself
# (at its own rate) if it starts before the other.
psql -c "SELECT count(*) FROM rlim.calls2 WHERE id = 'AC00000001'" >/dev/null
psql -c "SELECT mock_reset()" >/dev/null
psql -c "SELECT mock_fault('{\"action\": \"enforce_rate\", \"rps\": 10}')" >/dev/null
# (no LIMIT: lookups are started ahead, each when its slot comes)
lookups() { echo "SELECT count(*) FROM rlim.$1 WHERE id IN ($ids)"; }
(psql -c "$(lookups calls2)" > "$WORK/rlim.2" 2>&1) & p2=$!
(psql -c "$(lookups calls3)" > "$WORK/rlim.3" 2>&1) & p3=$!
wait $p2 || true; wait $p3 || true
echo "session at 2/s: $(cat "$WORK/rlim.2")"
echo "session at 3/s: $(cat "$WORK/rlim.3")"
total=$(psql -c "SELECT count(*) FROM mock_log()")
n429=$(psql -c "SELECT count(*) FROM mock_log() l WHERE l LIKE '%-> 429'")
max=$(peak)
echo "requests: $total, answered 429: $n429, max requests in one second: $max"
[ "$(cat "$WORK/rlim.2")" = 7 ] && [ "$(cat "$WORK/rlim.3")" = 7 ] || { echo "wrong answers"; exit 1; }
[ "$total" -eq 14 ] || { echo "expected 14 requests (2 x 7 lookups)"; exit 1; }
[ "$n429" -eq 0 ] || { echo "429s: the servers' limits added up"; exit 1; }
[ "$max" -le 2 ] || { echo "more than 2 requests in one second: the key was not held to the smaller limit"; exit 1; }

echo "== 2. $nkeys keys (more than the 32 rings), rate_limit 2, a session per key, at once"
{
  for i in $(seq 1 $nkeys); do
    echo "CREATE SERVER regress_quo_rk$i FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'url', rate_limit '2');"
    echo "CREATE USER MAPPING FOR CURRENT_USER SERVER regress_quo_rk$i OPTIONS (api_key 'regress-rate-key-$(printf %015d "$i")');"
    echo "CREATE FOREIGN TABLE rlim.k$i (id text) SERVER regress_quo_rk$i OPTIONS (endpoint 'calls');"
  done
} | psql -v ON_ERROR_STOP=1 -v url="$QUO_MOCK_URL" >/dev/null
lookup() { echo "SELECT count(*) FROM rlim.k$1 WHERE id = 'AC00000001';"; }
# every request answered 401, none lost ($expect requests since the reset)
check_401() {
  local errs total n401
  errs=$(grep -c "^ERROR:  Quo API request failed with HTTP 401" "$@" | awk -F: '{ n += $NF } END { print n }')
  total=$(psql -c "SELECT count(*) FROM mock_log()")
  n401=$(psql -c "SELECT count(*) FROM mock_log() l WHERE l LIKE '%-> 401'")
  echo "statements failing with the API's 401: $errs; requests: $total (401: $n401)"
  [ "$total" -eq "$expect" ] && [ "$n401" -eq "$total" ] && [ "$errs" -eq "${expect_errs:-$expect}" ] ||
    { echo "expected $expect requests, each answered 401"; head -5 "$1"; exit 1; }
}
# A session per key; each first sends one request (its backend started, its
# connection to the API open), then waits at a gate (an advisory lock held
# by another session) until every session is there, then sends $per more.
# Without the gate, a key's first request could reach the API late (33
# backends starting on a few CPUs) and close up on its third.
per=4; expect=$((nkeys * per)); expect_errs=$((nkeys * (per + 1)))
rm -f "$WORK/rlim.gate"; mkfifo "$WORK/rlim.gate"
(psql < "$WORK/rlim.gate" > /dev/null 2>&1 || true) & gate=$!
exec 7> "$WORK/rlim.gate"
echo "SELECT pg_advisory_lock(727272);" >&7
gated() { psql -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 727272 AND $1"; }
for _ in $(seq 1 600); do [ "$(gated granted)" = 1 ] && break; sleep 0.1; done
pids=()
for i in $(seq 1 $nkeys); do
  ({ lookup "$i"
     echo "SELECT pg_advisory_lock_shared(727272); SELECT pg_advisory_unlock_shared(727272);"
     for _ in $(seq 1 $per); do lookup "$i"; done
   } | psql -v ON_ERROR_STOP=0 > "$WORK/rlim.k$i" 2>&1 || true) 7>&- &
  pids+=($!)
done
for _ in $(seq 1 600); do [ "$(gated "NOT granted")" = "$nkeys" ] && break; sleep 0.1; done
[ "$(gated "NOT granted")" = "$nkeys" ] || { echo "the sessions did not all reach the gate"; exit 1; }
psql -c "SELECT mock_reset()" >/dev/null
psql -c "SELECT mock_fault('{\"action\": \"enforce_rate\", \"rps\": 1000}')" >/dev/null
exec 7>&-    # the gate's session reads the end of its input, its lock goes
wait "$gate"
for p in "${pids[@]}"; do wait "$p" || true; done
files=(); for i in $(seq 1 $nkeys); do files+=("$WORK/rlim.k$i"); done
check_401 "${files[@]}"
expect_errs=
max=$(peak one)
echo "max requests in one second for one key: $max (all keys: $(peak))"
[ "$max" -le 2 ] || { echo "a key saw more than 2 requests in one second: it was not limited"; exit 1; }

echo "== 3. the same $nkeys keys in turn, one session, $cycles turns each"
psql -c "SELECT mock_reset()" >/dev/null
psql -c "SELECT mock_fault('{\"action\": \"enforce_rate\", \"rps\": 1000}')" >/dev/null
expect=$((nkeys * cycles))
{
  for _ in $(seq 1 $cycles); do
    for i in $(seq 1 $nkeys); do lookup "$i"; done
  done
} | psql -v ON_ERROR_STOP=0 > "$WORK/rlim.turns" 2>&1 || true
check_401 "$WORK/rlim.turns"
max=$(peak one)
echo "max requests in one second for one key: $max (all keys: $(peak))"
[ "$max" -le 2 ] || { echo "a key saw more than 2 requests in one second: its limit was dropped"; exit 1; }

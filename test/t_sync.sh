#!/usr/bin/env bash
# CALL quo_fdw.sync_mirror commits after each step: while it runs, another
# session sees the mirror grow (and the pass under way in quo_fdw.mirrors);
# when it ends the mirror is complete and equals a one-transaction refresh.
# A step that fails ends the CALL with its error, keeping every earlier
# step; the next CALL resumes.  Run by test/run.sh.
set -euo pipefail
psql() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d contrib_regression "$@"; }
cleanup() {
  psql -c "SELECT quo_fdw.drop_mirror('sync_m')" >/dev/null 2>&1 || true
  psql -c "SELECT quo_fdw.drop_mirror('sync_ref')" >/dev/null 2>&1 || true
  psql -c "SELECT mock_reset()" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
psql -c "SELECT quo_fdw.create_mirror('quo_mock', 'sync_m')" >/dev/null
psql -c "SELECT quo_fdw.create_mirror('quo_mock', 'sync_ref')" >/dev/null
psql -c "SELECT complete FROM quo_fdw.refresh_mirror('sync_ref')" >/dev/null

echo "== 1. sync_mirror in steps of 60, each answer 100 ms late"
psql -c "SELECT mock_fault('{\"action\": \"latency\", \"seconds\": 0.1, \"times\": -1}')" >/dev/null
(psql -c "CALL quo_fdw.sync_mirror('sync_m', 60)" > "$WORK/sync.out" 2>&1; echo "exit $?" >> "$WORK/sync.out") &
bg=$!
seen=0; partial=""
for _ in $(seq 1 600); do
  if ! kill -0 "$bg" 2>/dev/null; then break; fi
  n=$(psql -c "SELECT count(*) FROM sync_m.calls")
  under_way=$(psql -c "SELECT NOT complete FROM quo_fdw.mirrors WHERE mirror_schema = 'sync_m'")
  if [ "$n" -gt 0 ] && [ "$under_way" = t ] && kill -0 "$bg" 2>/dev/null; then
    seen=$((seen + 1)); partial="$partial $n"
  fi
  sleep 0.2
done
wait "$bg" || true
cat "$WORK/sync.out"
grep -q "^exit 0$" "$WORK/sync.out" || { echo "sync_mirror failed"; exit 1; }
echo "calls seen by another session while it ran:$partial"
[ "$seen" -ge 2 ] || { echo "another session did not see the mirror grow"; exit 1; }
first=$(echo $partial | cut -d' ' -f1); last=$(echo $partial | awk '{print $NF}')
[ "$last" -gt "$first" ] || { echo "the mirror did not grow between looks"; exit 1; }
psql -c "SELECT mock('clearfaults')" >/dev/null
r=$(psql -c "SELECT complete, conversations_pending FROM quo_fdw.mirrors WHERE mirror_schema = 'sync_m'")
echo "after: complete|pending = $r"
[ "$r" = "t|0" ]
for t in calls messages conversations users phone_numbers; do
  d=$(psql -c "SELECT count(*) FROM ((SELECT id, raw FROM sync_m.$t EXCEPT SELECT id, raw FROM sync_ref.$t)
                                     UNION ALL (SELECT id, raw FROM sync_ref.$t EXCEPT SELECT id, raw FROM sync_m.$t)) d")
  echo "$t differ from a one-transaction refresh: $d"
  [ "$d" = 0 ]
done

echo "== 2. a step that fails ends the CALL; the steps before it stay, the next CALL resumes"
psql -c "SELECT quo_fdw.drop_mirror('sync_m')" >/dev/null
psql -c "SELECT quo_fdw.create_mirror('quo_mock', 'sync_m')" >/dev/null
psql -c "ALTER SERVER quo_mock OPTIONS (ADD max_retries '0')" >/dev/null
# the 40th messages request and every one after it fail
psql -c "SELECT mock_fault('{\"action\": \"status\", \"status\": 500, \"skip\": 40, \"times\": -1, \"match\": \"GET /v1/messages?\"}')" >/dev/null
if psql -c "CALL quo_fdw.sync_mirror('sync_m', 60)" > "$WORK/sync2.out" 2>&1; then
  echo "sync_mirror did not fail"; cat "$WORK/sync2.out"; exit 1
fi
grep -q "HTTP 500" "$WORK/sync2.out" || { cat "$WORK/sync2.out"; exit 1; }
psql -c "ALTER SERVER quo_mock OPTIONS (DROP max_retries)" >/dev/null
psql -c "SELECT mock('clearfaults')" >/dev/null
kept=$(psql -c "SELECT count(*) FROM sync_m.conversation_state WHERE queued IS NULL AND visited_at IS NOT NULL")
echo "conversations kept from the steps before the failure: $kept"
[ "$kept" -gt 0 ]
psql -c "CALL quo_fdw.sync_mirror('sync_m', 60)"
r=$(psql -c "SELECT complete FROM quo_fdw.mirrors WHERE mirror_schema = 'sync_m'")
[ "$r" = t ]
d=$(psql -c "SELECT count(*) FROM ((SELECT id, raw FROM sync_m.messages EXCEPT SELECT id, raw FROM sync_ref.messages)
                                   UNION ALL (SELECT id, raw FROM sync_ref.messages EXCEPT SELECT id, raw FROM sync_m.messages)) d")
echo "messages differ after resuming: $d"
[ "$d" = 0 ]

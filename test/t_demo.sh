#!/usr/bin/env bash
# make demo's queries run against the test cluster and the mock as they do
# in the demo, and its last sections show what they say: a workspace-wide
# question answered with its request count, and a question the API cannot
# answer getting the error that says what to add.  Run by test/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$WORK/demo.out
# the mock as the demo knows it: no fault, no change another test left
"$PG_BIN/psql" -X -q -d contrib_regression -c "SELECT mock_reset()" >/dev/null
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -v base_url="$QUO_MOCK_URL" -v api_key="$QUO_TEST_KEY" \
  -f test/demo.sql > "$out" 2>&1 || { tail -40 "$out"; exit 1; }
sed -n '/== A workspace-wide question/,$p' "$out"
sec=$(sed -n '/== A workspace-wide question/,/== A question the API cannot answer/p' "$out")
missed=$(echo "$sec" | awk '/missed_calls/ {getline; getline; print $1; exit}')
requests=$(echo "$sec" | awk '/ requests/ {getline; getline; print $1; exit}')
echo "missed calls: $missed, requests: $requests"
[ -n "$missed" ] && [ "$missed" -gt 0 ] || { echo "no answer to the workspace-wide question"; exit 1; }
[ -n "$requests" ] && [ "$requests" -gt 1 ] || { echo "no request count"; exit 1; }
grep -q 'ERROR:  .*call_summaries' "$out" || { echo "no error for the question the API cannot answer"; exit 1; }
grep -q 'HINT:  .*call_id' "$out" || { echo "the error does not say what to add"; exit 1; }

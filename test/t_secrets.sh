#!/usr/bin/env bash
# The API key appears in no error, notice, log line or EXPLAIN output, even
# at debug5 and even when the API echoes it back in an error body.
set -euo pipefail
key=${QUO_TEST_KEY:?}
out=$WORK/t_secrets.psql.out
"$PG_BIN/psql" -X -d contrib_regression -v ON_ERROR_STOP=0 -v VERBOSITY=verbose > "$out" 2>&1 <<'SQL'
SET client_min_messages = debug5;
SET log_min_messages = debug5;
SET log_min_error_statement = debug5;
SET search_path = quo, public;
SELECT mock_reset();
SELECT count(*) FROM calls WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants);
EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) SELECT * FROM conversations;
SELECT mock_fault('{"action": "echo_key", "status": 401}');
SELECT * FROM conversations;
SELECT mock_fault('{"action": "echo_key", "status": 500, "times": 10}');
SELECT * FROM conversations;
SELECT mock_reset();
SELECT mock_fault('{"action": "raw", "status": 502, "body": "proxy error"}');
SELECT * FROM conversations;
SELECT mock_fault('{"action": "wrong_type", "field": "name", "value": 12}');
SELECT name FROM conversations;
SELECT mock_reset();
SQL
# the echoed key was replaced, so the test does see the API's text
grep -q "Invalid key \[api_key\]" "$out" || { echo "echoed key not shown as [api_key]"; cat "$out"; exit 1; }
grep -q "debug" "$out" || grep -q "DEBUG" "$out" || { echo "no debug output: the test ran at the wrong level"; exit 1; }
if grep -F -- "$key" "$out"; then echo "the key appears in client output"; exit 1; fi
if grep -F -- "$key" "$WORK/postgres.log"; then echo "the key appears in the server log"; exit 1; fi
echo "the key appears nowhere ($(wc -l < "$out") client lines, $(wc -l < "$WORK/postgres.log") log lines checked)"

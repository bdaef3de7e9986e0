#!/usr/bin/env bash
# quo_fdw.stats beyond one session (sql/stats.sql has the rest):
#  1. six sessions at once, with 503s and 429s injected: every count of
#     the server's row equals the mock's log (nothing lost to a race);
#  2. a cluster of its own without shared_preload_libraries: the view and
#     the reset fail with SQLSTATE 55000 and a HINT naming the setting,
#     the FDW works as ever, and sql/stats.sql gives expected/stats_1.out
#     (what make installcheck compares on such a server);
#  3. the same cluster preloading quo_fdw with quo_fdw.stats_max = 2: a
#     third server is counted in the overflow row, a dropped server's entry
#     is taken by a new one when the table is full, and a restart empties
#     the table.
# Run by test/run.sh (PG_BIN, WORK, QUO_MOCK_URL, QUO_TEST_KEY set; the
# main cluster preloads quo_fdw).
set -euo pipefail
psql() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d contrib_regression "$@"; }

echo "== 1. six sessions at once, 503s and 429s injected"
psql -v mock_url="$QUO_MOCK_URL" -v api_key="$QUO_TEST_KEY" <<'SQL'
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS ts CASCADE;
DROP SERVER IF EXISTS quo_tstats CASCADE;
CREATE SERVER quo_tstats FOREIGN DATA WRAPPER quo_fdw
  OPTIONS (base_url :'mock_url', rate_limit '0', max_retries '10');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo_tstats OPTIONS (api_key :'api_key');
CREATE SCHEMA ts;
CREATE FOREIGN TABLE ts.calls (id text, phone_number_id text, participants text[])
  SERVER quo_tstats OPTIONS (endpoint 'calls');
SQL
trap 'psql -c "DROP SCHEMA IF EXISTS ts CASCADE; DROP SERVER IF EXISTS quo_tstats CASCADE" >/dev/null 2>&1 || true' EXIT
psql -c "SELECT quo_fdw.stats_reset()" -c "SELECT mock_reset()" >/dev/null
psql -c "SELECT mock_fault('{\"action\": \"status\", \"status\": 503, \"times\": 8, \"skip\": 3}')" >/dev/null
psql -c "SELECT mock_fault('{\"action\": \"status\", \"status\": 429, \"retry_after\": 0, \"times\": 6, \"skip\": 10}')" >/dev/null
q="SELECT count(*) FROM ts.calls WHERE phone_number_id = 'PNsales0001' AND '+15550109999' = ANY (participants)"
pids=()
for i in 1 2 3 4 5 6; do (psql -c "$q" > "$WORK/stats1.$i" 2>&1) & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || true; done
for i in 1 2 3 4 5 6; do
  echo "session $i: $(cat "$WORK/stats1.$i")"
  [ "$(cat "$WORK/stats1.$i")" = 2345 ] || { echo "a session did not get the whole answer"; exit 1; }
done
log=$(psql -F ' ' <<'SQL'
SELECT count(*), count(*) FILTER (WHERE l ~ '-> 200$'), count(*) FILTER (WHERE l ~ '-> 429$'),
       count(*) FILTER (WHERE l ~ '-> 503$'), count(*) FILTER (WHERE l ~ '-> 429$|-> 503$')
  FROM mock_log() l
SQL
)
stats=$(psql -F ' ' <<'SQL'
SELECT requests, responses_2xx, responses_429, responses_5xx, retries
  FROM quo_fdw.stats WHERE server = 'quo_tstats'
SQL
)
rows=$(psql -c "SELECT rows FROM quo_fdw.stats WHERE server = 'quo_tstats'")
echo "mock log (requests, 200, 429, 503, to retry): $log"
echo "quo_fdw.stats (requests, 2xx, 429, 5xx, retries): $stats"
echo "rows counted: $rows (6 x 2345 = 14070)"
[ "$log" = "$stats" ] || { echo "the counts differ from the mock's log"; exit 1; }
[ "$rows" = 14070 ] || { echo "the rows differ from the sessions' answers"; exit 1; }
[ "$log" = "158 144 6 8 14" ] || { echo "expected 158 requests: 6 x 24 pages, 14 of them retried"; exit 1; }

echo "== 2. a cluster without shared_preload_libraries"
pgdata=$WORK/stats_pgdata
sock=$WORK/stats_sock
port=$(( ${PGPORT:-5432} + 2 ))
while (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null || [ -e "$sock/.s.PGSQL.$port" ]; do port=$((port + 1)); done
stop() {
  if [ -f "$pgdata/postmaster.pid" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  fi
}
trap 'stop; psql -c "DROP SCHEMA IF EXISTS ts CASCADE; DROP SERVER IF EXISTS quo_tstats CASCADE" >/dev/null 2>&1 || true' EXIT
rm -rf "$pgdata" "$sock"; mkdir -p "$sock"; chown postgres: "$sock"
runuser -u postgres -- "$PG_BIN/initdb" -D "$pgdata" -A trust -E UTF8 --locale=C >/dev/null
cat >> "$pgdata/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$sock'
fsync = off
CONF
start() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -l "$WORK/stats_postgres.log" -w start >/dev/null 9>&-; }
start
own() { "$PG_BIN/psql" -X -q -At -h "$sock" -p "$port" -U postgres -d postgres "$@"; }
own -v ON_ERROR_STOP=1 -v mock_url="$QUO_MOCK_URL" -v api_key="$QUO_TEST_KEY" <<'SQL'
CREATE EXTENSION quo_fdw;
CREATE SERVER quo FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'mock_url', rate_limit '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo OPTIONS (api_key :'api_key');
CREATE FOREIGN TABLE calls (id text) SERVER quo OPTIONS (endpoint 'calls');
SQL
own -c "SHOW shared_preload_libraries" | sed 's/^/shared_preload_libraries: /'
n=$(own -c "SELECT count(*) FROM calls WHERE id IN ('AC00000001', 'AC00000002')")
echo "the FDW without preload: $n rows"
[ "$n" = 2 ]
out=$(own -v VERBOSITY=verbose -c "SELECT * FROM quo_fdw.stats" 2>&1 || true)
echo "$out"
grep -q "^ERROR:  55000: quo_fdw statistics are not available" <<<"$out"
grep -q "^HINT:  Add quo_fdw to shared_preload_libraries and restart the server." <<<"$out"
out=$(own -v VERBOSITY=verbose -c "SELECT quo_fdw.stats_reset()" 2>&1 || true)
echo "$out" | head -1
grep -q "^ERROR:  55000: quo_fdw statistics are not available" <<<"$out"

# sql/stats.sql, as make installcheck runs it against such a server
top=$(cd "$(dirname "$0")/.." && pwd)
"$PG_BIN/psql" -X -a -q -h "$sock" -p "$port" -U postgres -d postgres < "$top/sql/stats.sql" > "$WORK/stats_1.out" 2>&1 || true
diff -u "$top/expected/stats_1.out" "$WORK/stats_1.out" || { echo "sql/stats.sql without the preload differs from expected/stats_1.out"; exit 1; }
echo "sql/stats.sql without the preload: as expected/stats_1.out"

echo "== 3. the same cluster preloading quo_fdw, quo_fdw.stats_max = 2"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
cat >> "$pgdata/postgresql.conf" <<CONF
shared_preload_libraries = 'quo_fdw'
quo_fdw.stats_max = 2
CONF
start
own -c "SHOW quo_fdw.stats_max" | sed 's/^/quo_fdw.stats_max: /'
own -v ON_ERROR_STOP=1 -v mock_url="$QUO_MOCK_URL" -v api_key="$QUO_TEST_KEY" <<'SQL'
CREATE SERVER quo2 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'mock_url', rate_limit '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo2 OPTIONS (api_key :'api_key');
CREATE FOREIGN TABLE calls2 (id text) SERVER quo2 OPTIONS (endpoint 'calls');
CREATE SERVER quo3 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'mock_url', rate_limit '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo3 OPTIONS (api_key :'api_key');
CREATE FOREIGN TABLE calls3 (id text) SERVER quo3 OPTIONS (endpoint 'calls');
SQL
# each in a session of its own, which has ended when the view is read
own -c "SELECT count(*) FROM calls WHERE id = 'AC00000001'" >/dev/null
own -c "SELECT count(*) FROM calls2 WHERE id IN ('AC00000001', 'AC00000002')" >/dev/null
own -c "SELECT count(*) FROM calls3 WHERE id IN ('AC00000001', 'AC00000002', 'AC00000003')" >/dev/null
view="SELECT coalesce(server::text, '(overflow)'), requests, rows FROM quo_fdw.stats ORDER BY server NULLS LAST"
r=$(own -F ' ' -c "$view")
echo "$r"
[ "$r" = "$(printf 'quo 1 1\nquo2 2 2\n(overflow) 3 3')" ] || { echo "expected quo, quo2 and the overflow row"; exit 1; }
# the table is full: a dropped server's entry goes to the next new server
own -v ON_ERROR_STOP=1 -v mock_url="$QUO_MOCK_URL" -v api_key="$QUO_TEST_KEY" <<'SQL'
DROP SERVER quo2 CASCADE;
CREATE SERVER quo4 FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'mock_url', rate_limit '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER quo4 OPTIONS (api_key :'api_key');
CREATE FOREIGN TABLE calls4 (id text) SERVER quo4 OPTIONS (endpoint 'calls');
SQL
own -c "SELECT count(*) FROM calls4 WHERE id = 'AC00000004'" >/dev/null
r=$(own -F ' ' -c "$view")
echo "after quo2 was dropped and quo4 used:"; echo "$r"
[ "$r" = "$(printf 'quo 1 1\nquo4 1 1\n(overflow) 3 3')" ] || { echo "expected quo4 in quo2's entry"; exit 1; }
# a restart empties the table, as it resets the cumulative statistics
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
start
r=$(own -c "SELECT count(*) FROM quo_fdw.stats")
echo "rows after a restart: $r"
[ "$r" = 0 ]

#!/usr/bin/env bash
# The mirror from pg_cron, as docs/mirror.md's "From pg_cron" recipe has
# it: a cluster of its own with shared_preload_libraries = 'pg_cron',
# cron.database_name and background workers; a role that is not a
# superuser owns the mirror and schedules CALL quo_fdw.sync_mirror(...);
# cron.job_run_details reports the run succeeded, and the mirror is
# complete and equals a full scan.  Run by test/run.sh (PG_BIN, WORK,
# QUO_MOCK_URL, QUO_TEST_KEY set; Debian's postgresql-N-cron installed by
# it).
set -euo pipefail
if [ ! -e "$("$PG_BIN/pg_config" --pkglibdir)/pg_cron.so" ]; then
  suite=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
  case "$suite" in
    bookworm|trixie) echo "pg_cron is not installed, though Debian $suite ships it"; exit 1 ;;
    *) echo "not run: Debian $suite has no postgresql-$("$PG_BIN/pg_config" --version | sed 's/[^0-9]*\([0-9]*\).*/\1/')-cron"; exit 0 ;;
  esac
fi
pgdata=$WORK/cron_pgdata
sock=$WORK/cron_sock
port=$(( ${PGPORT:-5432} + 1 ))
while (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null || [ -e "$sock/.s.PGSQL.$port" ]; do port=$((port + 1)); done
stop() {
  if [ -f "$pgdata/postmaster.pid" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  fi
}
trap stop EXIT
rm -rf "$pgdata" "$sock"; mkdir -p "$sock"; chown postgres: "$sock"
runuser -u postgres -- "$PG_BIN/initdb" -D "$pgdata" -A trust -E UTF8 --locale=C >/dev/null
# docs/mirror.md, "From pg_cron": the settings pg_cron needs
cat >> "$pgdata/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$sock'
fsync = off
shared_preload_libraries = 'quo_fdw, pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
CONF
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -l "$WORK/cron_postgres.log" -w start >/dev/null 9>&-
psql() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -d postgres "$@"; }
psql -U postgres -v mock_url="$QUO_MOCK_URL" -v api_key="$QUO_TEST_KEY" <<'SQL'
CREATE EXTENSION pg_cron;
CREATE EXTENSION quo_fdw;
CREATE SERVER quo FOREIGN DATA WRAPPER quo_fdw OPTIONS (base_url :'mock_url', rate_limit '0');
CREATE ROLE regress_quo_cron LOGIN;
GRANT USAGE ON FOREIGN SERVER quo TO regress_quo_cron;
CREATE USER MAPPING FOR regress_quo_cron SERVER quo OPTIONS (api_key :'api_key');
CREATE SCHEMA reports AUTHORIZATION regress_quo_cron;
GRANT USAGE ON SCHEMA cron TO regress_quo_cron;
SQL
psql -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'" -U postgres | sed 's/^/pg_cron /'
# the mirror's owner creates it and schedules its steps (docs/mirror.md's recipe)
psql -U regress_quo_cron -c "SELECT quo_fdw.create_mirror('quo', 'reports')" >/dev/null
cmd="CALL quo_fdw.sync_mirror('reports', 200)"
# pg_cron 1.5 and later take a schedule in seconds; 1.4 (Debian 12) a minute
job=$(psql -U regress_quo_cron -c "SELECT cron.schedule('quo-reports', '5 seconds', \$\$$cmd\$\$)" 2>/dev/null ||
      psql -U regress_quo_cron -c "SELECT cron.schedule('quo-reports', '* * * * *', \$\$$cmd\$\$)")
echo "job $job: $cmd"
status=""
for _ in $(seq 1 150); do
  status=$(psql -U postgres -c "SELECT status FROM cron.job_run_details WHERE jobid = $job AND status IN ('succeeded', 'failed') ORDER BY runid LIMIT 1")
  [ -n "$status" ] && break
  sleep 1
done
psql -U postgres -c "SELECT jobid, username, status, return_message FROM cron.job_run_details WHERE jobid = $job ORDER BY runid LIMIT 3"
psql -U regress_quo_cron -c "SELECT cron.unschedule($job)" >/dev/null
[ "$status" = succeeded ] || { echo "the pg_cron run did not succeed: ${status:-no run in 150 s}"; tail -20 "$WORK/cron_postgres.log"; exit 1; }
r=$(psql -U postgres -c "SELECT complete, conversations_pending, calls > 0 FROM quo_fdw.mirrors WHERE mirror_schema = 'reports'")
echo "mirror complete|pending|has calls: $r"
[ "$r" = "t|0|t" ]
# equal to a full scan of the foreign table, as the mirror's owner reads it
d=$(psql -U regress_quo_cron <<'SQL'
CREATE FOREIGN TABLE reports.live_calls (id text, raw jsonb) SERVER quo OPTIONS (endpoint 'calls');
SELECT count(*) FROM ((SELECT id, raw FROM reports.calls EXCEPT SELECT id, raw FROM reports.live_calls)
                      UNION ALL (SELECT id, raw FROM reports.live_calls EXCEPT SELECT id, raw FROM reports.calls)) d;
SQL
)
echo "calls that differ from a full scan: $d"
[ "$d" = 0 ]

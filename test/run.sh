#!/usr/bin/env bash
# quo_fdw's one entry point for `make demo` and `make test`.
#
#   test/run.sh demo   install what is missing, build, install, start a
#                      throwaway cluster and the mock Quo API (or use the real
#                      API when QUO_API_KEY is set), run example queries
#   test/run.sh test   the same environment, then the whole suite; the last
#                      line is "N passed, M failed"
#
# Runs as root on Debian 12.  The cluster runs as the postgres user (the
# server refuses root) on a private port and socket directory, and is
# stopped on every exit path, as is the mock.
set -euo pipefail

mode=${1:-test}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

log() { printf '== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- packages
PG_MAJOR=${PG_MAJOR:-15}
need_pkgs=()
for p in postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libcurl4-openssl-dev libjson-c-dev \
         python3 make gcc pkg-config; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ "$mode" = test ]; then
  for p in clang libclang-rt-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
  done
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${need_pkgs[*]} (run as root to install them)" >&2
    exit 1
  fi
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BIN/pg_config
[ -x "$PG_CONFIG" ] || PG_CONFIG=$(command -v pg_config)
PGXS_DIR=$(dirname "$("$PG_CONFIG" --pgxs)")/..
PG_REGRESS=$PGXS_DIR/test/regress/pg_regress

# ------------------------------------------------------------------- build
log "building quo_fdw (-Wall -Wextra -Werror)"
make -s PG_CONFIG="$PG_CONFIG" QUO_STRICT=1 clean >/dev/null
make -s PG_CONFIG="$PG_CONFIG" QUO_STRICT=1 >/dev/null
make -s PG_CONFIG="$PG_CONFIG" QUO_STRICT=1 install >/dev/null

# -------------------------------------------------------------- work area
# Under the build tree when the postgres user can reach it, else /tmp.
work=$top/build/run
mkdir -p "$top/build"
if runuser -u postgres -- test -x "$top/build" 2>/dev/null; then
  rm -rf "$work"; mkdir -p "$work"
else
  work=$(mktemp -d /tmp/quo_fdw_run.XXXXXX)
fi
chown postgres: "$work"
chmod 755 "$work"
cp test/mock_quo.py test/mockctl.py "$work/"
chmod 755 "$work"/*.py

pgdata=$work/pgdata
sock=$work/sock
mkdir -p "$sock"; chown postgres: "$sock"
# a private port: derived from the work path, moved on if taken
port=$(( 20000 + $(printf '%s' "$work" | cksum | cut -d' ' -f1) % 20000 ))
while (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done

mock_pid=""
cleanup() {
  set +e
  if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null; wait "$mock_pid" 2>/dev/null; fi
  if [ -f "$pgdata/postmaster.pid" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------- mock
key=${QUO_API_KEY:-}
base_url=${QUO_BASE_URL:-}
if [ -z "$key" ]; then
  key="test-key-$$-$RANDOM"
  log "starting the mock Quo API"
  runuser -u postgres -- python3 "$work/mock_quo.py" --port 0 --port-file "$work/mock.port" \
    --key "$key" > "$work/mock.log" 2>&1 &
  mock_pid=$!
  for _ in $(seq 1 100); do [ -s "$work/mock.port" ] && break; sleep 0.1; done
  [ -s "$work/mock.port" ] || { echo "mock did not start:" >&2; cat "$work/mock.log" >&2; exit 1; }
  base_url="http://127.0.0.1:$(cat "$work/mock.port")"
else
  base_url=${base_url:-https://api.quo.com}
  [ "$mode" = test ] && { echo "make test runs against the mock only: unset QUO_API_KEY" >&2; exit 1; }
fi

# ---------------------------------------------------------------- cluster
log "starting PostgreSQL $PG_MAJOR on port $port (socket $sock)"
runuser -u postgres -- "$PG_BIN/initdb" -D "$pgdata" -A trust -E UTF8 --locale=C.UTF-8 >/dev/null 2>&1 \
  || runuser -u postgres -- "$PG_BIN/initdb" -D "$pgdata" -A trust -E UTF8 --locale=C >/dev/null
cat >> "$pgdata/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$sock'
fsync = off
shared_preload_libraries = 'quo_fdw'
log_min_messages = warning
log_line_prefix = '%m [%p] '
EOF
# the tests drive the mock through COPY ... FROM PROGRAM with these
QUO_MOCKCTL="python3 $work/mockctl.py $base_url" QUO_MOCK_URL="$base_url" \
  runuser -u postgres --preserve-environment -- "$PG_BIN/pg_ctl" -D "$pgdata" -l "$work/postgres.log" -w start >/dev/null

export PGHOST=$sock PGPORT=$port PGUSER=postgres
export QUO_MOCK_URL=$base_url QUO_TEST_KEY=$key

psql_q() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

if [ "$mode" = demo ]; then
  log "demo: $base_url"
  psql_q -d postgres -v base_url="$base_url" -v api_key="$key" -f test/demo.sql
  exit 0
fi

# ------------------------------------------------------------------ tests
passed=0; failed=0
tests=$(sed -n 's/^test: *//p' test/schedule | tr '\n' ' ')
log "pg_regress: $tests"
outdir=$work/regress
mkdir -p "$outdir"; chown postgres: "$outdir"
set +e
"$PG_REGRESS" --inputdir="$top" --outputdir="$outdir" --bindir="$PG_BIN" \
  --host="$sock" --port="$port" --user=postgres --dbname=contrib_regression \
  --schedule=test/schedule > "$outdir/pg_regress.out" 2>&1
set -e
cat "$outdir/pg_regress.out"
passed=$((passed + $(grep -cE '^(ok|test) .* (\.\.\. )?ok' "$outdir/pg_regress.out" || true)))
failed=$((failed + $(grep -cE 'FAILED|failed \(ignored\)' "$outdir/pg_regress.out" | head -1 || true)))
if [ -s "$outdir/regression.diffs" ]; then
  log "differences (also in $outdir/regression.diffs):"
  head -300 "$outdir/regression.diffs"
fi

# shell tests: each test/t_*.sh exits 0 on success
for t in test/t_*.sh; do
  [ -e "$t" ] || continue
  if PG_BIN=$PG_BIN WORK=$work QUO_TEST_KEY=$key bash "$t" > "$work/$(basename "$t").out" 2>&1; then
    echo "ok $(basename "$t")"; passed=$((passed + 1))
  else
    echo "FAILED $(basename "$t")"; sed 's/^/    /' "$work/$(basename "$t").out" | tail -40
    failed=$((failed + 1))
  fi
done

# no backend may have crashed
if grep -qE 'terminated by signal|server process .* was terminated|PANIC' "$work/postgres.log"; then
  echo "FAILED server log shows a crashed backend:"; grep -E 'terminated by signal|PANIC' "$work/postgres.log" | head
  failed=$((failed + 1))
else
  echo "ok no crashed backend in the server log"; passed=$((passed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# quo_fdw's one entry point for `make demo` and `make test`.
#
#   test/run.sh demo   install what is missing, build, install, start a
#                      throwaway cluster and the mock Quo API (or use the real
#                      API when QUO_API_KEY is set), run example queries
#   test/run.sh test   the same environment, then the whole suite; the last
#                      line is "N passed, M failed"
#   test/run.sh deps   only install the packages `test` needs
#   test/run.sh build  install them and build (-Wall -Wextra -Werror), no run
#
# Runs as root on Debian 12, 13 or unstable.  The cluster runs as the postgres user (the
# server refuses root) on a private port and socket directory, and is
# stopped on every exit path, as is the mock.
set -euo pipefail

mode=${1:-test}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# One run at a time on this machine: every run installs quo_fdw into the
# same PostgreSQL library directory, so two runs (two clones) must not
# interleave.  QUO_ONLY="pushdown t_cancel" runs just those tests (a
# developer's loop; CI runs everything).
exec 9>/tmp/quo_fdw_run.lock
flock -w 1800 9 || { echo "another run holds /tmp/quo_fdw_run.lock" >&2; exit 1; }

log() { printf '== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- packages
# PostgreSQL as the machine's Debian ships it: bookworm 15, trixie 17,
# unstable 18; PG_MAJOR=N picks another
if [ -z "${PG_MAJOR:-}" ]; then
  codename=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
  case "$codename" in
    bookworm) PG_MAJOR=15 ;;
    trixie) PG_MAJOR=17 ;;
    sid|forky) PG_MAJOR=18 ;;
    *) PG_MAJOR=15 ;;
  esac
fi
need_pkgs=()
for p in postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libcurl4-openssl-dev libjson-c-dev \
         python3 make gcc pkg-config; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
cron_pkg=""
if [ "$mode" != demo ]; then
  for p in clang libclang-rt-dev valgrind; do
    dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
  done
  # pg_cron: test/t_pgcron.sh runs the mirror's pg_cron recipe for real
  dpkg -s "postgresql-$PG_MAJOR-cron" >/dev/null 2>&1 || cron_pkg=postgresql-$PG_MAJOR-cron
fi
if [ ${#need_pkgs[@]} -gt 0 ] || [ -n "$cron_pkg" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${need_pkgs[*]} $cron_pkg (run as root to install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if [ -n "$cron_pkg" ]; then
    if apt-cache show "$cron_pkg" >/dev/null 2>&1; then
      need_pkgs+=("$cron_pkg")
    else
      log "this Debian suite has no $cron_pkg: test/t_pgcron.sh will say it could not run"
    fi
  fi
  if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing ${need_pkgs[*]}"
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  fi
fi

PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BIN/pg_config
[ -x "$PG_CONFIG" ] || PG_CONFIG=$(command -v pg_config)

[ "$mode" = deps ] && exit 0

# ------------------------------------------------------------------- build
log "building quo_fdw for PostgreSQL $("$PG_CONFIG" --version | cut -d' ' -f2) (-Wall -Wextra -Werror)"
make -s PG_CONFIG="$PG_CONFIG" QUO_STRICT=1 clean >/dev/null
make -s PG_CONFIG="$PG_CONFIG" QUO_STRICT=1 >/dev/null
make -s PG_CONFIG="$PG_CONFIG" QUO_STRICT=1 install >/dev/null
[ "$mode" = build ] && exit 0

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
  # 32 characters like a real key (quo_fdw refuses keys under 16), new each run
  key="test$(od -An -N14 -tx1 /dev/urandom | tr -d ' \n')"
  log "starting the mock Quo API"
  runuser -u postgres -- python3 "$work/mock_quo.py" --port 0 --port-file "$work/mock.port" \
    --key "$key" > "$work/mock.log" 2>&1 9>&- &
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
start_cluster() {
  # the server does not keep this run's lock (fd 9) after the run ends
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -l "$1" -w start >/dev/null 9>&-
}
stop_cluster() {
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
}
start_cluster "$work/postgres.log"

export PGHOST=$sock PGPORT=$port PGUSER=postgres
export QUO_MOCK_URL=$base_url QUO_TEST_KEY=$key

psql_q() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

if [ "$mode" = demo ]; then
  log "demo: $base_url"
  psql_q -d postgres -v base_url="$base_url" -v api_key="$key" -f test/demo.sql
  exit 0
fi

if [ "$mode" = bench ]; then
  plpython=false
  if dpkg -s "postgresql-plpython3-$PG_MAJOR" >/dev/null 2>&1 || \
     apt-get install -y -qq --no-install-recommends "postgresql-plpython3-$PG_MAJOR" >/dev/null 2>&1; then
    plpython=true
  fi
  cp test/bench_raw.py "$work/"; chmod 755 "$work/bench_raw.py"
  # the C reference of the per-row CPU figure (libcurl and json-c, as quo_fdw)
  gcc -O2 -Wall -Wextra -Werror -o "$work/bench_c" test/bench_c.c $(pkg-config --cflags --libs libcurl json-c)
  log "bench: $base_url (PL/Python: $plpython)"
  QUO_MOCKCTL="python3 $work/mockctl.py $base_url" \
  PGOPTIONS="-c bench.raw_cmd=python3\\ $work/bench_raw.py\\ $base_url\\ $key -c bench.c_cmd=$work/bench_c\\ $base_url\\ $key" \
    psql_q -d postgres -v base_url="$base_url" -v api_key="$key" -v plpython="$plpython" -f test/bench.sql
  exit 0
fi

# ------------------------------------------------------------------ tests
passed=0; failed=0
tests=$(sed -n 's/^test: *//p' test/schedule | tr '\n' ' ')
only() { [ -z "${QUO_ONLY:-}" ] || [[ " $QUO_ONLY " == *" $1 "* ]]; }
if [ -n "${QUO_ONLY:-}" ]; then
  # setup first, then the chosen tests in schedule order
  tests=$(for t in $tests; do if [ "$t" = setup ] || only "$t"; then echo -n "$t "; fi; done)
  QUO_SKIP_VALGRIND=1; QUO_SKIP_FUZZ=1
fi
# The pg_regress suite runs the way a packager runs it, `make installcheck`
# against this (running) cluster; test/installcheck.sh starts its own mock.
# The main pass shares run.sh's mock (QUO_MOCKCTL set), so the shell tests
# after it find the database pointing at a live mock; the valgrind pass lets
# installcheck start and stop its own, as it does for a packager.
installcheck() {     # outdir tests...
  local out=$1; shift
  mkdir -p "$out"; chown postgres: "$out"
  make -s --no-print-directory PG_CONFIG="$PG_CONFIG" installcheck REGRESS="$*" \
    EXTRA_REGRESS_OPTS="--outputdir=$out" > "$out/pg_regress.out" 2>&1
}
# pg_regress's result lines: "test NAME ... ok" (15), "ok N - NAME" (16+)
regress_ok() { grep -cE '^ok [0-9]+ |^test .* \.\.\. ok' "$1" || true; }
regress_failed() { grep -cE '^not ok [0-9]+ |^test .* \.\.\. FAILED|failed \(ignored\)' "$1" || true; }
log "make installcheck: $tests"
outdir=$work/regress
set +e
QUO_MOCKCTL="python3 $work/mockctl.py $base_url" installcheck "$outdir" $tests
rc=$?
set -e
cat "$outdir/pg_regress.out"
n_ok=$(regress_ok "$outdir/pg_regress.out"); n_failed=$(regress_failed "$outdir/pg_regress.out")
passed=$((passed + n_ok)); failed=$((failed + n_failed))
if [ "$rc" -ne 0 ] && [ "$n_failed" -eq 0 ]; then
  echo "FAILED make installcheck: exit $rc"; failed=$((failed + 1))
fi
if [ -s "$outdir/regression.diffs" ]; then
  log "differences (also in $outdir/regression.diffs):"
  head -300 "$outdir/regression.diffs"
fi

# shell tests: each test/t_*.sh exits 0 on success
for t in test/t_*.sh; do
  [ -e "$t" ] || continue
  only "$(basename "$t" .sh)" || continue
  if PG_BIN=$PG_BIN WORK=$work QUO_TEST_KEY=$key bash "$t" > "$work/$(basename "$t").out" 2>&1; then
    echo "ok $(basename "$t")"; passed=$((passed + 1))
  else
    echo "FAILED $(basename "$t")"; sed 's/^/    /' "$work/$(basename "$t").out" | tail -40
    failed=$((failed + 1))
  fi
done

# no backend may have crashed
check_log() {
  if grep -qE 'terminated by signal|server process .* was terminated|PANIC' "$1"; then
    echo "FAILED $2: the server log shows a crashed backend:"; grep -E 'terminated by signal|PANIC' "$1" | head
    failed=$((failed + 1))
  else
    echo "ok $2: no crashed backend in the server log"; passed=$((passed + 1))
  fi
}
check_log "$work/postgres.log" "suite"

# ---------------------------------------------------------------- valgrind
# The regression suite once more with every backend under valgrind memcheck
# (AddressSanitizer cannot be preloaded into Debian's postgres: its startup
# deadlocks in glibc's bindtextdomain).  Errors whose stack touches quo_fdw,
# libcurl or json-c fail the run; the libFuzzer target below adds ASan/UBSan.
if [ "${QUO_SKIP_VALGRIND:-}" != 1 ]; then
  log "the suite again with every backend under valgrind"
  stop_cluster
  vg=$work/valgrind; mkdir -p "$vg"; chown postgres: "$vg"; rm -f "$vg"/*
  cp test/valgrind.supp "$work/"; chmod 644 "$work/valgrind.supp"
  runuser -u postgres -- valgrind --tool=memcheck --quiet \
      --trace-children=no --num-callers=40 --error-limit=no --log-file="$vg/vg.%p.log" \
      --suppressions="$work/valgrind.supp" \
      "$PG_BIN/postgres" -D "$pgdata" > "$work/postgres-valgrind.log" 2>&1 9>&- &
  for _ in $(seq 1 240); do "$PG_BIN/pg_isready" -q -h "$sock" -p "$port" && break; sleep 0.5; done
  set +e
  (unset QUO_MOCK_URL QUO_TEST_KEY QUO_MOCKCTL
   installcheck "$vg" setup options security rows pushdown limit_params initplan users tasks directory join_lookup errors explain)
  rc=$?
  set -e
  stop_cluster
  if [ "$rc" -eq 0 ] && python3 test/valgrind_report.py "$vg"/vg.*.log > "$vg/report.txt"; then
    echo "ok valgrind: the suite passes, $(tail -1 "$vg/report.txt")"; passed=$((passed + 1))
  else
    echo "FAILED valgrind: pg_regress exit $rc"; cat "$vg/report.txt" | tail -60
    grep -E 'FAILED|^not ok' "$vg/pg_regress.out"; head -80 "$vg/regression.diffs" 2>/dev/null
    failed=$((failed + 1))
  fi
  check_log "$work/postgres-valgrind.log" "valgrind"
fi

# ------------------------------------------------------------------ fuzzing
# libFuzzer with ASan and UBSan on the JSON-to-row converter and the request
# builder, about a minute in all.
if [ "${QUO_SKIP_FUZZ:-}" != 1 ]; then
  log "fuzzing (${FUZZ_SECONDS:-30} s per target)"
  if PG_CONFIG=$PG_CONFIG bash test/fuzz/run.sh "$top/build/fuzz"; then
    echo "ok fuzzing: no crash, leak or sanitizer report"; passed=$((passed + 1))
  else
    echo "FAILED fuzzing"; failed=$((failed + 1))
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# make installcheck runs pg_regress through this script (the Makefile puts
# it in front of PGXS's pg_regress command line, which is "$@"): it starts
# the bundled mock Quo API on 127.0.0.1, runs pg_regress against the
# already running server with the mock's address in the environment, and
# stops the mock on every exit path.
#
# The server must run on this machine (the tests reach the mock through
# COPY ... FROM PROGRAM, which the server runs as its OS user), the user
# pg_regress connects as must be a superuser, and quo_fdw must be installed
# (make install).  shared_preload_libraries is not needed.
#
# With QUO_MOCK_URL, QUO_TEST_KEY and QUO_MOCKCTL all set, that mock is used
# instead (test/run.sh does this, so its shell tests find the database
# pointing at a mock that is still running).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${QUO_MOCK_URL:-}" ] && [ -n "${QUO_TEST_KEY:-}" ] && [ -n "${QUO_MOCKCTL:-}" ]; then
  exec "$@"
fi

# mockctl.py where the server's OS user can read it
dir=$(mktemp -d /tmp/quo_fdw_installcheck.XXXXXX)
mock_pid=""
stop_mock() {
  set +e
  if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null; wait "$mock_pid" 2>/dev/null; fi
  rm -rf "$dir"
}
trap stop_mock EXIT
trap 'exit 130' INT TERM HUP
chmod 755 "$dir"
cp "$here/mock_quo.py" "$here/mockctl.py" "$dir/"
chmod 644 "$dir"/*.py

# 32 characters like a real key (quo_fdw refuses keys under 16), new each run
key="installcheck$(od -An -N10 -tx1 /dev/urandom | tr -d ' \n')"
python3 "$dir/mock_quo.py" --port 0 --port-file "$dir/mock.port" --key "$key" > "$dir/mock.log" 2>&1 9>&- &
mock_pid=$!
for _ in $(seq 1 100); do [ -s "$dir/mock.port" ] && break; sleep 0.1; done
if [ ! -s "$dir/mock.port" ]; then
  echo "installcheck: the mock Quo API did not start:" >&2; cat "$dir/mock.log" >&2; exit 1
fi
url="http://127.0.0.1:$(cat "$dir/mock.port")"
export QUO_MOCK_URL="$url" QUO_TEST_KEY="$key" QUO_MOCKCTL="python3 $dir/mockctl.py $url"

set +e
"$@"
rc=$?
set -e
if [ "$rc" -ne 0 ] && grep -q "could not\|Permission denied" "$dir/mock.log" 2>/dev/null; then
  echo "installcheck: the mock's log:" >&2; tail -20 "$dir/mock.log" >&2
fi
exit "$rc"

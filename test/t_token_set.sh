#!/usr/bin/env bash
# The paging-loop check costs constant time per page: quo_fdw's real token
# set (src/token_set.c) takes N and then 2N distinct tokens, refusing one
# seen before each time, and callgrind's instruction counts (repeatable,
# unlike seconds) must grow about twice, not four times as a search of
# every earlier token would.  Run by test/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_config=${PG_BIN:-/usr/lib/postgresql/15/bin}/pg_config
[ -x "$pg_config" ] || pg_config=$(command -v pg_config)
out=$(mktemp -d /tmp/quo_token_set.XXXXXX)
trap 'rm -rf "$out"' EXIT
gcc -O1 -g -Isrc -Itest/fuzz -isystem "$("$pg_config" --includedir-server)" $(pkg-config --cflags json-c) \
    -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-prototypes -o "$out/cost" \
    test/token_set_cost.c src/token_set.c test/fuzz/shim.c test/fuzz/shim_json.c \
    "$("$pg_config" --pkglibdir)/libpgcommon.a" $(pkg-config --libs json-c)
ir() {
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1" "$out/cost" "$1" > "$out/run.$1" 2>&1
  grep -q "^ok $1\$" "$out/run.$1" || { cat "$out/run.$1"; exit 1; }
  sed -n 's/^summary: *//p' "$out/cg.$1"
}
a=$(ir 20000); b=$(ir 40000)
echo "instructions: 20000 tokens $a, 40000 tokens $b"
python3 -c "import sys; r = $b / $a; print('ratio %.2f' % r); sys.exit(0 if r < 2.5 else 1)"

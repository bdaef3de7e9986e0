#!/usr/bin/env bash
# Build the libFuzzer targets fuzz_json_row, fuzz_request and fuzz_headers
# (clang, -fsanitize=fuzzer,address,undefined) and run each for FUZZ_SECONDS
# (default 30) from the seed corpus in test/fuzz/corpus.  Exit 1 on a crash,
# a sanitizer report or a hang.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:-$top/build/fuzz}
seconds=${FUZZ_SECONDS:-30}
PG_CONFIG=${PG_CONFIG:-pg_config}
pgi=$("$PG_CONFIG" --includedir-server)
mkdir -p "$out"
cflags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -I"$top/src" -I"$here" -isystem "$pgi" $(pkg-config --cflags json-c)
        -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-prototypes
        -DQUO_JSON_CHUNK=7)  # bodies cross the parser's chunk boundaries
# json_row.c quotes API text in its messages through errors.c, so every
# target has errors.c and its shim (the session's encodings, one
# conversion), with libcurl (retry.c's curl_getdate, errors.c's headers)
# and PostgreSQL's own UTF-8 validation from libpgcommon
srcs=("$here/shim.c" "$here/shim_json.c" "$here/shim_errors.c" "$top/src/json_row.c" "$top/src/errors.c"
      "$top/src/request.c" "$top/src/pushdown.c" "$top/src/endpoints.c")
# fuzz_headers: retry.c and errors.c (and the endpoint table errors.c reads)
headers_srcs=("$here/shim.c" "$here/shim_json.c" "$here/shim_errors.c" "$top/src/json_row.c"
              "$top/src/retry.c" "$top/src/errors.c" "$top/src/endpoints.c")
libs=("$("$PG_CONFIG" --pkglibdir)/libpgcommon.a" $(pkg-config --libs libcurl 2>/dev/null || echo -lcurl))
status=0
for t in json_row request headers; do
  if [ "$t" = headers ]; then
    clang "${cflags[@]}" $(pkg-config --cflags libcurl 2>/dev/null) -o "$out/fuzz_$t" "$here/fuzz_$t.c" \
      "${headers_srcs[@]}" $(pkg-config --libs json-c) "${libs[@]}"
  else
    clang "${cflags[@]}" $(pkg-config --cflags libcurl 2>/dev/null) -o "$out/fuzz_$t" "$here/fuzz_$t.c" \
      "${srcs[@]}" $(pkg-config --libs json-c) "${libs[@]}"
  fi
  work=$out/corpus_$t; rm -rf "$work"; mkdir -p "$work"
  seed=$here/corpus/${t%_row}
  if (cd "$out" && ASAN_OPTIONS=detect_leaks=1 "./fuzz_$t" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 "$work" "$seed") > "$out/fuzz_$t.log" 2>&1; then
    echo "fuzz_$t: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$out/fuzz_$t.log"), no crash"
  else
    echo "fuzz_$t: FAILED"; grep -E "ERROR|SUMMARY|runtime error|Test unit written|malformed|fuzz shim" "$out/fuzz_$t.log" | head -20
    status=1
  fi
done
exit $status

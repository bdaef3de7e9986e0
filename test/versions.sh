#!/usr/bin/env bash
# make test-versions: the whole suite (`make test`) on PostgreSQL 15, 17 and
# 18, each in a fresh Debian chroot made with debootstrap from the Debian
# mirror this machine's apt is configured with:
#
#   15  bookworm    17  trixie    18  unstable
#
#   QUO_VERSIONS="17 18"      only these versions
#   QUO_CHROOT_CACHE=DIR      where prepared bases are kept
#                             (default /var/cache/quo_fdw/chroots)
#   QUO_DEBIAN_MIRROR=URL     another mirror
#   QUO_VERSIONS_STEP=build   only build (-Wall -Wextra -Werror), no suite
#   QUO_VERSIONS_STEP=demo    `make demo` instead of `make test`
#   QUO_ONLY="initplan t_meta"  only these tests (as for make test)
#   QUO_VERSIONS_FRESH=1      bases with only build-essential, git and
#                             ca-certificates, so `make test` installs
#                             PostgreSQL and the rest itself, as on a new
#                             machine (slower: downloads every run)
#
# A base (debootstrap plus the packages the suite needs) is made once per
# suite and cached outside the build tree; every run copies it to a fresh
# root, so each run starts from the same clean system, and a second run
# skips the download.  Each root gets /proc, /dev, /dev/pts and /dev/shm
# mounted; they are unmounted and the root removed on every exit path.
# The unstable suite's Release file may have expired on the mirror: only
# inside the chroots is apt told to accept that (Acquire::Check-Valid-Until).
# Runs as root.  The last line is "N passed, M failed": the tests of every
# version's suite added up (a version that could not run counts one failure).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
versions=${QUO_VERSIONS:-15 17 18}
cache=${QUO_CHROOT_CACHE:-/var/cache/quo_fdw/chroots}
step=${QUO_VERSIONS_STEP:-test}
case "$step" in test|build|demo) ;; *) echo "QUO_VERSIONS_STEP is test, build or demo, not '$step'" >&2; exit 1 ;; esac
fresh=${QUO_VERSIONS_FRESH:-}

log() { printf '== %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { echo "make test-versions runs as root (debootstrap, chroot, mount)" >&2; exit 1; }

suite_of() {
  case "$1" in
    15) echo bookworm ;; 17) echo trixie ;; 18) echo unstable ;;
    *) echo "no Debian suite ships PostgreSQL $1 (15 bookworm, 17 trixie, 18 unstable)" >&2; return 1 ;;
  esac
}
[ -n "${versions// /}" ] || { echo "QUO_VERSIONS is empty: nothing to test" >&2; exit 1; }
for major in $versions; do suite_of "$major" >/dev/null || exit 1; done

# the Debian mirror apt uses here (the first source whose origin is Debian
# and which is not the security archive)
mirror=${QUO_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(apt-get indextargets --format '$(SITE) $(ORIGIN) $(SUITE)' 2>/dev/null |
           awk '$2 == "Debian" && $3 !~ /security/ { print $1; exit }')
fi
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\(http[^ ]*\) .*/\2/p' /etc/apt/sources.list 2>/dev/null | grep -v security | head -1)
fi
[ -n "$mirror" ] || { echo "no Debian mirror configured in apt; set QUO_DEBIAN_MIRROR" >&2; exit 1; }

need=()
for p in debootstrap debian-archive-keyring; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$cache"
# one test-versions at a time (the roots and the bases are shared); nothing
# started inside a root inherits this descriptor (in_root closes it)
exec 8>"$cache/.lock"
flock -w 1800 8 || { echo "another make test-versions holds $cache/.lock" >&2; exit 1; }

# ------------------------------------------------------------ mounts
mounted=()          # mount points, in mount order
roots=()            # roots to remove
unmount_all() {
  local i
  for (( i=${#mounted[@]}-1; i>=0; i-- )); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
  done
  mounted=()
}
# processes running inside a root (a cancelled suite's server, say); a root
# already removed reads as "ROOT (deleted)"
kill_under() {       # directory prefix [name prefix]: roots "$1/$2*" (or "$1" itself and under it)
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    r=${r% (deleted)}
    if [ $# -eq 1 ]; then
      [[ "$r" == "$1" || "$r" == "$1"/* ]] || continue
    else
      [[ "$r" == "$1/$2"* ]] || continue
    fi
    kill -9 "${p#/proc/}" 2>/dev/null
  done
}
kill_in_root() { kill_under "$1"; }
release_root() {     # root: processes, mounts, files
  kill_in_root "$1"
  unmount_all
  rm -rf --one-file-system "$1"
}
cleanup() {
  set +e
  local r
  for r in "${roots[@]}"; do kill_in_root "$r"; done
  unmount_all
  for r in "${roots[@]}"; do rm -rf --one-file-system "$r"; done
  roots=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# what a run killed with SIGKILL left: processes, mounts, roots
kill_under "$cache" run-
for b in bookworm trixie unstable; do kill_under "$cache" "$b.partial"; kill_under "$cache" "$b-fresh.partial"; done
while read -r _ mp _; do
  case "$mp" in "$cache"/*) umount -l "$mp" 2>/dev/null || true ;; esac
done < <(sort -r -k2 /proc/mounts)
rm -rf --one-file-system "$cache"/run-* "$cache"/*.partial

# /dev is bound as a slave, so nothing mounted or unmounted under it here
# reaches the host's /dev on a host whose mounts are shared
mount_into() {       # root
  local r=$1
  mount -t proc proc "$r/proc" && mounted+=("$r/proc") &&
  mount --bind /dev "$r/dev" && mounted+=("$r/dev") && mount --make-rslave "$r/dev" &&
  mount --bind /dev/pts "$r/dev/pts" && mounted+=("$r/dev/pts") &&
  mount -t tmpfs -o mode=1777 shm "$r/dev/shm" && mounted+=("$r/dev/shm")
}

# a command in a root: clean environment, no stdin, no lock descriptor,
# at most QUO_VERSIONS_TIMEOUT seconds (default 3600)
in_root() {          # root command...
  local r=$1; shift
  # --foreground: timeout stays in this process group, so Ctrl-C or a
  # cancel reaches the suite at once
  timeout --foreground -k 30 "${QUO_VERSIONS_TIMEOUT:-3600}" \
    chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive CI="${CI:-}" QUO_ONLY="${QUO_ONLY:-}" \
    "$@" < /dev/null 8>&-
}

# copy the work tree (what git tracks, as it is on disk now) into a root
copy_tree() {        # root
  mkdir -p "$1/root/quo_fdw" || return 1
  if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$top" && git ls-files -z --cached --others --exclude-standard |
       while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
       tar --null -T - -cf -) | tar -C "$1/root/quo_fdw" -xf -
  else
    tar -C "$top" --exclude=./build -cf - . | tar -C "$1/root/quo_fdw" -xf -
  fi
}

# ------------------------------------------------------------ bases
base_of() { if [ -n "$fresh" ]; then echo "$cache/$1-fresh"; else echo "$cache/$1"; fi; }
# (called in an if: every step checks its own status)
prepare_base() {     # major suite
  local major=$1 suite=$2 base
  base=$(base_of "$2")
  if [ -f "$base/.quo_base_ready" ] && [ "$(cat "$base/.quo_base_ready")" = "$major" ]; then
    return 0
  fi
  local tmp=$base.partial include=ca-certificates,make
  [ -z "$fresh" ] || include=ca-certificates,build-essential,git
  rm -rf --one-file-system "$tmp"
  log "debootstrap $suite from $mirror (once; cached in $base)"
  roots+=("$tmp")
  debootstrap --variant=minbase --include="$include" \
    "$suite" "$tmp" "$mirror" > "$cache/debootstrap-$suite.log" 2>&1 8>&- ||
    { echo "debootstrap $suite failed:" >&2; tail -20 "$cache/debootstrap-$suite.log" >&2; return 1; }
  # an expired Release file is accepted inside this chroot, never on the
  # host; package scripts start no service in it
  printf 'Acquire::Check-Valid-Until "false";\nAPT::Install-Recommends "false";\n' \
    > "$tmp/etc/apt/apt.conf.d/99quo-test" &&
  printf '#!/bin/sh\nexit 101\n' > "$tmp/usr/sbin/policy-rc.d" && chmod 755 "$tmp/usr/sbin/policy-rc.d" &&
  echo "deb $mirror $suite main" > "$tmp/etc/apt/sources.list" || return 1
  cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
  mount_into "$tmp" || { echo "mounting into $tmp failed" >&2; release_root "$tmp"; return 1; }
  if [ -z "$fresh" ]; then
    copy_tree "$tmp" || { release_root "$tmp"; return 1; }
    log "installing PostgreSQL $major and the suite's packages in $suite"
    in_root "$tmp" bash -c "cd /root/quo_fdw && PG_MAJOR=$major bash test/run.sh deps" \
      > "$cache/deps-$suite.log" 2>&1 ||
      { echo "installing packages in $suite failed:" >&2; tail -20 "$cache/deps-$suite.log" >&2
        release_root "$tmp"; return 1; }
  fi
  { in_root "$tmp" apt-get update -qq && in_root "$tmp" apt-get clean; } > "$cache/apt-$suite.log" 2>&1 ||
    { echo "apt-get update in $suite failed:" >&2; tail -20 "$cache/apt-$suite.log" >&2
      release_root "$tmp"; return 1; }
  kill_in_root "$tmp"
  unmount_all
  rm -rf "$tmp/root/quo_fdw" "$tmp/tmp/"* || return 1
  echo "$major" > "$tmp/.quo_base_ready" || return 1
  rm -rf --one-file-system "$base"
  mv "$tmp" "$base"
}

# ------------------------------------------------------------ runs
# One version: prints its suite's output with a [pgNN] prefix and sets
# summary ("N passed, M failed" or empty) and rc.  (Called in an if.)
run_version() {      # major suite
  local major=$1 suite=$2 root cmd
  summary=""; rc=1
  prepare_base "$major" "$suite" || { echo "[pg$major] FAILED to prepare the $suite chroot"; return 1; }
  root=$cache/run-$suite-$$
  roots+=("$root")
  log "PostgreSQL $major on Debian $suite: fresh root $root"
  cp -a "$(base_of "$suite")" "$root" && mount_into "$root" && copy_tree "$root" ||
    { echo "[pg$major] FAILED to make the root $root"; release_root "$root"; return 1; }
  out=$cache/test-$major.log
  # no PG_MAJOR: the harness must pick the suite's PostgreSQL by itself
  if [ "$step" = build ]; then
    cmd="cd /root/quo_fdw && bash test/run.sh build"
  elif [ "$step" = demo ]; then
    cmd="cd /root/quo_fdw && make demo"
  else
    cmd="cd /root/quo_fdw && make test"
  fi
  in_root "$root" bash -c "$cmd" 2>&1 | tee "$out" | sed -u "s/^/[pg$major] /"
  rc=${PIPESTATUS[0]}
  if ! grep -qE "^== building quo_fdw for PostgreSQL $major(\.|beta|rc)" "$out"; then
    echo "[pg$major] FAILED: the harness did not build for PostgreSQL $major on $suite"
    rc=1
  fi
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
  # keep pg_regress's results and diffs for a look after the root is gone
  rm -rf "$cache/regress-$major"
  cp -r "$root"/tmp/quo_fdw_run.*/regress "$cache/regress-$major" 2>/dev/null || true
  release_root "$root"
  return 0
}

passed=0; failed=0
results=()
for major in $versions; do
  suite=$(suite_of "$major")
  t0=$SECONDS
  summary=""; rc=1; ok=false
  run_version "$major" "$suite" || true
  if [[ "$summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
    if [ "$rc" -eq 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ]; then ok=true
    elif [ "${BASH_REMATCH[2]}" -eq 0 ]; then failed=$((failed + 1))   # failed with no failed test
    fi
  elif [ "$rc" -eq 0 ] && [ "$step" != test ]; then
    passed=$((passed + 1)); summary="$step done"; ok=true
  else
    failed=$((failed + 1)); summary=${summary:-no summary line}
  fi
  if $ok; then
    results+=("ok PostgreSQL $major ($suite): $summary, $((SECONDS - t0)) s")
  else
    results+=("FAILED PostgreSQL $major ($suite): exit $rc, $summary (log: $cache/test-$major.log)")
  fi
done

printf '%s\n' "${results[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

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
fresh=${QUO_VERSIONS_FRESH:-}

log() { printf '== %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { echo "make test-versions runs as root (debootstrap, chroot, mount)" >&2; exit 1; }

suite_of() {
  case "$1" in
    15) echo bookworm ;; 16) echo bookworm ;; 17) echo trixie ;; 18) echo unstable ;;
    *) echo "no Debian suite known for PostgreSQL $1" >&2; return 1 ;;
  esac
}

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
# one test-versions at a time (the roots and the bases are shared)
exec 8>"$cache/.lock"
flock 8

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
# processes left running inside a root (a cancelled suite's server, say)
kill_in_root() {     # root
  local p
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/root" 2>/dev/null)" in
      "$1"|"$1"/*) kill -9 "${p#/proc/}" 2>/dev/null ;;
    esac
  done
}
cleanup() {
  set +e
  for r in "${roots[@]}"; do kill_in_root "$r"; done
  unmount_all
  for r in "${roots[@]}"; do rm -rf --one-file-system "$r"; done
  roots=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# a run killed by SIGKILL leaves mounts behind: clear them before starting
while read -r _ mp _; do
  case "$mp" in "$cache"/*) umount -l "$mp" 2>/dev/null || true ;; esac
done < <(sort -r -k2 /proc/mounts)
rm -rf --one-file-system "$cache"/run-* "$cache"/*.partial

mount_into() {       # root
  local r=$1
  mount -t proc proc "$r/proc"; mounted+=("$r/proc")
  mount --bind /dev "$r/dev"; mounted+=("$r/dev")
  mount --bind /dev/pts "$r/dev/pts"; mounted+=("$r/dev/pts")
  mount -t tmpfs -o mode=1777 shm "$r/dev/shm"; mounted+=("$r/dev/shm")
}

in_root() {          # root command...
  local r=$1; shift
  chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive CI="${CI:-}" "$@"
}

# copy the work tree (what git tracks, as it is on disk now) into a root
copy_tree() {        # root
  mkdir -p "$1/root/quo_fdw"
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
    "$suite" "$tmp" "$mirror" > "$cache/debootstrap-$suite.log" 2>&1 ||
    { echo "debootstrap $suite failed:" >&2; tail -20 "$cache/debootstrap-$suite.log" >&2; return 1; }
  # an expired Release file is accepted inside this chroot, never on the host
  printf 'Acquire::Check-Valid-Until "false";\nAPT::Install-Recommends "false";\n' \
    > "$tmp/etc/apt/apt.conf.d/99quo-test"
  echo "deb $mirror $suite main" > "$tmp/etc/apt/sources.list"
  cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
  mount_into "$tmp"
  if [ -z "$fresh" ]; then
    copy_tree "$tmp"
    log "installing PostgreSQL $major and the suite's packages in $suite"
    in_root "$tmp" bash -c "cd /root/quo_fdw && PG_MAJOR=$major bash test/run.sh deps" \
      > "$cache/deps-$suite.log" 2>&1 ||
      { echo "installing packages in $suite failed:" >&2; tail -20 "$cache/deps-$suite.log" >&2; return 1; }
  fi
  in_root "$tmp" apt-get update -qq
  in_root "$tmp" apt-get clean
  unmount_all
  rm -rf "$tmp/root/quo_fdw" "$tmp/tmp/"*
  echo "$major" > "$tmp/.quo_base_ready"
  rm -rf --one-file-system "$base"
  mv "$tmp" "$base"
}

# ------------------------------------------------------------ runs
passed=0; failed=0
results=()
for major in $versions; do
  suite=$(suite_of "$major")
  t0=$SECONDS
  if ! prepare_base "$major" "$suite"; then
    results+=("PostgreSQL $major ($suite): FAILED to prepare the chroot")
    failed=$((failed + 1)); continue
  fi
  root=$cache/run-$suite-$$
  roots+=("$root")
  log "PostgreSQL $major on Debian $suite: fresh root $root"
  cp -a "$(base_of "$suite")" "$root"
  mount_into "$root"
  copy_tree "$root"
  out=$cache/test-$major.log
  # no PG_MAJOR: the harness must pick the suite's PostgreSQL by itself
  if [ "$step" = build ]; then
    cmd="cd /root/quo_fdw && bash test/run.sh build"
  else
    cmd="cd /root/quo_fdw && make test"
  fi
  set +e
  in_root "$root" bash -c "$cmd" 2>&1 | tee "$out" | sed -u "s/^/[pg$major] /"
  rc=${PIPESTATUS[0]}
  set -e
  last=$(tail -1 "$out")
  if ! grep -q "^== building quo_fdw for PostgreSQL $major\." "$out"; then
    echo "[pg$major] FAILED: the harness did not build for PostgreSQL $major on $suite"
    rc=1
  fi
  if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
    [ "$rc" -eq 0 ] || [ "${BASH_REMATCH[2]}" -gt 0 ] || failed=$((failed + 1))
  elif [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
  if [ "$rc" -eq 0 ]; then
    results+=("ok PostgreSQL $major ($suite): $last, $((SECONDS - t0)) s")
  else
    results+=("FAILED PostgreSQL $major ($suite): exit $rc, $last (log: $out)")
  fi
  unmount_all
  rm -rf --one-file-system "$root"
done

printf '%s\n' "${results[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

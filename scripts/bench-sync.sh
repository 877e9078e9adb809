#!/usr/bin/env bash
# Ratio benchmark of the sync engine against the usual tools, measured in
# the same run on the same machine (not part of the test suite: it takes
# minutes and writes about 12 GiB of scratch files).
#
#   delta: two 2 GiB raw images, 1% and 10% of their 1 MiB blocks changed;
#          `failback sync --mode delta` (journal on, the default; and with
#          --no-journal) vs `rsync --inplace --no-whole-file -I`, each on an
#          identical copy of the target, results checked with cmp.
#   full:  `failback sync --mode full` onto an empty image vs `cp`, and vs
#          `cp` followed by `sync FILE` (failback flushes what it writes,
#          cp leaves it in the page cache).
#
# Prints wall time, peak RSS (GNU time) and ratios (>1 means failback is
# faster), and the CPU seconds (user+sys) of the best run: on a machine
# others load, the wall ratio moves with the load; the CPU one less.
# Warm page cache: every input is read once before it is timed.
#
# Usage: scripts/bench-sync.sh [WORKDIR]   (default: a new dir under /tmp)
# Env:   REPS=2 (best of REPS per tool), SIZE_MIB=2048, PCTS="1 10" (the
#        delta cases), FULL=1 (0 skips the full-copy rows)
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-2}
SIZE_MIB=${SIZE_MIB:-2048}
PCTS=${PCTS:-1 10}
FULL=${FULL:-1}
work=${1:-$(mktemp -d /tmp/failback-bench.XXXXXX)}
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

need() { # need CMD DEBIAN_PACKAGE: install when missing and possible
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing $2" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2") >/dev/null 2>&1 || true
  fi
  command -v "$1" >/dev/null 2>&1
}
if [ ! -x /usr/bin/time ] && ! need /usr/bin/time time; then
  echo "GNU time (/usr/bin/time, Debian package 'time') is needed to measure peak RSS; install it" >&2
  exit 1
fi
have_rsync=1
if ! need rsync rsync; then
  have_rsync=0
  echo "rsync not found and not installable: skipping the rsync comparison" >&2
fi

echo "== building failback"
go build -o "$work/failback" .
fb="$work/failback"

# measure NAME CMD...: run CMD under GNU time; sets secs and rss_mib.
measure() {
  local name=$1; shift
  /usr/bin/time -f '%e %M %U %S' -o "$work/time.out" "$@" >/dev/null
  read -r secs rss_kib usr sys <"$work/time.out"
  cpu=$(awk "BEGIN{printf \"%.2f\", $usr + $sys}")
  rss_mib=$((rss_kib / 1024))
}

# best NAME SETUP CMD...: best wall time of REPS runs, SETUP before each
# (untimed); sets best_secs and best_rss (peak RSS of the best run).
best() {
  local setup=$1; shift
  best_secs=""; best_rss=0; best_cpu=0
  for _ in $(seq 1 "$REPS"); do
    eval "$setup"
    measure x "$@"
    if [ -z "$best_secs" ] || awk "BEGIN{exit !($secs < $best_secs)}"; then
      best_secs=$secs; best_rss=$rss_mib; best_cpu=$cpu
    fi
  done
}

ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"inf\" }"; }
warm() { cat "$@" >/dev/null; }

echo "== writing a ${SIZE_MIB} MiB random base image"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$work/base.raw"
blocks=$SIZE_MIB

printf '\n%-36s %8s %10s %7s %8s\n' "run" "seconds" "peak RSS" "ratio" "CPU s"
row() { printf '%-36s %8s %6s MiB %7s %8s\n' "$1" "$2" "$3" "" "$best_cpu"; }
ratiorow() { printf '%-36s %8s %10s %7s\n' "$1" "" "" "$2"; }

for pct in $PCTS; do
  n=$((blocks * pct / 100))
  cp "$work/base.raw" "$work/src.raw"
  for b in $(shuf -i 0-$((blocks - 1)) -n "$n"); do
    head -c 1M /dev/urandom | dd of="$work/src.raw" bs=1M seek="$b" conv=notrunc status=none
  done
  # sync after the copy: failback flushes the target, and must not pay
  # for writing back the setup's dirty pages.
  fresh='cp --reflink=never "$work/base.raw" "$work/dst.raw"; rm -rf "$work/dst.raw.failback-journal"; sync; warm "$work/src.raw" "$work/dst.raw"'

  best "$fresh" "$fb" sync --quiet --mode delta "$work/src.raw" "$work/dst.raw"
  cmp "$work/src.raw" "$work/dst.raw"
  ours=$best_secs; ours_rss=$best_rss
  row "delta $pct% failback (journal)" "$ours" "$ours_rss"

  best "$fresh" "$fb" sync --quiet --mode delta --no-journal "$work/src.raw" "$work/dst.raw"
  cmp "$work/src.raw" "$work/dst.raw"
  nj=$best_secs; nj_rss=$best_rss
  row "delta $pct% failback --no-journal" "$nj" "$nj_rss"

  if [ $have_rsync = 1 ]; then
    best "$fresh" rsync --inplace --no-whole-file -I "$work/src.raw" "$work/dst.raw"
    cmp "$work/src.raw" "$work/dst.raw"
    row "delta $pct% rsync --inplace" "$best_secs" "$best_rss"
    ratiorow "  ratio rsync/failback (journal)" "$(ratio "$best_secs" "$ours")"
    ratiorow "  ratio rsync/failback --no-journal" "$(ratio "$best_secs" "$nj")"
  fi
  rate=$(awk "BEGIN{printf \"%.2f\", $SIZE_MIB / 1024 / $ours}")
  echo "  delta compare rate with journal: $rate GiB/s of disk"
done

[ "$FULL" = 1 ] || exit 0
echo
empty='rm -f "$work/dst.raw"; rm -rf "$work/dst.raw.failback-journal"; truncate -s $((SIZE_MIB << 20)) "$work/dst.raw"; warm "$work/src.raw"; sync'
best "$empty" "$fb" sync --quiet --mode full "$work/src.raw" "$work/dst.raw"
cmp "$work/src.raw" "$work/dst.raw"
full=$best_secs
row "full failback (journal)" "$full" "$best_rss"
best "$empty" "$fb" sync --quiet --mode full --no-journal "$work/src.raw" "$work/dst.raw"
cmp "$work/src.raw" "$work/dst.raw"
fullnj=$best_secs
row "full failback --no-journal" "$fullnj" "$best_rss"
cpfresh='rm -f "$work/cp.raw"; warm "$work/src.raw"; sync'
best "$cpfresh" cp "$work/src.raw" "$work/cp.raw"
cmp "$work/src.raw" "$work/cp.raw"
row "full cp" "$best_secs" "$best_rss"
ratiorow "  ratio cp/failback (journal)" "$(ratio "$best_secs" "$full")"
best "$cpfresh" sh -c 'cp "$1" "$2" && sync "$2"' sh "$work/src.raw" "$work/cp.raw"
row "full cp + sync FILE" "$best_secs" "$best_rss"
ratiorow "  ratio (cp+sync)/failback (journal)" "$(ratio "$best_secs" "$full")"

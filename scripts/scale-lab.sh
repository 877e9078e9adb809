#!/usr/bin/env bash
# The scale drill of issue 21: a lab of 50 VMs (96 disks, `lab up --vms
# 50`), its big plan failed back end to end (run: phase 1 and catch-up
# while the Azure VMs write; complete: the downtime; commit), with the
# driver's peak RSS (GNU time) and wall time of each step. Not part of the
# test suite: it takes minutes and about 2*96*DISK_SIZE of scratch space.
#
# Usage: scripts/scale-lab.sh [WORKDIR]   (default: a new dir under /tmp)
# Env:   VMS=50, DISK_SIZE=64M, RSS_LIMIT_MIB=256 (a driver step above it
#        fails the script), HOSTS=1 (original Hyper-V hosts the VMs are
#        spread over), MAX_DISKS (each host's max_disks; default: config's)
set -euo pipefail
cd "$(dirname "$0")/.."
VMS=${VMS:-50}
DISK_SIZE=${DISK_SIZE:-64M}
RSS_LIMIT_MIB=${RSS_LIMIT_MIB:-256}
HOSTS=${HOSTS:-1}
MAX_DISKS=${MAX_DISKS:-}
work=${1:-$(mktemp -d /tmp/failback-scale.XXXXXX)}
mkdir -p "$work"
if [ ! -x /usr/bin/time ]; then
  echo "GNU time (/usr/bin/time, Debian package 'time') is needed to measure peak RSS; install it" >&2
  exit 1
fi
echo "== building failback"
go build -o "$work/failback" .
fb="$work/failback"
lab="$work/lab"
cleanup() { "$fb" lab down --dir "$lab" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

fail=0
# step NAME CMD...: runs CMD under GNU time, prints its wall time and peak
# RSS, keeps its output in $work/NAME.out.
step() {
  local name=$1; shift
  if ! /usr/bin/time -f '%e %M' -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err"; then
    echo "$name failed:" >&2
    tail -20 "$work/$name.err" >&2
    exit 1
  fi
  read -r secs rss_kib <"$work/$name.time"
  local rss=$((rss_kib / 1024))
  printf '%-10s %8s s %6s MiB peak RSS\n' "$name" "$secs" "$rss"
  if [ "$rss" -gt "$RSS_LIMIT_MIB" ]; then
    echo "  over the ${RSS_LIMIT_MIB} MiB limit" >&2
    fail=1
  fi
}

echo "== lab up --vms $VMS --hosts $HOSTS --disk-size $DISK_SIZE"
step lab-up "$fb" lab up --dir "$lab" --vms "$VMS" --hosts "$HOSTS" --disk-size "$DISK_SIZE" --no-console
cfg="$lab/config.toml"
[ -f "$cfg" ] || cfg=$(ls "$lab"/*.toml | head -1)
if [ -n "$MAX_DISKS" ]; then
  sed -i "s/^shutdown_timeout = \"30s\"\$/&\nmax_disks = $MAX_DISKS/" "$cfg"
fi
cert=$(sed -n 's/.*--cert \([^ ]*\) --yes.*/\1/p' "$work/lab-up.out" | head -1)
plan=$(sed -n 's/.*--plan \([^ ]*\) --sync delta --cert.*/\1/p' "$work/lab-up.out" | head -1)
disks=$(grep -c 'image *=' "$cfg" || true)
echo "   plan $plan, $disks disks in the config"

step run "$fb" run --config "$cfg" --plan "$plan" --sync delta --cert "$cert" --yes
job=$(tail -1 "$work/run.out")
step status "$fb" status --config "$cfg" "$job"
step complete "$fb" complete --config "$cfg" "$job"
step commit "$fb" commit --config "$cfg" --yes "$job"
# Where phase 2's time went (the job's log, as complete prints it).
grep -h 'downtime' "$work/complete.out" "$work/complete.err" | tail -3 || true
exit $fail

#!/usr/bin/env bash
# Benchmark of movers on several hosts (not part of the test suite: it
# builds three labs and takes minutes): one recovery plan failed back
# (full download) from a lab whose VMs are spread over 1, 2 and 4 lab
# Hyper-V hosts, each host's "link" capped at the same rate (max_disks = 1
# and bandwidth_limit = RATE: each host's mover moves one disk at a time at
# RATE). With the bytes moved on the hosts, the total time should fall
# close to 1/N, while the driver (this machine's failback) stays flat.
#
# Prints, per host count: total time, the driver's peak RSS and CPU time
# (its own, without the movers, which are its child processes; sampled
# from /proc every 0.2 s, Linux only).
#
# Usage: scripts/bench-hosts.sh [WORKDIR]   (default: a new dir under /tmp)
# Env:   RATE=8M (per host), DISK=128M (per disk), VMS=11 (tier2-apps then
#        has 8 VMs, 8 disks), HOSTS="1 2 4"
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${RATE:-8M}
DISK=${DISK:-128M}
VMS=${VMS:-11}
HOSTS=${HOSTS:-"1 2 4"}
work=${1:-$(mktemp -d /tmp/failback-hosts.XXXXXX)}
mkdir -p "$work"

echo "== building failback"
go build -o "$work/failback" .
fb="$work/failback"
tick=$(getconf CLK_TCK)
labs=()
cleanup() {
  for d in "${labs[@]}"; do "$fb" lab down --dir "$d" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

printf '\n%-6s %10s %14s %14s %12s\n' hosts "total (s)" "driver RSS" "driver CPU" "bytes"
for n in $HOSTS; do
  dir="$work/lab$n"
  labs+=("$dir")
  "$fb" lab up --dir "$dir" --hosts "$n" --vms "$VMS" --disk-size "$DISK" --write-rate 1 --no-console >"$work/up$n.log" 2>&1
  thumb=$(sed -n 's/.*--cert \([0-9A-Fa-f]*\) --yes.*/\1/p' "$work/up$n.log" | head -1)
  cfg="$dir/config.toml"
  # Each host: one disk at a time, at RATE; the job may take as many
  # disks at once as there are hosts; no second read to verify.
  sed -i -e "s/^verify = true$/verify = false\nbandwidth_limit = \"$RATE\"\nparallel_disks = 16/" \
         -e "s/^transport = ['\"]lab['\"]$/&\nmax_disks = 1/" "$cfg"
  [ "$(grep -c '^max_disks = 1$' "$cfg")" -ge "$n" ] || { echo "could not cap the hosts in $cfg" >&2; exit 1; }

  start=$(date +%s.%N)
  "$fb" run --config "$cfg" --plan tier2-apps --sync full --cert "$thumb" --yes --quiet >"$work/run$n.out" 2>"$work/run$n.err" &
  pid=$!
  hwm=0 cpu=0
  while kill -0 "$pid" 2>/dev/null; do
    if s=$(cat "/proc/$pid/status" 2>/dev/null) && t=$(cat "/proc/$pid/stat" 2>/dev/null); then
      h=$(awk '/^VmHWM:/ {print $2}' <<<"$s")
      # Past the command name (which may hold spaces), utime and stime,
      # fields 14 and 15 of the line, are fields 12 and 13.
      c=$(awk '{print $12 + $13}' <<<"${t##*) }")
      [ -n "$h" ] && hwm=$h
      [ -n "$c" ] && cpu=$c
    fi
    sleep 0.2
  done
  if ! wait "$pid"; then
    echo "failback run failed with $n host(s):" >&2
    cat "$work/run$n.err" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  job=$(tail -1 "$work/run$n.out")
  moved=$("$fb" status --config "$cfg" --json "$job" |
    python3 -c 'import json,sys; v=json.load(sys.stdin); print(sum(d.get("bytes_transferred",0) for vm in v["vms"] for d in vm["disks"]))' 2>/dev/null || echo "?")
  printf '%-6s %10.1f %11d MiB %12.2f s %12s\n' "$n" "$(echo "$end - $start" | bc)" $((hwm / 1024)) \
    "$(echo "scale=2; $cpu / $tick" | bc)" "$moved"
  "$fb" lab down --dir "$dir" >/dev/null 2>&1 || true
done

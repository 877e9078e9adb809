#!/usr/bin/env bash
# Phase 1 (delta sync from a snapshot) with and without the Azure-side
# agent, in one run against one Azurite (started by the benchmark, in
# memory), over a simulated WAN between on premises and Azure:
#   change=1% / change=10%   share of 1 MiB blocks that differ
#   direct                   the engine reads every allocated block over
#                            the WAN to checksum it
#   agent                    the agent checksums next to the data; only
#                            checksums and the differing blocks cross
# Printed per case: bytes on the WAN (both directions, TCP level, TLS and
# HTTP included) and wall time.
# Usage: scripts/bench-agent.sh [disk MiB (256)] [WAN Mbit/s each way (200; 0 = no limit)]
# The disk is fully written with incompressible data (the agent's worst
# case: no compression help, every block must be read and hashed).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-256}
mbit=${2:-200}
out=$(FAILBACK_BENCH_SIZE_MIB=$size FAILBACK_BENCH_WAN_MBIT=$mbit \
  go test -run '^$' -bench '^BenchmarkPhase1$' -benchtime 1x -timeout 30m ./agent/)
echo "$out" | grep -E '^(goos|goarch|cpu|Benchmark)'
echo
echo "phase 1 of a ${size} MiB disk, WAN ${mbit} Mbit/s each way (0 = loopback speed):"
printf '%-8s %-7s %12s %10s\n' change source WAN-MB seconds
echo "$out" | awk '/^BenchmarkPhase1\// {
  split($1, p, "/"); sub("change=", "", p[2]); sub("-[0-9]+$", "", p[3]);
  wan = ""; sec = "";
  for (i = 2; i <= NF; i++) { if ($i == "wan-MB") wan = $(i-1); if ($i == "s") sec = $(i-1) }
  printf "%-8s %-7s %12s %10s\n", p[2], p[3], wan, sec }'

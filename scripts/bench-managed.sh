#!/usr/bin/env bash
# Measures phase 1 of a managed disk against azblob's DownloadBuffer in one
# run on one Azurite (started by the benchmark, in memory) behind the lab's
# blob front and ARM endpoint:
#   downloadbuffer/phase1-speed  engine.Sync from the disk's incremental
#                                snapshot through its SAS grant into an
#                                empty image, vs DownloadBuffer of the same
#                                snapshot's SAS URL, same concurrency
#                                (aim: >= 0.90)
# Usage: scripts/bench-managed.sh [size MiB (256)] [parallel (8)] [runs (3)]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-256}
par=${2:-8}
runs=${3:-3}
FAILBACK_BENCH_SIZE_MIB=$size FAILBACK_BENCH_PARALLEL=$par \
  go test -run '^$' -bench '^BenchmarkManagedPhase1$' -benchtime "${runs}x" -timeout 30m ./internal/labarm/

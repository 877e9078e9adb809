#!/usr/bin/env bash
# Measures the Azure download path against azblob's own DownloadBuffer in
# one run against one Azurite (started by the benchmark, in memory):
#   source/azblob-speed  our SnapshotSource vs DownloadBuffer, same
#                        concurrency and 4 MiB ranges (aim: >= 0.90)
#   10pct/full-time      a disk with 10% of its pages written vs a full one,
#                        through SnapshotSource (aim: about 0.10)
# Usage: scripts/bench-azure.sh [size MiB (256)] [parallel (16)] [runs (5)]
# The machine should be otherwise idle: the ratios are interleaved per run,
# but a busy machine still adds noise.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-256}
par=${2:-16}
runs=${3:-5}
FAILBACK_BENCH_SIZE_MIB=$size FAILBACK_BENCH_PARALLEL=$par \
  go test -run '^$' -bench '^BenchmarkAzureDownload$' -benchtime "${runs}x" -timeout 30m ./azure/

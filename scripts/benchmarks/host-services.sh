#!/usr/bin/env bash
# Host services a backend calls: task map+unmap, IOSFC map/unmap, interrupt
# latency; each against a plain-C floor measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for p in mapfixed-loop irq-waiter; do gcc -O2 -o "$work/$p" "scripts/bench-src/$p.c"; done
echo "-- unpinned"
BENCH_BIN="$work" node scripts/benchmarks/host-services.mjs
echo "-- everything on cpu0 (taskset -c 0; the C floors too)"
BENCH_BIN="$work" taskset -c 0 node scripts/benchmarks/host-services.mjs

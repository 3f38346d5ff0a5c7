#!/usr/bin/env bash
# REGION_READ round trip (4 bytes, BAR0, C client) with the daemon idle and
# with the daemon's viewers busy: the client also presents 1920x1080 frames
# at 60 Hz as a guest would, four VNC viewers take ZRLE updates, and Chromium
# shows the browser viewer and takes a PNG screenshot every 0.5 s. Medians of
# RUNS runs, p99 ratio loaded/idle (goal <= 1.5x), the daemon's event-loop
# delay alongside. PIN=cross|same pins the daemon to cpu0 and the client to
# cpu1 or cpu0; unpinned by default. See region-read-load.mjs.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[ -f dist-test/test/support/rfb-client.js ] || npm run --silent build:test
gcc -O2 -o "$work/rtt-client" scripts/bench-src/rtt-client.c -lpthread
WORK="$work" RTT_CLIENT="$work/rtt-client" node scripts/benchmarks/region-read-load.mjs

#!/usr/bin/env bash
# VNC server: frames per second and CPU per frame for 1920x1080 BGRA frames
# from the soft backend to 1 and 4 loopback viewers, full-screen change and
# 64x64 change per frame, against baselines measured in the same run; Tight
# against ZRLE (noise and desktop-like frames). VNC_FPS_ONLY=tight: only those.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f dist/daemon/src/viewers/vnc/index.js ] && [ -f dist-test/test/support/soft-guest.js ] || { npm run --silent build:ts && npm run --silent build:test; }
node scripts/benchmarks/vnc-fps.mjs "$@"

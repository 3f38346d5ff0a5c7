#!/usr/bin/env bash
# The main job: apple-gfxd with the soft backend serving a real QEMU 11.1
# arm64 guest over vfio-user; the guest runs a small demo program that drives
# the soft device (animated frames, a circling cursor, a mode change every
# 10 s). Watch it in a browser (and with any VNC viewer); keyboard and pointer
# go back to QEMU over QMP. Sets up everything it needs, shows progress, and
# stops cleanly on Ctrl-C.
#   WEB_PORT (8080), VNC_PORT (5900), DEMO_SECONDS (0 = until Ctrl-C)
set -euo pipefail
cd "$(dirname "$0")/.."
WEB_PORT="${WEB_PORT:-8080}" VNC_PORT="${VNC_PORT:-5900}" DEMO_SECONDS="${DEMO_SECONDS:-0}"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1/5 host packages"
bash scripts/setup-host.sh
step "2/5 build (native addon + TypeScript)"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build >/dev/null
step "3/5 QEMU 11.1 rig (first run ~1 min, then cached)"
bash scripts/rig/setup.sh aarch64 # the demo boots the arm64 guest
step "4/5 guest demo program (aarch64 cross compiler from Debian)"
bash scripts/rig/build-guest-programs.sh aarch64
program="${APPLE_GFXD_CACHE:-/var/cache/apple-gfxd}/guest/bin/soft-driver"
[ -z "${APPLE_GFXD_GUEST_PROGRAMS:-}" ] || program="$APPLE_GFXD_GUEST_PROGRAMS/aarch64/soft-driver"

work=$(mktemp -d)
sock="$work/apple-gfx.sock"
daemon_pid="" guest_pid="" tail_pid=""
# Under set -e a failing `wait` (a killed child) would end the cleanup early,
# leaving the daemon running: every step here tolerates failure.
cleanup() {
  if [ -n "$guest_pid" ]; then kill "$guest_pid" 2>/dev/null || true; wait "$guest_pid" 2>/dev/null || true; fi
  if [ -n "$tail_pid" ]; then kill "$tail_pid" 2>/dev/null || true; fi
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "stopping"; exit 130' INT TERM

step "5/5 apple-gfxd + guest"
node dist/daemon/src/main.js --socket-path "$sock" --display 800x600@60,640x480@60 \
  --web "127.0.0.1:$WEB_PORT" --vnc "127.0.0.1:$VNC_PORT" --qmp "$work/qmp.sock" \
  --log-level info 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "apple-gfxd did not start:"; cat "$work/daemon.log"; exit 1; }
bash scripts/rig/run-guest.sh --socket "$sock" --program "$program" --test test/guest/demo.sh \
  --append "agfx.demo_seconds=$DEMO_SECONDS" --qmp "$work/qmp.sock" --tablet --timeout 0 \
  --log "$work/guest.log" >"$work/guest.out" 2>&1 &
guest_pid=$!
cat <<MSG

  apple-gfxd (pid $daemon_pid) is serving the guest's display:
    browser:  http://127.0.0.1:$WEB_PORT/
    VNC:      127.0.0.1:$VNC_PORT
    control:  node dist/daemon/src/main.js ctl --control $sock.ctl status
  logs: $work/daemon.log, guest console $work/guest.log
  Ctrl-C stops the guest and the daemon.

MSG
# Show the guest's progress lines until it stops. In the background, so that
# the script sits in `wait`, which a Ctrl-C or a kill interrupts at once (a
# foreground pipeline would hold the trap back until it ended).
{ tail -n +1 -f "$work/guest.out" --pid "$guest_pid" 2>/dev/null | grep --line-buffered -E 'AGFX-DEMO|RIG-TEST|FAIL' || true; } &
tail_pid=$!
wait "$guest_pid" || true
guest_pid=""

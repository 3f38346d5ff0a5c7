#!/usr/bin/env bash
# The main job: apple-gfxd with the soft backend serving a real QEMU 11.1
# arm64 guest over vfio-user. Sets up what it needs (host packages, build,
# QEMU rig), shows progress, and stops cleanly on Ctrl-C.
#
# Today the guest runs the PCI smoke program (registers through BAR0, MSI-X
# interrupts) and the daemon's log is shown; the browser viewer comes with the
# display sinks (issue 4).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1/4 host packages"
bash scripts/setup-host.sh
step "2/4 build (native addon + TypeScript)"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build >/dev/null
step "3/4 QEMU 11.1 rig (first run ~1 min, then cached)"
bash scripts/rig/setup.sh

work=$(mktemp -d)
sock="$work/apple-gfx.sock"
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "stopping"; exit 130' INT TERM

step "4/4 apple-gfxd + guest"
node dist/daemon/src/main.js --socket-path "$sock" --log-level info 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
echo "apple-gfxd pid $daemon_pid serving $sock (log: $work/daemon.log)"
bash scripts/rig/run-guest.sh --socket "$sock" --test test/guest/pci-smoke.sh --log "$work/guest.log" \
  | grep -E 'AGFX-|RIG-TEST' || true
echo
echo "daemon log:"
cut -c1-200 "$work/daemon.log"

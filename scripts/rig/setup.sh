#!/usr/bin/env bash
# Prepare the QEMU test rig: the QEMU 11 root + wrapper and the arm64 guest.
# Exit 0 when ready, 77 (with a "RIG UNAVAILABLE: <reason>" banner) when this
# machine cannot run it, 1 on other errors. Fast no-op when already built.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/rig/lib.sh
. "$here/lib.sh"

start=$SECONDS
if ! { rig_qemu_ready && rig_guest_ready; }; then
  rig_require_root
  rig_lock
fi
"$here/setup-qemu.sh"
"$here/build-guest.sh"

rig_log "rig ready in $((SECONDS - start)) s"
rig_log "cache:  $RIG_CACHE"
rig_log "qemu:   $RIG_QEMU ($("$RIG_QEMU" --version | head -n 1))"
rig_log "guest:  $(grep -E '^(kernel|busybox)=' "$RIG_GUEST/guest.stamp" | tr '\n' ' ')"

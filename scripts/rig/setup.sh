#!/usr/bin/env bash
# Prepare the QEMU test rig: the QEMU 11 root + wrappers and the guests.
#
#   setup.sh [ARCH...]     (default: every architecture, aarch64 and x86_64)
#
# Exit 0 when ready, 77 (with a "RIG UNAVAILABLE: <reason>" banner) when this
# machine cannot run it, 1 on other errors. Fast no-op when already built.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/rig/lib.sh
. "$here/lib.sh"

arches=("$@")
[ "${#arches[@]}" -gt 0 ] || read -r -a arches <<<"$RIG_ARCHES"
ready=1
for a in "${arches[@]}"; do
  rig_arch_check "$a"
  { rig_qemu_ready "$a" && rig_guest_ready "$a"; } || ready=0
done

start=$SECONDS
if [ "$ready" = 0 ]; then
  rig_require_root
  rig_lock
fi
"$here/setup-qemu.sh" "${arches[@]}"
for a in "${arches[@]}"; do "$here/build-guest.sh" "$a"; done

rig_log "rig ready in $((SECONDS - start)) s"
rig_log "cache:  $RIG_CACHE"
for a in "${arches[@]}"; do
  rig_log "$a: $("$(rig_qemu_bin "$a")" --version | head -n 1);" \
    "guest $(grep -E '^(kernel|busybox)=' "$(rig_guest_dir "$a")/guest.stamp" | tr '\n' ' ')"
done

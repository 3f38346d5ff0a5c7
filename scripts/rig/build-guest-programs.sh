#!/usr/bin/env bash
# Compile the guest-side test programs (test/guest/*.c) into static arm64
# binaries in $RIG_CACHE/guest/bin/, for run-guest.sh --program.
#
#   build-guest-programs.sh [--force]
#
# Installs the Debian cross compiler (gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross) on the host when it is missing (needs root and the
# archive). A program is rebuilt only when its source, a header in
# native/include/ (agfx_soft.h: the soft device's guest interface) or this
# script is newer than its binary, or with --force.
#
# Exit status: 0 when every program is built; 77 (RIG UNAVAILABLE) when the
# compiler is missing and cannot be installed; 1 on a compile error.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/rig/lib.sh
. "$here/lib.sh"

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  *) echo "build-guest-programs.sh: unknown option $1" >&2; exit 2 ;;
esac

CC=aarch64-linux-gnu-gcc
src_dir="$(cd "$here/../../test/guest" && pwd)"
# The soft device's guest interface (agfx_soft.h) is shared with the device.
inc_dir="$(cd "$here/../../native/include" && pwd)"
CFLAGS=(-std=c11 -static -O2 -Wall -Wextra -I "$inc_dir")
out_dir="$RIG_GUEST/bin"
self="${BASH_SOURCE[0]}"

shopt -s nullglob
sources=("$src_dir"/*.c)
if [ "${#sources[@]}" -eq 0 ]; then
  rig_log "no guest programs in $src_dir"
  exit 0
fi

# A working cross compiler: compiler driver present and a static link works.
cc_ok() {
  command -v "$CC" >/dev/null 2>&1 || return 1
  local t
  t=$(mktemp -d)
  printf 'int main(void){return 0;}\n' >"$t/t.c"
  if "$CC" -static -o "$t/t" "$t/t.c" >/dev/null 2>&1; then rm -rf "$t"; return 0; fi
  rm -rf "$t"
  return 1
}

if ! cc_ok; then
  [ "$(id -u)" -eq 0 ] ||
    rig_unavailable "no arm64 cross compiler ($CC) and not root to install it" \
      "Install gcc-aarch64-linux-gnu and libc6-dev-arm64-cross, or run this script as root."
  command -v apt-get >/dev/null 2>&1 ||
    rig_unavailable "no arm64 cross compiler ($CC) and no apt-get to install it"
  rig_lock
  if ! cc_ok; then
    # rig_ensure_host_pkgs exits 77 itself when the archive is unreachable.
    rig_ensure_host_pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross
    cc_ok || rig_unavailable "$CC still cannot link a static program after installing it" \
      "see $RIG_LOGS/host-apt.log"
  fi
fi

mkdir -p "$out_dir"
built=0 fresh=0
for src in "${sources[@]}"; do
  name="$(basename "$src" .c)"
  bin="$out_dir/$name"
  if [ "$force" = 0 ] && [ -x "$bin" ] && [ "$bin" -nt "$src" ] && [ "$bin" -nt "$self" ] &&
    [ -z "$(find "$inc_dir" -newer "$bin" | head -1)" ]; then
    fresh=$((fresh + 1))
    continue
  fi
  rig_log "compiling $src -> $bin"
  tmpbin="$bin.tmp.$$"
  if ! "$CC" "${CFLAGS[@]}" -o "$tmpbin" "$src" -lm; then
    rm -f "$tmpbin"
    rig_die "compiling $src failed"
  fi
  mv -f "$tmpbin" "$bin"
  built=$((built + 1))
done
rig_log "guest programs in $out_dir: $built built, $fresh up to date"

#!/usr/bin/env bash
# Compile the guest-side test programs (test/guest/*.c) into static binaries
# for each guest architecture, in <guest dir>/bin/ (lib.sh: rig_guest_dir;
# $RIG_CACHE/guest/bin for aarch64, $RIG_CACHE/guest-x86_64/bin for x86_64),
# for run-guest.sh --program.
#
#   build-guest-programs.sh [--force] [ARCH...]   (default: every architecture)
#
# aarch64 uses the Debian cross compiler (gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross), x86_64 the host's gcc (libc6-dev); either is
# installed on the host when missing (needs root and the archive). A program
# is rebuilt only when its source, a header in native/include/ (agfx_soft.h:
# the soft device's guest interface) or this script is newer than its binary,
# or with --force.
#
# APPLE_GFXD_GUEST_PROGRAMS=DIR puts them in DIR/<arch>/ instead (the tests
# and the demo look there too): a worktree whose guest interface differs
# from the shared cache's builds its own without replacing everybody's.
#
# Exit status: 0 when every program is built; 77 (RIG UNAVAILABLE) when a
# compiler is missing and cannot be installed; 1 on a compile error.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/rig/lib.sh
. "$here/lib.sh"

force=0 arches=()
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
    -*) echo "build-guest-programs.sh: unknown option $1" >&2; exit 2 ;;
    *) rig_arch_check "$1"; arches+=("$1") ;;
  esac
  shift
done
[ "${#arches[@]}" -gt 0 ] || read -r -a arches <<<"$RIG_ARCHES"

src_dir="$(cd "$here/../../test/guest" && pwd)"
# The soft device's guest interface (agfx_soft.h) is shared with the device.
inc_dir="$(cd "$here/../../native/include" && pwd)"
CFLAGS=(-std=c11 -static -O2 -Wall -Wextra -I "$inc_dir")
self="${BASH_SOURCE[0]}"

shopt -s nullglob
sources=("$src_dir"/*.c)
if [ "${#sources[@]}" -eq 0 ]; then
  rig_log "no guest programs in $src_dir"
  exit 0
fi

# Compiler and the Debian packages that provide it, per architecture.
arch_cc() { case "$1" in aarch64) echo aarch64-linux-gnu-gcc ;; x86_64) echo gcc ;; esac; }
arch_cc_pkgs() { case "$1" in aarch64) echo gcc-aarch64-linux-gnu libc6-dev-arm64-cross ;; x86_64) echo gcc libc6-dev ;; esac; }

# A working compiler for $2 ($1 the driver): present, and a static link works
# and yields a binary of that architecture.
cc_ok() {
  local cc="$1" arch="$2" t ok=1
  command -v "$cc" >/dev/null 2>&1 || return 1
  t=$(mktemp -d)
  printf 'int main(void){return 0;}\n' >"$t/t.c"
  if "$cc" -static -o "$t/t" "$t/t.c" >/dev/null 2>&1; then
    case "$arch:$(od -An -tx1 -j18 -N2 "$t/t" | tr -d ' ')" in # ELF e_machine
      aarch64:b700 | x86_64:3e00) ok=0 ;;
    esac
  fi
  rm -rf "$t"
  return "$ok"
}

ensure_cc() {
  local arch="$1" cc pkgs
  cc=$(arch_cc "$arch")
  cc_ok "$cc" "$arch" && return 0
  read -r -a pkgs <<<"$(arch_cc_pkgs "$arch")"
  [ "$(id -u)" -eq 0 ] ||
    rig_unavailable "no working $arch compiler ($cc) and not root to install it" \
      "Install ${pkgs[*]}, or run this script as root."
  command -v apt-get >/dev/null 2>&1 ||
    rig_unavailable "no working $arch compiler ($cc) and no apt-get to install it"
  rig_lock
  if ! cc_ok "$cc" "$arch"; then
    # rig_ensure_host_pkgs exits 77 itself when the archive is unreachable.
    rig_ensure_host_pkgs "${pkgs[@]}"
    cc_ok "$cc" "$arch" || rig_unavailable "$cc still cannot link a static $arch program after installing ${pkgs[*]}" \
      "see $RIG_LOGS/host-apt.log"
  fi
}

for arch in "${arches[@]}"; do
  ensure_cc "$arch"
  cc=$(arch_cc "$arch")
  if [ -n "${APPLE_GFXD_GUEST_PROGRAMS:-}" ]; then out_dir="$APPLE_GFXD_GUEST_PROGRAMS/$arch"; else out_dir="$(rig_guest_dir "$arch")/bin"; fi
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
    rig_log "compiling $src -> $bin ($arch)"
    tmpbin="$bin.tmp.$$"
    if ! "$cc" "${CFLAGS[@]}" -o "$tmpbin" "$src" -lm; then
      rm -f "$tmpbin"
      rig_die "compiling $src for $arch failed"
    fi
    mv -f "$tmpbin" "$bin"
    built=$((built + 1))
  done
  rig_log "$arch guest programs in $out_dir: $built built, $fresh up to date"
done

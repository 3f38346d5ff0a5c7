#!/usr/bin/env bash
# Syntax and type check of the pvg backend (native/pvg/*.mm) on Linux, against
# the stub SDK headers in native/stubs/ and GNUstep's Foundation.
#
# Installs, if missing and if running as root: clang, libgnustep-base-dev
# (Foundation headers + gnustep-config) and libblocksruntime-dev (<Block.h>).
# Each .mm is compiled twice with clang -fsyntax-only: once against stubs that
# look like the macOS 15 SDK (task API present) and once like the macOS 27 SDK
# (task API obsoleted, static memory map only). Warnings are errors.
#
# Exit: 0 all clean, 1 a compile error, 77 the toolchain cannot be installed.
set -uo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v clang >/dev/null 2>&1 || need_pkgs+=(clang)
command -v gnustep-config >/dev/null 2>&1 || need_pkgs+=(libgnustep-base-dev)
[ -f /usr/include/Block.h ] || need_pkgs+=(libblocksruntime-dev)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "check-pvg: installing ${need_pkgs[*]}"
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "check-pvg: SKIP: need ${need_pkgs[*]} and cannot apt-get install (not root or no apt)" >&2
    exit 77
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get install -y -qq "${need_pkgs[@]}" >/tmp/check-pvg-apt.log 2>&1 ||
         { apt-get update -qq >>/tmp/check-pvg-apt.log 2>&1 &&
           apt-get install -y -qq "${need_pkgs[@]}" >>/tmp/check-pvg-apt.log 2>&1; }; }; then
    echo "check-pvg: SKIP: apt-get install ${need_pkgs[*]} failed (see /tmp/check-pvg-apt.log)" >&2
    exit 77
  fi
fi

# Debian's GNUstep is built for GCC's Objective-C runtime: its <objc/objc.h>
# lives in GCC's private include dir, searched last so clang's own headers win.
objc_h=$(find /usr/lib/gcc -path '*/include/objc/objc.h' 2>/dev/null | sort -V | tail -1)
if [ -z "$objc_h" ]; then
  echo "check-pvg: SKIP: no GCC Objective-C runtime headers (objc/objc.h); install libobjc-12-dev" >&2
  exit 77
fi
objc_inc=$(dirname "$(dirname "$objc_h")")
# -MMD/-MP would write .d files; -g/-O2 are irrelevant for -fsyntax-only.
gs_flags=$(gnustep-config --objc-flags | tr ' ' '\n' | grep -v -E '^(-MMD|-MP|-g|-O2|-I\.)$' | tr '\n' ' ')

flags=(-fsyntax-only -x objective-c++ -std=c++17 -fobjc-runtime=gnustep-2.0 -fblocks
       -Wall -Wextra -Werror -Wno-unused-parameter -Wobjc-method-access -Wunguarded-availability
       -I native/include -I native/pvg -I native/stubs -I native/stubs/gnustep-compat
       -idirafter "$objc_inc")

shopt -s nullglob
files=(native/pvg/*.mm)
if [ "${#files[@]}" -eq 0 ]; then
  echo "check-pvg: no native/pvg/*.mm files" >&2
  exit 1
fi

echo "check-pvg: clang $(clang -dumpversion), GNUstep base $(dpkg-query -W -f='${Version}' libgnustep-base-dev 2>/dev/null || echo '?')"
echo "check-pvg: flags: ${flags[*]} $gs_flags"
ok=0 bad=0
for sdk in 15 27; do
  for f in "${files[@]}"; do
    # shellcheck disable=SC2086
    if out=$(clang "${flags[@]}" -DAGFX_STUB_SDK_MAJOR=$sdk $gs_flags "$f" 2>&1) && [ -z "$out" ]; then
      echo "  ok    [SDK $sdk] $f"
      ok=$((ok + 1))
    else
      echo "  FAIL  [SDK $sdk] $f"
      echo "$out" | sed 's/^/        /'
      bad=$((bad + 1))
    fi
  done
done
echo "check-pvg: $ok compiled clean, $bad failed (${#files[@]} files x 2 SDK profiles)"
[ "$bad" -eq 0 ]

#!/usr/bin/env bash
# Debian packages the PVG double needs (test-only): clang, GNUstep base
# (GCC's Objective-C runtime), the BlocksRuntime. Installed when missing and
# running as root with apt; exit 77 otherwise.
set -uo pipefail
need=()
command -v clang++ >/dev/null 2>&1 || need+=(clang)
[ -f /usr/include/GNUstep/Foundation/Foundation.h ] || need+=(libgnustep-base-dev)
[ -f /usr/include/Block.h ] || need+=(libblocksruntime-dev)
find /usr/lib/gcc -path '*/include/objc/objc.h' 2>/dev/null | grep -q . || need+=(libobjc-12-dev)
[ "${#need[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "pvg-double: need ${need[*]} and cannot apt-get install (not root or no apt)" >&2
  exit 77
fi
export DEBIAN_FRONTEND=noninteractive
echo "pvg-double: installing ${need[*]}"
apt-get install -y -qq "${need[@]}" >/tmp/pvg-double-apt.log 2>&1 ||
  { apt-get update -qq >>/tmp/pvg-double-apt.log 2>&1 && apt-get install -y -qq "${need[@]}" >>/tmp/pvg-double-apt.log 2>&1; } ||
  { echo "pvg-double: apt-get install ${need[*]} failed (see /tmp/pvg-double-apt.log)" >&2; exit 77; }

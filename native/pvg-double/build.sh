#!/usr/bin/env bash
# Builds the pvg backend (the unchanged native/pvg/*.mm) against the PVG
# double on Linux: one shared library, native/build-pvg-double/libagfx_pvg_double.so,
# that the daemon loads for `--backend pvg` on Linux (daemon/src/pvg-double.ts).
# Test-only: nothing here is part of the macOS build (binding.gyp).
#
# Usage: native/pvg-double/build.sh [--sanitize address|thread] [--out DIR] [--wrong NAME]
#   --wrong NAME: a deliberately wrong backend, for tests that show the double
#   catches it (a copy of native/pvg with one guard removed; the double's own
#   objects are reused from native/build-pvg-double when built):
#     encode-in-handler   encode on the display queue, inside the new-frame handler
#     main-thread-call    PVG called on the main thread (no OffMain; findings 8, 15)
#     unserviced-main     table named other than "pvg": the daemon never services the main queue (finding 8)
#     no-autorelease      no @autoreleasepool in the display's and device's blocks (finding 14)
#     no-inflight-retain  a display does not retain the render group it releases (finding 11)
# Installs clang, libgnustep-base-dev, libblocksruntime-dev and libobjc-12-dev
# when missing (root + apt). Exit 77 when the toolchain cannot be had.
set -euo pipefail
cd "$(dirname "$0")/../.."
sanitize="" out="native/build-pvg-double" wrong=""
while [ $# -gt 0 ]; do
  case "$1" in
    --wrong) wrong="$2"; shift 2 ;;
    --sanitize) sanitize="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

bash native/pvg-double/install-deps.sh || exit $?

objc_h=$(find /usr/lib/gcc -path '*/include/objc/objc.h' 2>/dev/null | sort -V | tail -1)
objc_inc=$(dirname "$(dirname "$objc_h")")

common=(-std=c++17 -fPIC -fvisibility=hidden -O1 -g -pthread -Wall -Wno-unused-parameter
        -DAGFX_PVG_STANDALONE -DAGFX_PVG_DOUBLE
        -I native/pvg-double/include -I native/pvg-double/sdk -I native/pvg-double/cf -I native/stubs -I native/stubs/gnustep-compat
        -I native/include -I native/pvg -I native)
objc=(-x objective-c++ -fobjc-runtime=gcc -fblocks -fobjc-exceptions -fexceptions -fconstant-string-class=NSConstantString
      -DGNUSTEP -DGNUSTEP_BASE_LIBRARY=1 -DGNU_RUNTIME=1 -I /usr/include/GNUstep -idirafter "$objc_inc"
      -Wno-objc-property-implementation -Wno-deprecated-declarations)
san=()
case "$sanitize" in
  "") ;;
  # -shared-libasan: the runtime is libclang_rt.asan-x86_64.so, preloaded
  # into node (scripts/pvg-double-sanitize.sh).
  address) san=(-fsanitize=address,undefined -shared-libasan -fno-omit-frame-pointer -fno-sanitize=vptr,function) ;;
  thread) san=(-fsanitize=thread -fno-omit-frame-pointer) ;;
  *) echo "build.sh: --sanitize address|thread" >&2; exit 2 ;;
esac

mkdir -p "$out/obj"
objs=()
jobs=()
compile() {  # src obj kind
  if [ "$3" = objc ]; then clang++ "${common[@]}" "${san[@]}" "${objc[@]}" -c "$1" -o "$2"
  else clang++ "${common[@]}" "${san[@]}" -c "$1" -o "$2"; fi
}
pvg=native/pvg
if [ -n "$wrong" ]; then
  pvg="$out/pvg-wrong"
  rm -rf "$pvg" && cp -r native/pvg "$pvg"
  case "$wrong" in
    encode-in-handler)
      # StartRender runs in the new-frame handler: encode right there instead of on a global queue.
      sed -i 's|dispatch_async(dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0), ^{|dispatch_sync(dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0), ^{|' "$pvg/pvg_display.mm" ;;
    main-thread-call) sed -i 's|if (!agfx::pvg::OnMainThread()) return fn();|return fn();|' "$pvg/pvg_backend.mm" ;;
    unserviced-main) sed -i 's|::Make("pvg");|::Make("pvg-unserviced");|' "$pvg/pvg_backend.mm" ;;
    no-autorelease) sed -i 's|@autoreleasepool {|{|g' "$pvg/pvg_display.mm" "$pvg/pvg_device.mm" ;;
    no-inflight-retain) sed -i 's|^  dispatch_retain(inflight);$|  // dispatch_retain(inflight);|' "$pvg/pvg_display.mm" ;;
    *) echo "build.sh: unknown --wrong $wrong" >&2; exit 2 ;;
  esac
  diff -rq "$pvg" native/pvg >/dev/null &&
    { echo "build.sh: --wrong $wrong changed nothing (the guard moved?)" >&2; exit 1; }
  common+=(-I "$pvg")
fi
srcs=("$pvg"/*.mm native/pvg-double/src/*.mm)
ccs=(native/pvg-double/src/*.cc native/soft/*.cc native/platform/platform_linux.cc)
for f in "$pvg"/portable/*.cc; do [ "$(basename "$f")" = portable_test.cc ] || ccs+=("$f"); done
pids=()
n=0
for f in "${srcs[@]}" "${ccs[@]}"; do
  o="$out/obj/$(echo "$f" | tr '/' '_').o"
  objs+=("$o")
  # A wrong build takes the double's own objects from the plain build.
  reuse="native/build-pvg-double/obj/$(basename "$o")"
  if [ -n "$wrong" ] && [ -z "$sanitize" ] && [ "${f#"$pvg"/}" = "$f" ] && [ "$reuse" -nt "$f" ]; then cp "$reuse" "$o"; continue; fi
  kind=cc; case "$f" in *.mm) kind=objc ;; esac
  compile "$f" "$o" "$kind" &
  pids+=($!)
  n=$((n + 1))
  if [ $((n % 2)) -eq 0 ]; then for p in "${pids[@]}"; do wait "$p"; done; pids=(); fi
done
for p in "${pids[@]}"; do wait "$p"; done
# libBlocksRuntime ahead of GNUstep base: its _Block_copy must win (blocks_rr.mm).
clang++ -shared "${san[@]}" -o "$out/libagfx_pvg_double.so" "${objs[@]}" -pthread \
  -Wl,--no-as-needed -lBlocksRuntime -lgnustep-base -lobjc -ldl -Wl,--as-needed
if [ -n "$wrong" ]; then echo "pvg-double: built $out/libagfx_pvg_double.so (wrong: $wrong)"; exit 0; fi
# The standalone driver (native/pvg-double/test/driver.cc): the same objects
# in one executable, for sanitizers that need every thread instrumented.
clang++ "${common[@]}" "${san[@]}" -c native/pvg-double/test/driver.cc -o "$out/obj/driver.o"
clang++ "${san[@]}" -o "$out/pvg-double-driver" "$out/obj/driver.o" "${objs[@]}" -pthread \
  -Wl,--no-as-needed -lBlocksRuntime -lgnustep-base -lobjc -ldl -Wl,--as-needed
clang++ "${common[@]}" "${san[@]}" "${objc[@]}" -c native/pvg-double/test/selftest.mm -o "$out/obj/selftest.o"
clang++ "${san[@]}" -o "$out/pvg-double-selftest" "$out/obj/selftest.o" "${objs[@]}" -pthread \
  -Wl,--no-as-needed -lBlocksRuntime -lgnustep-base -lobjc -ldl -Wl,--as-needed
echo "pvg-double: built $out/libagfx_pvg_double.so, $out/pvg-double-driver, $out/pvg-double-selftest"

#!/usr/bin/env bash
# The pvg path on the PVG double under a sanitizer (clang's): the backend
# (native/pvg/*.mm), the soft command logic and the double built with
#  - address: AddressSanitizer + UBSan. The library is loaded by node with the
#    runtime preloaded: test/integration/pvg-double.test.js (hazards and
#    findings, not the wrong builds) and the soft device's integration suite on --backend pvg
#    (macOS 15.3 profile); then the standalone driver;
#  - thread: ThreadSanitizer. TSan cannot be preloaded into an uninstrumented
#    node, so the standalone driver (native/pvg-double/test/driver.cc: the
#    same objects in one executable, with a host of its own) runs the soft
#    guest workload: plain, and with the hazards the backend survives.
# Any sanitizer report fails the run. The addon itself: scripts/asan-test.sh.
# Usage: scripts/pvg-double-sanitize.sh [address|thread]
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-address}"
out="native/build-pvg-double-$kind"
bash native/pvg-double/build.sh --sanitize "$kind" --out "$out"
reports="$(mktemp -d "${TMPDIR:-/tmp}/pvg-double-$kind.XXXXXX")"
trap 'rm -rf "$reports"' EXIT
survivable=reentrant,locked-handlers,frame-flood,mode-mid-render,failing-encode,irq-on-resume
rc=0
case "$kind" in
  address)
    npm run --silent build:ts && npm run --silent build:test
    rt="$(clang -print-file-name=libclang_rt.asan-x86_64.so)"
    asan="detect_leaks=0:halt_on_error=1:abort_on_error=1:log_path=$reports/asan:allow_user_segv_handler=1:handle_segv=0"
    ubsan="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
    lib="$PWD/$out/libagfx_pvg_double.so"
    LD_PRELOAD="$rt" ASAN_OPTIONS="$asan" UBSAN_OPTIONS="$ubsan" APPLE_GFXD_PVG_DOUBLE="$lib" \
      node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec \
      --test-name-pattern='no hazard|survives|refuses|lives on|finding' dist-test/test/integration/pvg-double.test.js || rc=$?
    LD_PRELOAD="$rt" ASAN_OPTIONS="$asan" UBSAN_OPTIONS="$ubsan" APPLE_GFXD_PVG_DOUBLE="$lib" \
      APPLE_GFXD_TEST_BACKEND=pvg AGFX_PVG_DOUBLE_MACOS=15.3 \
      node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec dist-test/test/integration/soft-device.test.js || rc=$?
    LD_PRELOAD="$rt" ASAN_OPTIONS="$asan" UBSAN_OPTIONS="$ubsan" "$out/pvg-double-driver" || rc=$?
    LD_PRELOAD="$rt" ASAN_OPTIONS="$asan" UBSAN_OPTIONS="$ubsan" AGFX_PVG_DOUBLE_HAZARDS="$survivable" "$out/pvg-double-driver" || rc=$?
    LD_PRELOAD="$rt" ASAN_OPTIONS="$asan" UBSAN_OPTIONS="$ubsan" PVG_DRIVER_MODEL=static AGFX_PVG_DOUBLE_MACOS=15.4 \
      AGFX_PVG_DOUBLE_HAZARDS=touch-map "$out/pvg-double-driver" || rc=$?
    ;;
  thread)
    tsan="halt_on_error=0:log_path=$reports/tsan:second_deadlock_stack=1:suppressions=$PWD/native/pvg-double/tsan.supp"
    TSAN_OPTIONS="$tsan" "$out/pvg-double-driver" || rc=$?
    TSAN_OPTIONS="$tsan" AGFX_PVG_DOUBLE_HAZARDS="$survivable" "$out/pvg-double-driver" || rc=$?
    TSAN_OPTIONS="$tsan" PVG_DRIVER_MODEL=static AGFX_PVG_DOUBLE_MACOS=15.4 AGFX_PVG_DOUBLE_HAZARDS=touch-map "$out/pvg-double-driver" || rc=$?
    ;;
  *) echo "usage: $0 [address|thread]" >&2; exit 2 ;;
esac
if compgen -G "$reports/*" >/dev/null; then
  echo "pvg-double-sanitize: $kind reports:" >&2
  for f in "$reports"/*; do echo "== $f" >&2; head -80 "$f" >&2; done
  rc=1
fi
[ "$rc" -eq 0 ] && echo "pvg-double-sanitize: $kind: no reports"
exit "$rc"

#!/usr/bin/env bash
# The pvg path on the PVG double under a sanitizer: the double's library
# (pvg backend + soft command logic + double) built with clang's
# AddressSanitizer + UBSan (`address`, default) or ThreadSanitizer
# (`thread`), its runtime preloaded into every node process, then the cases
# the backend is expected to pass: test/integration/pvg-double.test.js
# without the `todo` findings, and the soft device's integration suite on
# --backend pvg (macOS 15.3 profile). Any sanitizer report fails the run.
# The addon stays uninstrumented here (scripts/asan-test.sh covers it).
# Usage: scripts/pvg-double-sanitize.sh [address|thread]
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-address}"
out="native/build-pvg-double-$kind"
bash native/pvg-double/build.sh --sanitize "$kind" --out "$out"
npx tsc -p .
reports="$(mktemp -d "${TMPDIR:-/tmp}/pvg-double-$kind.XXXXXX")"
trap 'rm -rf "$reports"' EXIT
case "$kind" in
  address)
    export LD_PRELOAD="$(clang -print-file-name=libclang_rt.asan-x86_64.so)"
    export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:log_path=$reports/asan:allow_user_segv_handler=1:handle_segv=0"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
    ;;
  thread)
    export LD_PRELOAD="$(clang -print-file-name=libclang_rt.tsan-x86_64.so)"
    export TSAN_OPTIONS="halt_on_error=0:log_path=$reports/tsan:report_signal_unsafe=0"
    ;;
  *) echo "usage: $0 [address|thread]" >&2; exit 2 ;;
esac
export APPLE_GFXD_PVG_DOUBLE="$PWD/$out/libagfx_pvg_double.so"
rc=0
node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec \
  --test-name-pattern='no hazard|survives|refuses|lives on' dist/test/integration/pvg-double.test.js || rc=$?
APPLE_GFXD_TEST_BACKEND=pvg AGFX_PVG_DOUBLE_MACOS=15.3 \
  node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec \
  --test-name-pattern='^(?!.*static)' dist/test/integration/soft-device.test.js || rc=$?
if compgen -G "$reports/*" >/dev/null; then
  echo "pvg-double-sanitize: $kind reports:" >&2
  for f in "$reports"/*; do echo "== $f" >&2; head -80 "$f" >&2; done
  rc=1
fi
[ "$rc" -eq 0 ] && echo "pvg-double-sanitize: $kind: no reports"
exit "$rc"

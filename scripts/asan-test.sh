#!/usr/bin/env bash
# Runs the integration suite (or the suites given: unit integration fuzz)
# against the addon built with AddressSanitizer + UndefinedBehaviorSanitizer
# (npm run build:native:asan -> native/build-asan/). Every node process (test
# runner, test files, the daemons they start) runs with the ASan runtime
# LD_PRELOADed; sanitizer reports go to files, and any report fails the run.
#
# The normal build in native/build is never touched.
#
# --portable: the addon is built with the portable platform (native/
# build-asan-portable; platform_posix.cc and the guarded copies, what macOS
# runs). CI runs the integration suite once this way, so one run covers both
# the sanitizers and the macOS code paths (scripts/portable-test.sh runs the
# portable build without sanitizers).
set -euo pipefail
cd "$(dirname "$0")/.."
variant=build-asan
build_opts=()
if [ "${1:-}" = --portable ]; then variant=build-asan-portable; build_opts=(--portable); shift; fi
suites=("$@")
[ "${#suites[@]}" -eq 0 ] && suites=(integration)

asan_build="$PWD/native/$variant/build/Release"
asan_addon="$asan_build/agfx_native.node"
stale=""
[ -f "$asan_addon" ] && [ -f "$asan_build/agfx_native_test.node" ] || stale=1
[ -n "$stale" ] || [ -z "$(find native/core native/platform native/addon native/soft native/testing native/include native/binding.gyp \
  -newer "$asan_addon" 2>/dev/null | head -1)" ] || stale=1
[ -z "$stale" ] || bash native/fuzz/build-asan-addon.sh "${build_opts[@]}"
. scripts/lib/addon-shadow.sh
[ "$variant" != build-asan-portable ] || assert_portable "$asan_addon"
npm run --silent build:ts
npm run --silent build:test

libasan="$(gcc -print-file-name=libasan.so)"
[ -f "$libasan" ] || { echo "libasan.so not found (gcc -print-file-name=libasan.so)" >&2; exit 1; }
reports="$(mktemp -d "${TMPDIR:-/tmp}/agfx-asan.XXXXXX")"

# The addon is found by daemon/src/native.ts locateAddon() as
# native/build/Release/agfx_native.node above dist/: the run happens in a
# shadow tree with the ASan addons there (scripts/lib/addon-shadow.sh).
trap 'rm -rf "${shadow:-}" "$reports"' EXIT
addon_shadow "$asan_build"
TEST_FILES="${ASAN_TEST_FILES:-}" test_files "${suites[@]}"

# Node itself is not instrumented and leaks by design at exit: no leak check.
rc=0
LD_PRELOAD="$libasan" \
ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:log_path=$reports/asan:allow_user_segv_handler=1:handle_segv=0" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan" \
FUZZ_MESSAGES="${FUZZ_MESSAGES:-20000}" FUZZ_RSS_LIMIT_MIB="${FUZZ_RSS_LIMIT_MIB:-2048}" \
  node --test --test-concurrency=1 --test-timeout="${ASAN_TEST_TIMEOUT_MS:-300000}" --test-reporter=spec "${files[@]}" || rc=$?

if compgen -G "$reports/*" >/dev/null; then
  echo "asan-test: sanitizer reports:" >&2
  for f in "$reports"/*; do echo "== $f" >&2; head -60 "$f" >&2; done
  rc=1
fi
[ "$rc" -eq 0 ] && echo "asan-test: no sanitizer reports; suites ${suites[*]} passed"
exit "$rc"

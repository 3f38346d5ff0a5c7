#!/usr/bin/env bash
# Runs the integration suite (or the suites given: unit integration fuzz)
# against the addon built with agfx_platform=portable (native/platform/
# platform.h): platform_posix.cc, the file macOS runs (sockets and received
# fds made non-blocking/close-on-exec with fcntl, no accept4 or
# MSG_CMSG_CLOEXEC, pipes as interrupt fds, POSIX shm accepted for DMA_MAP),
# with platform_guarded_copy.cc's SIGSEGV/SIGBUS-guarded copies. So what a
# Mac executes, but for the Mach copies and PVG, has executed here.
#
# Builds into native/build-portable (scripts/lib/gyp-variant.mjs); the
# normal build in native/build is never touched. TEST_FILES (dist paths,
# space-separated) picks single files.
set -euo pipefail
cd "$(dirname "$0")/.."
suites=("$@")
[ "${#suites[@]}" -eq 0 ] && suites=(integration)

release="$PWD/native/build-portable/build/Release"
stale=""
[ -f "$release/agfx_native.node" ] && [ -f "$release/agfx_native_test.node" ] || stale=1
[ -n "$stale" ] || [ -z "$(find native/core native/platform native/addon native/soft native/testing native/include native/binding.gyp \
  -newer "$release/agfx_native.node" 2>/dev/null | head -1)" ] || stale=1
if [ -n "$stale" ]; then
  node scripts/lib/gyp-variant.mjs build-portable --platform portable
  (cd native/build-portable && npx --no-install node-gyp rebuild --nodedir="${npm_config_nodedir:-/usr}")
fi
. scripts/lib/addon-shadow.sh
assert_portable "$release/agfx_native.node"
npm run --silent build:ts
npm run --silent build:test

trap 'rm -rf "${shadow:-}"' EXIT
addon_shadow "$release"
test_files "${suites[@]}"
rc=0
node --test --test-concurrency=1 --test-timeout="${PORTABLE_TEST_TIMEOUT_MS:-180000}" --test-reporter=spec "${files[@]}" || rc=$?
[ "$rc" -eq 0 ] && echo "portable-test: suites ${suites[*]} passed against the portable platform build"
exit "$rc"

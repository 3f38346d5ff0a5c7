#!/usr/bin/env bash
# The test command (`npm test`): build, then run every test file with Node's
# test runner. `npm test -- e2e` runs only the real-QEMU tests; `unit`,
# `integration` and `fuzz` (the vfio-user session fuzzer) likewise.
set -euo pipefail
cd "$(dirname "$0")/.."
{ [ -f native/build/Release/agfx_native.node ] && [ -f native/build/Release/agfx_native_test.node ]; } || npm run build:native
npx tsc -p .
suite="${1:-all}"
case "$suite" in
  all) dirs="dist/test/unit dist/test/integration dist/test/fuzz dist/test/e2e" ;;
  unit|integration|fuzz|e2e) dirs="dist/test/$suite" ;;
  *) echo "unknown suite '$suite' (all, unit, integration, fuzz, e2e)" >&2; exit 2 ;;
esac
mapfile -t files < <(find $dirs -name '*.test.js' 2>/dev/null | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files found in $dirs" >&2
  exit 1
fi
exec node --test --test-concurrency=1 --test-timeout=180000 --test-reporter=spec "${files[@]}"

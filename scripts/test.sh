#!/usr/bin/env bash
# The test command (`npm test`): build, lint (eslint + the prettier format
# check), then run every test file with Node's test runner. `npm test -- SUITE`
# runs one suite: `unit` (with the protocol package's own tests,
# protocol/test), `integration`, `fuzz` (the vfio-user session fuzzer), `e2e`
# (real QEMU), or `lint` alone. The shipped build is dist/; the tests compile
# to dist-test/ and reach the daemon through package.json's #daemon/* imports.
set -euo pipefail
cd "$(dirname "$0")/.."
suite="${1:-all}"
case "$suite" in
  all) dirs="dist-test/protocol/test dist-test/test/unit dist-test/test/integration dist-test/test/fuzz dist-test/test/e2e" ;;
  unit) dirs="dist-test/protocol/test dist-test/test/unit" ;;
  integration|fuzz|e2e) dirs="dist-test/test/$suite" ;;
  lint) dirs="" ;;
  *) echo "unknown suite '$suite' (all, unit, integration, fuzz, e2e, lint)" >&2; exit 2 ;;
esac
{ [ -f native/build/Release/agfx_native.node ] && [ -f native/build/Release/agfx_native_test.node ]; } || npm run build:native
npm run --silent build:ts
npm run --silent build:test
if [ "$suite" = all ] || [ "$suite" = lint ]; then
  echo "== lint: eslint, prettier --check"
  npm run --silent lint
  [ "$suite" = lint ] && exit 0
fi
mapfile -t files < <(find $dirs -name '*.test.js' 2>/dev/null | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files found in $dirs" >&2
  exit 1
fi
exec node --test --test-concurrency=1 --test-timeout=180000 --test-reporter=spec "${files[@]}"

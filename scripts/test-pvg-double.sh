#!/usr/bin/env bash
# The pvg backend (native/pvg/*.mm, unchanged) run on Linux against the PVG
# double (native/pvg-double/, test-only): builds the double, then runs
#  - test/integration/pvg-double.test.js: one workload per hazard; the
#    findings of shared/reference/pvg-on-a-mac.md the double catches pass
#    against the fixed backend, and each hazard fails a backend built wrong
#    (native/pvg-double/build.sh --wrong NAME);
#  - the double's self-test and driver;
#  - the daemon-spawning integration suites (soft device, device state,
#    migration, control API, reconnect, device reset) and the real-QEMU e2e
#    suites (soft device incl. the demo, PCI identity / VM restart) with
#    `--backend pvg` (APPLE_GFXD_TEST_BACKEND=pvg), as macOS 15.3 (task
#    memory model; variants pci and mmio) and the static memory model.
# Usage: scripts/test-pvg-double.sh [--no-e2e | --ci]
#   --ci: what .ci/run runs (a few minutes): the hazard and finding tests, the
#   soft device's integration suite (both memory models) and migration on
#   --backend pvg, and the soft-device e2e suite for one guest (x86_64 q35).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
npm run --silent build:pvg-double
# Deliberately wrong backends the hazards must catch (pvg-double.test.ts).
for w in encode-in-handler main-thread-call unserviced-main no-autorelease no-inflight-retain; do
  bash native/pvg-double/build.sh --wrong "$w" --out "native/build-pvg-double-wrong-$w" >/dev/null
done
npm run --silent build:ts
npm run --silent build:test
files=(dist-test/test/unit/pvg-double-selftest.test.js dist-test/test/integration/pvg-double.test.js
       dist-test/test/integration/soft-device.test.js dist-test/test/integration/migration.test.js)
case "$mode" in
  --ci)
    files+=(dist-test/test/e2e/soft-device.test.js)
    export APPLE_GFXD_TEST_ARCHES=x86_64 ;;
  --no-e2e)
    files+=(dist-test/test/integration/device-state.test.js dist-test/test/integration/control-api.test.js
            dist-test/test/integration/reconnect.test.js dist-test/test/integration/device-reset.test.js) ;;
  "")
    files+=(dist-test/test/integration/device-state.test.js dist-test/test/integration/control-api.test.js
            dist-test/test/integration/reconnect.test.js dist-test/test/integration/device-reset.test.js
            dist-test/test/e2e/soft-device.test.js dist-test/test/e2e/qemu-pci.test.js) ;;
  *) echo "usage: $0 [--no-e2e | --ci]" >&2; exit 2 ;;
esac
export APPLE_GFXD_TEST_BACKEND=pvg
export AGFX_PVG_DOUBLE_MACOS="${AGFX_PVG_DOUBLE_MACOS:-15.3}"
exec node --test --test-concurrency=1 --test-timeout=180000 --test-reporter=spec "${files[@]}"

#!/usr/bin/env bash
# `npm run build:native:asan`: builds the addons with -fsanitize=address,undefined
# into native/build-asan/build/Release/agfx_native{,_test}.node, leaving the
# normal build (native/build/) alone. The gyp file there is generated from
# native/binding.gyp (scripts/lib/gyp-variant.mjs: same targets and sources,
# flags plus the sanitizers), so a source added to binding.gyp is picked up
# here too.
# Load it with the ASan runtime preloaded: scripts/asan-test.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
node scripts/lib/gyp-variant.mjs build-asan --sanitize
cd native/build-asan
npx --no-install node-gyp rebuild --nodedir="${npm_config_nodedir:-/usr}"
echo "ASan addons: native/build-asan/build/Release/agfx_native.node, agfx_native_test.node"

#!/usr/bin/env bash
# `npm run build:native:asan`: builds the addons with -fsanitize=address,undefined
# into native/build-asan/build/Release/agfx_native{,_test}.node, leaving the
# normal build (native/build/) alone. The gyp file there is generated from
# native/binding.gyp (scripts/lib/gyp-variant.mjs: same targets and sources,
# flags plus the sanitizers), so a source added to binding.gyp is picked up
# here too.
# Load it with the ASan runtime preloaded: scripts/asan-test.sh.
# --portable builds the portable platform instead (native/build-asan-portable:
# platform_posix.cc, what macOS runs; scripts/portable-test.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=build-asan
platform=()
if [ "${1:-}" = --portable ]; then dir=build-asan-portable; platform=(--platform portable); fi
node scripts/lib/gyp-variant.mjs "$dir" --sanitize "${platform[@]}"
cd "native/$dir"
npx --no-install node-gyp rebuild --nodedir="${npm_config_nodedir:-/usr}"
echo "ASan addons: native/$dir/build/Release/agfx_native.node, agfx_native_test.node"

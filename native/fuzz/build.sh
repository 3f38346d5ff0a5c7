#!/usr/bin/env bash
# Builds the libFuzzer harnesses with AddressSanitizer and
# UndefinedBehaviorSanitizer (Debian's clang; libFuzzer ships with it).
# Output: native/fuzz/out/{framer,guest_memory,soft_device}_fuzz
set -euo pipefail
cd "$(dirname "$0")/.."
CXX="${CXX_FUZZ:-clang++}"
command -v "$CXX" >/dev/null || { echo "clang++ not found (apt-get install clang)" >&2; exit 77; }
NODEDIR="${npm_config_nodedir:-/usr}"
ADDON_INC="$(cd .. && node -p "require('node-addon-api').include_dir")"
mkdir -p fuzz/out
FLAGS=(-std=c++17 -g -O1 -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -Isrc -Iinclude -I"$NODEDIR/include/node" -I"../$ADDON_INC"
  -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -pthread)
# guest_memory.cc also holds its N-API bindings. The harness never calls
# them; the napi_* functions they reference get aborting stubs.
napi_stubs() {
  local objs=()
  for src in src/guest_memory.cc src/errors.cc; do
    "$CXX" "${FLAGS[@]}" -c "$src" -o "fuzz/out/$(basename "$src" .cc).napi.o"
    objs+=("fuzz/out/$(basename "$src" .cc).napi.o")
  done
  nm -u "${objs[@]}" | awk '/ napi_/ {print $2}' | sort -u |
    sed 's/.*/extern "C" void &() { __builtin_trap(); }/' > fuzz/out/napi_stubs.cc
}
build() {
  local out="$1"; shift
  if [ -z "${FORCE:-}" ] && [ -f "fuzz/out/$out" ]; then
    local newer
    newer="$(find "$@" src/*.h src/host/*.h src/soft/*.h include -newer "fuzz/out/$out" 2>/dev/null | head -1)"
    [ -z "$newer" ] && return 0
  fi
  echo "build $out"
  "$CXX" "${FLAGS[@]}" "$@" "${LINK[@]}" -o "fuzz/out/$out"
}
LINK=()
build framer_fuzz fuzz/framer_fuzz.cc src/framer.cc
[ -n "${FORCE:-}" ] || [ ! -f fuzz/out/napi_stubs.cc ] && napi_stubs || true
LINK=()
build guest_memory_fuzz fuzz/guest_memory_fuzz.cc src/guest_memory.cc src/errors.cc \
  src/host/task_memory.cc src/host/iosfc_map.cc fuzz/out/napi_stubs.cc
LINK=()
build soft_device_fuzz fuzz/soft_device_fuzz.cc src/soft/soft_device.cc

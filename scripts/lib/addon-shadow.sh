# Sourced by scripts/asan-test.sh and scripts/portable-test.sh: runs tests
# against another build of the addon without touching the checkout's own
# native/build (other people may be running tests from it).
#
# addon_shadow RELEASE_DIR: makes a shadow tree (copies of dist/ and
# dist-test/ (the tests reach the daemon through package.json's #daemon/*
# imports, which resolve beside the copy), the
# addons of RELEASE_DIR (agfx_native.node, agfx_native_test.node) at
# native/build/Release, symlinks to everything else), exports
# AGFX_NATIVE_ADDON where daemon/src/native.ts reads it, sets $shadow and
# cds into it. The caller removes "$shadow" (trap).
# test_files SUITE...: the dist-test/test/SUITE/**/*.test.js files into the
# array `files` (or $TEST_FILES, space-separated, when set).
# assert_portable ADDON: fails unless ADDON is a portable platform build (no
# Linux-only call linked in).
addon_shadow() {
  local release="$1" entry
  shadow="$(mktemp -d "${TMPDIR:-/tmp}/agfx-shadow.XXXXXX")"
  for entry in * .[!.]*; do
    case "$entry" in dist|dist-test|native|.git) ;; *) ln -s "$PWD/$entry" "$shadow/$entry" ;; esac
  done
  cp -r dist "$shadow/dist"
  cp -r dist-test "$shadow/dist-test"
  mkdir -p "$shadow/native/build/Release"
  for entry in native/*; do
    [ "$entry" = native/build ] || ln -s "$PWD/$entry" "$shadow/$entry"
  done
  cp "$release/agfx_native.node" "$release/agfx_native_test.node" "$shadow/native/build/Release/"
  if grep -q AGFX_NATIVE_ADDON daemon/src/native.ts; then export AGFX_NATIVE_ADDON="$shadow/native/build/Release/agfx_native.node"; fi
  cd "$shadow"
}

test_files() {
  files=()
  if [ -n "${TEST_FILES:-}" ]; then read -r -a files <<< "$TEST_FILES"; return; fi
  local s
  for s in "$@"; do
    mapfile -t -O "${#files[@]}" files < <(find "dist-test/test/$s" -name '*.test.js' | sort)
  done
  [ "${#files[@]}" -gt 0 ] || { echo "no test files in: $*" >&2; return 1; }
}

assert_portable() {
  local sym
  for sym in accept4 eventfd process_vm_readv process_vm_writev; do
    if nm -D --undefined-only "$1" | grep -qw "$sym"; then
      echo "$1 imports $sym: not the portable platform build" >&2
      return 1
    fi
  done
}

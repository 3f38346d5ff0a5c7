// agfx_native_test.node: everything the shipped addon exports (the same
// bindings, built from the same libraries) plus the test hooks and the
// benchmark entry points. Tests and scripts/bench load it instead of
// agfx_native.node, in-process, so that the hooks see the same guest-memory
// table and host services as the bindings they call next to them.
#include "addon/bindings.h"
#include "testing/testing.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  agfx::InitAddon(env, exports);
  agfx::InitTestHooks(env, exports);
  agfx::InitBench(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(agfx_native_test, Init)

// apple-gfxd's native addon (agfx_native.node): socket I/O with fd passing,
// guest memory, interrupt signalling, the backends. Loaded once per process
// (daemon/src/native.ts). Test and bench hooks are not in it: they are in
// agfx_native_test.node (testing/).
#include "addon/bindings.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  agfx::InitAddon(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(agfx_native, Init)

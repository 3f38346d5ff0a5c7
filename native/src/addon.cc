// apple-gfxd native addon: socket I/O with fd passing, guest memory,
// interrupt signalling. Loaded once per process.
#include <napi.h>

#include "dataplane_binding.h"
#include "fd_util.h"
#include "guest_memory.h"
#include "irq_table.h"
#include "unix_socket.h"

namespace agfx {
void InitBackend(Napi::Env env, Napi::Object exports);
void InitBench(Napi::Env env, Napi::Object exports);
}

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  agfx::InitUnixSocket(env, exports);
  agfx::InitFdUtil(env, exports);
  agfx::InitGuestMemory(env, exports);
  agfx::InitIrqTable(env, exports);
  agfx::InitBackend(env, exports);
  agfx::InitBench(env, exports);
  agfx::InitDataPlane(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(agfx_native, Init)

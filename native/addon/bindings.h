// The addon's exports, one Init function per binding file. addon/module.cc
// builds the shipped agfx_native.node from them; testing/test_module.cc
// builds agfx_native_test.node from the same plus the test and bench hooks.
#pragma once
#include <napi.h>

namespace agfx {

void InitUnixSocket(Napi::Env env, Napi::Object exports);  // socket_binding.cc
void InitFdUtil(Napi::Env env, Napi::Object exports);      // fd_binding.cc
void InitGuestMemory(Napi::Env env, Napi::Object exports); // guest_memory_binding.cc
void InitIrqTable(Napi::Env env, Napi::Object exports);    // irq_binding.cc
void InitBackend(Napi::Env env, Napi::Object exports);     // backend_binding.cc
void InitDataPlane(Napi::Env env, Napi::Object exports);   // dataplane_binding.cc

// Everything the shipped addon exports.
inline void InitAddon(Napi::Env env, Napi::Object exports) {
  InitUnixSocket(env, exports);
  InitFdUtil(env, exports);
  InitGuestMemory(env, exports);
  InitIrqTable(env, exports);
  InitBackend(env, exports);
  InitDataPlane(env, exports);
}

}  // namespace agfx

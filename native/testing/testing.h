// The test and bench hooks of agfx_native_test.node (testing/test_module.cc).
#pragma once
#include <napi.h>

namespace agfx {
void InitTestHooks(Napi::Env env, Napi::Object exports);  // test_hooks.cc
void InitBench(Napi::Env env, Napi::Object exports);      // bench.cc
}  // namespace agfx

// Test-only bindings (agfx_native_test.node, never the shipped addon):
// testMemoryMapAcquire(max) -> {token, count, ranges: [{gpa, len, host}]}
//   (token null when the ranges did not fit or on failure),
// testMemoryMapRead(host, len) -> Buffer | null (a fault-safe copy from a raw
//   host address: null where nothing is mapped),
// testMemoryMapRelease(token, fromThread) -> bool,
// testMemoryMapLive() -> snapshots not yet released.
// They call exactly what a backend calls through agfx_host.
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "addon/napi_util.h"
#include "core/host/backend_host.h"
#include "platform/platform.h"
#include "testing/testing.h"

namespace agfx {

namespace {

std::mutex test_mu;  // the two below; JS thread only in practice
std::map<uint32_t, void*> test_snapshots;
uint32_t test_next = 1;

Napi::Value TestAcquire(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t max = ArgU32(info[0]);
  std::vector<agfx_memory_range> ranges(max);
  uint32_t count = 0;
  void* snap = HostMemoryMapAcquire(nullptr, ranges.data(), max, &count);
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", count);
  Napi::Array arr = Napi::Array::New(env);
  if (!snap) {
    o.Set("token", env.Null());
    o.Set("ranges", arr);
    return o;
  }
  uint32_t token;
  {
    std::lock_guard lock(test_mu);
    token = test_next++;
    test_snapshots[token] = snap;
  }
  o.Set("token", token);
  for (uint32_t i = 0; i < count; ++i) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("gpa", Napi::BigInt::New(env, ranges[i].gpa));
    r.Set("len", Napi::BigInt::New(env, ranges[i].len));
    r.Set("host", Napi::BigInt::New(env, uint64_t(reinterpret_cast<uintptr_t>(ranges[i].host))));
    arr.Set(i, r);
  }
  o.Set("ranges", arr);
  return o;
}

Napi::Value TestRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool lossless = true;
  uint64_t addr = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
  uint32_t len = ArgU32(info[1]);
  auto buf = Napi::Buffer<uint8_t>::New(env, len);
  // A fault-safe copy, not memcpy: an unmapped address fails, not SIGSEGV.
  if (!platform::SafeRead(buf.Data(), reinterpret_cast<const void*>(static_cast<uintptr_t>(addr)), len)) return env.Null();
  return buf;
}

Napi::Value TestRelease(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t token = ArgU32(info[0]);
  bool from_thread = info.Length() > 1 && info[1].ToBoolean();
  void* snap = nullptr;
  {
    std::lock_guard lock(test_mu);
    auto it = test_snapshots.find(token);
    if (it == test_snapshots.end()) return Napi::Boolean::New(env, false);
    snap = it->second;
    test_snapshots.erase(it);
  }
  if (from_thread) std::thread([snap] { HostMemoryMapRelease(nullptr, snap); }).join();  // as a backend thread would
  else HostMemoryMapRelease(nullptr, snap);
  return Napi::Boolean::New(env, true);
}

Napi::Value TestLive(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(LiveMemoryMapSnapshots()));
}

}  // namespace

void InitTestHooks(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "testMemoryMapAcquire", TestAcquire);
  Export(env, exports, "testMemoryMapRead", TestRead);
  Export(env, exports, "testMemoryMapRelease", TestRelease);
  Export(env, exports, "testMemoryMapLive", TestLive);
}

}  // namespace agfx

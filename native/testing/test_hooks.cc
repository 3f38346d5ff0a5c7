// Test-only bindings (agfx_native_test.node, never the shipped addon):
// testMemoryMapAcquire(max) -> {token, count, ranges: [{gpa, len, host}]}
//   (token null when the ranges did not fit or on failure),
// testMemoryMapRead(host, len) -> Buffer | null (a fault-safe copy from a raw
//   host address: null where nothing is mapped),
// testMemoryMapRelease(token, fromThread) -> bool,
// testMemoryMapLive() -> snapshots not yet released.
// testTaskSemantics() -> {pageSize, bigTask, holeReadsZero, holeWritable,
//   roStrayWriteKept, guestRamUnchanged, unmapReadsZero, dmaUnmapReadsZero,
//   strictHoleFaults}: a zero-fill task (create_task_zero_fill, what the pvg
//   backend asks for; pvg-on-a-mac.md finding 9) over read-only guest RAM,
//   touched the way a GPU would; the process surviving is half the check.
// They call exactly what a backend calls through agfx_host.
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "addon/napi_util.h"
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "core/guest_memory.h"
#include "core/host/backend_host.h"
#include "core/host/task_memory.h"
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

Napi::Value TestTaskSemantics(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BackendHost host([](void*) {}, nullptr);
  const agfx_host* h = host.ops();
  const uint64_t page = TaskMemory::PageSize();
  const uint64_t gpa = 0x7f0000000000ull, size = 4 * page;
  Napi::Object o = Napi::Object::New(env);
  o.Set("pageSize", double(page));
  int fd = platform::CreateSharedMemory("agfx-task-semantics", size);
  if (fd < 0) ThrowErrno(env, -fd, "CreateSharedMemory");
  std::vector<uint8_t> pattern(size, 0x5a);
  if (::pwrite(fd, pattern.data(), size, 0) != static_cast<ssize_t>(size)) ThrowErrno(env, errno, "pwrite");
  int table_fd = platform::DupCloexec(fd);
  if (int err = GuestMemory::Instance().Map(gpa, size, table_fd, 0, /*writable=*/false)) {
    ::close(table_fd);
    ::close(fd);
    ThrowErrno(env, err, "GuestMemory::Map");
  }
  // Larger than the old 64 GiB cap: address space only (MAP_NORESERVE).
  void* base = nullptr;
  agfx_task* big = h->create_task_zero_fill(h->opaque, 128ull << 30, &base);
  o.Set("bigTask", big != nullptr);
  if (big) h->destroy_task(h->opaque, big);
  agfx_task* t = h->create_task_zero_fill(h->opaque, 8 * page, &base);
  if (!t) ThrowErrno(env, ENOMEM, "create_task_zero_fill");
  auto* b = static_cast<volatile uint8_t*>(base);
  // A hole (never mapped): zeros, and writable.
  bool zero = true;
  for (uint64_t i = 0; i < 8 * page; i += 997) zero = zero && b[i] == 0;
  o.Set("holeReadsZero", zero);
  b[5 * page + 3] = 7;
  o.Set("holeWritable", b[5 * page + 3] == 7);
  // A read-only alias of read-only guest RAM: a stray write neither faults
  // nor reaches the guest.
  agfx_phys_range r{gpa, 2 * page};
  bool mapped = h->map_memory(h->opaque, t, page, &r, 1, /*read_only=*/true);
  o.Set("mapped", mapped);
  bool seen = mapped && b[page] == 0x5a && b[3 * page - 1] == 0x5a;
  b[page + 10] = 0x11;
  o.Set("roStrayWriteKept", seen && b[page + 10] == 0x11);
  uint8_t back = 0;
  o.Set("guestRamUnchanged", ::pread(fd, &back, 1, 10) == 1 && back == 0x5a);
  // unmap_memory: zero pages again.
  bool unmapped = h->unmap_memory(h->opaque, t, page, page);
  o.Set("unmapReadsZero", unmapped && b[page] == 0 && b[page + 10] == 0 && b[2 * page] == 0x5a);
  // DMA_UNMAP of the guest RAM: the rest of the alias becomes a hole, not a fault.
  size_t cut = 0;
  GuestMemory::Instance().Unmap(gpa, size, &cut);
  o.Set("dmaUnmapReadsZero", cut == 1 && b[2 * page] == 0 && b[3 * page - 1] == 0);
  h->destroy_task(h->opaque, t);
  // The soft device's strict tasks keep inaccessible holes.
  agfx_task* strict = h->create_task(h->opaque, 2 * page, &base);
  uint8_t probe;
  o.Set("strictHoleFaults", strict && !platform::SafeRead(&probe, base, 1));
  if (strict) h->destroy_task(h->opaque, strict);
  ::close(fd);
  host.Stop();
  return o;
}

}  // namespace

void InitTestHooks(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "testTaskSemantics", TestTaskSemantics);
  Export(env, exports, "testMemoryMapAcquire", TestAcquire);
  Export(env, exports, "testMemoryMapRead", TestRead);
  Export(env, exports, "testMemoryMapRelease", TestRelease);
  Export(env, exports, "testMemoryMapLive", TestLive);
}

}  // namespace agfx

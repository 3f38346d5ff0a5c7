// Benchmark entry points (scripts/bench), in agfx_native_test.node only.
// Each runs its loop on a native thread through the same agfx_host services
// a backend calls, so the figures are what a backend sees, without JS in the
// loop.
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "addon/napi_util.h"
#include "agfx_backend.h"
#include "core/host/iosfc_map.h"
#include "core/host/task_memory.h"
#include "core/irq_table.h"
#include "platform/platform.h"
#include "testing/testing.h"

namespace agfx {

namespace {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

template <typename F>
double OnThread(F&& f) {
  double ns = 0;
  std::thread t([&] { ns = f(); });
  t.join();
  return ns;
}

// benchTaskMapUnmap(gpa, count, pageBytes) -> ns for `count` map+unmap pairs
// of one pageBytes range of guest RAM into a task.
Napi::Value BenchTaskMapUnmap(const Napi::CallbackInfo& info) {
  uint64_t gpa = info[0].As<Napi::Number>().Int64Value();
  uint32_t count = info[1].As<Napi::Number>().Uint32Value();
  uint64_t len = info[2].As<Napi::Number>().Int64Value();
  double ns = OnThread([&] {
    void* base = nullptr;
    agfx_task* t = TaskMemory::Instance().Create(64ull << 20, &base);
    if (!t) return -1.0;
    agfx_phys_range r{gpa, len};
    uint64_t t0 = NowNs();
    for (uint32_t i = 0; i < count; ++i) {
      uint64_t off = (uint64_t(i) * len) % (64ull << 20);
      if (!TaskMemory::Instance().Map(t, off, &r, 1, false)) return -1.0;
      TaskMemory::Instance().Unmap(t, off, len);
    }
    uint64_t t1 = NowNs();
    TaskMemory::Instance().Destroy(t);
    return double(t1 - t0);
  });
  if (ns < 0) ThrowErrno(info.Env(), EFAULT, "task map failed (is the range shared guest RAM?)");
  return Napi::Number::New(info.Env(), ns);
}

// benchIosfc(gpa, ramBytes, alive, ops, batch) -> {ns, ops, peakLive}
// Keeps `alive` 16 KiB mappings live, then replaces them in batches: unmap
// `batch` oldest, map `batch` new, until `ops` map+unmap pairs are done.
Napi::Value BenchIosfc(const Napi::CallbackInfo& info) {
  uint64_t gpa = info[0].As<Napi::Number>().Int64Value();
  uint64_t ram = info[1].As<Napi::Number>().Int64Value();
  uint32_t alive = info[2].As<Napi::Number>().Uint32Value();
  uint32_t ops = info[3].As<Napi::Number>().Uint32Value();
  uint32_t batch = info[4].As<Napi::Number>().Uint32Value();
  constexpr uint64_t kLen = 16384;
  size_t peak = 0;
  double ns = OnThread([&] {
    auto& m = IosfcMappings::Instance();
    std::vector<void*> ring(alive);
    uint64_t slots = ram / kLen, next = 0;
    for (uint32_t i = 0; i < alive; ++i) ring[i] = m.Map(gpa + (next++ % slots) * kLen, kLen, false);
    peak = m.Live();
    uint64_t t0 = NowNs();
    uint32_t done = 0, head = 0;
    while (done < ops) {
      for (uint32_t k = 0; k < batch && done < ops; ++k, ++done) {
        uint32_t idx = (head + k) % alive;
        m.Unmap(ring[idx]);
        ring[idx] = m.Map(gpa + (next++ % slots) * kLen, kLen, false);
      }
      head = (head + batch) % alive;
    }
    uint64_t t1 = NowNs();
    peak = std::max(peak, m.Live());
    for (void* p : ring) m.Unmap(p);
    return double(t1 - t0);
  });
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("ns", ns);
  o.Set("ops", double(ops));
  o.Set("peakLive", double(peak));
  return o;
}

// benchIrqRaise(vector, count, intervalUs) -> Float64Array of raise times
// (CLOCK_MONOTONIC ns), each raise done from a native thread.
Napi::Value BenchIrqRaise(const Napi::CallbackInfo& info) {
  uint32_t vector = info[0].As<Napi::Number>().Uint32Value();
  uint32_t count = info[1].As<Napi::Number>().Uint32Value();
  uint32_t interval = info[2].As<Napi::Number>().Uint32Value();
  // Optional raw fd: write it directly instead of going through the IRQ table
  // (separates the table's cost from the syscall and wake-up).
  int raw_fd = info.Length() > 3 ? info[3].As<Napi::Number>().Int32Value() : -1;
  auto out = Napi::Float64Array::New(info.Env(), count);
  std::vector<double> times(count);
  OnThread([&] {
    for (uint32_t i = 0; i < count; ++i) {
      std::this_thread::sleep_for(std::chrono::microseconds(interval));
      times[i] = double(NowNs());
      if (raw_fd >= 0) {
        if (platform::WriteEventFd(raw_fd, 1) != 0) break;
      } else {
        IrqTable::Instance().Raise(vector);
      }
    }
    return 0.0;
  });
  for (uint32_t i = 0; i < count; ++i) out[i] = times[i];
  return out;
}

}  // namespace

void InitBench(Napi::Env env, Napi::Object exports) {
  exports.Set("benchTaskMapUnmap", Napi::Function::New(env, BenchTaskMapUnmap));
  exports.Set("benchIosfc", Napi::Function::New(env, BenchIosfc));
  exports.Set("benchIrqRaise", Napi::Function::New(env, BenchIrqRaise));
}

}  // namespace agfx

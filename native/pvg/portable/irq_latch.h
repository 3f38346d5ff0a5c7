// Interrupts of a stopped device (agfx_backend.set_running(false)): while
// stopped, a raised vector is held instead of delivered; Start() delivers
// each held vector once. PVG's -pause already raises nothing new, so this
// catches what work in flight raises around it, and on macOS 11 (no
// -pause) it is the only thing that keeps the stopped device silent.
//
// Threading: Raise() from any PVG queue, concurrently; Stop()/Start() from
// the daemon thread. Lock-free (seq_cst atomics), never blocks: a raise that
// races Start() is delivered by one of the two (possibly by both: an extra
// MSI is harmless, a lost one hangs the guest driver).
#pragma once
#include <atomic>
#include <cstdint>

namespace agfx::pvg {

class IrqLatch {
 public:
  using RaiseFn = void (*)(void* ctx, uint32_t vector);
  IrqLatch(RaiseFn fn, void* ctx) : fn_(fn), ctx_(ctx) {}

  void Raise(uint32_t vector);
  void Stop() { stopped_.store(true); }
  void Start();
  bool stopped() const { return stopped_.load(); }
  // Vectors this high cannot be held: dropped while stopped.
  static constexpr uint32_t kMaxHeldVector = 63;

 private:
  void Flush();
  const RaiseFn fn_;
  void* const ctx_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> held_{0};
};

}  // namespace agfx::pvg

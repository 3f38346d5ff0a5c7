// Interrupt routing: the eventfds QEMU hands over with SET_IRQS, per vfio IRQ
// index and sub-index. Raising a vector is a write to its fd from whatever
// thread the backend is on; no JS runs on that path (docs/design.md invariant 6).
//
// Threading: JS replaces fds, backend threads raise. One mutex guards the
// table; it is held only for the fd write itself and never across a call
// into JS, so a backend thread can never wait for the JS thread.
#pragma once
#include <napi.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace agfx {

enum IrqIndex : uint32_t { kIrqIntx = 0, kIrqMsi = 1, kIrqMsix = 2, kIrqErr = 3, kIrqReq = 4 };
constexpr uint32_t kIrqIndexCount = 5;
constexpr uint32_t kMaxVectors = 2048;

class IrqTable {
 public:
  static IrqTable& Instance();

  // Return 0 or a positive errno. Set takes ownership of the fds on success.
  int Set(uint32_t index, uint32_t start, const std::vector<int>& fds);
  int Clear(uint32_t index, uint32_t start, uint32_t count);
  void Disable(uint32_t index);
  void CloseAll();
  // Signals vector `vector` on the active index (MSI-X, else MSI). Returns
  // true when an fd was signalled; false when the vector is not wired
  // (dropped, as QEMU's apple-gfx drops interrupts while MSI is disabled).
  bool Raise(uint32_t vector);

  struct VectorStats {
    uint64_t raised, delivered, dropped;
  };
  VectorStats Stats(uint32_t vector) const;
  uint32_t AssignedCount(uint32_t index) const;

 private:
  struct Slot {
    int fd = -1;
    bool is_eventfd = true;  // else a pipe: one byte per interrupt
  };
  bool SignalLocked(const Slot& s);
  mutable std::mutex mu_;
  std::array<std::vector<Slot>, kIrqIndexCount> slots_;
  std::array<std::atomic<uint64_t>, 64> raised_{}, delivered_{}, dropped_{};
};

void InitIrqTable(Napi::Env env, Napi::Object exports);

}  // namespace agfx

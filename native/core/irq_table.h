// Interrupt routing: the eventfds (or pipes) QEMU hands over with SET_IRQS,
// per vfio IRQ index and sub-index. Raising a vector is a write to its fd
// from whatever thread the backend is on; no JS runs on that path
// (docs/design.md invariant 6).
//
// Threading: JS replaces fds, backend threads (and the JS thread, for the
// soft device's IRQ_TEST) raise. One mutex guards the table and is held only
// to look a slot up or replace it: the write itself happens after the lock is
// dropped, on a reference to the fd (a replaced fd is closed when its last
// raiser is done). The fd is the peer's: a full eventfd or pipe must not stall
// anyone, so every kept fd is made non-blocking and a full one counts as
// "already pending" (platform::Notify). Nothing here waits for the JS thread
// or for the peer (docs/design.md invariant 1).
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "platform/platform.h"

namespace agfx {

enum IrqIndex : uint32_t { kIrqIntx = 0, kIrqMsi = 1, kIrqMsix = 2, kIrqErr = 3, kIrqReq = 4 };
constexpr uint32_t kIrqIndexCount = 5;
constexpr uint32_t kMaxVectors = 2048;

class IrqTable {
 public:
  static IrqTable& Instance();

  // Return 0 or a positive errno. Set takes ownership of the fds on success
  // (and makes them non-blocking).
  int Set(uint32_t index, uint32_t start, const std::vector<int>& fds);
  int Clear(uint32_t index, uint32_t start, uint32_t count);
  void Disable(uint32_t index);
  void CloseAll();
  // Signals vector `vector` on the active index (MSI-X, else MSI). Returns
  // true when an fd was signalled (or was full: already pending); false when
  // the vector is not wired (dropped, as QEMU's apple-gfx drops interrupts
  // while MSI is disabled) or the write failed.
  bool Raise(uint32_t vector);

  struct VectorStats {
    uint64_t raised, delivered, dropped;
  };
  VectorStats Stats(uint32_t vector) const;
  uint32_t AssignedCount(uint32_t index) const;

 private:
  // One kept interrupt fd; closed when the last reference goes.
  struct Notifier {
    Notifier(int fd, platform::NotifierKind kind) : fd(fd), kind(kind) {}
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;
    const int fd;
    const platform::NotifierKind kind;
  };
  using Slot = std::shared_ptr<const Notifier>;  // null: not wired

  mutable std::mutex mu_;  // slots_ only; never held across a write or close
  std::array<std::vector<Slot>, kIrqIndexCount> slots_;
  std::array<std::atomic<uint64_t>, 64> raised_{}, delivered_{}, dropped_{};
};

}  // namespace agfx

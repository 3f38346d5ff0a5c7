// The soft device (docs/soft-device.md): a small GPU-like device with a
// command ring in guest memory, written like a GPU front end. It runs its own
// worker thread and calls every host service from there, including while an
// mmio_write is in progress on the caller's thread (DOORBELL = 1), the way
// PVG calls back into the VMM from its own queues.
//
// The parts: registers.cc (the BAR0 register file, reset, quiesce), ring.cc
// (the ring, the worker, command dispatch), tasks.{h,cc}, displays.{h,cc}
// with frames.cc, iosfc.{h,cc} (the commands and state of each), state.cc
// (save and restore), backend.cc (the agfx_backend table). The guest
// interface itself is native/include/agfx_soft.h.
//
// Threads and locks (docs/design.md, "Threads and locks", has the table):
//  - mu_ guards the registers and the ring state and is what the worker
//    waits on (work_cv_, idle_cv_). The worker drops it while it runs a
//    command (FENCE takes it again, briefly). Held while taking another
//    lock only by save (mu_ before Iosfc::io_mu_ and Displays::disp_mu_,
//    never after) and by RING_ENTRIES (its two read_memory probes: the
//    guest-memory table's shared lock).
//  - The task table is the worker's while it runs and parked-device code's
//    otherwise (busy_ == false under mu_ with resetting_ or stopped_ set).
//  - Displays::disp_mu_ and Tasks::map_mu_ are leaves; Iosfc::io_mu_ is held
//    across the host's iosfc_map/unmap and guest_error only.
//  - No lock of the device is held across a call into the host that could
//    wait for the JS thread: none can (docs/design.md invariant 1).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agfx_backend.h"
#include "agfx_soft.h"
#include "soft/common.h"
#include "soft/displays.h"
#include "soft/iosfc.h"
#include "soft/state_io.h"
#include "soft/tasks.h"

namespace agfx::soft {

class SoftDevice {
 public:
  SoftDevice(const agfx_device_config* cfg, const agfx_host* host);
  ~SoftDevice();

  // registers.cc
  uint32_t MmioRead(uint32_t region, uint64_t off);
  void MmioWrite(uint32_t region, uint64_t off, uint32_t v);
  // Blocking reset (DEVICE_RESET, CONTROL = 1).
  void Reset();
  void SetRunning(bool running);

  // The daemon's display calls and the static memory map: the parts'.
  Displays& displays() { return displays_; }
  void MemoryMapChanged() { tasks_.MemoryMapChanged(); }

  // state.cc
  std::vector<uint8_t> Save();
  bool Restore(const uint8_t* data, size_t len, std::string* err);

 private:
  // ring.cc
  void ConfigureRing(uint32_t entries);
  void Doorbell(bool wait);
  void WorkerLoop();
  uint32_t Execute(const agfx_soft_entry& e, uint32_t* result);
  uint32_t Fence(const uint64_t* a);

  // state.cc
  bool Apply(StateReader& r, std::string* err);
  bool ApplyState(StateReader& r, std::string* err);
  // registers.cc. With mu_ held: sets resetting_ and waits until the worker
  // has finished the command it was running; it stays parked until
  // resetting_ is cleared.
  void ParkLocked(std::unique_lock<std::mutex>& lock);
  // With mu_ held: wakes the worker if the ring has commands waiting.
  void KickIfPendingLocked();
  // Tasks and IOSFC mappings back to the host (worker parked).
  void ReleaseResources();
  void GuestError(const std::string& msg) { soft::GuestError(host_, msg); }

  const agfx_host host_;
  const uint32_t vectors_;
  const bool mmio_;
  const bool static_map_;

  // Registers and ring state (mu_).
  std::mutex mu_;
  std::condition_variable work_cv_, idle_cv_;
  uint32_t scratch_ = 0, irq_status_ = 0;
  uint64_t ring_base_ = 0;
  uint32_t ring_entries_ = 0, head_ = 0, tail_ = 0;
  bool ring_ready_ = false, halted_ = false;
  uint64_t fence_ = 0;
  uint32_t completed_ = 0, errors_ = 0, last_error_ = 0;
  bool kick_ = false, busy_ = false, stop_ = false, resetting_ = false;
  bool stopped_ = false;  // quiesced by set_running(false): the worker parks

  Tasks tasks_;
  Displays displays_;
  Iosfc iosfc_;
  std::thread worker_;  // last: started once everything above exists
};

}  // namespace agfx::soft

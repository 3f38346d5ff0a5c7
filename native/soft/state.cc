// Device state (agfx_backend save_state / restore_state): registers, ring,
// tasks as guest-physical range lists (never host addresses), IOSFC
// mappings, and each display's mode, frame and cursor. The blob is the soft
// backend's own format (kStateMagic). The worker is parked while the state is
// read or replaced.
#include <cstring>
#include <new>

#include "soft/device.h"

namespace agfx::soft {

std::vector<uint8_t> SoftDevice::Save() {
  std::unique_lock lock(mu_);
  ParkLocked(lock);
  // Out of memory half way (std::bad_alloc): the worker is not left parked.
  struct Unpark {
    bool& parked;
    ~Unpark() { parked = false; }
  } unpark{resetting_};
  StateWriter w;
  w.out.reserve(4096);
  w.out.assign(kStateMagic, kStateMagic + 8);
  w.u32(mmio_ ? 1 : 0);
  w.u32(static_map_ ? 1 : 0);
  w.u32(scratch_);
  w.u32(irq_status_);
  w.u64(ring_base_);
  w.u32(ring_entries_);
  w.u32(head_);
  w.u32(tail_);
  w.u8(ring_ready_);
  w.u8(halted_);
  w.u64(fence_);
  w.u32(completed_);
  w.u32(errors_);
  w.u32(last_error_);
  tasks_.Save(w);
  iosfc_.Save(w);     // mu_ -> io_mu_
  displays_.Save(w);  // mu_ -> disp_mu_
  resetting_ = false;
  KickIfPendingLocked();
  return w.out;
}

// Guest memory must already be shared (DMA_MAP) so tasks and IOSFC mappings
// can be re-established.
bool SoftDevice::Restore(const uint8_t* data, size_t len, std::string* err) {
  if (len < 8 || std::memcmp(data, kStateMagic, 8) != 0) {
    *err = "not a soft-device state (bad magic or version)";
    return false;
  }
  StateReader r(data + 8, len - 8);
  bool mmio = r.u32() != 0, static_map = r.u32() != 0;
  if (r.ok() && mmio != mmio_) {
    *err = std::string("state of the ") + (mmio ? "mmio" : "pci") + " variant; this device is " + (mmio_ ? "mmio" : "pci");
    return false;
  }
  (void)static_map;  // tasks carry guest ranges: either memory model can take them
  return Apply(r, err);
}

// Resets the device and applies a state to it with the worker parked; on a
// fault the device is left reset (the daemon puts back what it saved before,
// daemon/src/state/device-state.ts). Commands the guest queued before the save
// run afterwards, pending fences included.
bool SoftDevice::Apply(StateReader& r, std::string* err) {
  Reset();  // a clean device, then the worker parks until the state is in
  {
    std::unique_lock lock(mu_);
    ParkLocked(lock);
  }
  bool ok = false;
  try {
    ok = ApplyState(r, err);
  } catch (const std::bad_alloc&) {
    *err = "out of memory while restoring (a frame or glyph could not be allocated)";
  }
  {
    std::lock_guard lock(mu_);
    resetting_ = false;
  }
  if (!ok) {
    Reset();
    return false;
  }
  std::lock_guard lock(mu_);
  KickIfPendingLocked();
  return true;
}

// Applies a saved state to a reset, parked device (Restore).
bool SoftDevice::ApplyState(StateReader& r, std::string* err) {
  std::unique_lock lock(mu_);
  scratch_ = r.u32();
  irq_status_ = r.u32();
  ring_base_ = r.u64();
  ring_entries_ = r.u32();
  head_ = r.u32();
  tail_ = r.u32();
  ring_ready_ = r.u8() != 0;
  halted_ = r.u8() != 0;
  fence_ = r.u64();
  completed_ = r.u32();
  errors_ = r.u32();
  last_error_ = r.u32();
  bool ring_bad = ring_entries_ > AGFX_SOFT_MAX_RING_ENTRIES || (ring_entries_ & (ring_entries_ - 1)) != 0;
  lock.unlock();
  if (ring_bad) {
    *err = "bad ring record";
    return false;
  }
  if (!tasks_.Load(r, err) || !iosfc_.Load(r, err) || !displays_.Load(r, err)) return false;
  if (!r.ok() || !r.AtEnd()) {
    *err = "truncated or malformed state";
    return false;
  }
  return true;
}

}  // namespace agfx::soft

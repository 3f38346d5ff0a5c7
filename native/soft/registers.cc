// The soft device's BAR0 register file, device reset and quiesce; the
// device's life (the worker is started and joined here).
#include "soft/device.h"

namespace agfx::soft {

SoftDevice::SoftDevice(const agfx_device_config* cfg, const agfx_host* host)
    : host_(*host),
      vectors_(cfg->variant == AGFX_VARIANT_MMIO ? 2 : 1),
      mmio_(cfg->variant == AGFX_VARIANT_MMIO),
      static_map_(cfg->memory_model == AGFX_MEMORY_STATIC_MAP),
      tasks_(host_, static_map_),
      displays_(host_),
      iosfc_(host_) {
  if (static_map_) tasks_.MemoryMapChanged();
  worker_ = std::thread([this] { WorkerLoop(); });
}

SoftDevice::~SoftDevice() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  worker_.join();
  ReleaseResources();
}

void SoftDevice::ParkLocked(std::unique_lock<std::mutex>& lock) {
  resetting_ = true;
  idle_cv_.wait(lock, [&] { return !busy_; });
}

void SoftDevice::KickIfPendingLocked() {
  if (head_ != tail_ && ring_ready_ && !halted_) {
    kick_ = true;
    work_cv_.notify_one();
  }
}

void SoftDevice::ReleaseResources() {
  tasks_.ReleaseAll();
  iosfc_.ReleaseAll();
}

uint32_t SoftDevice::MmioRead(uint32_t region, uint64_t off) {
  if (region == AGFX_REGION_IOSFC) return mmio_ ? iosfc_.Read(off) : 0;
  if (uint32_t v; displays_.ReadReg(off, &v)) return v;  // disp_mu_ only, not mu_
  std::lock_guard lock(mu_);
  switch (off) {
    case AGFX_SOFT_REG_ID: return AGFX_SOFT_ID;
    case AGFX_SOFT_REG_VERSION: return AGFX_SOFT_VERSION;
    case AGFX_SOFT_REG_SCRATCH: return scratch_;
    case AGFX_SOFT_REG_IRQ_TEST: return vectors_;
    case AGFX_SOFT_REG_STATUS:
      return (ring_ready_ ? AGFX_SOFT_STATUS_RING_READY : 0) | (busy_ ? AGFX_SOFT_STATUS_BUSY : 0) | (halted_ ? AGFX_SOFT_STATUS_HALTED : 0) | (head_ == tail_ ? AGFX_SOFT_STATUS_IDLE : 0);
    case AGFX_SOFT_REG_IRQ_STATUS: return irq_status_;
    case AGFX_SOFT_REG_RING_BASE_LO: return static_cast<uint32_t>(ring_base_);
    case AGFX_SOFT_REG_RING_BASE_HI: return static_cast<uint32_t>(ring_base_ >> 32);
    case AGFX_SOFT_REG_RING_ENTRIES: return ring_entries_;
    case AGFX_SOFT_REG_RING_HEAD: return head_;
    case AGFX_SOFT_REG_RING_TAIL: return tail_;
    case AGFX_SOFT_REG_FENCE_LO: return static_cast<uint32_t>(fence_);
    case AGFX_SOFT_REG_FENCE_HI: return static_cast<uint32_t>(fence_ >> 32);
    case AGFX_SOFT_REG_COMPLETED: return completed_;
    case AGFX_SOFT_REG_ERRORS: return errors_;
    case AGFX_SOFT_REG_LAST_ERROR: return last_error_;
    case AGFX_SOFT_REG_DISPLAYS: return AGFX_SOFT_PORTS;
    default: return 0;
  }
}

void SoftDevice::MmioWrite(uint32_t region, uint64_t off, uint32_t v) {
  if (region == AGFX_REGION_IOSFC) {
    if (mmio_) iosfc_.Write(off, v);
    return;
  }
  if (displays_.WriteReg(off, v)) return;  // disp_mu_ only, not mu_
  switch (off) {
    case AGFX_SOFT_REG_SCRATCH: {
      std::lock_guard lock(mu_);
      scratch_ = v;
      return;
    }
    case AGFX_SOFT_REG_IRQ_TEST:
      if (v < vectors_) host_.raise_interrupt(host_.opaque, v);
      else GuestError("interrupt self-test of vector " + std::to_string(v) + ", which the device does not have");
      return;
    case AGFX_SOFT_REG_CONTROL:
      if (v == AGFX_SOFT_CONTROL_RESET) Reset();
      else GuestError("CONTROL write of " + std::to_string(v));
      return;
    case AGFX_SOFT_REG_IRQ_STATUS: {
      std::lock_guard lock(mu_);
      irq_status_ &= ~v;
      return;
    }
    case AGFX_SOFT_REG_RING_BASE_LO: {
      std::lock_guard lock(mu_);
      ring_base_ = (ring_base_ & ~0xffffffffull) | v;
      return;
    }
    case AGFX_SOFT_REG_RING_BASE_HI: {
      std::lock_guard lock(mu_);
      ring_base_ = (ring_base_ & 0xffffffffull) | (uint64_t(v) << 32);
      return;
    }
    case AGFX_SOFT_REG_RING_ENTRIES: ConfigureRing(v); return;
    case AGFX_SOFT_REG_RING_TAIL: {
      std::lock_guard lock(mu_);
      tail_ = v;
      return;
    }
    case AGFX_SOFT_REG_DOORBELL: Doorbell(v == AGFX_SOFT_DOORBELL_SYNC); return;
    case AGFX_SOFT_REG_ID:
    case AGFX_SOFT_REG_VERSION:
      GuestError("write to a read-only register");
      return;
    default:
      return;
  }
}

// The worker finishes the command it is running and parks; nothing here
// waits on a host service.
void SoftDevice::Reset() {
  std::unique_lock lock(mu_);
  ParkLocked(lock);
  scratch_ = 0;
  ring_base_ = 0;
  ring_entries_ = 0;
  ring_ready_ = halted_ = false;
  head_ = tail_ = 0;
  fence_ = 0;
  completed_ = errors_ = last_error_ = irq_status_ = 0;
  kick_ = false;
  lock.unlock();
  ReleaseResources();
  displays_.Reset();
  lock.lock();
  resetting_ = false;
}

// Quiesce for migration: after this returns no command runs, so the device
// writes no guest memory and raises no interrupt until resumed. A doorbell
// meanwhile is remembered and served on resume.
void SoftDevice::SetRunning(bool running) {
  std::unique_lock lock(mu_);
  stopped_ = !running;
  if (!running) {
    idle_cv_.wait(lock, [&] { return !busy_; });
    return;
  }
  KickIfPendingLocked();
}

}  // namespace agfx::soft

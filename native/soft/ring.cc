// The command ring: RING_ENTRIES configures it, DOORBELL wakes the worker,
// and the worker runs the entries HEAD..TAIL-1 one by one, writing each
// status back into the entry.
#include <chrono>
#include <new>

#include "soft/common.h"
#include "soft/device.h"

namespace agfx::soft {

namespace {
const char* StatusName(uint32_t s) {
  static const char* names[AGFX_SOFT_ST_COUNT] = {"OK",           "BAD_OPCODE", "BAD_ARGS", "NO_TASK",   "TASK_EXISTS", "MAP_FAILED",
                                "OUT_OF_RANGE", "NO_DISPLAY", "BAD_MODE", "NO_MEMORY", "NOT_MAPPED",  "GUEST_MEMORY"};
  return s < sizeof names / sizeof names[0] ? names[s] : "?";
}
}  // namespace

void SoftDevice::ConfigureRing(uint32_t entries) {
  std::unique_lock lock(mu_);
  // The worker must not be walking the old ring while it is replaced.
  idle_cv_.wait(lock, [&] { return !busy_; });
  ring_ready_ = false;
  halted_ = false;
  head_ = tail_ = 0;
  ring_entries_ = entries;
  if (entries == 0) return;
  bool pow2 = (entries & (entries - 1)) == 0;
  uint64_t bytes = uint64_t(entries) * AGFX_SOFT_ENTRY_SIZE;
  uint8_t probe;
  bool inside = ring_base_ % AGFX_SOFT_PAGE == 0 && host_.read_memory(host_.opaque, ring_base_, 1, &probe) &&
                host_.read_memory(host_.opaque, ring_base_ + bytes - 1, 1, &probe);
  if (!pow2 || entries > AGFX_SOFT_MAX_RING_ENTRIES || !inside) {
    lock.unlock();
    GuestError("ring of " + std::to_string(entries) + " entries at 0x" + Hex(ring_base_) +
               " refused: entries must be a power of two up to 4096 and the ring 4 KiB aligned inside shared guest RAM");
    return;
  }
  ring_ready_ = true;
}

void SoftDevice::Doorbell(bool wait) {
  std::unique_lock lock(mu_);
  if (!ring_ready_) {
    lock.unlock();
    GuestError("doorbell without a configured ring");
    return;
  }
  kick_ = true;
  work_cv_.notify_one();
  if (!wait) return;
  // Synchronous doorbell: this MMIO write completes when the ring is drained.
  // The worker calls host services meanwhile; none of them needs this thread.
  idle_cv_.wait_for(lock, std::chrono::seconds(2), [&] { return !kick_ && !busy_; });
}

void SoftDevice::WorkerLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || (kick_ && !resetting_ && !stopped_); });
    if (stop_) return;
    kick_ = false;
    busy_ = true;
    while (ring_ready_ && !halted_ && head_ != tail_ && !stop_ && !resetting_ && !stopped_) {
      if (tail_ - head_ > ring_entries_) {
        halted_ = true;
        lock.unlock();
        GuestError("ring tail is more than RING_ENTRIES ahead of head; ring halted");
        lock.lock();
        break;
      }
      uint64_t gpa = ring_base_ + uint64_t(head_ % ring_entries_) * AGFX_SOFT_ENTRY_SIZE;
      lock.unlock();  // commands run without the register lock
      agfx_soft_entry e;
      bool readable = host_.read_memory(host_.opaque, gpa, sizeof e, &e);
      uint32_t result = 0;
      uint32_t st = uint32_t(AGFX_SOFT_ST_GUEST_MEMORY);
      // An allocation a command needs (a frame of the new mode, a CHECKSUM
      // buffer) that fails is that command's NO_MEMORY, never the end of the
      // process: an exception leaving this thread would terminate it.
      try {
        if (readable) st = Execute(e, &result);
      } catch (const std::bad_alloc&) {
        st = AGFX_SOFT_ST_NO_MEMORY;
      }
      uint32_t done[2] = {st, result};
      bool written = readable && host_.write_memory(host_.opaque, gpa + 8, sizeof done, done);
      if (st != AGFX_SOFT_ST_OK && readable) GuestError("ring command " + std::to_string(e.opcode) + " failed: " + StatusName(st));
      lock.lock();
      if (!readable || !written) {
        halted_ = true;
        lock.unlock();
        GuestError("ring entry at 0x" + Hex(gpa) + " is not in writable shared guest RAM; ring halted");
        lock.lock();
        break;
      }
      ++head_;
      if (st == AGFX_SOFT_ST_OK) {
        ++completed_;
      } else {
        ++errors_;
        last_error_ = st;
        irq_status_ |= AGFX_SOFT_IRQ_ERROR;
      }
    }
    busy_ = false;
    idle_cv_.notify_all();
  }
}

// One entry, on the worker, without mu_.
uint32_t SoftDevice::Execute(const agfx_soft_entry& e, uint32_t* result) {
  const uint64_t* a = e.a;
  switch (e.opcode) {
    case AGFX_SOFT_OP_NOP: return AGFX_SOFT_ST_OK;
    case AGFX_SOFT_OP_TASK_CREATE: return tasks_.Create(a);
    case AGFX_SOFT_OP_TASK_DESTROY: return tasks_.Destroy(a);
    case AGFX_SOFT_OP_TASK_MAP: return tasks_.Map(a);
    case AGFX_SOFT_OP_TASK_UNMAP: return tasks_.Unmap(a);
    case AGFX_SOFT_OP_CHECKSUM: return tasks_.Checksum(a, result);
    case AGFX_SOFT_OP_SET_MODE: return displays_.SetMode(a);
    case AGFX_SOFT_OP_PRESENT: return displays_.Present(a, tasks_);
    case AGFX_SOFT_OP_COPY_RECT: return displays_.CopyRect(a);
    case AGFX_SOFT_OP_CURSOR_GLYPH: return displays_.CursorGlyph(a, tasks_);
    case AGFX_SOFT_OP_CURSOR_SHOW: return displays_.CursorShow(a);
    case AGFX_SOFT_OP_CURSOR_MOVE: return displays_.CursorMove(a);
    case AGFX_SOFT_OP_FENCE: return Fence(a);
    default: return AGFX_SOFT_ST_BAD_OPCODE;
  }
}

// FENCE: a0 value (to FENCE_LO/HI), a1 vector to raise.
uint32_t SoftDevice::Fence(const uint64_t* a) {
  if (a[1] >= vectors_) return AGFX_SOFT_ST_BAD_ARGS;
  {
    std::lock_guard lock(mu_);
    fence_ = a[0];
    irq_status_ |= AGFX_SOFT_IRQ_FENCE;
  }
  host_.raise_interrupt(host_.opaque, uint32_t(a[1]));
  return AGFX_SOFT_ST_OK;
}

}  // namespace agfx::soft

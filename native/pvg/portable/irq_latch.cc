#include "irq_latch.h"

namespace agfx::pvg {

void IrqLatch::Raise(uint32_t vector) {
  if (!stopped_.load()) {
    fn_(ctx_, vector);
    return;
  }
  if (vector > kMaxHeldVector) return;
  held_.fetch_or(uint64_t(1) << vector);
  // Start() may have flushed between our first check and the fetch_or: if we
  // now see the device running, our bit may have been missed; deliver it.
  if (!stopped_.load()) Flush();
}

void IrqLatch::Start() {
  stopped_.store(false);
  Flush();
}

void IrqLatch::Flush() {
  uint64_t bits = held_.exchange(0);
  for (uint32_t v = 0; bits; ++v, bits >>= 1)
    if (bits & 1) fn_(ctx_, v);
}

}  // namespace agfx::pvg

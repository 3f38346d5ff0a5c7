// Counters and handling-time histograms of the messages the data plane
// answers itself, kept for the whole server (every client adds to them) and
// read by JS on demand (`ctl status`, the close log line). Written by
// data-plane threads, read by the JS thread: relaxed atomics, no lock; a
// reader may see a count one message ahead of a bucket, never torn values.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

namespace agfx {

class DataPlaneStats {
 public:
  // Commands with their own histogram: REGION_READ, REGION_WRITE,
  // REGION_WRITE_MULTI (by slot, see Slot()).
  static constexpr int kSlots = 3;
  static constexpr int kMaxBounds = 32;

  // Upper bucket bounds in microseconds, ascending; the last bucket is open
  // (the same bounds as protocol/src/histogram.ts, handed over by JS).
  explicit DataPlaneStats(const std::vector<double>& bounds_us) {
    for (double b : bounds_us)
      if (bounds_.size() < kMaxBounds) bounds_.push_back(b);
  }

  static int Slot(uint16_t command) {
    switch (command) {
      case 9: return 0;   // REGION_READ
      case 10: return 1;  // REGION_WRITE
      case 15: return 2;  // REGION_WRITE_MULTI
      default: return -1;
    }
  }

  static uint16_t Command(int slot) { return slot == 0 ? 9 : slot == 1 ? 10 : 15; }

  void Record(int slot, double us, bool failed) {
    if (slot < 0 || slot >= kSlots) return;
    size_t i = 0;
    while (i < bounds_.size() && us > bounds_[i]) ++i;
    Hist& h = hist_[slot];
    h.buckets[i].fetch_add(1, std::memory_order_relaxed);
    h.total.fetch_add(1, std::memory_order_relaxed);
    if (failed) h.errors.fetch_add(1, std::memory_order_relaxed);
  }

  const std::vector<double>& bounds() const { return bounds_; }
  struct Snapshot {
    uint64_t total = 0, errors = 0;
    std::vector<uint64_t> buckets;
  };
  Snapshot Get(int slot) const {
    Snapshot s;
    const Hist& h = hist_[slot];
    s.total = h.total.load(std::memory_order_relaxed);
    s.errors = h.errors.load(std::memory_order_relaxed);
    for (size_t i = 0; i <= bounds_.size(); ++i) s.buckets.push_back(h.buckets[i].load(std::memory_order_relaxed));
    return s;
  }

 private:
  struct Hist {
    std::atomic<uint64_t> total{0}, errors{0};
    std::atomic<uint64_t> buckets[kMaxBounds + 1] = {};
  };
  std::vector<double> bounds_;
  Hist hist_[kSlots];
};

}  // namespace agfx

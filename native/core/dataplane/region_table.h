// What the data plane knows of the device's regions: for every vfio-user
// region index, its size and access flags, and for the regions it serves
// itself (the device's BARs), the rules the device model gives them. The
// table is built once by the device model (daemon/src/device/apple-gfx-pci.ts
// dataPlaneRegions(): one definition of the layout) and never changes while a
// connection uses it, so the data-plane thread reads it without a lock
// (docs/design.md, "Threads and locks").
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace agfx {

struct RegionRule {
  // Region size in bytes; 0: the region does not exist.
  uint64_t size = 0;
  bool readable = false, writable = false;
  // Served by the data plane (a device BAR) rather than by the TypeScript
  // session (config space).
  bool native = false;
  // The backend's region number (agfx_region) for native regions.
  uint32_t backend_region = 0;
  // A window that reads as zeros and drops writes, whatever the access size
  // (the MSI-X PBA: nothing is ever pending on the device's side).
  uint64_t zero_offset = 0, zero_len = 0;
  // Registers 64 bits wide (PVG's IOSurface device): an aligned 8-byte
  // access goes to the backend whole where it takes one (mmio_read64 /
  // mmio_write64), else split as any other.
  bool whole64 = false;
  // Trace event names for MMIO reads and writes (apple_gfx_read, ...).
  std::string trace_read, trace_write;
};

class RegionTable {
 public:
  static constexpr uint32_t kMaxRegions = 16;
  RegionTable() = default;
  // Regions at index >= count do not exist (the device's num_regions).
  explicit RegionTable(uint32_t count) : count_(count < kMaxRegions ? count : kMaxRegions) {}
  bool Set(uint32_t index, RegionRule rule) {
    if (index >= count_) return false;
    rules_[index] = std::move(rule);
    return true;
  }
  uint32_t count() const { return count_; }
  // The rule of `index`, or nullptr past num_regions.
  const RegionRule* Find(uint32_t index) const { return index < count_ ? &rules_[index] : nullptr; }
  bool IsNative(uint32_t index) const { return index < count_ && rules_[index].native && rules_[index].size > 0; }

 private:
  uint32_t count_ = 0;
  std::array<RegionRule, kMaxRegions> rules_{};
};

}  // namespace agfx

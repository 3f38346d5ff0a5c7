// The static guest-memory map for PGMemoryMapDescriptor (macOS 15.4+): built
// from the host's snapshot (agfx_host.memory_map, or memory_map_acquire for a
// PinnedMemoryMap), one range per shared
// guest-RAM region. Ranges are sorted by guest-physical address; neighbours
// that are contiguous both in guest-physical and in host address space are
// merged; overlapping guest-physical ranges are refused (the map would be
// ambiguous), as are empty, wrapping or host-less ranges.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "agfx_backend.h"

namespace agfx::pvg {

constexpr uint32_t kMaxMapRanges = 4096;

bool BuildMemoryMap(const agfx_memory_range* ranges, uint32_t count, std::vector<agfx_memory_range>* out,
                    std::string* err);

// Reads the whole snapshot from the host (retrying if it grew in between),
// then BuildMemoryMap.
bool MemoryMapFromHost(const agfx_host* host, std::vector<agfx_memory_range>* out, std::string* err);

bool SameMemoryMap(const std::vector<agfx_memory_range>& a, const std::vector<agfx_memory_range>& b);

// A static map that PVG keeps using after it is handed over: the host's
// snapshot (agfx_host.memory_map_acquire) holds a reference on every region,
// so each range stays mapped, even across a DMA_UNMAP, until Release() or
// destruction (memory_map_release). Hold one for as long as a PGDevice or
// IOSurface host device was created with (or reset to) these ranges.
// A host without memory_map_acquire (struct_size too small) gets the plain,
// unreferenced memory_map: pinned() is false then and the caller should say so.
// Not thread-safe itself; Release() may run on any thread.
class PinnedMemoryMap {
 public:
  PinnedMemoryMap() = default;
  ~PinnedMemoryMap() { Release(); }
  PinnedMemoryMap(const PinnedMemoryMap&) = delete;
  PinnedMemoryMap& operator=(const PinnedMemoryMap&) = delete;

  // Replaces whatever this held. Retries while the table grows; releases its
  // snapshot again if the ranges are unusable (BuildMemoryMap). False with
  // *err on failure, holding nothing.
  bool Acquire(const agfx_host* host, std::string* err);
  void Release();
  const std::vector<agfx_memory_range>& ranges() const { return ranges_; }
  bool pinned() const { return token_ != nullptr; }

 private:
  void (*release_)(void*, void*) = nullptr;  // copied: valid without the host struct
  void* opaque_ = nullptr;
  void* token_ = nullptr;
  std::vector<agfx_memory_range> ranges_;
};

}  // namespace agfx::pvg

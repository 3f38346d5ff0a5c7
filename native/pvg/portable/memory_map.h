// The static guest-memory map for PGMemoryMapDescriptor (macOS 15.4+): built
// from the host's snapshot (agfx_host.memory_map), one range per shared
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

}  // namespace agfx::pvg

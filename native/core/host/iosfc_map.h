// IOSFC mappings: host addresses aliasing guest RAM for the IOSurface mapper.
// A mapping is arithmetic on the guest-memory table plus a reference on the
// region (no syscall per mapping, docs/design.md invariant 6): the region's one
// mmap stays alive while any mapping into it does, even after DMA_UNMAP.
//
// Threading: any backend thread; one mutex around the record table, never
// held while calling out.
#pragma once
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "core/guest_memory.h"

namespace agfx {

class IosfcMappings {
 public:
  static IosfcMappings& Instance();
  void* Map(uint64_t gpa, uint64_t len, bool read_only);
  // False for an address that no live mapping returned.
  bool Unmap(void* host);
  size_t ReleaseAll();
  size_t Live();

 private:
  struct Entry {
    RegionRef region;
    uint32_t count;
  };
  std::mutex mu_;
  std::unordered_map<void*, Entry> live_;
};

}  // namespace agfx

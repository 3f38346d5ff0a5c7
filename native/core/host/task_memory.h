// PVG tasks: contiguous host address ranges into which guest RAM is aliased.
//
// A task is an mmap(PROT_NONE) reservation. map_memory places each guest
// range with mmap(MAP_SHARED|MAP_FIXED) of the DMA region's fd at its exact
// offset (the Linux twin of mach_vm_remap); unmap_memory maps fresh
// inaccessible pages over it, keeping the reservation. MAP_FIXED only ever
// targets addresses inside a task's own reservation.
//
// Threading: called from backend threads (possibly several at once) and, for
// invalidation after DMA_UNMAP, from the JS thread. One mutex guards the task
// list and mapping records; it is never held while calling out of this file,
// so no backend callback can wait for the JS thread here.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "agfx_backend.h"

struct agfx_task {
  uint8_t* base;
  uint64_t size;
  struct Alias {
    uint64_t offset, len, gpa;
  };
  std::map<uint64_t, Alias> aliases;  // by task offset; guarded by TaskMemory::mu_
};

namespace agfx {

class TaskMemory {
 public:
  static TaskMemory& Instance();

  agfx_task* Create(uint64_t vm_size, void** base);
  void Destroy(agfx_task* task);
  bool Map(agfx_task* task, uint64_t offset, const agfx_phys_range* ranges, uint32_t count, bool read_only);
  bool Unmap(agfx_task* task, uint64_t offset, uint64_t length);
  // DMA_UNMAP of [gpa, gpa+len): every alias of it becomes inaccessible.
  size_t InvalidateGuestRange(uint64_t gpa, uint64_t len);
  void DestroyAll();

  struct Stats {
    uint64_t tasks, aliases, maps, unmaps, failures;
  };
  Stats GetStats();

 private:
  bool Known(agfx_task* task) const { return tasks_.count(task) != 0; }
  static void Inaccessible(uint8_t* at, uint64_t len);
  static void DropAliases(agfx_task* task, uint64_t offset, uint64_t len);

  std::mutex mu_;
  std::unordered_set<agfx_task*> tasks_;
  uint64_t maps_ = 0, unmaps_ = 0, failures_ = 0;
};

}  // namespace agfx

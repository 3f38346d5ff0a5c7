// PVG tasks: contiguous host address ranges into which guest RAM is aliased.
//
// A task is an address-space reservation. map_memory places each guest
// range with mmap(MAP_FIXED) of the DMA region's fd at its exact offset (the
// POSIX twin of mach_vm_remap); unmap_memory puts fresh pages over it,
// keeping the reservation. MAP_FIXED only ever targets addresses inside a
// task's own reservation; every mmap result is checked. Pages are the
// system's (16 KiB on arm64 macOS); the size is bounded by the address
// space only (MAP_NORESERVE), as QEMU's mach_vm_allocate.
//
// Two kinds of task (pvg-on-a-mac.md finding 9):
//  - zero-fill (create_task_zero_fill, what the pvg backend asks for), as
//    QEMU's apple-gfx: the reservation and every hole are read-write
//    zero-fill memory, so a GPU-like touch of a hole reads zeros instead of
//    killing the daemon; a read-only alias of read-only guest RAM is a
//    private copy-on-write mapping, so a stray write lands in the daemon's
//    copy, not in guest RAM and not in a fault; of writable guest RAM it
//    stays writable (QEMU's remap keeps write access).
//  - strict (create_task, the soft device's contract): holes are PROT_NONE
//    and read-only aliases PROT_READ, so the soft device can report
//    NOT_MAPPED through its fault-safe reads.
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
  bool zero_fill;  // see the file comment
  struct Alias {
    uint64_t offset, len, gpa;
  };
  std::map<uint64_t, Alias> aliases;  // by task offset; guarded by TaskMemory::mu_
};

namespace agfx {

class TaskMemory {
 public:
  static TaskMemory& Instance();

  agfx_task* Create(uint64_t vm_size, void** base, bool zero_fill = false);
  static uint64_t PageSize();
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
  // Fresh pages over [at, at+len) of `task`: zero-fill or inaccessible.
  static bool Hole(const agfx_task* task, uint8_t* at, uint64_t len);
  static void DropAliases(agfx_task* task, uint64_t offset, uint64_t len);

  std::mutex mu_;
  std::unordered_set<agfx_task*> tasks_;
  uint64_t maps_ = 0, unmaps_ = 0, failures_ = 0;
};

}  // namespace agfx

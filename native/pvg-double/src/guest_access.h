// How the PVG double's device reaches guest memory: only the way PVG does.
//  - task model: the client's createTask/mapMemory/unmapMemory/destroyTask
//    blocks (the soft command logic's tasks become PVG tasks), readMemory for
//    ring and list fetches, and for the few writes PVG makes to guest memory
//    (command status) a task of the device's own with the page mapped.
//  - static model: the PGMemoryMapDescriptor's ranges (guest-physical ->
//    host pointer), read and written in place.
// Every copy through a host pointer is fault-safe (process_vm_readv/writev):
// a page the client left inaccessible fails the copy and is reported, where
// real PVG (a GPU, or a sandboxed process) would fault.
#pragma once
#include <cstdint>
#import <Foundation/Foundation.h>
#import <ParavirtualizedGraphics/ParavirtualizedGraphics.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "agfx_backend.h"
#include "pg_api.h"

namespace pvgdouble {

struct TaskBlocks {
  PGCreateTask create = nullptr;  // Block_copy'd, released by ~GuestAccess
  PGDestroyTask destroy = nullptr;
  PGMapMemory map = nullptr;
  PGUnmapMemory unmap = nullptr;
  PGReadMemory read = nullptr;
};

bool SafeRead(const void* src, void* dst, size_t len);
bool SafeWrite(void* dst, const void* src, size_t len);

class GuestAccess {
 public:
  // Task model when `map` is null.
  GuestAccess(const TaskBlocks& blocks, const std::vector<PGGuestPhysicalRange_s>* map);
  ~GuestAccess();
  bool static_map() const { return static_map_; }

  agfx_task* CreateTask(uint64_t size, void** base);
  void DestroyTask(agfx_task* t);
  bool MapMemory(agfx_task* t, uint64_t off, const agfx_phys_range* ranges, uint32_t n, bool ro);
  bool UnmapMemory(agfx_task* t, uint64_t off, uint64_t len);
  bool Read(uint64_t gpa, uint64_t len, void* dst);
  bool Write(uint64_t gpa, uint64_t len, const void* src);
  uint32_t Ranges(agfx_memory_range* out, uint32_t max);
  void ReplaceMap(const std::vector<PGGuestPhysicalRange_s>& map);
  // Drops the device's own write task (reset, teardown).
  void DropOwnTask();
  // Touch every range of the static map (touch-map hazard); false + report if one is gone.
  void TouchMap();

 private:
  struct TaskRec {
    uint8_t* base = nullptr;
    uint64_t size = 0;
    std::map<uint64_t, std::pair<uint64_t, bool>> aliases;  // offset -> (len, read-only)
  };
  void ScanTask(PGTask_t* t);  // gpu-whole-task hazard
  uint8_t* StaticHost(uint64_t gpa, uint64_t len);
  bool OwnTaskPage(uint64_t page, uint8_t** host);

  const bool static_map_;
  TaskBlocks b_;
  std::mutex mu_;
  std::map<PGTask_t*, TaskRec> tasks_;
  std::vector<PGGuestPhysicalRange_s> map_;
  // The device's own task for status writes (task model).
  PGTask_t* own_ = nullptr;
  uint8_t* own_base_ = nullptr;
  std::map<uint64_t, uint64_t> own_pages_;  // guest page -> task offset
};

}  // namespace pvgdouble

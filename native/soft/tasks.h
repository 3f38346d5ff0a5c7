// The soft device's tasks (docs/soft-device.md TASK_*): guest address spaces
// with ids 1..AGFX_SOFT_MAX_TASKS-1 into which guest ranges are mapped. Task memory
// model: each is a host task (agfx_host create_task / map_memory); static
// memory model: the device translates through its copy of the host's
// guest-memory map instead (no host task, no syscall per mapping).
//
// Threading: the task table is the worker's while it runs commands, and
// Reset/Restore's/the destructor's once the worker is parked (device.h): no
// lock. The memory-map copy has its own leaf lock, map_mu_: the JS thread
// replaces it (memory_map_changed), the worker reads it (docs/design.md,
// "Threads and locks").
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "agfx_backend.h"
#include "agfx_soft.h"
#include "platform/platform.h"
#include "soft/state_io.h"

namespace agfx::soft {

struct Task {
  bool live = false;
  agfx_task* handle = nullptr;  // task memory model: the host's task
  uint8_t* base = nullptr;
  uint64_t size = 0;
  // Static memory model: task offset -> guest range, translated through the
  // host's memory map on every access (no host task, no per-mapping syscall).
  struct Alias {
    uint64_t len, gpa;
    bool read_only;
  };
  // Guest ranges mapped into the task, by task offset. In the static model
  // they are the translation itself; in the task model a record of what was
  // asked, so that a saved device state can map them again.
  std::map<uint64_t, Alias> aliases;
};

class Tasks {
 public:
  Tasks(const agfx_host& host, bool static_map) : host_(host), static_map_(static_map) {}

  // Static memory model: take a fresh copy of the host's guest-memory map.
  void MemoryMapChanged();

  // Ring commands (worker thread); each returns a Status.
  uint32_t Create(const uint64_t* a);
  uint32_t Destroy(const uint64_t* a);
  uint32_t Map(const uint64_t* a);
  uint32_t Unmap(const uint64_t* a);
  uint32_t Checksum(const uint64_t* a, uint32_t* result);

  // For display commands (worker thread).
  const Task* Find(uint64_t id) const { return id > 0 && id < AGFX_SOFT_MAX_TASKS && tasks_[id].live ? &tasks_[id] : nullptr; }
  static bool InTask(const Task* t, uint64_t off, uint64_t len) { return off <= t->size && len <= t->size - off; }
  // Reads task memory; false if any byte is not mapped. Never faults.
  bool Read(const Task* t, uint64_t off, uint8_t* dst, uint64_t len);
  bool Covered(const Task* t, uint64_t off, uint64_t len) const;
  // `rows` rows of `row_bytes` each, `stride` apart in the task, into packed
  // rows at dst.
  bool ReadRows(const Task* t, uint64_t off, uint64_t stride, uint32_t rows, size_t row_bytes, uint8_t* dst);

  // Destroys every task (worker parked).
  void ReleaseAll();
  // Tasks as guest-physical range lists, never host addresses.
  void Save(StateWriter& w) const;
  // Into a released table: tasks are created and their ranges mapped again.
  bool Load(StateReader& r, std::string* err);

 private:
  Task* FindLive(uint64_t id) { return id > 0 && id < AGFX_SOFT_MAX_TASKS && tasks_[id].live ? &tasks_[id] : nullptr; }
  // Host address of [gpa, gpa+len) in the static map, or null.
  const uint8_t* Translate(uint64_t gpa, uint64_t len);
  bool MapRanges(Task* t, uint64_t off, const std::vector<agfx_phys_range>& ranges, bool ro);
  static void DropAliases(Task* t, uint64_t off, uint64_t len);

  const agfx_host& host_;
  const bool static_map_;
  std::array<Task, AGFX_SOFT_MAX_TASKS> tasks_{};
  std::vector<platform::CopySpan> spans_;  // ReadRows' own, reused

  std::mutex map_mu_;  // memory_map_ only; a leaf: nothing is called with it held
  std::vector<agfx_memory_range> memory_map_;
};

}  // namespace agfx::soft

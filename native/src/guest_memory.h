// The guest-memory table: guest-physical ranges that the VMM shared with us
// (vfio-user DMA_MAP with an fd), each mmap'd once into the daemon.
//
// Threading: the JS thread adds and removes regions; backend threads look up
// and copy at any time. A shared_mutex lets lookups run in parallel and never
// wait for JS (DESIGN.md invariant 1): the JS thread holds the lock only for
// the table update itself, never across a callback.
#pragma once
#include <napi.h>

#include <cstdint>
#include <map>
#include <shared_mutex>
#include <vector>

namespace agfx {

struct GuestRegion {
  uint64_t gpa;
  uint64_t size;
  uint64_t fd_offset;
  uint8_t* host;
  int fd;          // kept open: tasks map guest ranges from it again
  bool writable;
};

class GuestMemory {
 public:
  static GuestMemory& Instance();

  // Return 0 or a positive errno.
  int Map(uint64_t gpa, uint64_t size, int fd, uint64_t fd_offset, bool writable);
  int Unmap(uint64_t gpa, uint64_t size);
  size_t UnmapAll();
  // Copies are bounds-checked against one region; false if not fully inside.
  bool Read(uint64_t gpa, void* dst, uint64_t len) const;
  bool Write(uint64_t gpa, const void* src, uint64_t len);
  std::vector<GuestRegion> Snapshot() const;

 private:
  const GuestRegion* FindLocked(uint64_t gpa, uint64_t len) const;
  mutable std::shared_mutex mu_;
  std::map<uint64_t, GuestRegion> regions_;  // keyed by gpa
};

void InitGuestMemory(Napi::Env env, Napi::Object exports);

}  // namespace agfx

// The guest-memory table: guest-physical ranges that the VMM shared with us
// (vfio-user DMA_MAP with an fd), each mmap'd once into the daemon.
//
// Threading: the JS thread adds and removes regions; backend threads look up
// and copy at any time. A shared_mutex lets lookups run in parallel and never
// wait for JS (docs/design.md invariant 1): the JS thread holds the lock only
// for the table update itself, never across a callback or a syscall (mmap
// before, munmap/close after); copies happen after the lookup let go.
//
// Lifetime: a region is reference-counted. DMA_UNMAP removes it from the
// table at once (nothing new can reach it), but an IOSFC mapping still
// holding it keeps the daemon's mmap alive until released, so a host pointer
// handed to a backend never dangles.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <vector>

namespace agfx {

struct GuestRegion {
  GuestRegion(uint64_t gpa, uint64_t size, uint64_t fd_offset, uint8_t* host, int fd, bool writable)
      : gpa(gpa), size(size), fd_offset(fd_offset), host(host), fd(fd), writable(writable) {}
  ~GuestRegion();
  GuestRegion(const GuestRegion&) = delete;
  GuestRegion& operator=(const GuestRegion&) = delete;

  const uint64_t gpa;
  const uint64_t size;
  const uint64_t fd_offset;
  uint8_t* const host;
  const int fd;  // kept open: tasks map guest ranges from it again
  const bool writable;

  bool Contains(uint64_t a, uint64_t len) const { return a >= gpa && a + len >= a && a + len <= gpa + size; }
};

using RegionRef = std::shared_ptr<const GuestRegion>;

class GuestMemory {
 public:
  static GuestMemory& Instance();

  // Return 0 or a positive errno.
  int Map(uint64_t gpa, uint64_t size, int fd, uint64_t fd_offset, bool writable);
  // `invalidated` (optional) receives how many task aliases of it were cut.
  int Unmap(uint64_t gpa, uint64_t size, size_t* invalidated = nullptr);
  size_t UnmapAll();
  // Copies are bounds-checked against one region; false if not fully inside.
  bool Read(uint64_t gpa, void* dst, uint64_t len) const;
  bool Write(uint64_t gpa, const void* src, uint64_t len) const;
  // The region holding all of [gpa, gpa+len), or null.
  RegionRef Find(uint64_t gpa, uint64_t len) const;
  std::vector<RegionRef> Snapshot() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<uint64_t, RegionRef> regions_;  // keyed by gpa
};

}  // namespace agfx

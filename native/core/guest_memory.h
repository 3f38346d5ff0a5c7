// The guest-memory table: guest-physical ranges that the VMM shared with us
// (vfio-user DMA_MAP with an fd), each mmap'd once into the daemon, and the
// ranges it announced without an fd (q35's ROM, flash and VGA BAR; all of
// RAM with a plain -m), which are recorded but never reachable.
//
// Threading: the JS thread adds and removes regions; backend threads look up
// and copy at any time. A shared_mutex lets lookups run in parallel and never
// wait for JS (docs/design.md invariant 1): the JS thread holds the lock only for
// the table update itself, never across a callback.
//
// Lifetime: a region is reference-counted. DMA_UNMAP removes it from the
// table at once (nothing new can reach it), but an IOSFC mapping still
// holding it keeps the daemon's mmap alive until released, so a host pointer
// handed to a backend never dangles.
#pragma once
#include <array>
#include <atomic>
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

// A range DMA_MAP'd without an fd. Reaching it would take DMA_READ/WRITE,
// which deadlocks when issued while a vCPU waits on us (docs/design.md
// invariant 3): it only takes part in overlap checks and in naming the
// range when a backend's use of it is refused.
struct UnreachableRange {
  explicit UnreachableRange(uint64_t size) : size(size) {}
  const uint64_t size;
  mutable std::atomic<uint64_t> refused{0};  // backend uses refused so far
};

// What NoteUnreachable found.
struct UnreachableHit {
  uint64_t gpa = 0, size = 0;
  bool first = false;  // the first refused use since the range was mapped
};

class GuestMemory {
 public:
  static GuestMemory& Instance();

  // Return 0 or a positive errno.
  int Map(uint64_t gpa, uint64_t size, int fd, uint64_t fd_offset, bool writable);
  // Records a range mapped without an fd (same checks and bound as Map).
  int MapUnreachable(uint64_t gpa, uint64_t size);
  // Removes either kind. `invalidated` (optional) receives how many task
  // aliases of it were cut; `refused` (optional) how many uses of an
  // unreachable range were refused (0 for a reachable one).
  int Unmap(uint64_t gpa, uint64_t size, size_t* invalidated = nullptr, uint64_t* refused = nullptr,
            bool* reachable = nullptr);
  size_t UnmapAll();  // both kinds; returns how many ranges went
  // After a failed lookup of [gpa, gpa+len): if it touches a range mapped
  // without an fd, counts one refused use of it and describes it in *hit.
  // Lock-free for the count; any thread (backend threads call it).
  bool NoteUnreachable(uint64_t gpa, uint64_t len, UnreachableHit* hit) const;
  // Unreachable ranges: gpa, size, refused uses.
  std::vector<std::array<uint64_t, 3>> UnreachableSnapshot() const;
  // Copies are bounds-checked against one region; false if not fully inside.
  bool Read(uint64_t gpa, void* dst, uint64_t len) const;
  bool Write(uint64_t gpa, const void* src, uint64_t len) const;
  // The region holding all of [gpa, gpa+len), or null.
  RegionRef Find(uint64_t gpa, uint64_t len) const;
  std::vector<RegionRef> Snapshot() const;

 private:
  bool OverlapsLocked(uint64_t gpa, uint64_t size) const;

  mutable std::shared_mutex mu_;
  std::map<uint64_t, RegionRef> regions_;             // keyed by gpa
  std::map<uint64_t, UnreachableRange> unreachable_;  // keyed by gpa; disjoint from regions_
};

}  // namespace agfx

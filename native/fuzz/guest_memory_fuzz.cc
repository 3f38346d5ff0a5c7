// libFuzzer harness for the guest-memory table (core/guest_memory.cc), with
// the task aliases (core/host/task_memory.cc) and IOSFC references
// (core/host/iosfc_map.cc) that hang off it. Real memfds, real mmaps.
//
// Random map / unmap / read / write / find / task map / task unmap / IOSFC
// map / unmap sequences run against a shadow model:
//  - Map succeeds exactly when the range is page aligned, non-empty, does
//    not wrap, lies inside the file and overlaps no region of either kind;
//    MapUnreachable (a DMA_MAP without an fd) likewise, minus the file;
//    Unmap exactly when it names a region of either kind;
//  - a failed Read is reported by NoteUnreachable exactly when it touches a
//    range mapped without an fd, and only the first time per range;
//  - Read/Write/Find succeed exactly when the range lies inside one region
//    (Write: a writable one) and see the file's bytes;
//  - a task page reads (never faulting, process_vm_readv) the file bytes it
//    was aliased to, and nothing once its guest region is unmapped;
//  - an IOSFC pointer stays readable after DMA unmap until released;
//  - at the end UnmapAll + releasing everything closes every fd the table
//    took.
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <vector>

#include "core/guest_memory.h"
#include "core/host/iosfc_map.h"
#include "core/host/task_memory.h"
#include "platform/platform.h"

using namespace agfx;

#define CHECK(cond)                                                                         \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "guest_memory_fuzz: check failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kFilePages = 16;
constexpr uint64_t kGpaPages = 48;
constexpr uint64_t kTaskPages = 8;

struct MRegion {
  uint64_t size, fd_off;
  bool writable;
};

// The platform's fault-safe copy (process_vm_readv on Linux): an
// inaccessible page fails the read instead of faulting.
bool SafeRead(const void* src, void* dst, size_t len) { return agfx::platform::SafeRead(dst, src, len); }

uint64_t PickAddr(FuzzedDataProvider& in, uint64_t pages) {
  switch (in.ConsumeIntegralInRange<int>(0, 9)) {
    case 0: return in.ConsumeIntegral<uint64_t>();                       // anything
    case 1: return ~0ull - kPage * in.ConsumeIntegralInRange<uint64_t>(0, 3) + 1;  // wraps
    case 2: return in.ConsumeIntegralInRange<uint64_t>(0, pages * kPage);  // unaligned
    default: return kPage * in.ConsumeIntegralInRange<uint64_t>(0, pages);
  }
}

uint64_t PickLen(FuzzedDataProvider& in, uint64_t pages) {
  switch (in.ConsumeIntegralInRange<int>(0, 9)) {
    case 0: return in.ConsumeIntegral<uint64_t>();
    case 1: return in.ConsumeIntegralInRange<uint64_t>(0, pages * kPage);
    default: return kPage * in.ConsumeIntegralInRange<uint64_t>(0, pages);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  GuestMemory& gm = GuestMemory::Instance();
  TaskMemory& tm = TaskMemory::Instance();
  IosfcMappings& io = IosfcMappings::Instance();

  int memfd = agfx::platform::CreateSharedMemory("gm-fuzz", kFilePages * kPage);
  CHECK(memfd >= 0);
  std::vector<uint8_t> file(kFilePages * kPage, 0);  // shadow of the memfd
  std::map<uint64_t, MRegion> regions;                // shadow of the table
  std::map<uint64_t, std::pair<uint64_t, bool>> unreach;  // gpa -> size, reported yet
  std::vector<int> taken_fds;                         // fds the table owns

  struct MTask {
    agfx_task* handle;
    uint8_t* base;
    std::vector<int64_t> page_file_off;  // -1: not readable
    std::vector<uint64_t> page_gpa;
  };
  std::vector<MTask> tasks;
  struct MIo {
    void* host;
    uint64_t len, file_off;
  };
  std::vector<MIo> iosfc;

  auto find = [&](uint64_t gpa, uint64_t len) -> const std::pair<const uint64_t, MRegion>* {
    if (gpa + len < gpa) return nullptr;
    // The region with the highest start <= gpa (matters for len 0 at a border).
    const std::pair<const uint64_t, MRegion>* hit = nullptr;
    for (auto& kv : regions)
      if (kv.first <= gpa) hit = &kv;
    if (hit && gpa + len <= hit->first + hit->second.size) return hit;
    return nullptr;
  };

  int ops = 0;
  while (in.remaining_bytes() > 0 && ops++ < 200) {
    switch (in.ConsumeIntegralInRange<int>(0, 9)) {
      case 0:
      case 1: {  // Map
        uint64_t gpa = PickAddr(in, kGpaPages), len = PickLen(in, kFilePages + 2);
        uint64_t off = PickAddr(in, kFilePages);
        bool writable = in.ConsumeBool();
        int fd = ::fcntl(memfd, F_DUPFD_CLOEXEC, 0);
        CHECK(fd >= 0);
        bool with_fd = in.ConsumeIntegralInRange<int>(0, 3) != 0;
        if (!with_fd) off = 0;
        int expect = 0;
        if (len == 0 || (gpa | len | off) % kPage) expect = EINVAL;
        else if (gpa + len < gpa || off + len < off) expect = EINVAL;
        else if (with_fd && off + len > file.size()) expect = EINVAL;
        else {
          for (auto& [g, r] : regions)
            if (g < gpa + len && gpa < g + r.size) expect = EEXIST;
          for (auto& [g, u] : unreach)
            if (g < gpa + len && gpa < g + u.first) expect = EEXIST;
        }
        int err = with_fd ? gm.Map(gpa, len, fd, off, writable) : gm.MapUnreachable(gpa, len);
        CHECK(err == expect);
        if (err == 0 && with_fd) {
          regions[gpa] = MRegion{len, off, writable};
          taken_fds.push_back(fd);
        } else {
          if (err == 0) unreach[gpa] = {len, false};
          ::close(fd);
        }
        break;
      }
      case 2: {  // Unmap (usually of an existing region)
        uint64_t gpa, len;
        if (!regions.empty() && in.ConsumeBool()) {
          auto it = regions.begin();
          std::advance(it, in.ConsumeIntegralInRange<size_t>(0, regions.size() - 1));
          gpa = it->first;
          len = in.ConsumeBool() ? it->second.size : PickLen(in, kFilePages);
        } else {
          gpa = PickAddr(in, kGpaPages);
          len = PickLen(in, kFilePages);
        }
        auto u = unreach.find(gpa);
        if (u != unreach.end()) {  // a range without an fd: nothing reached it
          bool exact = u->second.first == len;
          CHECK((gm.Unmap(gpa, len) == 0) == exact);
          if (exact) unreach.erase(u);
          break;
        }
        auto it = regions.find(gpa);
        bool expect = it != regions.end() && it->second.size == len;
        CHECK((gm.Unmap(gpa, len) == 0) == expect);
        if (expect) {
          regions.erase(it);
          for (auto& t : tasks)
            for (size_t p = 0; p < kTaskPages; ++p)
              if (t.page_file_off[p] >= 0 && t.page_gpa[p] >= gpa && t.page_gpa[p] < gpa + len)
                t.page_file_off[p] = -1;
        }
        break;
      }
      case 3: {  // Read + Find
        uint64_t gpa = PickAddr(in, kGpaPages) + in.ConsumeIntegralInRange<uint64_t>(0, 64);
        uint64_t len = in.ConsumeIntegralInRange<uint64_t>(0, 3 * kPage);
        auto* r = find(gpa, len);
        // +1: never a null buffer, even for len 0 (see docs/security.md,
        // memcpy(NULL, p, 0) in GuestMemory::Read/Write).
        std::vector<uint8_t> buf(len + 1);
        bool ok = gm.Read(gpa, buf.data(), len);
        CHECK(ok == (r != nullptr));
        RegionRef found = gm.Find(gpa, len);
        CHECK((found != nullptr) == (r != nullptr));
        if (!ok) {  // named when it touches a range mapped without an fd, once per range
          uint64_t end = gpa + (len ? len : 1);
          if (end < gpa) end = UINT64_MAX;
          decltype(unreach)::iterator hit = unreach.end();
          for (auto it = unreach.begin(); it != unreach.end() && hit == unreach.end(); ++it)
            if (it->first < end && gpa < it->first + it->second.first) hit = it;
          UnreachableHit h;
          CHECK(gm.NoteUnreachable(gpa, len, &h) == (hit != unreach.end()));
          if (hit != unreach.end()) {
            CHECK(h.gpa == hit->first && h.size == hit->second.first && h.first == !hit->second.second);
            hit->second.second = true;
          }
        }
        if (r) {
          CHECK(found->gpa == r->first && found->size == r->second.size);
          uint64_t foff = r->second.fd_off + (gpa - r->first);
          CHECK(std::memcmp(buf.data(), file.data() + foff, len) == 0);
        }
        break;
      }
      case 4: {  // Write
        uint64_t gpa = PickAddr(in, kGpaPages) + in.ConsumeIntegralInRange<uint64_t>(0, 64);
        uint64_t len = in.ConsumeIntegralInRange<uint64_t>(0, 2 * kPage);
        std::vector<uint8_t> buf(len + 1, in.ConsumeIntegral<uint8_t>());
        auto* r = find(gpa, len);
        bool expect = r && r->second.writable;
        CHECK(gm.Write(gpa, buf.data(), len) == expect);
        if (expect) std::memcpy(file.data() + r->second.fd_off + (gpa - r->first), buf.data(), len);
        break;
      }
      case 5: {  // task create
        if (tasks.size() >= 4) break;
        void* base = nullptr;
        agfx_task* t = tm.Create(kTaskPages * kPage, &base);
        CHECK(t && base);
        tasks.push_back(MTask{t, static_cast<uint8_t*>(base), std::vector<int64_t>(kTaskPages, -1),
                              std::vector<uint64_t>(kTaskPages, 0)});
        break;
      }
      case 6: {  // task map
        if (tasks.empty()) break;
        MTask& t = tasks[in.ConsumeIntegralInRange<size_t>(0, tasks.size() - 1)];
        uint64_t off = PickAddr(in, kTaskPages);
        bool ro = in.ConsumeBool();
        uint32_t n = in.ConsumeIntegralInRange<uint32_t>(1, 3);
        std::vector<agfx_phys_range> ranges(n);
        for (auto& r : ranges) r = {PickAddr(in, kGpaPages), PickLen(in, 4)};
        bool expect = true;
        uint64_t o = off;
        for (auto& rg : ranges) {
          bool fits = rg.len > 0 && (rg.gpa | rg.len | o) % kPage == 0 && o <= kTaskPages * kPage &&
                      rg.len <= kTaskPages * kPage - o;
          if (!fits) {
            expect = false;
            o += rg.len;
            continue;
          }
          for (uint64_t d = 0; d < rg.len; d += kPage) {
            auto* r = find(rg.gpa + d, 1);
            if (!r || (!ro && !r->second.writable)) {
              expect = false;
              break;
            }
            size_t p = (o + d) / kPage;
            t.page_file_off[p] = int64_t(r->second.fd_off + (rg.gpa + d - r->first));
            t.page_gpa[p] = rg.gpa + d;
          }
          o += rg.len;
        }
        CHECK(tm.Map(t.handle, off, ranges.data(), n, ro) == expect);
        break;
      }
      case 7: {  // task unmap + read every task page
        if (tasks.empty()) break;
        MTask& t = tasks[in.ConsumeIntegralInRange<size_t>(0, tasks.size() - 1)];
        if (in.ConsumeBool()) {
          uint64_t off = PickAddr(in, kTaskPages), len = PickLen(in, kTaskPages);
          bool expect = len > 0 && (off | len) % kPage == 0 && off <= kTaskPages * kPage &&
                        len <= kTaskPages * kPage - off;
          CHECK(tm.Unmap(t.handle, off, len) == expect);
          if (expect)
            for (uint64_t p = off / kPage; p < (off + len) / kPage; ++p) t.page_file_off[p] = -1;
        }
        std::vector<uint8_t> page(kPage);
        for (size_t p = 0; p < kTaskPages; ++p) {
          bool ok = SafeRead(t.base + p * kPage, page.data(), kPage);
          CHECK(ok == (t.page_file_off[p] >= 0));
          if (ok) CHECK(std::memcmp(page.data(), file.data() + t.page_file_off[p], kPage) == 0);
        }
        break;
      }
      case 8: {  // IOSFC map
        uint64_t gpa = PickAddr(in, kGpaPages) + in.ConsumeIntegralInRange<uint64_t>(0, 64);
        uint64_t len = in.ConsumeIntegralInRange<uint64_t>(0, 2 * kPage);
        bool ro = in.ConsumeBool();
        auto* r = find(gpa, len);
        bool expect = len > 0 && r && (ro || r->second.writable);
        void* host = io.Map(gpa, len, ro);
        CHECK((host != nullptr) == expect);
        if (host) iosfc.push_back(MIo{host, len, r->second.fd_off + (gpa - r->first)});
        break;
      }
      case 9: {  // IOSFC read through, then maybe unmap
        if (iosfc.empty()) {
          CHECK(!io.Unmap(reinterpret_cast<void*>(uintptr_t(PickAddr(in, 4)))) || false);
          break;
        }
        size_t i = in.ConsumeIntegralInRange<size_t>(0, iosfc.size() - 1);
        const MIo& m = iosfc[i];
        // Still mapped even if its DMA region is gone: plain access is fine.
        CHECK(std::memcmp(m.host, file.data() + m.file_off, m.len) == 0);
        if (in.ConsumeBool()) {
          CHECK(io.Unmap(m.host));
          iosfc.erase(iosfc.begin() + i);
        }
        break;
      }
    }
  }

  // Teardown as on disconnect: everything goes, every fd the table took closes.
  for (auto& m : iosfc) CHECK(io.Unmap(m.host));
  CHECK(io.Live() == 0);
  CHECK(gm.UnmapAll() == regions.size() + unreach.size());
  CHECK(gm.Snapshot().empty());
  CHECK(gm.UnreachableSnapshot().empty());
  for (auto& t : tasks) {
    std::vector<uint8_t> page(kPage);
    for (size_t p = 0; p < kTaskPages; ++p) CHECK(!SafeRead(t.base + p * kPage, page.data(), kPage));
    tm.Destroy(t.handle);
  }
  CHECK(tm.GetStats().tasks == 0);
  for (int fd : taken_fds) CHECK(::fcntl(fd, F_GETFD) == -1 && errno == EBADF);
  ::close(memfd);
  return 0;
}

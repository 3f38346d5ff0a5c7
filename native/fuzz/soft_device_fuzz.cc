// libFuzzer harness for the soft backend's register file, command ring and
// command parser (soft/).
//
// The backend is created against a fake agfx_host: read_memory/write_memory
// serve a fuzzer-controlled guest RAM buffer (bounds checked here, as the
// real host does), tasks are real PROT_NONE reservations whose map_memory
// copies guest bytes in (bounded: small tasks, few of them), iosfc_map hands
// out pointers into the guest buffer with a reference count, and the display
// events are counted. The input is a sequence of MMIO reads/writes, ring
// entry writes, raw guest-memory writes, display hot-plug and resets, in
// both variants and both memory models. Checks:
//  - no crash, no sanitizer report, no hang (the synchronous doorbell must
//    drain; the run is bounded);
//  - the device only raises vectors it has (1 for pci, 2 for mmio);
//  - iosfc_unmap only of live mappings, destroy_task only of live tasks;
//  - after destroy every task and every IOSFC mapping has been released;
//  - STATUS/HEAD/TAIL stay consistent (HEAD never passes TAIL).
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "agfx_backend.h"
#include "agfx_soft.h"
#include "soft/backend.h"

#define CHECK(cond)                                                                       \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "soft_device_fuzz: check failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kGuestBase = 0x40000;
constexpr uint64_t kGuestSize = 256 * 1024;  // a whole 4096-entry ring fits
constexpr uint64_t kMaxFakeTask = 1 << 20;
constexpr size_t kMaxFakeTasks = 8;

struct FakeHost {
  std::mutex mu;
  std::vector<uint8_t> ram = std::vector<uint8_t>(kGuestSize);
  uint32_t vectors = 1;
  std::map<agfx_task*, std::pair<uint8_t*, uint64_t>> tasks;
  std::map<void*, uint32_t> iosfc;  // host pointer -> references
  std::atomic<uint64_t> irqs{0}, frames{0}, errors{0};

  bool InRam(uint64_t gpa, uint64_t len) const {
    return gpa >= kGuestBase && len <= kGuestSize && gpa - kGuestBase <= kGuestSize - len;
  }
};

FakeHost* H(void* o) { return static_cast<FakeHost*>(o); }

agfx_task* CreateTask(void* o, uint64_t vm_size, void** base) {
  FakeHost* h = H(o);
  std::lock_guard lock(h->mu);
  if (vm_size == 0 || vm_size > kMaxFakeTask || h->tasks.size() >= kMaxFakeTasks) return nullptr;
  uint64_t size = (vm_size + kPage - 1) & ~(kPage - 1);
  void* p = ::mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* t = reinterpret_cast<agfx_task*>(new char);  // opaque token
  h->tasks[t] = {static_cast<uint8_t*>(p), size};
  *base = p;
  return t;
}

void DestroyTask(void* o, agfx_task* t) {
  FakeHost* h = H(o);
  std::lock_guard lock(h->mu);
  auto it = h->tasks.find(t);
  CHECK(it != h->tasks.end());  // never a task the host did not hand out
  ::munmap(it->second.first, it->second.second);
  h->tasks.erase(it);
  delete reinterpret_cast<char*>(t);
}

bool MapMemory(void* o, agfx_task* t, uint64_t off, const agfx_phys_range* r, uint32_t n, bool ro) {
  FakeHost* h = H(o);
  std::lock_guard lock(h->mu);
  auto it = h->tasks.find(t);
  CHECK(it != h->tasks.end());
  uint8_t* base = it->second.first;
  uint64_t size = it->second.second;
  bool ok = true;
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t gpa = r[i].gpa, len = r[i].len;
    if (len == 0 || (gpa | len | off) % kPage || off > size || len > size - off || !h->InRam(gpa, len)) {
      ok = false;
    } else {
      // A snapshot instead of an alias: enough to exercise the reader.
      CHECK(::mprotect(base + off, len, PROT_READ | PROT_WRITE) == 0);
      std::memcpy(base + off, h->ram.data() + (gpa - kGuestBase), len);
      if (ro) ::mprotect(base + off, len, PROT_READ);
    }
    off += len;
  }
  return ok;
}

bool UnmapMemory(void* o, agfx_task* t, uint64_t off, uint64_t len) {
  FakeHost* h = H(o);
  std::lock_guard lock(h->mu);
  auto it = h->tasks.find(t);
  CHECK(it != h->tasks.end());
  if (len == 0 || (off | len) % kPage || off > it->second.second || len > it->second.second - off) return false;
  ::mmap(it->second.first + off, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  return true;
}

bool ReadMemory(void* o, uint64_t gpa, uint64_t len, void* dst) {
  FakeHost* h = H(o);
  std::lock_guard lock(h->mu);
  if (!h->InRam(gpa, len)) return false;
  std::memcpy(dst, h->ram.data() + (gpa - kGuestBase), len);
  return true;
}

bool WriteMemory(void* o, uint64_t gpa, uint64_t len, const void* src) {
  FakeHost* h = H(o);
  std::lock_guard lock(h->mu);
  if (!h->InRam(gpa, len)) return false;
  std::memcpy(h->ram.data() + (gpa - kGuestBase), src, len);
  return true;
}

uint32_t MemoryMap(void* o, agfx_memory_range* out, uint32_t max) {
  FakeHost* h = H(o);
  if (max >= 1) out[0] = agfx_memory_range{kGuestBase, kGuestSize, h->ram.data()};
  return 1;
}

void RaiseInterrupt(void* o, uint32_t v) {
  CHECK(v < H(o)->vectors);
  ++H(o)->irqs;
}

void* IosfcMap(void* o, uint64_t gpa, uint64_t len, bool ro) {
  FakeHost* h = H(o);
  std::lock_guard lock(h->mu);
  if (len == 0 || !h->InRam(gpa, len)) return nullptr;
  void* p = h->ram.data() + (gpa - kGuestBase);
  ++h->iosfc[p];
  return p;
}

bool IosfcUnmap(void* o, void* host) {
  FakeHost* h = H(o);
  std::lock_guard lock(h->mu);
  auto it = h->iosfc.find(host);
  CHECK(it != h->iosfc.end());  // the device only releases what it mapped
  if (--it->second == 0) h->iosfc.erase(it);
  return true;
}

void NewFrame(void* o, uint32_t port) {
  CHECK(port < AGFX_SOFT_PORTS);
  ++H(o)->frames;
}
void ModeChanged(void*, uint32_t port, uint32_t w, uint32_t h, uint32_t) { CHECK(port < AGFX_SOFT_PORTS); }
void CursorGlyph(void*, uint32_t port, const uint8_t* px, uint32_t w, uint32_t h, uint32_t stride, uint32_t, uint32_t) {
  CHECK(port < AGFX_SOFT_PORTS && w > 0 && h > 0 && w <= AGFX_SOFT_MAX_GLYPH && h <= AGFX_SOFT_MAX_GLYPH && stride >= w * 4);
  volatile uint8_t sink = px[size_t(h - 1) * stride + w * 4 - 1];  // ASan checks the extent
  (void)sink;
}
void CursorShow(void*, uint32_t port, bool) { CHECK(port < AGFX_SOFT_PORTS); }
void CursorMoved(void*, uint32_t port, uint32_t, uint32_t) { CHECK(port < AGFX_SOFT_PORTS); }
void GuestErrorCb(void* o, const char* msg) {
  CHECK(msg != nullptr);
  (void)std::strlen(msg);
  ++H(o)->errors;
}

const uint32_t kRegs[] = {AGFX_SOFT_REG_ID,           AGFX_SOFT_REG_VERSION,      AGFX_SOFT_REG_SCRATCH,
                          AGFX_SOFT_REG_IRQ_TEST,     AGFX_SOFT_REG_STATUS,       AGFX_SOFT_REG_CONTROL,
                          AGFX_SOFT_REG_IRQ_STATUS,   AGFX_SOFT_REG_RING_BASE_LO, AGFX_SOFT_REG_RING_BASE_HI,
                          AGFX_SOFT_REG_RING_ENTRIES, AGFX_SOFT_REG_RING_HEAD,    AGFX_SOFT_REG_RING_TAIL,
                          AGFX_SOFT_REG_DOORBELL,     AGFX_SOFT_REG_FENCE_LO,     AGFX_SOFT_REG_FENCE_HI,
                          AGFX_SOFT_REG_COMPLETED,    AGFX_SOFT_REG_ERRORS,       AGFX_SOFT_REG_LAST_ERROR,
                          AGFX_SOFT_REG_DISPLAYS,     AGFX_SOFT_REG_PORT_SELECT,  AGFX_SOFT_REG_PORT_STATUS,
                          AGFX_SOFT_REG_PORT_GENERATION, AGFX_SOFT_REG_PORT_MODE_COUNT, AGFX_SOFT_REG_PORT_MODE_INDEX,
                          AGFX_SOFT_REG_PORT_MODE_SIZE, AGFX_SOFT_REG_PORT_MODE_RATE, AGFX_SOFT_REG_PORT_CURRENT,
                          AGFX_SOFT_REG_DISPLAY_CHANGED, AGFX_SOFT_REG_DISPLAY_IRQ};
const uint32_t kIoRegs[] = {AGFX_SOFT_IOSFC_GPA_LO,      AGFX_SOFT_IOSFC_GPA_HI,    AGFX_SOFT_IOSFC_LENGTH,
                            AGFX_SOFT_IOSFC_COMMAND,     AGFX_SOFT_IOSFC_HANDLE,    AGFX_SOFT_IOSFC_STATUS,
                            AGFX_SOFT_IOSFC_PEEK_OFFSET, AGFX_SOFT_IOSFC_PEEK_DATA, AGFX_SOFT_IOSFC_MAPPED};
constexpr size_t kRegCount = sizeof kRegs / sizeof kRegs[0];
constexpr size_t kIoRegCount = sizeof kIoRegs / sizeof kIoRegs[0];

uint64_t Arg(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: return in.ConsumeIntegral<uint64_t>();
    case 1: return kGuestBase + kPage * in.ConsumeIntegralInRange<uint64_t>(0, kGuestSize / kPage);
    case 2: return kGuestBase + in.ConsumeIntegralInRange<uint64_t>(0, kGuestSize);
    case 3: return kPage * in.ConsumeIntegralInRange<uint64_t>(0, 300);
    case 4: return ~0ull - in.ConsumeIntegralInRange<uint64_t>(0, 8192);
    case 5: return (uint64_t(in.ConsumeIntegralInRange<uint32_t>(1, 256)) << 16) | in.ConsumeIntegralInRange<uint32_t>(1, 256);
    default: return in.ConsumeIntegralInRange<uint64_t>(0, 70);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  FakeHost fake;
  std::vector<uint8_t> held_frames[AGFX_SOFT_PORTS];  // a viewer's copy of each display
  uint64_t held_versions[AGFX_SOFT_PORTS] = {};
  agfx_device_config cfg{sizeof cfg, 0, 0, AGFX_SOFT_PORTS};
  cfg.variant = in.ConsumeBool() ? AGFX_VARIANT_MMIO : AGFX_VARIANT_PCI;
  cfg.memory_model = in.ConsumeBool() ? AGFX_MEMORY_STATIC_MAP : AGFX_MEMORY_TASKS;
  fake.vectors = cfg.variant == AGFX_VARIANT_MMIO ? 2 : 1;
  agfx_host host{};
  host.struct_size = sizeof host;
  host.opaque = &fake;
  host.create_task = CreateTask;
  host.destroy_task = DestroyTask;
  host.map_memory = MapMemory;
  host.unmap_memory = UnmapMemory;
  host.read_memory = ReadMemory;
  host.write_memory = WriteMemory;
  host.memory_map = MemoryMap;
  host.raise_interrupt = RaiseInterrupt;
  host.iosfc_map = IosfcMap;
  host.iosfc_unmap = IosfcUnmap;
  host.new_frame = NewFrame;
  host.mode_changed = ModeChanged;
  host.cursor_glyph = CursorGlyph;
  host.cursor_show = CursorShow;
  host.cursor_moved = CursorMoved;
  host.guest_error = GuestErrorCb;

  const agfx_backend* be = agfx::SoftBackend();
  char err[128];
  agfx_device* dev = be->create(&cfg, &host, err, sizeof err);
  CHECK(dev != nullptr);

  auto rd = [&](uint32_t off) { return be->mmio_read(dev, AGFX_REGION_GFX, off); };
  auto wr = [&](uint32_t off, uint32_t v) { be->mmio_write(dev, AGFX_REGION_GFX, off, v); };

  int ops = 0;
  while (in.remaining_bytes() > 0 && ops++ < 64) {
    switch (in.ConsumeIntegralInRange<int>(0, 11)) {
      case 0: {  // any register write
        uint32_t off = in.ConsumeBool() ? kRegs[in.ConsumeIntegralInRange<size_t>(0, kRegCount - 1)] : in.ConsumeIntegral<uint32_t>();
        uint32_t v = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint32_t>(0, 8) : in.ConsumeIntegral<uint32_t>();
        if (off == AGFX_SOFT_REG_DOORBELL) v = AGFX_SOFT_DOORBELL_SYNC;  // asynchronous doorbells are case 5
        wr(off, v);
        break;
      }
      case 1: {  // any register read
        uint32_t off = in.ConsumeBool() ? kRegs[in.ConsumeIntegralInRange<size_t>(0, kRegCount - 1)] : in.ConsumeIntegral<uint32_t>();
        uint32_t v = rd(off);
        // The display port registers stay inside what they describe (docs/soft-device.md).
        if (off == AGFX_SOFT_REG_PORT_SELECT) CHECK(v < AGFX_SOFT_PORTS);
        if (off == AGFX_SOFT_REG_PORT_MODE_COUNT) CHECK(v <= AGFX_MAX_MODES);
        if (off == AGFX_SOFT_REG_PORT_MODE_INDEX) CHECK(v < AGFX_MAX_MODES);
        if (off == AGFX_SOFT_REG_DISPLAY_CHANGED) CHECK((v >> AGFX_SOFT_PORTS) == 0);
        break;
      }
      case 2: {  // configure a ring inside (usually) guest RAM
        uint64_t base = in.ConsumeBool() ? kGuestBase + kPage * in.ConsumeIntegralInRange<uint64_t>(0, 63) : Arg(in);
        wr(AGFX_SOFT_REG_RING_BASE_LO, uint32_t(base));
        wr(AGFX_SOFT_REG_RING_BASE_HI, uint32_t(base >> 32));
        uint32_t entries = in.ConsumeBool() ? 1u << in.ConsumeIntegralInRange<int>(0, 12) : in.ConsumeIntegral<uint32_t>();
        wr(AGFX_SOFT_REG_RING_ENTRIES, entries);
        break;
      }
      case 3: {  // write a ring entry (opcode and arguments)
        uint32_t idx = in.ConsumeIntegralInRange<uint32_t>(0, 63);
        uint64_t base = uint64_t(rd(AGFX_SOFT_REG_RING_BASE_HI)) << 32 | rd(AGFX_SOFT_REG_RING_BASE_LO);
        uint32_t entries = rd(AGFX_SOFT_REG_RING_ENTRIES);
        agfx_soft_entry e{};
        e.opcode = in.ConsumeIntegralInRange<uint32_t>(0, AGFX_SOFT_OP_COPY_RECT + 1);  // one past the last
        for (uint64_t& a : e.a) a = Arg(in);
        if (entries) {
          uint64_t gpa = base + uint64_t(idx % entries) * sizeof e;
          WriteMemory(&fake, gpa, sizeof e, &e);
        }
        break;
      }
      case 4: {  // produce and ring synchronously
        uint32_t head = rd(AGFX_SOFT_REG_RING_HEAD);
        uint32_t n = in.ConsumeIntegralInRange<uint32_t>(0, 9);
        if (n == 9) n = in.ConsumeIntegral<uint32_t>();  // bad tail
        wr(AGFX_SOFT_REG_RING_TAIL, head + n);
        wr(AGFX_SOFT_REG_DOORBELL, AGFX_SOFT_DOORBELL_SYNC);
        // A synchronous doorbell returns with the ring drained, or halted.
        uint32_t status = rd(AGFX_SOFT_REG_STATUS);
        if ((status & AGFX_SOFT_STATUS_RING_READY) && !(status & AGFX_SOFT_STATUS_HALTED))
          CHECK(rd(AGFX_SOFT_REG_RING_HEAD) == rd(AGFX_SOFT_REG_RING_TAIL));
        break;
      }
      case 5: {  // asynchronous doorbell: races with what follows
        wr(AGFX_SOFT_REG_DOORBELL, AGFX_SOFT_DOORBELL_ASYNC);
        break;
      }
      case 6: {  // raw guest memory (range tables, pixels)
        uint64_t at = in.ConsumeIntegralInRange<uint64_t>(0, kGuestSize - 1);
        auto bytes = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 256));
        std::lock_guard lock(fake.mu);
        size_t n = std::min<size_t>(bytes.size(), kGuestSize - at);
        if (n) std::memcpy(fake.ram.data() + at, bytes.data(), n);
        break;
      }
      case 7: {  // IOSFC register access
        uint32_t off = in.ConsumeBool() ? kIoRegs[in.ConsumeIntegralInRange<size_t>(0, kIoRegCount - 1)] : in.ConsumeIntegral<uint32_t>();
        if (in.ConsumeBool()) {
          uint32_t v;
          if (off == AGFX_SOFT_IOSFC_GPA_LO) v = uint32_t(Arg(in));
          else v = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint32_t>(0, 8192) : in.ConsumeIntegral<uint32_t>();
          be->mmio_write(dev, AGFX_REGION_IOSFC, off, v);
        } else {
          (void)be->mmio_read(dev, AGFX_REGION_IOSFC, off);
        }
        break;
      }
      case 8: {  // display hot-plug
        uint32_t port = in.ConsumeIntegralInRange<uint32_t>(0, AGFX_SOFT_PORTS);
        uint32_t n = in.ConsumeIntegralInRange<uint32_t>(0, 3);
        agfx_display_mode modes[3];
        for (uint32_t i = 0; i < n; ++i)
          modes[i] = agfx_display_mode{uint16_t(in.ConsumeIntegralInRange<int>(0, 64)),
                                       uint16_t(in.ConsumeIntegralInRange<int>(0, 48)), 60000};
        switch (in.ConsumeIntegralInRange<int>(0, 2)) {
          case 0: be->attach_display(dev, port, 1, "fuzz", modes, n); break;
          case 1: be->set_modes(dev, port, modes, n); break;
          default: be->detach_display(dev, port); break;
        }
        break;
      }
      case 9: {  // frame and cursor queries
        uint32_t port = in.ConsumeIntegralInRange<uint32_t>(0, AGFX_SOFT_PORTS);
        agfx_frame_info info{};
        if (be->read_frame(dev, port, nullptr, 0, &info)) {
          CHECK(info.stride == info.width * 4);
          std::vector<uint8_t> px(size_t(info.stride) * info.height);
          agfx_frame_info again{};
          if (be->read_frame(dev, port, px.data(), px.size(), &again) && again.height == info.height &&
              again.width == info.width)
            CHECK(again.sequence >= info.sequence);
        }
        uint32_t x, y;
        (void)be->cursor_position(dev, port, &x, &y);
        // A viewer's buffer brought forward from the version it holds (or a
        // made-up one): what it is told stays inside the frame.
        if (port < AGFX_SOFT_PORTS && be->read_frame(dev, port, nullptr, 0, &info)) {
          std::vector<uint8_t>& held = held_frames[port];
          uint64_t& version = held_versions[port];
          if (held.size() != size_t(info.width) * info.height * 4) {
            held.assign(size_t(info.width) * info.height * 4, 0);
            version = 0;
          }
          agfx_frame_update u{};
          u.struct_size = sizeof u;
          u.since = in.ConsumeBool() ? version : in.ConsumeIntegral<uint64_t>();
          agfx_frame_info now{};
          if (be->update_frame(dev, port, held.data(), held.size(), &now, &u) && now.width == info.width && now.height == info.height) {
            CHECK(u.damage_count <= AGFX_MAX_DAMAGE);
            auto inside = [&](const agfx_rect& r) { return uint64_t(r.x) + r.width <= now.width && uint64_t(r.y) + r.height <= now.height; };
            for (uint32_t i = 0; i < u.damage_count; ++i) CHECK(inside(u.damage[i]));
            CHECK(inside(u.move));
            if (u.move.width) CHECK(inside(agfx_rect{u.move_src_x, u.move_src_y, u.move.width, u.move.height}));
            if (u.full) CHECK(u.damage_count == 1 && u.damage[0].width == now.width && u.damage[0].height == now.height);
            version = u.version;
          }
        }
        break;
      }
      case 10:
        be->reset(dev);
        break;
      case 11:
        be->memory_map_changed(dev);
        break;
    }
  }

  be->destroy(dev);
  // Every task and IOSFC mapping the device took is released.
  CHECK(fake.tasks.empty());
  CHECK(fake.iosfc.empty());
  return 0;
}

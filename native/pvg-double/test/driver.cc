// A standalone driver of the pvg backend on the PVG double (test-only): the
// backend table (agfx_backend_entry) with a small host of its own (memfd
// guest RAM, readable zero-fill task reservations as QEMU's, MAP_FIXED
// aliases), driving the soft guest interface: ring, task, mode, present
// (read back and compared), cursor, fences, save/restore, pause, reset.
// Built into one instrumented executable, so ThreadSanitizer sees every
// thread (scripts/pvg-double-sanitize.sh thread). Exit 0 when all checks
// pass; contract violations abort (the double's default).
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "agfx_backend.h"

extern "C" const agfx_backend* agfx_backend_entry(void);

namespace {

constexpr uint64_t kRam = 0x40000000, kRamSize = 16 << 20;
int g_fd = -1;
uint8_t* g_ram = nullptr;
std::atomic<uint64_t> g_irqs{0}, g_frames{0}, g_modes{0}, g_cursor{0};
std::atomic<uint32_t> g_w{0}, g_h{0};

struct Task {
  uint8_t* base;
  uint64_t size;
};

agfx_task* CreateTask(void*, uint64_t size, void** base) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  *base = p;
  return reinterpret_cast<agfx_task*>(new Task{static_cast<uint8_t*>(p), size});
}
void DestroyTask(void*, agfx_task* t) {
  auto* task = reinterpret_cast<Task*>(t);
  munmap(task->base, task->size);
  delete task;
}
bool MapMemory(void*, agfx_task* t, uint64_t off, const agfx_phys_range* r, uint32_t n, bool ro) {
  auto* task = reinterpret_cast<Task*>(t);
  bool ok = true;
  for (uint32_t i = 0; i < n; ++i) {
    if (r[i].gpa < kRam || r[i].gpa + r[i].len > kRam + kRamSize || off + r[i].len > task->size) {
      ok = false;
    } else if (mmap(task->base + off, r[i].len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, g_fd,
                    off_t(r[i].gpa - kRam)) == MAP_FAILED) {
      ok = false;
    }
    (void)ro;  // QEMU keeps write access on read-only maps
    off += r[i].len;
  }
  return ok;
}
bool UnmapMemory(void*, agfx_task* t, uint64_t off, uint64_t len) {
  auto* task = reinterpret_cast<Task*>(t);
  return mmap(task->base + off, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED;
}
bool ReadMemory(void*, uint64_t gpa, uint64_t len, void* dst) {
  if (gpa < kRam || len > kRamSize || gpa - kRam > kRamSize - len) return false;
  std::memcpy(dst, g_ram + (gpa - kRam), len);
  return true;
}
bool WriteMemory(void*, uint64_t gpa, uint64_t len, const void* src) {
  if (gpa < kRam || len > kRamSize || gpa - kRam > kRamSize - len) return false;
  std::memcpy(g_ram + (gpa - kRam), src, len);
  return true;
}
uint32_t MemoryMap(void*, agfx_memory_range* out, uint32_t max) {
  if (max) out[0] = agfx_memory_range{kRam, kRamSize, g_ram};
  return 1;
}
void* Acquire(void*, agfx_memory_range* out, uint32_t max, uint32_t* count) {
  *count = 1;
  if (max < 1) return nullptr;
  out[0] = agfx_memory_range{kRam, kRamSize, g_ram};
  return g_ram;
}
void Release(void*, void*) {}
void Raise(void*, uint32_t) { g_irqs++; }
void* IosfcMap(void*, uint64_t gpa, uint64_t len, bool) {
  return gpa >= kRam && gpa + len <= kRam + kRamSize ? g_ram + (gpa - kRam) : nullptr;
}
bool IosfcUnmap(void*, void*) { return true; }
void NewFrame(void*, uint32_t) { g_frames++; }
void ModeChanged(void*, uint32_t, uint32_t w, uint32_t h, uint32_t) {
  g_w = w;
  g_h = h;
  g_modes++;
}
void Glyph(void*, uint32_t, const uint8_t*, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t) { g_cursor++; }
void Show(void*, uint32_t, bool) { g_cursor++; }
void Moved(void*, uint32_t, uint32_t, uint32_t) { g_cursor++; }
void GuestError(void*, const char* m) { std::fprintf(stderr, "driver: guest error: %s\n", m); }

#define CHECK(c)                                                                  \
  do {                                                                            \
    if (!(c)) {                                                                   \
      std::fprintf(stderr, "driver: FAILED %s (%s:%d)\n", #c, __FILE__, __LINE__); \
      std::exit(1);                                                               \
    }                                                                             \
  } while (0)

template <typename P>
bool WaitFor(P pred, int ms = 5000) {
  for (int i = 0; i < ms / 5; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

const agfx_backend* B;
agfx_device* D;
uint32_t g_tail = 0;

uint32_t Run(uint32_t op, std::vector<uint64_t> a) {
  uint8_t e[64] = {0};
  std::memcpy(e, &op, 4);
  uint32_t pending = 0xffffffff;
  std::memcpy(e + 8, &pending, 4);
  for (size_t i = 0; i < a.size(); ++i) std::memcpy(e + 16 + 8 * i, &a[i], 8);
  uint64_t slot = (g_tail % 64) * 64;
  std::memcpy(g_ram + slot, e, 64);
  ++g_tail;
  B->mmio_write(D, AGFX_REGION_GFX, 0x1030, g_tail);
  B->mmio_write(D, AGFX_REGION_GFX, 0x1034, 1);  // synchronous doorbell
  uint32_t st;
  std::memcpy(&st, g_ram + slot + 8, 4);
  return st;
}

void Workload(int round) {
  B->mmio_write(D, AGFX_REGION_GFX, 0x1020, uint32_t(kRam));
  B->mmio_write(D, AGFX_REGION_GFX, 0x1024, 0);
  B->mmio_write(D, AGFX_REGION_GFX, 0x1028, 64);
  g_tail = 0;
  CHECK(B->mmio_read(D, AGFX_REGION_GFX, 0x1000) == 0x58464741);
  // A padded 32x24 frame at RAM + 1 MiB, a range list at RAM + 64 KiB.
  const uint32_t w = 32, h = 24, stride = 160;
  std::vector<uint8_t> expect(w * h * 4);
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x) {
      uint8_t px[4] = {uint8_t(x * 8 + round), uint8_t(y * 10), uint8_t((x ^ y) + round), 0xff};
      std::memcpy(g_ram + 0x100000 + y * stride + x * 4, px, 4);
      std::memcpy(expect.data() + (y * w + x) * 4, px, 4);
    }
  uint64_t list[2] = {kRam + 0x100000, 0x2000};
  std::memcpy(g_ram + 0x10000, list, 16);
  CHECK(Run(1, {3, 0x10000}) == 0);                         // TASK_CREATE
  CHECK(Run(3, {3, 0, kRam + 0x10000, 1, 1}) == 0);         // TASK_MAP read-only
  CHECK(Run(6, {0, w, h}) == 0);                            // SET_MODE
  CHECK(WaitFor([&] { return g_w == w && g_h == h; }));
  uint64_t frames = g_frames;
  CHECK(Run(7, {0, 3, 0, stride, 0, 0}) == 0);              // PRESENT
  std::vector<uint8_t> got(w * h * 4);
  agfx_frame_info info{};
  CHECK(WaitFor([&] {
    return g_frames > frames && B->read_frame(D, 0, got.data(), got.size(), &info) && info.width == w &&
           std::memcmp(got.data(), expect.data(), got.size()) == 0;
  }));
  uint64_t cursor = g_cursor;
  CHECK(Run(8, {0, 3, 0, 4 | (4 << 16), 1 | (1 << 16)}) == 0);  // CURSOR_GLYPH
  CHECK(Run(9, {0, 1}) == 0);                                    // CURSOR_SHOW
  CHECK(Run(10, {0, 5, 6}) == 0);                                // CURSOR_MOVE
  CHECK(WaitFor([&] { return g_cursor >= cursor + 3; }));
  uint32_t cx = 0, cy = 0;
  CHECK(B->cursor_position(D, 0, &cx, &cy) && cx == 5 && cy == 6);
  uint64_t irqs = g_irqs;
  CHECK(Run(11, {0xabc0 + uint64_t(round), 0}) == 0);          // FENCE
  CHECK(WaitFor([&] { return g_irqs > irqs; }));
  CHECK(Run(2, {3}) == 0);                                      // TASK_DESTROY
}

}  // namespace

int main() {
  g_fd = memfd_create("driver-ram", 0);
  CHECK(g_fd >= 0 && ftruncate(g_fd, kRamSize) == 0);
  g_ram = static_cast<uint8_t*>(mmap(nullptr, kRamSize, PROT_READ | PROT_WRITE, MAP_SHARED, g_fd, 0));
  CHECK(g_ram != MAP_FAILED);
  agfx_host host{};
  host.struct_size = sizeof host;
  host.create_task = CreateTask;
  host.destroy_task = DestroyTask;
  host.map_memory = MapMemory;
  host.unmap_memory = UnmapMemory;
  host.read_memory = ReadMemory;
  host.write_memory = WriteMemory;
  host.memory_map = MemoryMap;
  host.raise_interrupt = Raise;
  host.iosfc_map = IosfcMap;
  host.iosfc_unmap = IosfcUnmap;
  host.new_frame = NewFrame;
  host.mode_changed = ModeChanged;
  host.cursor_glyph = Glyph;
  host.cursor_show = Show;
  host.cursor_moved = Moved;
  host.guest_error = GuestError;
  host.memory_map_acquire = Acquire;
  host.memory_map_release = Release;
  B = agfx_backend_entry();
  // PVG_DRIVER_MODEL=static: the static memory map (the guest RAM is there
  // before the device, unlike the daemon's start: finding 4).
  const char* model = std::getenv("PVG_DRIVER_MODEL");
  bool static_map = model && std::strcmp(model, "static") == 0;
  agfx_device_config cfg{sizeof cfg, AGFX_VARIANT_PCI, static_map ? uint32_t(AGFX_MEMORY_STATIC_MAP) : uint32_t(AGFX_MEMORY_TASKS), 1};
  char err[256] = {0};
  D = B->create(&cfg, &host, err, sizeof err);
  if (!D) {
    std::fprintf(stderr, "driver: create failed: %s\n", err);
    return 1;
  }
  // As the daemon after a DMA_MAP: the static-model PGDevice is created once
  // guest RAM is known (finding 4).
  B->memory_map_changed(D);
  agfx_display_mode modes[2] = {{32, 24, 60000}, {16, 16, 60000}};
  CHECK(B->attach_display(D, 0, 1, "driver", modes, 2));
  Workload(0);
  void* blob = nullptr;
  size_t len = 0;
  // A save needs the device stopped (finding 6: PVG's suspend wants the
  // guest halted): stop, save (PVG suspend + resume into a fresh PGDevice), run.
  B->set_running(D, false);
  CHECK(B->save_state(D, &blob, &len) && len > 0);
  B->set_running(D, true);
  Workload(1);
  CHECK(B->restore_state(D, blob, len, err, sizeof err));
  B->free_state(D, blob);
  Workload(2);
  B->set_running(D, false);
  B->set_running(D, true);
  B->reset(D);
  Workload(3);
  CHECK(B->detach_display(D, 0));
  B->destroy(D);
  std::printf("driver: all checks passed (%s memory model)\n", static_map ? "static" : "task");
  return 0;
}

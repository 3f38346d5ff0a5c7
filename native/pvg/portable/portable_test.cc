// Unit tests of the pvg backend's framework-independent logic. Built with a
// plain C++17 compiler (no Apple headers) by test/unit/pvg-portable.test.ts:
//   g++ -std=c++17 -Wall -Wextra -Werror -I native/include native/pvg/portable/*.cc
// Prints TAP lines and a final "N passed, M failed"; exits 1 on any failure.
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <atomic>
#include <string>
#include <vector>

#include "cursor_convert.h"
#include "device_policy.h"
#include "frame_pacing.h"
#include "irq_latch.h"
#include "memory_map.h"
#include "option_rom.h"
#include "pvg_modes.h"
#include "resume_errors.h"
#include "state_blob.h"

using namespace agfx::pvg;

namespace {

struct Case {
  const char* name;
  std::function<void()> fn;
};
std::vector<Case>& Cases() {
  static std::vector<Case> c;
  return c;
}
struct Reg {
  Reg(const char* n, std::function<void()> f) { Cases().push_back({n, std::move(f)}); }
};
std::string g_failure;

#define TEST(id, title) \
  static void id();     \
  static Reg reg_##id(title, id); \
  static void id()
#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond) && g_failure.empty()) g_failure = std::string(#cond) + " (line " + std::to_string(__LINE__) + ")"; \
  } while (0)

agfx_display_mode M(uint16_t w, uint16_t h, uint32_t mhz) { return agfx_display_mode{w, h, mhz}; }

// ---------------------------------------------------------------- modes

TEST(modes_default_list, "modes: QEMU's default list converts in order, 60000 mHz -> 60.0 Hz") {
  agfx_display_mode in[] = {M(1920, 1080, 60000), M(1440, 1080, 60000), M(1280, 1024, 60000)};
  std::vector<PvgMode> out;
  std::string err;
  CHECK(ConvertModes(in, 3, &out, &err));
  CHECK(out.size() == 3);
  CHECK(out[0].width == 1920 && out[0].height == 1080 && out[0].refresh_hz == 60.0);
  CHECK(out[2].width == 1280 && out[2].height == 1024);
}

TEST(modes_fractional, "modes: fractional refresh 59.94 Hz and the extremes 1x1, 65535x65535") {
  agfx_display_mode in[] = {M(65535, 65535, 59940), M(1, 1, 1)};
  std::vector<PvgMode> out;
  std::string err;
  CHECK(ConvertModes(in, 2, &out, &err));
  CHECK(out[0].width == 65535 && out[0].height == 65535);
  CHECK(out[0].refresh_hz > 59.939 && out[0].refresh_hz < 59.941);
  CHECK(out[1].refresh_hz == 0.001);
}

TEST(modes_rejects, "modes: empty list, >128 modes, zero sizes, zero/huge refresh, duplicates are refused") {
  std::vector<PvgMode> out;
  std::string err;
  CHECK(!ConvertModes(nullptr, 0, &out, &err) && !err.empty());
  std::vector<agfx_display_mode> many(129, M(800, 600, 60000));
  for (uint32_t i = 0; i < many.size(); ++i) many[i].width = uint16_t(100 + i);
  err.clear();
  CHECK(!ConvertModes(many.data(), 129, &out, &err) && err.find("128") != std::string::npos);
  CHECK(ConvertModes(many.data(), 128, &out, &err) && out.size() == 128);
  agfx_display_mode zero_w[] = {M(0, 600, 60000)};
  CHECK(!ConvertModes(zero_w, 1, &out, &err));
  agfx_display_mode zero_h[] = {M(800, 0, 60000)};
  CHECK(!ConvertModes(zero_h, 1, &out, &err));
  agfx_display_mode zero_hz[] = {M(800, 600, 0)};
  CHECK(!ConvertModes(zero_hz, 1, &out, &err));
  agfx_display_mode huge_hz[] = {M(800, 600, 1000001)};
  CHECK(!ConvertModes(huge_hz, 1, &out, &err));
  agfx_display_mode dup[] = {M(800, 600, 60000), M(1024, 768, 60000), M(800, 600, 60000)};
  err.clear();
  CHECK(!ConvertModes(dup, 3, &out, &err) && err.find("repeats mode 0") != std::string::npos);
  CHECK(out.empty());
  agfx_display_mode same_size_other_rate[] = {M(800, 600, 60000), M(800, 600, 120000)};
  CHECK(ConvertModes(same_size_other_rate, 2, &out, &err));
}

TEST(state_blob_roundtrip, "state blob (finding 7): PVG and IOSurface parts round-trip; a bare PVG state still restores") {
  const uint8_t pg[] = {1, 2, 3, 4, 5}, io[] = {9, 8, 7};
  auto blob = PackState(pg, sizeof pg, io, sizeof io);
  StateParts parts;
  std::string err;
  CHECK(UnpackState(blob.data(), blob.size(), &parts, &err));
  CHECK(parts.pg_len == 5 && std::memcmp(parts.pg, pg, 5) == 0);
  CHECK(parts.iosfc && parts.iosfc_len == 3 && std::memcmp(parts.iosfc, io, 3) == 0);
  auto pci = PackState(pg, sizeof pg, nullptr, 0);
  CHECK(UnpackState(pci.data(), pci.size(), &parts, &err) && !parts.iosfc && parts.pg_len == 5);
  auto empty_io = PackState(pg, sizeof pg, io, 0);
  CHECK(UnpackState(empty_io.data(), empty_io.size(), &parts, &err) && parts.iosfc && parts.iosfc_len == 0);
  CHECK(UnpackState(pg, sizeof pg, &parts, &err) && parts.pg == pg && parts.pg_len == 5 && !parts.iosfc);
}

TEST(state_blob_rejects, "state blob: truncated, inconsistent, empty or PVG-less blobs are refused") {
  const uint8_t pg[] = {1, 2, 3, 4, 5}, io[] = {9, 8, 7};
  auto blob = PackState(pg, sizeof pg, io, sizeof io);
  StateParts parts;
  std::string err;
  CHECK(!UnpackState(blob.data(), blob.size() - 1, &parts, &err) && !err.empty());
  CHECK(!UnpackState(blob.data(), 12, &parts, &err));
  CHECK(!UnpackState(nullptr, 0, &parts, &err));
  auto nopg = PackState(nullptr, 0, io, sizeof io);
  CHECK(!UnpackState(nopg.data(), nopg.size(), &parts, &err));
  blob[8] = 0xff;  // PVG part longer than the blob
  CHECK(!UnpackState(blob.data(), blob.size(), &parts, &err));
}

TEST(serial_per_instance, "serials (finding 18): the daemon's serial is kept; 0 gives one from the instance and port, never 0") {
  CHECK(DisplaySerial(7, 0x12345600, 0) == 7);
  CHECK(DisplaySerial(0, 0x12345600, 0) == DisplaySerial(0, 0x12345600, 0));  // stable across restarts
  CHECK(DisplaySerial(0, 0x12345600, 0) != DisplaySerial(0, 0x12345600, 1));  // per port
  CHECK(DisplaySerial(0, 0x12345600, 0) != DisplaySerial(0, 0x65432100, 0));  // per daemon instance
  CHECK(DisplaySerial(0, 0, 0) != 0);
  CHECK(DisplaySerial(0, 0xffffff00u, 0xfe) != 0);
}

TEST(isolation_mmio_only, "isolation (finding 13): default on for mmio + static map only; explicit choices; errors") {
  auto pci = ChooseIsolation(AGFX_VARIANT_PCI, AGFX_MEMORY_STATIC_MAP, Isolation::kDefault, true);
  CHECK(pci.error.empty() && pci.set && !pci.enable);
  auto mmio = ChooseIsolation(AGFX_VARIANT_MMIO, AGFX_MEMORY_STATIC_MAP, Isolation::kDefault, true);
  CHECK(mmio.error.empty() && mmio.set && mmio.enable);
  auto tasks = ChooseIsolation(AGFX_VARIANT_MMIO, AGFX_MEMORY_TASKS, Isolation::kDefault, true);
  CHECK(tasks.error.empty() && !tasks.set);
  auto forced = ChooseIsolation(AGFX_VARIANT_PCI, AGFX_MEMORY_STATIC_MAP, Isolation::kOn, true);
  CHECK(forced.set && forced.enable);
  auto off = ChooseIsolation(AGFX_VARIANT_MMIO, AGFX_MEMORY_STATIC_MAP, Isolation::kOff, true);
  CHECK(off.set && !off.enable);
  CHECK(!ChooseIsolation(AGFX_VARIANT_MMIO, AGFX_MEMORY_STATIC_MAP, Isolation::kOn, false).error.empty());
  CHECK(!ChooseIsolation(AGFX_VARIANT_MMIO, AGFX_MEMORY_TASKS, Isolation::kOn, true).error.empty());
  auto old = ChooseIsolation(AGFX_VARIANT_MMIO, AGFX_MEMORY_STATIC_MAP, Isolation::kDefault, false);
  CHECK(old.error.empty() && !old.set);
}

TEST(static_map_create_late, "static map (finding 4): no device while guest RAM is unknown; created once it is") {
  MapState s;
  CHECK(BeforeGuestAccess(s) == MapAction::kNothing);
  CHECK(AtReset(s) == MapAction::kNothing);
  s.map_empty = false;
  CHECK(BeforeGuestAccess(s) == MapAction::kCreate);
  CHECK(AtReset(s) == MapAction::kCreate);
}

TEST(static_map_changes, "static map (finding 4): a change before the first MMIO replaces the device; after it, resetWithMemoryMap: at reset, else a replacement at reset and a log") {
  MapState s;
  s.have_device = true;
  s.map_empty = false;
  CHECK(BeforeGuestAccess(s) == MapAction::kNothing);
  s.map_stale = true;
  CHECK(BeforeGuestAccess(s) == MapAction::kReplace);  // untouched: swap before the guest sees it
  CHECK(AfterMapChange(s) == MapAction::kNothing);
  s.touched = true;
  CHECK(BeforeGuestAccess(s) == MapAction::kNothing);  // never swapped under a running driver
  CHECK(AfterMapChange(s) == MapAction::kLogCannotUpdate);
  CHECK(AtReset(s) == MapAction::kReplace);
  s.can_reset_with_map = true;
  CHECK(AfterMapChange(s) == MapAction::kResetWithMap);
  CHECK(AtReset(s) == MapAction::kResetWithMap);
  s.map_empty = true;  // everything unmapped: nothing to hand over
  CHECK(AtReset(s) == MapAction::kNothing);
}

// ---------------------------------------------------------------- cursor

TEST(cursor_swap, "cursor: RGBA -> BGRA swaps R and B, keeps G and premultiplied alpha") {
  const uint8_t px[] = {0x10, 0x20, 0x30, 0x80, 0xff, 0x00, 0x00, 0x40};
  CursorGlyph g;
  std::string err;
  CHECK(ConvertCursorGlyph(px, 2, 1, 8, 32, 1, 0, &g, &err));
  const uint8_t want[] = {0x30, 0x20, 0x10, 0x80, 0x00, 0x00, 0xff, 0x40};
  CHECK(g.bgra.size() == 8 && std::memcmp(g.bgra.data(), want, 8) == 0);
  CHECK(g.hot_x == 1 && g.hot_y == 0);
}

TEST(cursor_row_padding, "cursor: bytesPerRow padding is skipped; output is tightly packed") {
  // 2x2 glyph, 12 bytes per row (4 bytes padding filled with 0xEE).
  const uint8_t px[] = {1, 2, 3, 4, 5, 6, 7, 8, 0xEE, 0xEE, 0xEE, 0xEE,
                        9, 10, 11, 12, 13, 14, 15, 16, 0xEE, 0xEE, 0xEE, 0xEE};
  CursorGlyph g;
  std::string err;
  CHECK(ConvertCursorGlyph(px, 2, 2, 12, 32, 0, 0, &g, &err));
  const uint8_t want[] = {3, 2, 1, 4, 7, 6, 5, 8, 11, 10, 9, 12, 15, 14, 13, 16};
  CHECK(g.bgra.size() == 16 && std::memcmp(g.bgra.data(), want, 16) == 0);
}

TEST(cursor_rejects, "cursor: non-32 bpp, short rows, zero or huge sizes, null data are refused; hot spot clamped") {
  uint8_t px[64 * 4] = {};
  CursorGlyph g;
  std::string err;
  CHECK(!ConvertCursorGlyph(px, 4, 4, 16, 24, 0, 0, &g, &err) && err.find("24") != std::string::npos);
  CHECK(!ConvertCursorGlyph(px, 4, 4, 15, 32, 0, 0, &g, &err));
  CHECK(!ConvertCursorGlyph(px, 0, 4, 16, 32, 0, 0, &g, &err));
  CHECK(!ConvertCursorGlyph(px, 4, kMaxCursorSide + 1, 16, 32, 0, 0, &g, &err));
  CHECK(!ConvertCursorGlyph(nullptr, 4, 4, 16, 32, 0, 0, &g, &err));
  CHECK(ConvertCursorGlyph(px, 4, 4, 16, 32, 99, 3, &g, &err) && g.hot_x == 3 && g.hot_y == 3);
}

TEST(cursor_sentinel, "cursor position: {0xffff,0xffff} -> AGFX_CURSOR_OFF_DISPLAY; others pass through") {
  uint32_t x, y;
  CursorPositionFromPvg(0xffff, 0xffff, &x, &y);
  CHECK(x == AGFX_CURSOR_OFF_DISPLAY && y == AGFX_CURSOR_OFF_DISPLAY);
  CursorPositionFromPvg(12, 34, &x, &y);
  CHECK(x == 12 && y == 34);
  CursorPositionFromPvg(0xffff, 5, &x, &y);  // only both together mean "off"
  CHECK(x == 0xffff && y == 5);
}

// ---------------------------------------------------------------- frame pacing

TEST(pacing_single, "pacing: one frame renders at once, completion leaves nothing pending") {
  FramePacer p;
  CHECK(p.OnNewFrame() == FramePacer::Event::kRenderNow);
  CHECK(p.pending() == 1);
  CHECK(!p.OnRenderDone(FramePacer::Outcome::kPublished));
  CHECK(p.pending() == 0);
  CHECK(p.counters().published == 1);
}

TEST(pacing_queue_and_drop, "pacing: 2nd frame queues behind the in-flight one, 3rd+ are dropped; queued one renders after") {
  FramePacer p;
  CHECK(p.OnNewFrame() == FramePacer::Event::kRenderNow);
  CHECK(p.OnNewFrame() == FramePacer::Event::kQueued);
  CHECK(p.OnNewFrame() == FramePacer::Event::kDropped);
  CHECK(p.OnNewFrame() == FramePacer::Event::kDropped);
  CHECK(p.pending() == 2);
  CHECK(p.OnRenderDone(FramePacer::Outcome::kPublished));  // start the queued one
  CHECK(p.pending() == 1);
  CHECK(p.OnNewFrame() == FramePacer::Event::kQueued);  // room again behind it
  CHECK(p.OnRenderDone(FramePacer::Outcome::kPublished));
  CHECK(!p.OnRenderDone(FramePacer::Outcome::kPublished));
  CHECK(p.pending() == 0);
  auto c = p.counters();
  CHECK(c.events == 5 && c.dropped == 2 && c.published == 3);
}

TEST(pacing_never_more_than_two, "pacing: 10000 random events never exceed 2 pending and never go negative") {
  FramePacer p;
  unsigned seed = 12345;
  int inflight = 0;  // renders started and not yet done
  bool ok = true;
  for (int i = 0; i < 10000; ++i) {
    seed = seed * 1103515245u + 12345u;
    if ((seed >> 16) % 3 != 0) {
      if (p.OnNewFrame() == FramePacer::Event::kRenderNow) ++inflight;
    } else if (inflight > 0) {
      --inflight;
      if (p.OnRenderDone(FramePacer::Outcome::kPublished)) ++inflight;
    }
    if (p.pending() < 0 || p.pending() > 2 || inflight > 1) ok = false;
  }
  CHECK(ok);
  CHECK(p.counters().underflows == 0);
}

TEST(pacing_stale_and_failed, "pacing: stale-size renders are not publishable; failures retry the queued frame") {
  CHECK(FramePacer::Publishable(800, 600, 800, 600));
  CHECK(!FramePacer::Publishable(800, 600, 1024, 768));
  CHECK(!FramePacer::Publishable(0, 0, 0, 0));
  FramePacer p;
  p.OnNewFrame();
  p.OnNewFrame();
  CHECK(p.OnRenderDone(FramePacer::Outcome::kFailed));  // QEMU: --pending, retry if > 0
  CHECK(!p.OnRenderDone(FramePacer::Outcome::kStale));
  CHECK(!p.OnRenderDone(FramePacer::Outcome::kPublished));  // spurious: clamped
  auto c = p.counters();
  CHECK(c.failed == 1 && c.stale == 1 && c.underflows == 1 && p.pending() == 0);
}

// ---------------------------------------------------------------- memory map

uint8_t g_ram[1 << 16];
agfx_memory_range R(uint64_t gpa, uint64_t len, size_t host_off) { return agfx_memory_range{gpa, len, g_ram + host_off}; }

TEST(map_merge, "memory map: sorted, adjacent in both spaces merged, adjacent in one space kept apart") {
  agfx_memory_range in[] = {R(0x3000, 0x1000, 0x3000), R(0x1000, 0x1000, 0x1000), R(0x2000, 0x1000, 0x2000),
                            R(0x4000, 0x1000, 0x8000), R(0x9000, 0x1000, 0x5000)};
  std::vector<agfx_memory_range> out;
  std::string err;
  CHECK(BuildMemoryMap(in, 5, &out, &err));
  CHECK(out.size() == 3);
  CHECK(out[0].gpa == 0x1000 && out[0].len == 0x3000 && out[0].host == g_ram + 0x1000);
  CHECK(out[1].gpa == 0x4000 && out[1].host == g_ram + 0x8000);  // gpa adjacent, host not
  CHECK(out[2].gpa == 0x9000);
}

TEST(map_rejects, "memory map: overlaps, empty, wrapping and host-less ranges are refused") {
  std::vector<agfx_memory_range> out;
  std::string err;
  agfx_memory_range overlap[] = {R(0x1000, 0x2000, 0), R(0x2000, 0x1000, 0x8000)};
  CHECK(!BuildMemoryMap(overlap, 2, &out, &err) && err.find("overlap") != std::string::npos);
  agfx_memory_range same[] = {R(0x1000, 0x1000, 0), R(0x1000, 0x1000, 0)};
  CHECK(!BuildMemoryMap(same, 2, &out, &err));
  agfx_memory_range empty[] = {R(0x1000, 0, 0)};
  CHECK(!BuildMemoryMap(empty, 1, &out, &err));
  agfx_memory_range wrap[] = {R(~0ull - 0xfff, 0x2000, 0)};
  CHECK(!BuildMemoryMap(wrap, 1, &out, &err));
  agfx_memory_range nohost[] = {agfx_memory_range{0x1000, 0x1000, nullptr}};
  CHECK(!BuildMemoryMap(nohost, 1, &out, &err));
  CHECK(BuildMemoryMap(nullptr, 0, &out, &err) && out.empty());
}

struct FakeHost {
  std::vector<agfx_memory_range> ranges;
  int calls = 0;
  int grow_on_call = -1;
};
uint32_t FakeMap(void* opaque, agfx_memory_range* out, uint32_t max) {
  auto* f = static_cast<FakeHost*>(opaque);
  if (f->calls++ == f->grow_on_call) f->ranges.push_back(R(0x100000 + f->ranges.size() * 0x1000, 0x1000, 0x20));
  for (uint32_t i = 0; i < f->ranges.size() && i < max; ++i) out[i] = f->ranges[i];
  return uint32_t(f->ranges.size());
}

TEST(map_from_host, "memory map: host snapshot larger than the first buffer, and growing between calls") {
  FakeHost f;
  for (int i = 0; i < 40; ++i) f.ranges.push_back(R(uint64_t(i) * 0x10000, 0x1000, 0));  // 40 > initial 16
  f.grow_on_call = 1;
  agfx_host h{};
  h.struct_size = sizeof h;
  h.opaque = &f;
  h.memory_map = FakeMap;
  std::vector<agfx_memory_range> out, again;
  std::string err;
  CHECK(MemoryMapFromHost(&h, &out, &err));
  CHECK(out.size() == 41);
  CHECK(MemoryMapFromHost(&h, &again, &err) && SameMemoryMap(out, again));
  again.pop_back();
  CHECK(!SameMemoryMap(out, again));
  agfx_host none{};
  CHECK(!MemoryMapFromHost(&none, &out, &err));
}

struct FakePinHost {
  std::vector<agfx_memory_range> ranges;
  int calls = 0;
  int grow_on_call = -1;
  int live = 0;      // snapshots held
  int acquired = 0;  // snapshots handed out
  bool fail = false;
};
void* FakeAcquire(void* opaque, agfx_memory_range* out, uint32_t max, uint32_t* count) {
  auto* f = static_cast<FakePinHost*>(opaque);
  if (f->calls++ == f->grow_on_call) f->ranges.push_back(R(0x100000 + f->ranges.size() * 0x1000, 0x1000, 0x20));
  *count = 0;
  if (f->fail) return nullptr;
  *count = uint32_t(f->ranges.size());
  if (f->ranges.size() > max) return nullptr;
  for (uint32_t i = 0; i < f->ranges.size(); ++i) out[i] = f->ranges[i];
  ++f->live;
  ++f->acquired;
  return f;  // any non-null token
}
void FakeRelease(void* opaque, void* token) {
  auto* f = static_cast<FakePinHost*>(opaque);
  if (token == f) --f->live;
}
agfx_host PinHost(FakePinHost* f) {
  agfx_host h{};
  h.struct_size = sizeof h;
  h.opaque = f;
  h.memory_map = [](void*, agfx_memory_range*, uint32_t) -> uint32_t { return 0; };
  h.memory_map_acquire = FakeAcquire;
  h.memory_map_release = FakeRelease;
  return h;
}

TEST(pinned_map_holds, "pinned map: one snapshot held until Release, growing table retried without leaking") {
  FakePinHost f;
  for (int i = 0; i < 40; ++i) f.ranges.push_back(R(uint64_t(i) * 0x10000, 0x1000, 0));  // 40 > initial 16
  f.grow_on_call = 1;
  agfx_host h = PinHost(&f);
  std::string err;
  {
    PinnedMemoryMap m;
    CHECK(m.Acquire(&h, &err));
    CHECK(m.pinned() && m.ranges().size() == 41 && f.live == 1 && f.acquired == 1);
    CHECK(m.Acquire(&h, &err));  // re-acquire drops the old snapshot first
    CHECK(f.live == 1 && f.acquired == 2);
    m.Release();
    CHECK(!m.pinned() && m.ranges().empty() && f.live == 0);
    m.Release();  // idempotent
    CHECK(f.live == 0);
    CHECK(m.Acquire(&h, &err) && f.live == 1);
  }
  CHECK(f.live == 0);  // the destructor released it
}

TEST(pinned_map_bad, "pinned map: unusable ranges release the snapshot; host failure reported") {
  FakePinHost f;
  f.ranges = {R(0x1000, 0x2000, 0), R(0x2000, 0x1000, 0x10)};  // overlap
  agfx_host h = PinHost(&f);
  PinnedMemoryMap m;
  std::string err;
  CHECK(!m.Acquire(&h, &err) && err.find("overlap") != std::string::npos);
  CHECK(f.live == 0 && f.acquired == 1 && !m.pinned());
  f.ranges = {R(0x1000, 0x1000, 0)};
  f.fail = true;
  CHECK(!m.Acquire(&h, &err) && err.find("snapshot") != std::string::npos && f.live == 0);
  f.fail = false;
  f.ranges.clear();
  CHECK(m.Acquire(&h, &err) && m.pinned() && m.ranges().empty() && f.live == 1);  // empty table: still a snapshot
}

TEST(pinned_map_old_host, "pinned map: a host without memory_map_acquire falls back to memory_map, unpinned") {
  FakeHost f;
  f.ranges = {R(0x1000, 0x1000, 0), R(0x2000, 0x1000, 0x1000)};
  agfx_host h{};
  h.opaque = &f;
  h.memory_map = FakeMap;
  h.memory_map_acquire = FakeAcquire;  // present in memory but beyond the host's struct_size
  h.memory_map_release = FakeRelease;
  h.struct_size = offsetof(agfx_host, memory_map_acquire);
  PinnedMemoryMap m;
  std::string err;
  CHECK(m.Acquire(&h, &err));
  CHECK(!m.pinned() && m.ranges().size() == 1 && m.ranges()[0].len == 0x2000);  // merged
  CHECK(f.calls == 1);
}

// ---------------------------------------------------------------- interrupt latch

struct IrqLog {
  std::vector<uint32_t> got;
};
void LogIrq(void* ctx, uint32_t v) { static_cast<IrqLog*>(ctx)->got.push_back(v); }

TEST(irq_latch_basic, "irq latch: running passes through; stopped holds, Start delivers each vector once") {
  IrqLog log;
  IrqLatch l(LogIrq, &log);
  l.Raise(0);
  CHECK(log.got == std::vector<uint32_t>{0});
  l.Stop();
  l.Raise(0);
  l.Raise(1);
  l.Raise(0);
  l.Raise(IrqLatch::kMaxHeldVector + 1);  // cannot be held: dropped while stopped
  CHECK(log.got.size() == 1 && l.stopped());
  l.Start();
  CHECK((log.got == std::vector<uint32_t>{0, 0, 1}));
  l.Start();  // nothing held any more
  CHECK(log.got.size() == 3);
  l.Raise(1);
  CHECK(log.got.size() == 4 && log.got[3] == 1);
}

std::atomic<uint64_t> g_raised{0}, g_seen{0};
void SeenIrq(void*, uint32_t) {
  uint64_t now = g_raised.load();
  uint64_t prev = g_seen.load();
  while (prev < now && !g_seen.compare_exchange_weak(prev, now)) {
  }
}

TEST(irq_latch_race, "irq latch: a raise racing Start is delivered by the time both return (threads)") {
  IrqLatch l(SeenIrq, nullptr);
  g_raised = 0;
  g_seen = 0;
  constexpr int kRounds = 20000;
  std::atomic<int> phase{0};
  int lost = 0;
  std::thread raiser([&] {
    for (int i = 0; i < kRounds; ++i) {
      while (phase.load() != 2 * i + 1) {
      }
      g_raised.fetch_add(1);
      l.Raise(0);
      phase.store(2 * i + 2);
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    l.Stop();
    phase.store(2 * i + 1);  // the raiser starts now, racing the Start() below
    l.Start();
    while (phase.load() != 2 * i + 2) {
    }
    if (g_seen.load() != g_raised.load()) {
      ++lost;
      l.Start();  // resynchronise for the next round
    }
  }
  raiser.join();
  CHECK(lost == 0);
}

// ---------------------------------------------------------------- option ROM

TEST(rom_sizes, "option ROM: sizes round up to a power of two, at least 2 KiB, at most 16 MiB") {
  CHECK(RomSizeFor(1) == 2048);
  CHECK(RomSizeFor(2048) == 2048);
  CHECK(RomSizeFor(2049) == 4096);
  CHECK(RomSizeFor(65536) == 65536);
  CHECK(RomSizeFor(65537) == 131072);
  CHECK(RomSizeFor(kMaxRomSize) == kMaxRomSize);
  CHECK(RomSizeFor(kMaxRomSize + 1) == 0);
}

TEST(rom_pad, "option ROM: contents kept, trailer zero-filled, empty ROM refused") {
  std::vector<uint8_t> in(5000, 0xAB), out;
  std::string err;
  CHECK(PadOptionRom(in.data(), in.size(), &out, &err));
  CHECK(out.size() == 8192);
  bool body = true, tail = true;
  for (size_t i = 0; i < 5000; ++i) body = body && out[i] == 0xAB;
  for (size_t i = 5000; i < out.size(); ++i) tail = tail && out[i] == 0;
  CHECK(body && tail);
  CHECK(!PadOptionRom(in.data(), 0, &out, &err));
}

TEST(rom_file, "option ROM: file in -> padded file out; missing input reported") {
  char dir[] = "/tmp/pvg-rom-XXXXXX";
  CHECK(mkdtemp(dir) != nullptr);
  std::string in = std::string(dir) + "/in.rom", out = std::string(dir) + "/out.rom";
  std::FILE* f = std::fopen(in.c_str(), "wb");
  CHECK(f != nullptr);
  if (!f) return;
  std::vector<uint8_t> body(3000, 0x55);
  std::fwrite(body.data(), 1, body.size(), f);
  std::fclose(f);
  std::string err;
  CHECK(PadOptionRomFile(in, out, &err));
  std::vector<uint8_t> got;
  CHECK(ReadWholeFile(out, &got, &err) && got.size() == 4096 && got[2999] == 0x55 && got[3000] == 0);
  CHECK(!PadOptionRomFile(std::string(dir) + "/missing.rom", out, &err) && err.find("missing.rom") != std::string::npos);
  std::remove(in.c_str());
  std::remove(out.c_str());
  rmdir(dir);
}

// ---------------------------------------------------------------- resume errors

TEST(resume_messages, "resume errors: every PGResumeErrorCode has its own message; unknown codes say so") {
  std::vector<std::string> seen;
  for (uint64_t c = 0; c <= 5; ++c) {
    std::string m = ResumeErrorMessage(c);
    CHECK(!m.empty() && m.find("unknown") == std::string::npos);
    for (const auto& s : seen) CHECK(s != m);
    seen.push_back(m);
  }
  CHECK(ResumeErrorMessage(5).find("display port count") != std::string::npos);
  CHECK(ResumeErrorMessage(42) == "unknown PVG resume error 42");
}

TEST(resume_format, "resume errors: NSError formatting for PVG's domain and for foreign domains") {
  std::string a = FormatResumeError(true, "PGResumeErrorDomain", 1, "bad version");
  CHECK(a.find("different ParavirtualizedGraphics version") != std::string::npos);
  CHECK(a.find("(PGResumeErrorCode 1)") != std::string::npos && a.find("bad version") != std::string::npos);
  CHECK(FormatResumeError(true, "PGResumeErrorDomain", 2, nullptr).find(": ") == std::string::npos);
  CHECK(FormatResumeError(false, "NSCocoaErrorDomain", 4, "x") == "NSCocoaErrorDomain error 4: x");
  CHECK(FormatResumeError(false, nullptr, 4, nullptr) == "unknown domain error 4");
}

}  // namespace

int main() {
  int passed = 0, failed = 0, n = 0;
  std::printf("TAP version 13\n1..%zu\n", Cases().size());
  for (const Case& c : Cases()) {
    g_failure.clear();
    c.fn();
    ++n;
    if (g_failure.empty()) {
      ++passed;
      std::printf("ok %d - %s\n", n, c.name);
    } else {
      ++failed;
      std::printf("not ok %d - %s # %s\n", n, c.name, g_failure.c_str());
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

// The `soft` backend: a small software display device with a command ring in
// guest memory (docs/soft-device.md), written like a GPU front end. It runs
// its own worker thread and calls every host service from there, including
// while an mmio_write is in progress on the caller's thread (DOORBELL = 1),
// the way PVG calls back into the VMM from its own queues.
#include "soft/soft_device.h"

#include "soft/frame_history.h"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace agfx {

namespace {

constexpr uint32_t kId = 0x58464741;  // "AGFX"
constexpr uint32_t kVersion = 0x00010000;
constexpr uint32_t kPorts = 4;
constexpr uint32_t kMaxTasks = 64;
constexpr uint64_t kPage = 4096;
constexpr uint64_t kMaxTaskSize = 1ull << 30;
constexpr uint64_t kMaxChecksumLen = 64ull << 20;
constexpr uint32_t kMaxRanges = 256;
constexpr uint32_t kMaxRingEntries = 4096;
constexpr uint32_t kEntrySize = 64;
constexpr uint32_t kMaxIosfcHandles = 65535;

enum Reg : uint32_t {
  kRegId = 0x1000,
  kRegVersion = 0x1004,
  kRegScratch = 0x1008,
  kRegIrqTest = 0x100C,
  kRegStatus = 0x1010,
  kRegControl = 0x1014,
  kRegIrqStatus = 0x1018,
  kRegRingBaseLo = 0x1020,
  kRegRingBaseHi = 0x1024,
  kRegRingEntries = 0x1028,
  kRegRingHead = 0x102C,
  kRegRingTail = 0x1030,
  kRegDoorbell = 0x1034,
  kRegFenceLo = 0x1038,
  kRegFenceHi = 0x103C,
  kRegCompleted = 0x1040,
  kRegErrors = 0x1044,
  kRegLastError = 0x1048,
  kRegDisplays = 0x104C,
};
constexpr uint32_t kReady = 1, kBusy = 2, kHalted = 4, kIdle = 8;  // STATUS bits
constexpr uint32_t kIrqFence = 1, kIrqError = 2;  // IRQ_STATUS bits

enum IosfcReg : uint32_t {
  kIoGpaLo = 0x00,
  kIoGpaHi = 0x04,
  kIoLength = 0x08,
  kIoCommand = 0x0C,
  kIoHandle = 0x10,
  kIoStatus = 0x14,
  kIoPeekOffset = 0x18,
  kIoPeekData = 0x1C,
  kIoMapped = 0x20,
};

enum Op : uint32_t {
  kNop = 0,
  kTaskCreate = 1,
  kTaskDestroy = 2,
  kTaskMap = 3,
  kTaskUnmap = 4,
  kChecksum = 5,
  kSetMode = 6,
  kPresent = 7,
  kCursorGlyph = 8,
  kCursorShow = 9,
  kCursorMove = 10,
  kFence = 11,
  kCopyRect = 12,
};

enum Status : uint32_t {
  kOk = 0,
  kBadOpcode = 1,
  kBadArgs = 2,
  kNoTask = 3,
  kTaskExists = 4,
  kMapFailed = 5,
  kOutOfRange = 6,
  kNoDisplay = 7,
  kBadMode = 8,
  kNoMemory = 9,
  kNotMapped = 10,
  kGuestMemory = 11,
};

const char* StatusName(uint32_t s) {
  static const char* names[] = {"OK",           "BAD_OPCODE", "BAD_ARGS",  "NO_TASK",    "TASK_EXISTS", "MAP_FAILED",
                                "OUT_OF_RANGE", "NO_DISPLAY", "BAD_MODE",  "NO_MEMORY",  "NOT_MAPPED",  "GUEST_MEMORY"};
  return s < sizeof names / sizeof names[0] ? names[s] : "?";
}

struct Entry {
  uint32_t opcode, flags, status, result;
  uint64_t a[6];
};
static_assert(sizeof(Entry) == kEntrySize, "ring entry is 64 bytes");

uint32_t Fnv1a(const uint8_t* p, size_t n, uint32_t h = 0x811C9DC5u) {
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x01000193u;
  return h;
}

// Reads task memory without ever faulting: pages that are not mapped (never
// mapped, unmapped, or invalidated after DMA_UNMAP) make the copy fail
// instead of killing the daemon.
bool SafeRead(const uint8_t* src, uint8_t* dst, size_t len) {
  size_t done = 0;
  while (done < len) {
    size_t chunk = std::min<size_t>(len - done, 16u << 20);
    iovec local{dst + done, chunk}, remote{const_cast<uint8_t*>(src) + done, chunk};
    ssize_t n = ::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0);
    if (n != static_cast<ssize_t>(chunk)) return false;
    done += chunk;
  }
  return true;
}

struct Display {
  bool attached = false;
  uint32_t serial = 0;
  std::string name;
  std::vector<agfx_display_mode> modes;
  uint32_t width = 0, height = 0;
  // BGRA8, width*4 per row. Written in place only by the worker (under
  // disp_mu_); any other change replaces the vector, so the worker can
  // compare against its own reference to it without holding the lock.
  std::shared_ptr<std::vector<uint8_t>> frame = std::make_shared<std::vector<uint8_t>>();
  FrameHistory history;
  uint64_t sequence = 0;
  uint32_t cursor_x = AGFX_CURSOR_OFF_DISPLAY, cursor_y = AGFX_CURSOR_OFF_DISPLAY;
  bool cursor_shown = false;
  uint32_t glyph_w = 0, glyph_h = 0, hot_x = 0, hot_y = 0;
  std::vector<uint8_t> glyph;  // BGRA8
};

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

struct IosfcMapping {
  void* host = nullptr;
  uint64_t len = 0;
  uint64_t gpa = 0;
  bool read_only = false;
};

// Little-endian serialisation of device state.
class StateWriter {
 public:
  std::vector<uint8_t> out;
  void u8(uint8_t v) { out.push_back(v); }
  void u32(uint32_t v) { for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i))); }
  void u64(uint64_t v) { for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i))); }
  void bytes(const std::vector<uint8_t>& b) {
    u32(uint32_t(b.size()));
    out.insert(out.end(), b.begin(), b.end());
  }
};

class StateReader {
 public:
  StateReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool ok() const { return ok_; }
  uint8_t u8() { return Need(1) ? p_[pos_++] : 0; }
  uint32_t u32() {
    uint32_t v = 0;
    if (Need(4)) for (int i = 0; i < 4; ++i) v |= uint32_t(p_[pos_++]) << (8 * i);
    return v;
  }
  uint64_t u64() {
    uint64_t v = 0;
    if (Need(8)) for (int i = 0; i < 8; ++i) v |= uint64_t(p_[pos_++]) << (8 * i);
    return v;
  }
  std::vector<uint8_t> bytes(size_t max) {
    uint32_t len = u32();
    if (len > max || !Need(len)) {
      ok_ = false;
      return {};
    }
    std::vector<uint8_t> v(p_ + pos_, p_ + pos_ + len);
    pos_ += len;
    return v;
  }
  bool AtEnd() const { return pos_ == n_; }

 private:
  bool Need(size_t k) {
    if (!ok_ || n_ - pos_ < k) ok_ = false;
    return ok_;
  }
  const uint8_t* p_;
  size_t n_, pos_ = 0;
  bool ok_ = true;
};

constexpr char kStateMagic[8] = {'A', 'G', 'F', 'X', 'S', 'O', 'F', '1'};

}  // namespace

struct agfx_device_impl {};

class SoftDevice {
 public:
  SoftDevice(const agfx_device_config* cfg, const agfx_host* host)
      : host_(*host),
        vectors_(cfg->variant == AGFX_VARIANT_MMIO ? 2 : 1),
        mmio_(cfg->variant == AGFX_VARIANT_MMIO),
        static_map_(cfg->memory_model == AGFX_MEMORY_STATIC_MAP) {
    if (static_map_) MemoryMapChanged();
    worker_ = std::thread([this] { WorkerLoop(); });
  }

  // Static memory model: take a fresh copy of the host's guest-memory map.
  // Called on the JS thread after DMA_MAP/DMA_UNMAP; the worker reads the copy
  // under map_mu_, which no host service takes, so neither side can block the
  // other for longer than the copy.
  void MemoryMapChanged() {
    if (!static_map_) return;
    std::vector<agfx_memory_range> ranges(64);
    uint32_t n = host_.memory_map(host_.opaque, ranges.data(), uint32_t(ranges.size()));
    if (n > ranges.size()) {
      ranges.resize(n);
      n = std::min<uint32_t>(n, host_.memory_map(host_.opaque, ranges.data(), n));
    }
    ranges.resize(n);
    std::lock_guard lock(map_mu_);
    memory_map_.swap(ranges);
  }

  ~SoftDevice() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    worker_.join();
    ReleaseResources();
  }

  uint32_t MmioRead(uint32_t region, uint64_t off) {
    if (region == AGFX_REGION_IOSFC) return mmio_ ? IosfcRead(off) : 0;
    std::lock_guard lock(mu_);
    switch (off) {
      case kRegId: return kId;
      case kRegVersion: return kVersion;
      case kRegScratch: return scratch_;
      case kRegIrqTest: return vectors_;
      case kRegStatus:
        return (ring_ready_ ? kReady : 0) | (busy_ ? kBusy : 0) | (halted_ ? kHalted : 0) | (head_ == tail_ ? kIdle : 0);
      case kRegIrqStatus: return irq_status_;
      case kRegRingBaseLo: return static_cast<uint32_t>(ring_base_);
      case kRegRingBaseHi: return static_cast<uint32_t>(ring_base_ >> 32);
      case kRegRingEntries: return ring_entries_;
      case kRegRingHead: return head_;
      case kRegRingTail: return tail_;
      case kRegFenceLo: return static_cast<uint32_t>(fence_);
      case kRegFenceHi: return static_cast<uint32_t>(fence_ >> 32);
      case kRegCompleted: return completed_;
      case kRegErrors: return errors_;
      case kRegLastError: return last_error_;
      case kRegDisplays: return kPorts;
      default: return 0;
    }
  }

  void MmioWrite(uint32_t region, uint64_t off, uint32_t v) {
    if (region == AGFX_REGION_IOSFC) {
      if (mmio_) IosfcWrite(off, v);
      return;
    }
    switch (off) {
      case kRegScratch: {
        std::lock_guard lock(mu_);
        scratch_ = v;
        return;
      }
      case kRegIrqTest:
        if (v < vectors_) host_.raise_interrupt(host_.opaque, v);
        else GuestError("interrupt self-test of vector " + std::to_string(v) + ", which the device does not have");
        return;
      case kRegControl:
        if (v == 1) Reset();
        else GuestError("CONTROL write of " + std::to_string(v));
        return;
      case kRegIrqStatus: {
        std::lock_guard lock(mu_);
        irq_status_ &= ~v;
        return;
      }
      case kRegRingBaseLo: {
        std::lock_guard lock(mu_);
        ring_base_ = (ring_base_ & ~0xffffffffull) | v;
        return;
      }
      case kRegRingBaseHi: {
        std::lock_guard lock(mu_);
        ring_base_ = (ring_base_ & 0xffffffffull) | (uint64_t(v) << 32);
        return;
      }
      case kRegRingEntries: ConfigureRing(v); return;
      case kRegRingTail: {
        std::lock_guard lock(mu_);
        tail_ = v;
        return;
      }
      case kRegDoorbell: Doorbell(v == 1); return;
      case kRegId:
      case kRegVersion:
        GuestError("write to a read-only register");
        return;
      default:
        return;
    }
  }

  // Blocking reset (DEVICE_RESET, CONTROL = 1). The worker finishes the
  // command it is running and parks; nothing here waits on a host service.
  void Reset() {
    std::unique_lock lock(mu_);
    resetting_ = true;
    idle_cv_.wait(lock, [&] { return !busy_; });
    scratch_ = 0;
    ring_base_ = 0;
    ring_entries_ = 0;
    ring_ready_ = halted_ = false;
    head_ = tail_ = 0;
    fence_ = 0;
    completed_ = errors_ = last_error_ = irq_status_ = 0;
    kick_ = false;
    lock.unlock();
    ReleaseResources();
    {
      std::lock_guard dl(disp_mu_);
      for (uint32_t p = 0; p < kPorts; ++p) {
        Display& d = displays_[p];
        if (!d.attached) continue;
        Blank(d);
        d.cursor_x = d.cursor_y = AGFX_CURSOR_OFF_DISPLAY;
        host_.cursor_show(host_.opaque, p, false);
      }
    }
    lock.lock();
    resetting_ = false;
  }

  bool AttachDisplay(uint32_t port, uint32_t serial, const char* name, const agfx_display_mode* modes, uint32_t n) {
    if (port >= kPorts || n == 0 || n > AGFX_MAX_MODES) return false;
    for (uint32_t i = 0; i < n; ++i)
      if (modes[i].width == 0 || modes[i].height == 0) return false;
    uint32_t w, h;
    {
      std::lock_guard lock(disp_mu_);
      Display& d = displays_[port];
      if (d.attached) return false;
      d = Display{};
      d.attached = true;
      d.serial = serial;
      d.name = name ? name : "";
      d.modes.assign(modes, modes + n);
      SetModeLocked(d, modes[0].width, modes[0].height);  // the preferred mode until the guest picks one
      w = d.width;
      h = d.height;
    }
    host_.mode_changed(host_.opaque, port, w, h, AGFX_FORMAT_BGRA8);
    return true;
  }

  bool SetModes(uint32_t port, const agfx_display_mode* modes, uint32_t n) {
    if (port >= kPorts || n == 0 || n > AGFX_MAX_MODES) return false;
    for (uint32_t i = 0; i < n; ++i)
      if (modes[i].width == 0 || modes[i].height == 0) return false;
    bool changed = false;
    uint32_t w, h;
    {
      std::lock_guard lock(disp_mu_);
      Display& d = displays_[port];
      if (!d.attached) return false;
      d.modes.assign(modes, modes + n);
      if (!HasMode(d, d.width, d.height)) {
        SetModeLocked(d, modes[0].width, modes[0].height);
        changed = true;
      }
      w = d.width;
      h = d.height;
    }
    if (changed) host_.mode_changed(host_.opaque, port, w, h, AGFX_FORMAT_BGRA8);
    return true;
  }

  bool DetachDisplay(uint32_t port) {
    if (port >= kPorts) return false;
    {
      std::lock_guard lock(disp_mu_);
      if (!displays_[port].attached) return false;
      displays_[port] = Display{};
    }
    host_.mode_changed(host_.opaque, port, 0, 0, AGFX_FORMAT_BGRA8);
    return true;
  }

  bool ReadFrame(uint32_t port, void* dst, size_t len, agfx_frame_info* info) {
    std::lock_guard lock(disp_mu_);
    if (port >= kPorts || !displays_[port].attached) return false;
    const Display& d = displays_[port];
    if (info) *info = agfx_frame_info{d.width, d.height, d.width * 4, AGFX_FORMAT_BGRA8, d.sequence};
    if (!dst) return true;  // size query
    if (len < d.frame->size()) return false;
    std::memcpy(dst, d.frame->data(), d.frame->size());
    return true;
  }

  // Brings the caller's copy of a frame (version u->since) up to date,
  // copying only the pixels the history says changed.
  bool UpdateFrame(uint32_t port, void* dst, size_t len, agfx_frame_info* info, agfx_frame_update* u) {
    std::lock_guard lock(disp_mu_);
    if (port >= kPorts || !displays_[port].attached) return false;
    const Display& d = displays_[port];
    if (info) *info = agfx_frame_info{d.width, d.height, d.width * 4, AGFX_FORMAT_BGRA8, d.sequence};
    if (!dst || len < d.frame->size()) return false;
    d.history.Fold(u->since, d.width, d.height, u);
    size_t row = size_t(d.width) * 4;
    auto copy = [&](const agfx_rect& r) {
      agfx_rect c = Intersect(r, {0, 0, d.width, d.height});
      for (uint32_t y = c.y; y < c.y + c.height; ++y)
        std::memcpy(static_cast<uint8_t*>(dst) + row * y + size_t(c.x) * 4, d.frame->data() + row * y + size_t(c.x) * 4,
                    size_t(c.width) * 4);
    };
    copy(u->move);
    for (uint32_t i = 0; i < u->damage_count; ++i) copy(u->damage[i]);
    return true;
  }

  bool CursorPosition(uint32_t port, uint32_t* x, uint32_t* y) {
    std::lock_guard lock(disp_mu_);
    if (port >= kPorts || !displays_[port].attached) return false;
    *x = displays_[port].cursor_x;
    *y = displays_[port].cursor_y;
    return true;
  }

  // Quiesce for migration: after this returns no command runs, so the device
  // writes no guest memory and raises no interrupt until resumed. A doorbell
  // meanwhile is remembered and served on resume.
  void SetRunning(bool running) {
    std::unique_lock lock(mu_);
    stopped_ = !running;
    if (!running) {
      idle_cv_.wait(lock, [&] { return !busy_; });
      return;
    }
    if (head_ != tail_ && ring_ready_ && !halted_) kick_ = true;
    work_cv_.notify_one();
  }

  // Device state: registers, ring, tasks as guest-physical range lists (never
  // host addresses), IOSFC mappings, and each display's mode, frame and
  // cursor. The worker is parked while the state is read or replaced.
  std::vector<uint8_t> Save() {
    std::unique_lock lock(mu_);
    resetting_ = true;
    idle_cv_.wait(lock, [&] { return !busy_; });
    StateWriter w;
    w.out.insert(w.out.end(), kStateMagic, kStateMagic + 8);
    w.u32(mmio_ ? 1 : 0);
    w.u32(static_map_ ? 1 : 0);
    w.u32(scratch_);
    w.u32(irq_status_);
    w.u64(ring_base_);
    w.u32(ring_entries_);
    w.u32(head_);
    w.u32(tail_);
    w.u8(ring_ready_);
    w.u8(halted_);
    w.u64(fence_);
    w.u32(completed_);
    w.u32(errors_);
    w.u32(last_error_);
    uint32_t ntasks = 0;
    for (const auto& t : tasks_) ntasks += t.live;
    w.u32(ntasks);
    for (uint32_t id = 0; id < kMaxTasks; ++id) {
      const Task& t = tasks_[id];
      if (!t.live) continue;
      w.u32(id);
      w.u64(t.size);
      w.u32(uint32_t(t.aliases.size()));
      for (const auto& [off, al] : t.aliases) {
        w.u64(off);
        w.u64(al.len);
        w.u64(al.gpa);
        w.u8(al.read_only);
      }
    }
    {
      std::lock_guard io(io_mu_);
      w.u32(io_live_);
      for (size_t i = 0; i < io_maps_.size(); ++i) {
        if (!io_maps_[i].host) continue;
        w.u32(uint32_t(i + 1));
        w.u64(io_maps_[i].gpa);
        w.u64(io_maps_[i].len);
        w.u8(io_maps_[i].read_only);
      }
    }
    {
      std::lock_guard dl(disp_mu_);
      w.u32(kPorts);
      for (uint32_t p = 0; p < kPorts; ++p) {
        const Display& d = displays_[p];
        w.u8(d.attached);
        w.u32(d.width);
        w.u32(d.height);
        w.u64(d.sequence);
        w.bytes(*d.frame);
        w.u32(d.cursor_x);
        w.u32(d.cursor_y);
        w.u8(d.cursor_shown);
        w.u32(d.glyph_w);
        w.u32(d.glyph_h);
        w.u32(d.hot_x);
        w.u32(d.hot_y);
        w.bytes(d.glyph);
      }
    }
    resetting_ = false;
    if (head_ != tail_ && ring_ready_ && !halted_) {
      kick_ = true;
      work_cv_.notify_one();
    }
    return w.out;
  }

  // Replaces the device state with a saved one. Guest memory must already be
  // shared (DMA_MAP) so tasks and IOSFC mappings can be re-established.
  bool Restore(const uint8_t* data, size_t len, std::string* err) {
    if (len < 8 || std::memcmp(data, kStateMagic, 8) != 0) {
      *err = "not a soft-device state (bad magic or version)";
      return false;
    }
    StateReader r(data + 8, len - 8);
    bool mmio = r.u32() != 0, static_map = r.u32() != 0;
    if (r.ok() && mmio != mmio_) {
      *err = std::string("state of the ") + (mmio ? "mmio" : "pci") + " variant; this device is " + (mmio_ ? "mmio" : "pci");
      return false;
    }
    (void)static_map;  // tasks carry guest ranges: either memory model can take them
    Reset();  // a clean device, then the worker parks until the state is in
    {
      std::unique_lock lock(mu_);
      resetting_ = true;
      idle_cv_.wait(lock, [&] { return !busy_; });
    }
    bool ok = ApplyState(r, err);
    {
      std::lock_guard lock(mu_);
      resetting_ = false;
    }
    if (!ok) {
      Reset();  // never half a state
      return false;
    }
    std::lock_guard lock(mu_);
    // Commands the guest queued before the save run now, pending fences included.
    if (head_ != tail_ && ring_ready_ && !halted_) {
      kick_ = true;
      work_cv_.notify_one();
    }
    return true;
  }

  // Applies a saved state to a reset, parked device (Restore).
  bool ApplyState(StateReader& r, std::string* err) {
    std::unique_lock lock(mu_);
    scratch_ = r.u32();
    irq_status_ = r.u32();
    ring_base_ = r.u64();
    ring_entries_ = r.u32();
    head_ = r.u32();
    tail_ = r.u32();
    ring_ready_ = r.u8() != 0;
    halted_ = r.u8() != 0;
    fence_ = r.u64();
    completed_ = r.u32();
    errors_ = r.u32();
    last_error_ = r.u32();
    bool ring_bad = ring_entries_ > kMaxRingEntries || (ring_entries_ & (ring_entries_ - 1)) != 0;
    lock.unlock();
    if (ring_bad) {
      *err = "bad ring record";
      return false;
    }
    uint32_t ntasks = r.u32();
    for (uint32_t i = 0; r.ok() && i < ntasks && i < kMaxTasks; ++i) {
      uint32_t id = r.u32();
      uint64_t size = r.u64();
      uint32_t n = r.u32();
      if (!r.ok() || id == 0 || id >= kMaxTasks || tasks_[id].live || size == 0 || size > kMaxTaskSize || size % kPage) {
        *err = "bad task record";
        return false;
      }
      Task& t = tasks_[id];
      t = Task{true, nullptr, nullptr, size, {}};
      if (!static_map_) {
        void* base = nullptr;
        t.handle = host_.create_task(host_.opaque, size, &base);
        t.base = static_cast<uint8_t*>(base);
        if (!t.handle) {
          t = Task{};
          *err = "cannot reserve task memory";
          return false;
        }
      }
      for (uint32_t k = 0; r.ok() && k < n; ++k) {
        uint64_t off = r.u64(), alen = r.u64(), gpa = r.u64();
        bool ro = r.u8() != 0;
        if (!r.ok() || alen == 0 || (off | alen | gpa) % kPage || !InTask(&t, off, alen)) {
          *err = "bad task mapping record";
          return false;
        }
        MapRanges(&t, off, {agfx_phys_range{gpa, alen}}, ro);  // memory gone since the save: stays unmapped
      }
    }
    uint32_t nmaps = r.u32();
    {
      std::lock_guard io(io_mu_);
      for (uint32_t i = 0; r.ok() && i < nmaps && i < kMaxIosfcHandles; ++i) {
        uint32_t handle = r.u32();
        uint64_t gpa = r.u64(), mlen = r.u64();
        bool ro = r.u8() != 0;
        if (!r.ok() || handle == 0 || handle > kMaxIosfcHandles || mlen == 0 || mlen > kMaxChecksumLen) {
          *err = "bad IOSFC mapping record";
          return false;
        }
        void* host = host_.iosfc_map(host_.opaque, gpa, mlen, ro);
        if (!host) continue;
        if (io_maps_.size() < handle) io_maps_.resize(handle);
        io_maps_[handle - 1] = IosfcMapping{host, mlen, gpa, ro};
        ++io_live_;
      }
    }
    uint32_t ports = r.u32();
    for (uint32_t p = 0; r.ok() && p < ports && p < kPorts; ++p) {
      bool attached = r.u8() != 0;
      uint32_t w = r.u32(), h = r.u32();
      uint64_t seq = r.u64();
      std::vector<uint8_t> frame = r.bytes(size_t(65535) * 65535 * 4);
      uint32_t cx = r.u32(), cy = r.u32();
      bool shown = r.u8() != 0;
      uint32_t gw = r.u32(), gh = r.u32(), hx = r.u32(), hy = r.u32();
      std::vector<uint8_t> glyph = r.bytes(256 * 256 * 4);
      if (!r.ok()) break;
      bool have = false, mode_ok = false;
      {
        std::lock_guard dl(disp_mu_);
        Display& d = displays_[p];
        have = attached && d.attached;  // displays are the daemon's: restored only where attached
        if (have) {
          mode_ok = HasMode(d, w, h) && frame.size() == size_t(w) * h * 4;
          if (mode_ok) {
            d.width = w;
            d.height = h;
            d.frame = std::make_shared<std::vector<uint8_t>>(std::move(frame));
            d.history.Replace();
            d.sequence = seq;
          }
          d.cursor_x = cx;
          d.cursor_y = cy;
          d.cursor_shown = shown;
          if (glyph.size() == size_t(gw) * gh * 4 && gw && gh) {
            d.glyph = glyph;
            d.glyph_w = gw;
            d.glyph_h = gh;
            d.hot_x = hx;
            d.hot_y = hy;
          }
        }
      }
      if (!have) continue;
      if (mode_ok) {
        host_.mode_changed(host_.opaque, p, w, h, AGFX_FORMAT_BGRA8);
        host_.new_frame(host_.opaque, p);
      }
      if (glyph.size() == size_t(gw) * gh * 4 && gw && gh) host_.cursor_glyph(host_.opaque, p, glyph.data(), gw, gh, gw * 4, hx, hy);
      host_.cursor_show(host_.opaque, p, shown);
      host_.cursor_moved(host_.opaque, p, cx, cy);
    }
    if (!r.ok() || !r.AtEnd()) {
      *err = "truncated or malformed state";
      return false;
    }
    return true;
  }

 private:
  void GuestError(const std::string& msg) { host_.guest_error(host_.opaque, msg.c_str()); }

  static bool HasMode(const Display& d, uint32_t w, uint32_t h) {
    return std::any_of(d.modes.begin(), d.modes.end(), [&](const agfx_display_mode& m) { return m.width == w && m.height == h; });
  }

  static void SetModeLocked(Display& d, uint32_t w, uint32_t h) {
    d.width = w;
    d.height = h;
    Blank(d);
  }

  // Opaque black in the current mode, as a new version with no history.
  static void Blank(Display& d) {
    auto px = std::make_shared<std::vector<uint8_t>>(size_t(d.width) * d.height * 4, 0);
    for (size_t i = 3; i < px->size(); i += 4) (*px)[i] = 0xff;
    d.frame = std::move(px);
    d.history.Replace();
  }

  void ConfigureRing(uint32_t entries) {
    std::unique_lock lock(mu_);
    // The worker must not be walking the old ring while it is replaced.
    idle_cv_.wait(lock, [&] { return !busy_; });
    ring_ready_ = false;
    halted_ = false;
    head_ = tail_ = 0;
    ring_entries_ = entries;
    if (entries == 0) return;
    bool pow2 = (entries & (entries - 1)) == 0;
    uint64_t bytes = uint64_t(entries) * kEntrySize;
    uint8_t probe;
    bool inside = ring_base_ % kPage == 0 && host_.read_memory(host_.opaque, ring_base_, 1, &probe) &&
                  host_.read_memory(host_.opaque, ring_base_ + bytes - 1, 1, &probe);
    if (!pow2 || entries > kMaxRingEntries || !inside) {
      lock.unlock();
      GuestError("ring of " + std::to_string(entries) + " entries at 0x" + Hex(ring_base_) +
                 " refused: entries must be a power of two up to 4096 and the ring 4 KiB aligned inside shared guest RAM");
      return;
    }
    ring_ready_ = true;
  }

  void Doorbell(bool wait) {
    std::unique_lock lock(mu_);
    if (!ring_ready_) {
      lock.unlock();
      GuestError("doorbell without a configured ring");
      return;
    }
    kick_ = true;
    work_cv_.notify_one();
    if (!wait) return;
    // Synchronous doorbell: this MMIO write completes when the ring is drained.
    // The worker calls host services meanwhile; none of them needs this thread.
    idle_cv_.wait_for(lock, std::chrono::seconds(2), [&] { return !kick_ && !busy_; });
  }

  void WorkerLoop() {
    std::unique_lock lock(mu_);
    for (;;) {
      work_cv_.wait(lock, [&] { return stop_ || (kick_ && !resetting_ && !stopped_); });
      if (stop_) return;
      kick_ = false;
      busy_ = true;
      while (ring_ready_ && !halted_ && head_ != tail_ && !stop_ && !resetting_ && !stopped_) {
        if (tail_ - head_ > ring_entries_) {
          halted_ = true;
          lock.unlock();
          GuestError("ring tail is more than RING_ENTRIES ahead of head; ring halted");
          lock.lock();
          break;
        }
        uint64_t gpa = ring_base_ + uint64_t(head_ % ring_entries_) * kEntrySize;
        lock.unlock();  // commands run without the register lock
        Entry e;
        bool readable = host_.read_memory(host_.opaque, gpa, sizeof e, &e);
        uint32_t result = 0;
        uint32_t st = readable ? Execute(e, &result) : kGuestMemory;
        uint32_t done[2] = {st, result};
        bool written = readable && host_.write_memory(host_.opaque, gpa + 8, sizeof done, done);
        if (st != kOk && readable)
          GuestError("ring command " + std::to_string(e.opcode) + " failed: " + StatusName(st));
        lock.lock();
        if (!readable || !written) {
          halted_ = true;
          lock.unlock();
          GuestError("ring entry at 0x" + Hex(gpa) + " is not in writable shared guest RAM; ring halted");
          lock.lock();
          break;
        }
        ++head_;
        if (st == kOk) {
          ++completed_;
        } else {
          ++errors_;
          last_error_ = st;
          irq_status_ |= kIrqError;
        }
      }
      busy_ = false;
      idle_cv_.notify_all();
    }
  }

  static std::string Hex(uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
    return b;
  }

  Task* FindTask(uint64_t id) { return id > 0 && id < kMaxTasks && tasks_[id].live ? &tasks_[id] : nullptr; }

  // Host address of [gpa, gpa+len) in the static map, or null.
  const uint8_t* Translate(uint64_t gpa, uint64_t len) {
    std::lock_guard lock(map_mu_);
    for (const auto& r : memory_map_)
      if (gpa >= r.gpa && len <= r.len && gpa - r.gpa <= r.len - len) return static_cast<uint8_t*>(r.host) + (gpa - r.gpa);
    return nullptr;
  }

  // Reads task memory; false if any byte is not mapped. Never faults.
  bool ReadTask(const Task* t, uint64_t off, uint8_t* dst, uint64_t len) {
    if (!static_map_) return SafeRead(t->base + off, dst, len);
    uint64_t done = 0;
    while (done < len) {
      uint64_t at = off + done;
      auto it = t->aliases.upper_bound(at);
      if (it == t->aliases.begin()) return false;
      --it;
      if (at >= it->first + it->second.len) return false;
      uint64_t piece = std::min(len - done, it->first + it->second.len - at);
      const uint8_t* src = Translate(it->second.gpa + (at - it->first), piece);
      // A map snapshot can be a moment old; SafeRead turns a range that was
      // just unmapped into a clean failure instead of a fault.
      if (!src || !SafeRead(src, dst + done, piece)) return false;
      done += piece;
    }
    return true;
  }

  // Reads `rows` rows of `row_bytes` each, `stride` apart in the task, into
  // packed rows at dst. With host tasks, one process_vm_readv per IOV_MAX
  // rows instead of one per row (a 1080-row frame: 2 syscalls, not 1080).
  bool ReadTaskRows(const Task* t, uint64_t off, uint64_t stride, uint32_t rows, size_t row_bytes, uint8_t* dst) {
    if (static_map_) {
      for (uint32_t y = 0; y < rows; ++y)
        if (!ReadTask(t, off + stride * y, dst + row_bytes * y, row_bytes)) return false;
      return true;
    }
    constexpr uint32_t kBatch = 1024;  // IOV_MAX on Linux
    iovec local[kBatch], remote[kBatch];
    for (uint32_t first = 0; first < rows; first += kBatch) {
      uint32_t n = std::min(kBatch, rows - first);
      for (uint32_t i = 0; i < n; ++i) {
        local[i] = {dst + row_bytes * (first + i), row_bytes};
        remote[i] = {t->base + off + stride * (first + i), row_bytes};
      }
      // Unmapped task pages fail the copy (EFAULT or a short count), never fault.
      ssize_t got = ::process_vm_readv(::getpid(), local, n, remote, n, 0);
      if (got != static_cast<ssize_t>(row_bytes * n)) return false;
    }
    return true;
  }

  // Maps ranges back to back from `off`. Like PVG's mapMemory, a range that
  // is not shared guest RAM fails the call and the others stay mapped.
  bool MapRanges(Task* t, uint64_t off, const std::vector<agfx_phys_range>& ranges, bool ro) {
    bool ok = true;
    if (!static_map_)
      ok = host_.map_memory(host_.opaque, t->handle, off, ranges.data(), uint32_t(ranges.size()), ro);
    for (const auto& r : ranges) {
      DropAliases(t, off, r.len);
      if (!static_map_ || Translate(r.gpa, r.len)) {
        t->aliases.emplace(off, Task::Alias{r.len, r.gpa, ro});
      } else {
        ok = false;
        // Not in the static map: probing its ends through the host lets the
        // host name a range the VMM mapped without an fd (one log line).
        uint8_t probe;
        if (host_.read_memory(host_.opaque, r.gpa, 1, &probe)) host_.read_memory(host_.opaque, r.gpa + r.len - 1, 1, &probe);
      }
      off += r.len;
    }
    return ok;
  }

  static void DropAliases(Task* t, uint64_t off, uint64_t len) {
    auto& m = t->aliases;
    uint64_t end = off + len;
    auto it = m.upper_bound(off);
    if (it != m.begin()) --it;
    std::vector<std::pair<uint64_t, Task::Alias>> keep;
    while (it != m.end() && it->first < end) {
      uint64_t a_off = it->first, a_end = a_off + it->second.len, gpa = it->second.gpa;
      if (a_end <= off) {
        ++it;
        continue;
      }
      bool ro = it->second.read_only;
      if (a_off < off) keep.push_back({a_off, {off - a_off, gpa, ro}});
      if (a_end > end) keep.push_back({end, {a_end - end, gpa + (end - a_off), ro}});
      it = m.erase(it);
    }
    for (auto& [o, a] : keep) m.emplace(o, a);
  }

  static bool InTask(const Task* t, uint64_t off, uint64_t len) { return off <= t->size && len <= t->size - off; }

  uint32_t Execute(const Entry& e, uint32_t* result) {
    const uint64_t* a = e.a;
    switch (e.opcode) {
      case kNop:
        return kOk;
      case kTaskCreate: {
        if (a[0] == 0 || a[0] >= kMaxTasks || a[1] == 0 || a[1] % kPage || a[1] > kMaxTaskSize) return kBadArgs;
        if (tasks_[a[0]].live) return kTaskExists;
        if (static_map_) {
          tasks_[a[0]] = Task{true, nullptr, nullptr, a[1], {}};
          return kOk;
        }
        void* base = nullptr;
        agfx_task* t = host_.create_task(host_.opaque, a[1], &base);
        if (!t) return kNoMemory;
        tasks_[a[0]] = Task{true, t, static_cast<uint8_t*>(base), a[1], {}};
        return kOk;
      }
      case kTaskDestroy: {
        Task* t = FindTask(a[0]);
        if (!t) return kNoTask;
        if (t->handle) host_.destroy_task(host_.opaque, t->handle);
        *t = Task{};
        return kOk;
      }
      case kTaskMap: {
        Task* t = FindTask(a[0]);
        if (!t) return kNoTask;
        if (a[1] % kPage || a[3] == 0 || a[3] > kMaxRanges || a[4] > 1) return kBadArgs;
        std::vector<agfx_phys_range> ranges(a[3]);
        if (!host_.read_memory(host_.opaque, a[2], a[3] * sizeof(agfx_phys_range), ranges.data())) return kGuestMemory;
        uint64_t total = 0;
        for (const auto& r : ranges) {
          if (r.len == 0 || (r.gpa | r.len) % kPage || r.len > kMaxTaskSize) return kBadArgs;
          total += r.len;
        }
        if (!InTask(t, a[1], total)) return kOutOfRange;
        return MapRanges(t, a[1], ranges, a[4] == 1) ? kOk : kMapFailed;
      }
      case kTaskUnmap: {
        Task* t = FindTask(a[0]);
        if (!t) return kNoTask;
        if ((a[1] | a[2]) % kPage || a[2] == 0) return kBadArgs;
        if (!InTask(t, a[1], a[2])) return kOutOfRange;
        DropAliases(t, a[1], a[2]);
        if (static_map_) return kOk;
        return host_.unmap_memory(host_.opaque, t->handle, a[1], a[2]) ? kOk : kBadArgs;
      }
      case kChecksum: {
        Task* t = FindTask(a[0]);
        if (!t) return kNoTask;
        if (a[2] == 0 || a[2] > kMaxChecksumLen) return kBadArgs;
        if (!InTask(t, a[1], a[2])) return kOutOfRange;
        std::vector<uint8_t> buf(a[2]);
        if (!ReadTask(t, a[1], buf.data(), buf.size())) return kNotMapped;
        *result = Fnv1a(buf.data(), buf.size());
        return kOk;
      }
      case kSetMode: {
        if (a[0] >= kPorts) return kNoDisplay;
        {
          std::lock_guard lock(disp_mu_);
          Display& d = displays_[a[0]];
          if (!d.attached) return kNoDisplay;
          if (a[1] > 0xffff || a[2] > 0xffff || !HasMode(d, uint32_t(a[1]), uint32_t(a[2]))) return kBadMode;
          SetModeLocked(d, uint32_t(a[1]), uint32_t(a[2]));
        }
        host_.mode_changed(host_.opaque, uint32_t(a[0]), uint32_t(a[1]), uint32_t(a[2]), AGFX_FORMAT_BGRA8);
        return kOk;
      }
      case kPresent: return Present(a);
      case kCopyRect: return CopyRect(a);
      case kCursorGlyph: {
        if (a[0] >= kPorts || !Attached(a[0])) return kNoDisplay;
        Task* t = FindTask(a[1]);
        if (!t) return kNoTask;
        uint32_t w = a[3] & 0xffff, h = (a[3] >> 16) & 0xffff, hx = a[4] & 0xffff, hy = (a[4] >> 16) & 0xffff;
        if (w == 0 || h == 0 || w > 256 || h > 256 || (a[3] >> 32) || (a[4] >> 32)) return kBadArgs;
        uint64_t bytes = uint64_t(w) * h * 4;
        if (!InTask(t, a[2], bytes)) return kOutOfRange;
        std::vector<uint8_t> px(bytes);
        if (!ReadTask(t, a[2], px.data(), px.size())) return kNotMapped;
        {
          std::lock_guard lock(disp_mu_);
          Display& d = displays_[a[0]];
          d.glyph = px;
          d.glyph_w = w;
          d.glyph_h = h;
          d.hot_x = hx;
          d.hot_y = hy;
        }
        host_.cursor_glyph(host_.opaque, uint32_t(a[0]), px.data(), w, h, w * 4, hx, hy);
        return kOk;
      }
      case kCursorShow:
        if (a[0] >= kPorts || !Attached(a[0])) return kNoDisplay;
        if (a[1] > 1) return kBadArgs;
        {
          std::lock_guard lock(disp_mu_);
          displays_[a[0]].cursor_shown = a[1] == 1;
        }
        host_.cursor_show(host_.opaque, uint32_t(a[0]), a[1] == 1);
        return kOk;
      case kCursorMove: {
        if (a[0] >= kPorts) return kNoDisplay;
        if (a[1] > 0xffff || a[2] > 0xffff) return kBadArgs;
        {
          std::lock_guard lock(disp_mu_);
          Display& d = displays_[a[0]];
          if (!d.attached) return kNoDisplay;
          d.cursor_x = uint32_t(a[1]);
          d.cursor_y = uint32_t(a[2]);
        }
        host_.cursor_moved(host_.opaque, uint32_t(a[0]), uint32_t(a[1]), uint32_t(a[2]));
        return kOk;
      }
      case kFence: {
        if (a[1] >= vectors_) return kBadArgs;
        {
          std::lock_guard lock(mu_);
          fence_ = a[0];
          irq_status_ |= kIrqFence;
        }
        host_.raise_interrupt(host_.opaque, uint32_t(a[1]));
        return kOk;
      }
      default:
        return kBadOpcode;
    }
  }

  bool Attached(uint64_t port) {
    std::lock_guard lock(disp_mu_);
    return displays_[port].attached;
  }

  // PRESENT: a5 = 0 copies the whole frame and finds the damage by comparing
  // it with the current one; otherwise a5 is the guest's damage rectangle
  // (x | y << 16 | width << 32 | height << 48) and only it is read.
  uint32_t Present(const uint64_t* a) {
    if (a[0] >= kPorts) return kNoDisplay;
    uint32_t w, h;
    std::shared_ptr<std::vector<uint8_t>> current;
    {
      std::lock_guard lock(disp_mu_);
      const Display& d = displays_[a[0]];
      if (!d.attached) return kNoDisplay;
      w = d.width;
      h = d.height;
      current = d.frame;
    }
    Task* t = FindTask(a[1]);
    if (!t) return kNoTask;
    uint64_t stride = a[3], row = uint64_t(w) * 4;
    if (stride < row || stride > (1u << 20) || a[4] > AGFX_FORMAT_XRGB8) return kBadArgs;
    agfx_rect area{0, 0, w, h};
    if (a[5]) {
      area = {uint32_t(a[5] & 0xffff), uint32_t((a[5] >> 16) & 0xffff), uint32_t((a[5] >> 32) & 0xffff), uint32_t(a[5] >> 48)};
      if (Empty(area) || area.x + area.width > w || area.y + area.height > h) return kBadArgs;
    }
    uint64_t need = stride * (h - 1) + row;
    if (!InTask(t, a[2], need)) return kOutOfRange;
    size_t area_row = size_t(area.width) * 4;
    present_buf_.resize(area_row * area.height);  // the worker's own: reused, never shared
    if (!ReadTaskRows(t, a[2] + stride * area.y + uint64_t(area.x) * 4, stride, area.height, area_row, present_buf_.data()))
      return kNotMapped;
    if (a[4] == AGFX_FORMAT_XRGB8)
      for (size_t i = 3; i < present_buf_.size(); i += 4) present_buf_[i] = 0xff;
    // Without a guest rectangle, the damage is what differs. Compared outside
    // the lock: only this thread writes a frame in place, and a mode change
    // replaces the vector instead (caught below), so `current` holds still.
    std::vector<agfx_rect> damage = a[5] ? std::vector<agfx_rect>{area} : DiffRects(present_buf_.data(), current->data(), w, h);
    {
      std::lock_guard lock(disp_mu_);
      Display& d = displays_[a[0]];
      if (!d.attached || d.frame != current) return kBadMode;  // mode changed meanwhile
      uint8_t* px = d.frame->data();
      for (const agfx_rect& r : damage)
        for (uint32_t y = r.y; y < r.y + r.height; ++y)
          std::memcpy(px + row * y + size_t(r.x) * 4, present_buf_.data() + area_row * (y - area.y) + size_t(r.x - area.x) * 4,
                      size_t(r.width) * 4);
      if (!damage.empty()) d.history.Damage(std::move(damage));
      ++d.sequence;
    }
    host_.new_frame(host_.opaque, uint32_t(a[0]));
    return kOk;
  }

  // Where two packed frames differ: per band of kDamageBand rows, the box of
  // the differing pixels; bands with the same columns merge.
  static constexpr uint32_t kDamageBand = 16;
  static std::vector<agfx_rect> DiffRects(const uint8_t* a, const uint8_t* b, uint32_t w, uint32_t h) {
    size_t row = size_t(w) * 4;
    std::vector<agfx_rect> out;
    for (uint32_t band = 0; band < h; band += kDamageBand) {
      uint32_t x0 = w, x1 = 0, y0 = h, y1 = 0;
      for (uint32_t y = band; y < std::min(h, band + kDamageBand); ++y) {
        const uint8_t* pa = a + row * y;
        const uint8_t* pb = b + row * y;
        if (std::memcmp(pa, pb, row) == 0) continue;
        uint32_t l = 0, r = w;
        while (l < x0 && std::memcmp(pa + size_t(l) * 4, pb + size_t(l) * 4, 4) == 0) ++l;
        while (r > std::max(x1, l + 1) && std::memcmp(pa + size_t(r - 1) * 4, pb + size_t(r - 1) * 4, 4) == 0) --r;
        x0 = std::min(x0, l);
        x1 = std::max(x1, r);
        if (y0 == h) y0 = y;
        y1 = y + 1;
      }
      if (y0 == h) continue;
      agfx_rect box{x0, y0, x1 - x0, y1 - y0};
      if (!out.empty() && out.back().x == box.x && out.back().width == box.width && out.back().y + out.back().height == box.y)
        out.back().height += box.height;
      else
        out.push_back(box);
    }
    return out;
  }

  // COPY_RECT: a1 = source x | y << 16, a2 = destination x | y << 16,
  // a3 = width | height << 16; a blit within the frame (scrolling, window
  // moves), shown to viewers as a move (VNC CopyRect).
  uint32_t CopyRect(const uint64_t* a) {
    if (a[0] >= kPorts) return kNoDisplay;
    if ((a[1] | a[2] | a[3]) >> 32) return kBadArgs;
    uint32_t sx = a[1] & 0xffff, sy = uint32_t(a[1] >> 16), dx = a[2] & 0xffff, dy = uint32_t(a[2] >> 16);
    uint32_t cw = a[3] & 0xffff, ch = uint32_t(a[3] >> 16);
    {
      std::lock_guard lock(disp_mu_);
      Display& d = displays_[a[0]];
      if (!d.attached) return kNoDisplay;
      if (cw == 0 || ch == 0 || sx + cw > d.width || sy + ch > d.height || dx + cw > d.width || dy + ch > d.height)
        return kBadArgs;
      // In place, under the lock: readers never see half a blit.
      size_t row = size_t(d.width) * 4;
      uint8_t* px = d.frame->data();
      for (uint32_t i = 0; i < ch; ++i) {
        uint32_t r = dy > sy ? ch - 1 - i : i;  // overlapping blits: walk away from the destination
        std::memmove(px + row * (dy + r) + size_t(dx) * 4, px + row * (sy + r) + size_t(sx) * 4, size_t(cw) * 4);
      }
      if (sx != dx || sy != dy) d.history.Move({dx, dy, cw, ch}, sx, sy);
      ++d.sequence;
    }
    host_.new_frame(host_.opaque, uint32_t(a[0]));
    return kOk;
  }

  // ---------------------------------------------------------------- IOSFC
  // Serviced on the MMIO caller's thread; iosfc_map is arithmetic, no syscall.

  uint32_t IosfcRead(uint64_t off) {
    std::lock_guard lock(io_mu_);
    switch (off) {
      case kIoGpaLo: return uint32_t(io_gpa_);
      case kIoGpaHi: return uint32_t(io_gpa_ >> 32);
      case kIoLength: return io_len_;
      case kIoHandle: return io_handle_;
      case kIoStatus: return io_status_;
      case kIoPeekOffset: return io_peek_;
      case kIoPeekData: {
        if (io_handle_ == 0 || io_handle_ > io_maps_.size() || !io_maps_[io_handle_ - 1].host) return Bad("PEEK of no mapping");
        const IosfcMapping& m = io_maps_[io_handle_ - 1];
        if (io_peek_ % 4 || uint64_t(io_peek_) + 4 > m.len) return Bad("PEEK outside the mapping");
        uint32_t v;
        // Through the host alias, without faulting if the VMM shrank the file.
        if (!SafeRead(static_cast<uint8_t*>(m.host) + io_peek_, reinterpret_cast<uint8_t*>(&v), 4)) return Bad("PEEK of memory the VMM took away");
        return v;
      }
      case kIoMapped: return io_live_;
      default: return 0;
    }
  }

  uint32_t Bad(const char* what) {
    GuestError(std::string("IOSFC: ") + what);
    return 0xffffffffu;
  }

  void IosfcWrite(uint64_t off, uint32_t v) {
    {
      std::lock_guard lock(io_mu_);
      switch (off) {
        case kIoGpaLo: io_gpa_ = (io_gpa_ & ~0xffffffffull) | v; return;
        case kIoGpaHi: io_gpa_ = (io_gpa_ & 0xffffffffull) | (uint64_t(v) << 32); return;
        case kIoLength: io_len_ = v; return;
        case kIoHandle: io_handle_ = v; return;
        case kIoPeekOffset: io_peek_ = v; return;
        case kIoCommand: IosfcCommandLocked(v); break;
        default: return;
      }
    }
    host_.raise_interrupt(host_.opaque, 1);  // IOSFC vector
  }

  void IosfcCommandLocked(uint32_t cmd) {
    if (cmd == 1 || cmd == 2) {
      io_handle_ = 0;
      if (io_len_ == 0 || io_len_ > kMaxChecksumLen) {
        io_status_ = kBadArgs;
        return;
      }
      void* host = host_.iosfc_map(host_.opaque, io_gpa_, io_len_, cmd == 1);
      if (!host) {
        io_status_ = kMapFailed;
        GuestError("IOSFC map of 0x" + Hex(io_gpa_) + "+" + std::to_string(io_len_) + " outside shared guest RAM");
        return;
      }
      size_t slot = 0;
      while (slot < io_maps_.size() && io_maps_[slot].host) ++slot;
      if (slot == kMaxIosfcHandles) {
        host_.iosfc_unmap(host_.opaque, host);
        io_status_ = kNoMemory;
        return;
      }
      if (slot == io_maps_.size()) io_maps_.push_back({});
      io_maps_[slot] = IosfcMapping{host, io_len_, io_gpa_, cmd == 1};
      ++io_live_;
      io_handle_ = uint32_t(slot + 1);
      io_status_ = kOk;
    } else if (cmd == 3) {
      if (io_handle_ == 0 || io_handle_ > io_maps_.size() || !io_maps_[io_handle_ - 1].host) {
        io_status_ = kBadArgs;
        GuestError("IOSFC unmap of unknown handle " + std::to_string(io_handle_));
        return;
      }
      host_.iosfc_unmap(host_.opaque, io_maps_[io_handle_ - 1].host);
      io_maps_[io_handle_ - 1] = IosfcMapping{};
      --io_live_;
      io_status_ = kOk;
    } else {
      io_status_ = kBadArgs;
    }
  }

  void ReleaseResources() {
    for (auto& t : tasks_) {
      if (t.handle) host_.destroy_task(host_.opaque, t.handle);
      t = Task{};
    }
    std::lock_guard lock(io_mu_);
    for (auto& m : io_maps_)
      if (m.host) host_.iosfc_unmap(host_.opaque, m.host);
    io_maps_.clear();
    io_live_ = 0;
    io_gpa_ = 0;
    io_len_ = io_handle_ = io_status_ = io_peek_ = 0;
  }

  const agfx_host host_;
  const uint32_t vectors_;
  const bool mmio_;
  const bool static_map_;

  // Static memory model: a copy of the host's guest-memory map (map_mu_).
  std::mutex map_mu_;
  std::vector<agfx_memory_range> memory_map_;
  std::vector<uint8_t> present_buf_;  // worker thread only

  // Registers and ring state (mu_).
  std::mutex mu_;
  std::condition_variable work_cv_, idle_cv_;
  uint32_t scratch_ = 0, irq_status_ = 0;
  uint64_t ring_base_ = 0;
  uint32_t ring_entries_ = 0, head_ = 0, tail_ = 0;
  bool ring_ready_ = false, halted_ = false;
  uint64_t fence_ = 0;
  uint32_t completed_ = 0, errors_ = 0, last_error_ = 0;
  bool kick_ = false, busy_ = false, stop_ = false, resetting_ = false;
  bool stopped_ = false;  // quiesced by set_running(false): the worker parks
  std::thread worker_;

  // Owned by the worker while it runs; by Reset/destructor once it is parked.
  std::array<Task, kMaxTasks> tasks_{};

  // Displays (disp_mu_).
  std::mutex disp_mu_;
  std::array<Display, kPorts> displays_{};

  // IOSFC (io_mu_).
  std::mutex io_mu_;
  uint64_t io_gpa_ = 0;
  uint32_t io_len_ = 0, io_handle_ = 0, io_status_ = 0, io_peek_ = 0, io_live_ = 0;
  std::vector<IosfcMapping> io_maps_;
};

// ------------------------------------------------------------ C ABI glue

namespace {

SoftDevice* Dev(agfx_device* d) { return reinterpret_cast<SoftDevice*>(d); }

agfx_device* Create(const agfx_device_config* cfg, const agfx_host* host, char* err, size_t err_len) {
  if (!cfg || !host || host->struct_size < sizeof(agfx_host)) {
    if (err && err_len) std::snprintf(err, err_len, "soft backend: host services missing or too old");
    return nullptr;
  }
  if (cfg->memory_model != AGFX_MEMORY_TASKS && cfg->memory_model != AGFX_MEMORY_STATIC_MAP) {
    if (err && err_len) std::snprintf(err, err_len, "soft backend: unknown memory model %u", cfg->memory_model);
    return nullptr;
  }
  return reinterpret_cast<agfx_device*>(new SoftDevice(cfg, host));
}

const agfx_backend kSoftBackend = {
    AGFX_BACKEND_ABI_VERSION,
    sizeof(agfx_backend),
    "soft",
    Create,
    [](agfx_device* d) { delete Dev(d); },
    [](agfx_device* d, uint32_t region, uint64_t off) { return Dev(d)->MmioRead(region, off); },
    [](agfx_device* d, uint32_t region, uint64_t off, uint32_t v) { Dev(d)->MmioWrite(region, off, v); },
    [](agfx_device* d) { Dev(d)->Reset(); },
    [](agfx_device* d, uint32_t port, uint32_t serial, const char* name, const agfx_display_mode* m, uint32_t n) {
      return Dev(d)->AttachDisplay(port, serial, name, m, n);
    },
    [](agfx_device* d, uint32_t port, const agfx_display_mode* m, uint32_t n) { return Dev(d)->SetModes(port, m, n); },
    [](agfx_device* d, uint32_t port) { return Dev(d)->DetachDisplay(port); },
    [](agfx_device* d, uint32_t port, void* dst, size_t len, agfx_frame_info* info) {
      return Dev(d)->ReadFrame(port, dst, len, info);
    },
    [](agfx_device* d, uint32_t port, uint32_t* x, uint32_t* y) { return Dev(d)->CursorPosition(port, x, y); },
    [](agfx_device* d) { Dev(d)->MemoryMapChanged(); },
    [](agfx_device* d, void** blob, size_t* len) {
      std::vector<uint8_t> state = Dev(d)->Save();
      *blob = std::malloc(state.size());
      if (!*blob) return false;
      std::memcpy(*blob, state.data(), state.size());
      *len = state.size();
      return true;
    },
    [](agfx_device*, void* blob) { std::free(blob); },
    [](agfx_device* d, const void* blob, size_t len, char* err, size_t err_len) {
      std::string why;
      if (Dev(d)->Restore(static_cast<const uint8_t*>(blob), len, &why)) return true;
      if (err && err_len) std::snprintf(err, err_len, "%s", why.c_str());
      return false;
    },
    [](agfx_device* d, bool running) { Dev(d)->SetRunning(running); },
    [](agfx_device* d, uint32_t port, void* dst, size_t len, agfx_frame_info* info, agfx_frame_update* u) {
      return Dev(d)->UpdateFrame(port, dst, len, info, u);
    },
};

}  // namespace

const agfx_backend* SoftBackend() { return &kSoftBackend; }

}  // namespace agfx

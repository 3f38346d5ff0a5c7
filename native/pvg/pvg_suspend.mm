// Suspend/resume (PGDevice willSuspend / finishSuspend /
// willResumeWithSuspendState:error: / didResume) and pause/unpause, both as
// the backend ABI's save_state / restore_state / set_running (a PGDevice
// swap inside the same agfx_device) and as the step-by-step
// agfx_pvg_extras.h entry points; the option ROM and the host queries.
// Manual retain/release (MRR, CLANG_ENABLE_OBJC_ARC = NO): +1 results are
// released by hand, as marked.
#import "pvg_internal.h"
#import "pvg_private.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "portable/option_rom.h"
#include "portable/resume_errors.h"
#include "portable/state_blob.h"

namespace agfx::pvg {


// ---------------------------------------------------------------------------
// Building blocks of a PGDevice swap. Every one runs with gate_ held
// exclusively by its caller (no MMIO or display call in flight or able to
// start) and without mu_, because each may call into PVG, and PVG may call
// the host services and display handlers from its own queues meanwhile;
// none of those takes gate_ or waits for this thread (docs/design.md invariant 1).

bool PvgDevice::CreatePgDevice(std::string* err) {
  if (pgdev_) {
    *err = "internal: a PGDevice is still there";
    return false;
  }
  // The same descriptor every time (Init): Metal device, memory model, host
  // blocks, display port count, IOSurface mapper. The static model gets the
  // newest pinned map, never an empty one (finding 4: PVG is given guest
  // RAM at creation); the snapshot stays held while this PGDevice may use
  // the host pointers in it (AdoptMap, destructor).
  std::shared_ptr<PinnedMemoryMap> map;
  PGMemoryMapDescriptor* pgmap = nil;
  if (memory_model_ == AGFX_MEMORY_STATIC_MAP) {
    map = MapForNewDevice(err);
    if (!map) return false;
    if (map->ranges().empty()) {
      *err = "no guest RAM shared yet (DMA_MAP with an fd)";
      return false;
    }
    pgmap = NewPgMap(*map, err);  // +1
    if (!pgmap) return false;
    desc_.memoryMapDescriptor = pgmap;
  }
  id<PGDevice> dev = NewPgDevice(desc_);  // +1
  if (!dev) {
    [pgmap release];
    *err = "PVG refused to create the device";
    return false;
  }
  pgdev_ = dev;
  pg_paused_ = false;
  touched_ = false;
  guest_touched_ = false;
  // The previous PGDevice is already released (DropPgDevice), so the map it
  // was given may go now.
  if (map) AdoptMap(map, pgmap);
  // The IOSurface host device after the PGDevice, with the same map
  // (finding 5; Mediouni's order).
  if (variant_ == AGFX_VARIANT_MMIO && !CreateIosfc(map, pgmap, err)) {
    DropPgDevice();
    return false;
  }
  std::lock_guard lock(mu_);
  UpdateNeedsSwap();
  return true;
}

void PvgDevice::DropPgDevice() {
  // PVG: after -finishSuspend the device must be released; releasing a
  // running one destroys it. PVG may call destroyTask and the other host
  // services from inside this release, or later: the blocks hold link_.
  // The device's map snapshot stays held (dev_map_, iosfc_map_) until the
  // next device adopts a map.
  [pgdev_ release];
  pgdev_ = nil;
  [iosfc_ release];  // replaced with the next PGDevice (CreateIosfc)
  iosfc_ = nil;
  pg_paused_ = false;
}

std::vector<DisplaySpec> PvgDevice::TakeDisplays() {
  std::vector<DisplaySpec> specs;
  std::vector<std::shared_ptr<PvgDisplay>> old;
  {
    std::lock_guard lock(mu_);
    specs.swap(orphans_);  // attached for the daemon, waiting for a PGDevice
    for (uint32_t p = 0; p < kMaxPorts; ++p) {
      if (!displays_[p]) continue;
      DisplaySpec sp = specs_[p];
      sp.old = displays_[p];
      specs.push_back(std::move(sp));
      old.push_back(std::move(displays_[p]));
      displays_[p] = nullptr;
      specs_[p] = DisplaySpec{};
    }
  }
  for (auto& d : old) RetireDisplay(d);  // hot-unplug from the old PGDevice; handlers now no-ops
  // Renders of the retired displays finish on display_queue_ and Metal's
  // completion thread, which take no lock of ours and never wait for this
  // thread: waiting here (gate_ held) cannot deadlock. After it no encode
  // runs against the PGDevice about to be released.
  if (!old.empty()) dispatch_group_wait(inflight_, dispatch_time(DISPATCH_TIME_NOW, int64_t(5 * NSEC_PER_SEC)));
  return specs;
}

void PvgDevice::ReattachDisplays(std::vector<DisplaySpec>* specs) {
  for (DisplaySpec& sp : *specs) {
    if (!pgdev_) {
      // No PGDevice (it could not be created): the displays stay attached
      // for the daemon and come back with the next device (reset).
      sp.old.reset();
      std::lock_guard lock(mu_);
      orphans_.push_back(std::move(sp));
      continue;
    }
    std::string e;
    std::shared_ptr<PvgDisplay> d;
    NSArray* list = ModeArray(sp.modes.data(), uint32_t(sp.modes.size()), &e);
    // Same port, serial and name: the guest compositor keeps its layout.
    if (list)
      d = NewDisplay(pgdev_, link_, sp.port, sp.serial, sp.name.c_str(), list, mtl_, mtl_queue_, display_queue_,
                     inflight_, sp.old.get(), &e);
    sp.old.reset();
    if (!d) {
      GuestError("pvg: display " + std::to_string(sp.port) + " could not be attached again: " + e);
      host_.mode_changed(host_.opaque, sp.port, 0, 0, AGFX_FORMAT_BGRA8);  // as a detach
      continue;
    }
    std::lock_guard lock(mu_);
    displays_[sp.port] = d;
    specs_[sp.port] = std::move(sp);
  }
  specs->clear();
}

bool PvgDevice::WillResume(NSData* state, NSData* iosfc_state, std::string* msg) {
  // Must be the first call on a fresh PGDevice: it was created under the
  // same exclusive gate_, so no MMIO or display call has reached it.
  NSError* e = nil;
  if (![pgdev_ willResumeWithSuspendState:state error:&e]) {
    bool pvg_domain = e && [e.domain isEqualToString:PGResumeErrorDomain];
    *msg = e ? FormatResumeError(pvg_domain, e.domain.UTF8String, int64_t(e.code), e.localizedDescription.UTF8String)
             : "PVG refused the suspend state without saying why";
    return false;
  }
  if (!iosfc_) return true;  // PCI: PVG's state is all
  // The mmio variant: the IOSurface host device's state too (finding 7).
  if (!iosfc_state) {
    *msg = "the state has no IOSurface part, which the mmio variant needs";
    return false;
  }
  if (![iosfc_ respondsToSelector:@selector(restoreWithSavedState:error:)]) {
    *msg = "this macOS's IOSurface host device cannot restore a state";
    return false;
  }
  e = nil;
  if (![iosfc_ restoreWithSavedState:iosfc_state error:&e]) {
    *msg = "the IOSurface host device refused its state: " + Describe(e);
    return false;
  }
  return true;
}

// The blob's parts as NSData (autoreleased); false with *msg.
static bool StateFromBlob(const void* blob, size_t len, NSData** pg, NSData** iosfc, std::string* msg) {
  StateParts parts;
  if (!UnpackState(blob, len, &parts, msg)) return false;
  *pg = [NSData dataWithBytes:parts.pg length:parts.pg_len];
  *iosfc = parts.iosfc ? [NSData dataWithBytes:parts.iosfc length:parts.iosfc_len] : nil;
  return true;
}

void PvgDevice::DidResume() {
  // Displays are attached again and guest RAM is mapped (the pinned map).
  // It may raise an interrupt: irq_ holds it if the daemon stopped us.
  [pgdev_ didResume];
  if (irq_.stopped()) PausePg();
}

bool PvgDevice::SuspendLocked(NSData** state, NSData** iosfc_state, std::string* err) {
  // The device is suspended as it is: paused when the daemon stopped it
  // (migration STOP before STOP_COPY), never unpaused first, which would
  // restart it while the vCPUs are stopped (finding 6).
  [pgdev_ willSuspend];  // no new interrupts, no new guest commands
  // May block for long while GPU work drains; the callbacks that work needs
  // (memory, interrupts, Metal completions) never take gate_.
  *state = [pgdev_ finishSuspend];  // NS_RETURNS_RETAINED: +1
  if (!*state) {
    *err = "finishSuspend returned no state";
    return false;
  }
  // The IOSurface host device's own state (finding 7; class dump:
  // -saveState). Checked before the suspend began (SaveState).
  if (iosfc_) {
    *iosfc_state = [[iosfc_ saveState] retain];
    if (!*iosfc_state) {
      *err = "the IOSurface host device returned no state";
      return false;
    }
  }
  return true;
}

// -pause / -unpause exist from macOS 12 (the SDKs advertise them with
// PG_SUPPORT_PAUSE_UNPAUSE from 13.3, but declare them from 12.0; the
// run-time @available check is what matters). On macOS 11 there is no
// lighter quiesce than a suspend, which would end with the device destroyed:
// set_running(false) there only holds interrupts (irq_), and says so once.
void PvgDevice::PausePg() {
  if (!pgdev_ || pg_paused_) return;
  if (@available(macOS 12.0, *)) {
    [pgdev_ pause];  // returns once pending guest-memory writes are done
    pg_paused_ = true;
  } else if (!pause_warned_) {
    pause_warned_ = true;
    GuestError("pvg: pausing needs macOS 12: while stopped, interrupts are held, but GPU work in flight may still "
               "touch guest memory");
  }
}

void PvgDevice::UnpausePg() {
  if (!pgdev_ || !pg_paused_) return;
  if (@available(macOS 12.0, *)) [pgdev_ unpause];  // may raise an interrupt
  pg_paused_ = false;
}

// ---------------------------------------------------------------------------
// agfx_backend: save_state / restore_state / set_running

bool PvgDevice::SaveState(void** blob, size_t* len) {
  if (!blob || !len) return false;
  // Exclusive for the whole swap: no MMIO on the PGDevice being suspended
  // and released, none on the fresh one before -willResumeWithSuspendState:.
  std::unique_lock gate(gate_);
  @autoreleasepool {
    if (!pgdev_) {
      GuestError("pvg: save_state: no PVG device (suspended, not created yet, or its creation failed)");
      return false;
    }
    // PVG: "guest CPUs must be halted within a short interval" of
    // -willSuspend. The daemon stops the device (set_running(false)) when
    // the vCPUs stop; a save while it runs is refused (finding 6).
    if (!irq_.stopped()) {
      GuestError("pvg: save_state refused: the device is running; stop the guest (and the device) first");
      return false;
    }
    // The mmio variant's state includes the IOSurface host device's; where
    // PVG cannot save it, the device cannot migrate (finding 7).
    if (iosfc_ && !([iosfc_ respondsToSelector:@selector(saveState)] &&
                    [iosfc_ respondsToSelector:@selector(restoreWithSavedState:error:)])) {
      GuestError("pvg: save_state refused: this macOS's IOSurface host device cannot save its state, so the mmio "
                 "variant cannot migrate");
      return false;
    }
    touched_ = true;
    NSData* state = nil;
    NSData* io_state = nil;
    std::string e;
    bool saved = SuspendLocked(&state, &io_state, &e);
    auto specs = TakeDisplays();
    DropPgDevice();  // required after finishSuspend, whatever it returned
    // "The device keeps running": the same state goes straight into a fresh
    // PGDevice, as a resume on the destination would.
    bool resumed = false;
    if (saved && CreatePgDevice(&e)) {
      resumed = WillResume(state, io_state, &e);
      if (!resumed) DropPgDevice();
    }
    if (!resumed) {
      // Its state is gone from PVG: a plain fresh device (a reset) keeps
      // the daemon's device usable. The save is reported failed.
      std::string e2;
      if (!CreatePgDevice(&e2)) e += "; no fresh device could be created either: " + e2 + " (the next reset retries)";
      GuestError("pvg: save_state failed, the device was reset: " + e);
    }
    ReattachDisplays(&specs);
    if (resumed) DidResume();
    else if (irq_.stopped()) PausePg();
    bool ok = false;
    if (resumed) {
      std::vector<uint8_t> packed = PackState(state.bytes, state.length, io_state ? io_state.bytes : nullptr,
                                              io_state ? io_state.length : 0);
      void* copy = std::malloc(packed.size());
      if (copy) {
        std::memcpy(copy, packed.data(), packed.size());
        *blob = copy;
        *len = packed.size();
        ok = true;
      }
    }
    [state release];
    [io_state release];
    return ok;
  }
}

bool PvgDevice::RestoreState(const void* blob, size_t len, char* err, size_t err_len) {
  std::unique_lock gate(gate_);  // as SaveState
  touched_ = true;
  @autoreleasepool {
    auto specs = TakeDisplays();
    DropPgDevice();  // the running device and its state are replaced
    std::string msg;
    bool ok = false;
    if (!blob || len == 0) {
      msg = "empty device state";
    } else {
      NSData *pg = nil, *io = nil;
      if (StateFromBlob(blob, len, &pg, &io, &msg) && CreatePgDevice(&msg)) {
        ok = WillResume(pg, io, &msg);
        if (!ok) DropPgDevice();  // what a refused resume leaves is unknown: not reused
      }
    }
    if (!ok) {
      // The contract: on failure the device is left reset.
      std::string e2;
      if (!CreatePgDevice(&e2)) msg += "; no fresh device could be created either: " + e2 + " (the next reset retries)";
    }
    ReattachDisplays(&specs);
    if (ok) DidResume();
    else if (irq_.stopped()) PausePg();
    if (!ok) Fail(err, err_len, msg);
    return ok;
  }
}

void PvgDevice::SetRunning(bool running) {
  // Exclusive: -pause/-unpause never overlap a swap or an MMIO call.
  std::unique_lock gate(gate_);
  @autoreleasepool {
    if (!running) {
      irq_.Stop();  // first: what the pause drain raises is held
      PausePg();    // returns when PVG is quiet (macOS 12+)
    } else {
      UnpausePg();  // may raise an interrupt: held until Start
      irq_.Start();
    }
  }
}

// ---------------------------------------------------------------------------
// agfx_pvg_extras.h: the suspend/resume steps one by one, on the same blocks.

void PvgDevice::SuspendBegin() {
  std::unique_lock gate(gate_);
  touched_ = true;
  @autoreleasepool {
    // Suspended as it is, paused or not (finding 6): the caller halts the
    // vCPUs promptly after this.
    [pgdev_ willSuspend];  // no new interrupts, no new guest commands
  }
}

bool PvgDevice::SuspendFinish(void** blob, size_t* len, char* err, size_t err_len) {
  std::unique_lock gate(gate_);
  @autoreleasepool {
    if (!pgdev_) {
      Fail(err, err_len, "no PVG device to suspend");
      return false;
    }
    NSData* state = [pgdev_ finishSuspend];  // NS_RETURNS_RETAINED: +1; may block while GPU work drains
    NSData* io_state = iosfc_ && [iosfc_ respondsToSelector:@selector(saveState)] ? [[iosfc_ saveState] retain] : nil;
    const bool io_missing = iosfc_ && !io_state;
    // PVG: the device must be released now. The agfx_device stays valid
    // (MMIO reads 0) until resume_begin or a reset brings a fresh PGDevice;
    // its displays are unplugged, to be attached again after resume_begin.
    for (const DisplaySpec& sp : TakeDisplays()) host_.mode_changed(host_.opaque, sp.port, 0, 0, AGFX_FORMAT_BGRA8);
    DropPgDevice();
    if (!state) {
      Fail(err, err_len, "finishSuspend returned no state");
      return false;
    }
    if (io_missing) {
      [state release];
      Fail(err, err_len, "the IOSurface host device gave no state (the mmio variant cannot migrate on this macOS)");
      return false;
    }
    std::vector<uint8_t> packed =
        PackState(state.bytes, state.length, io_state ? io_state.bytes : nullptr, io_state ? io_state.length : 0);
    [state release];
    [io_state release];
    void* copy = std::malloc(packed.size());
    if (!copy) {
      Fail(err, err_len, "out of memory for the suspend state");
      return false;
    }
    std::memcpy(copy, packed.data(), packed.size());
    *blob = copy;
    *len = packed.size();
    return true;
  }
}

const char* PvgDevice::ResumeBegin(const void* blob, size_t len) {
  std::unique_lock gate(gate_);
  @autoreleasepool {
    if (!blob || len == 0) {
      last_error_ = "empty suspend state";
      return last_error_.c_str();
    }
    if (!pgdev_ || touched_) {
      // -willResumeWithSuspendState: must be the first call on a PGDevice:
      // a used one is replaced. Attach the displays again after this call
      // (that also goes for displays waiting for a device: orphans_).
      for (const DisplaySpec& sp : TakeDisplays()) host_.mode_changed(host_.opaque, sp.port, 0, 0, AGFX_FORMAT_BGRA8);
      DropPgDevice();
    }
    std::string msg;
    NSData *pg = nil, *io = nil;
    bool ok = StateFromBlob(blob, len, &pg, &io, &msg) && (pgdev_ || CreatePgDevice(&msg)) && WillResume(pg, io, &msg);
    touched_ = true;
    if (ok) return nullptr;
    DropPgDevice();  // left reset: a plain fresh device
    std::string e2;
    if (!CreatePgDevice(&e2)) msg += "; no fresh device could be created either: " + e2;
    last_error_ = msg;
    return last_error_.c_str();
  }
}

void PvgDevice::ResumeFinish() {
  std::unique_lock gate(gate_);
  @autoreleasepool {
    if (pgdev_) DidResume();
  }
}

}  // namespace agfx::pvg

using agfx::pvg::PvgDevice;

extern "C" {

void agfx_pvg_suspend_begin(agfx_device* dev) { reinterpret_cast<PvgDevice*>(dev)->SuspendBegin(); }

bool agfx_pvg_suspend_finish(agfx_device* dev, void** blob, size_t* len, char* err, size_t err_len) {
  if (!dev || !blob || !len) return false;
  return reinterpret_cast<PvgDevice*>(dev)->SuspendFinish(blob, len, err, err_len);
}

const char* agfx_pvg_resume_begin(agfx_device* dev, const void* blob, size_t len) {
  if (!dev) return "no device";
  return reinterpret_cast<PvgDevice*>(dev)->ResumeBegin(blob, len);
}

void agfx_pvg_resume_finish(agfx_device* dev) { reinterpret_cast<PvgDevice*>(dev)->ResumeFinish(); }

size_t agfx_pvg_default_mmio_length(void) {
  @autoreleasepool {
    PGDeviceDescriptor* d = [PGDeviceDescriptor new];  // QEMU: a throw-away descriptor
    size_t n = d.mmioLength;
    [d release];
    return n;
  }
}

uint32_t agfx_pvg_max_display_ports(void) {
  if (@available(macOS 13.0, *)) return PGMaxDisplayPortCount();
  return 1;
}

uint32_t agfx_pvg_supported_memory_models(void) {
  uint32_t models = 0;
  // At run time, not by SDK (finding 16).
  if ([PGDeviceDescriptor instancesRespondToSelector:@selector(setCreateTask:)]) models |= 1u << AGFX_MEMORY_TASKS;
  if (NSClassFromString(@"PGMemoryMapDescriptor") &&
      [PGDeviceDescriptor instancesRespondToSelector:@selector(setMemoryMapDescriptor:)])
    models |= 1u << AGFX_MEMORY_STATIC_MAP;
  return models;
}

bool agfx_pvg_copy_option_rom(void** data, size_t* len, char* err, size_t err_len) {
  if (!data || !len) return false;
  std::string path;
  @autoreleasepool {
    NSURL* url = PGCopyOptionROMURL();  // "Copy": +1 (QEMU releases it too)
    const char* fs = url.path.fileSystemRepresentation;
    if (fs) path = fs;
    [url release];
  }
  if (path.empty()) {
    agfx::pvg::Fail(err, err_len, "PGCopyOptionROMURL() gave no file path");
    return false;
  }
  std::vector<uint8_t> raw, rom;
  std::string e;
  if (!agfx::pvg::ReadWholeFile(path, &raw, &e) || !agfx::pvg::PadOptionRom(raw.data(), raw.size(), &rom, &e)) {
    agfx::pvg::Fail(err, err_len, "option ROM " + path + ": " + e);
    return false;
  }
  void* out = std::malloc(rom.size());
  if (!out) {
    agfx::pvg::Fail(err, err_len, "out of memory for the option ROM");
    return false;
  }
  std::memcpy(out, rom.data(), rom.size());
  *data = out;
  *len = rom.size();
  return true;
}

bool agfx_pvg_write_option_rom(const char* path, char* err, size_t err_len) {
  if (!path || !*path) {
    agfx::pvg::Fail(err, err_len, "no output path for the option ROM");
    return false;
  }
  std::string src;
  @autoreleasepool {
    NSURL* url = PGCopyOptionROMURL();  // +1
    const char* fs = url.path.fileSystemRepresentation;
    if (fs) src = fs;
    [url release];
  }
  std::string e;
  if (src.empty() || !agfx::pvg::PadOptionRomFile(src, path, &e)) {
    agfx::pvg::Fail(err, err_len, src.empty() ? std::string("PGCopyOptionROMURL() gave no file path") : e);
    return false;
  }
  return true;
}

void agfx_pvg_free(void* p) { std::free(p); }

}  // extern "C"

// The PVG double's PGDisplay: hot-plug on the first modeList, handlers on the
// descriptor's queue only, encodeCurrentFrameToCommandBuffer:texture:region:
// as GPU work that copies the soft command logic's frame into the client's
// texture (nearest-neighbour scale into the region), minimumTextureUsage
// enforced, hot-unplug on the last release. Test-only.
#include <cstdint>
#import <Foundation/Foundation.h>
#import <ParavirtualizedGraphics/ParavirtualizedGraphics.h>

#include <pthread.h>

#include <condition_variable>
#include <cstring>
#include <string>
#include <vector>

#include "double_core.h"
#include "metal_internal.h"
#include "pg_api.h"
#include "pg_core.h"

using pvgdouble::DeviceCore;
using pvgdouble::DisplayCore;
using pvgdouble::Hazard;
using pvgdouble::Note;
using pvgdouble::On;
using pvgdouble::Violation;

namespace pvgdouble {

namespace {
// PVG's internal display lock (locked-handlers hazard): held while a handler
// runs, taken by encode. Owner-aware, so taking it where it is held (an
// encode from inside a handler, on the display queue) is reported instead
// of hanging.
struct PvgLock {
  std::mutex mu;
  std::condition_variable cv;
  bool held = false;
  pthread_t owner{};
  void Lock() {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return !held; });
    held = true;
    owner = pthread_self();
  }
  bool LockFromEncode() {
    std::unique_lock l(mu);
    if (held && pthread_equal(owner, pthread_self())) return false;
    cv.wait(l, [&] { return !held; });
    held = true;
    owner = pthread_self();
    return true;
  }
  void Unlock() {
    std::lock_guard l(mu);
    held = false;
    cv.notify_all();
  }
};
PvgLock g_pvg_lock;
}  // namespace

void DisplayCore::Deliver(void (^fn)(DisplayCore*)) {
  if (!live) return;
  auto dev_alive = dev.lock();
  if (!dev_alive || dev_alive->dead) return;
  // Keep this core alive until the handler ran (the display may be released meanwhile).
  std::shared_ptr<DisplayCore> keep;
  {
    std::lock_guard l(dev_alive->mu);
    keep = dev_alive->displays[port].lock();
  }
  if (!keep) return;
  dispatch_async(queue, ^{
    if (!keep->live) return;  // released: PVG calls no handler after that
    bool locked = On(Hazard::kLockedHandlers);
    if (locked) g_pvg_lock.Lock();
    fn(keep.get());
    if (locked) g_pvg_lock.Unlock();
  });
}

}  // namespace pvgdouble

@interface AGFXPGDisplay : NSObject <PGDisplay> {
 @public
  std::shared_ptr<DisplayCore>* core_;
  uint32_t encode_calls_;
}
@end

id<PGDisplay> AGFXNewDisplay(std::shared_ptr<DeviceCore> dev, PGDisplayDescriptor* descriptor, NSUInteger port,
                             uint32_t serial) {
  AGFXPGDisplayDescriptor* d = (AGFXPGDisplayDescriptor*)descriptor;
  if (port >= dev->cfg.ports) {
    Violation("display-port-range", "newDisplayWithDescriptor: port " + std::to_string(port) +
                                        " >= displayPortCount " + std::to_string(dev->cfg.ports));
    return nil;
  }
  if (!d->queue_) {
    Violation("display-no-queue", "PGDisplayDescriptor.queue is nil: every handler runs on it");
    return nil;
  }
  if (d->new_frame_ == nullptr) Note("display-no-new-frame-handler", "no newFrameEventHandler: frames go unnoticed");
  auto core = std::make_shared<DisplayCore>();
  {
    std::lock_guard l(dev->mu);
    if (auto old = dev->displays[port].lock(); old && old->live) {
      Violation("display-port-taken", "newDisplayWithDescriptor: port " + std::to_string(port) +
                                          " already has a live display (one display per port)");
      return nil;
    }
    dev->displays[port] = core;
  }
  core->dev = dev;
  core->port = uint32_t(port);
  core->serial = serial;
  core->name = [(d->name_ ? d->name_ : @"Apple Virtual") copy];
  core->mm = d->mm_;
  core->queue = [d->queue_ retain];
  if (d->mode_change_) core->mode_change = (PGDisplayModeChangeHandler)Block_copy(d->mode_change_);
  if (d->new_frame_) core->new_frame = (PGDisplayNewFrameEventHandler)Block_copy(d->new_frame_);
  if (d->glyph_) core->glyph = (PGDisplayCursorGlyphHandler)Block_copy(d->glyph_);
  if (d->show_) core->show = (PGDisplayCursorShowHandler)Block_copy(d->show_);
  if (d->move_) core->move = (PGDisplayCursorMoveHandler)Block_copy(d->move_);
  *d->used_by_ = core;
  AGFXPGDisplay* disp = [AGFXPGDisplay new];
  disp->core_ = new std::shared_ptr<DisplayCore>(core);
  return disp;  // "new": +1
}

@implementation AGFXPGDisplay
- (void)dealloc {
  DisplayCore* c = core_->get();
  bool on_queue = dispatch_queue_is_current_np(c->queue);
  if (on_queue)
    Violation("display-released-on-its-queue",
              "the last release of a PGDisplay ran on the display's own queue: PVG waits there for handlers in "
              "flight, so on a Mac this deadlocks");
  c->live = false;  // no handler runs from now on
  if (auto dev = c->dev.lock()) {
    if (c->plugged && dev->soft && !dev->dead) agfx::SoftBackend()->detach_display(dev->soft, c->port);  // hot-unplug
    std::lock_guard l(dev->mu);
    if (dev->displays[c->port].lock().get() == c) dev->displays[c->port].reset();
  }
  if (!on_queue) dispatch_sync(c->queue, ^{});  // handlers already running finish first
  delete core_;
  [super dealloc];
}
- (NSString*)name {
  return (*core_)->name;
}
- (NSSize)sizeInMillimeters {
  return (*core_)->mm;
}
- (dispatch_queue_t)queue {
  return (*core_)->queue;
}
- (PGDisplayModeChangeHandler)modeChangeHandler {
  return (*core_)->mode_change;
}
- (PGDisplayNewFrameEventHandler)newFrameEventHandler {
  return (*core_)->new_frame;
}
- (PGDisplayCursorGlyphHandler)cursorGlyphHandler {
  return (*core_)->glyph;
}
- (PGDisplayCursorShowHandler)cursorShowHandler {
  return (*core_)->show;
}
- (PGDisplayCursorMoveHandler)cursorMoveHandler {
  return (*core_)->move;
}
- (PGDisplayCoord_t)cursorPosition {
  std::lock_guard l((*core_)->mu);
  return (*core_)->cursor;
}
- (uint32_t)serialNum {
  return (*core_)->serial;
}
- (NSUInteger)port {
  return (*core_)->port;
}
- (MTLTextureUsage)minimumTextureUsage {
  return pvgdouble::kMinimumUsage;
}
- (NSUInteger)guestPresentCount {
  return NSUInteger((*core_)->guest_presents.load());
}
- (NSUInteger)hostPresentCount {
  return NSUInteger((*core_)->host_presents.load());
}
- (NSArray*)modeList {
  std::lock_guard l((*core_)->mu);
  return [[(*core_)->modes retain] autorelease];
}
- (void)setModeList:(NSArray*)list {
  DisplayCore* c = core_->get();
  if (list.count > AGFX_MAX_MODES) {
    Violation("mode-list-too-long", "modeList of " + std::to_string(list.count) + " modes: PVG takes at most 128");
    return;
  }
  if (list.count == 0) {
    Violation("mode-list-empty", "an empty modeList");
    return;
  }
  std::vector<agfx_display_mode> modes;
  for (id m in list) {
    if (![m isKindOfClass:[PGDisplayMode class]]) {
      Violation("mode-list-type", "modeList holds something that is not a PGDisplayMode");
      return;
    }
    PGDisplayMode* mode = m;
    modes.push_back(agfx_display_mode{mode.sizeInPixels.x, mode.sizeInPixels.y, uint32_t(mode.refreshRate * 1000)});
  }
  auto dev = c->dev.lock();
  if (!dev || dev->dead || !pvgdouble::CheckCall(dev.get(), "PGDisplay.modeList", false)) return;
  {
    std::lock_guard l(c->mu);
    NSArray* copy = [list copy];
    [c->modes release];
    c->modes = copy;
  }
  if (!c->plugged) {
    // The first assignment hot-plugs the display (the guest sees it).
    c->plugged = agfx::SoftBackend()->attach_display(dev->soft, c->port, c->serial, c->name.UTF8String, modes.data(),
                                                     uint32_t(modes.size()));
    if (!c->plugged) Note("display-attach", "the device refused display port " + std::to_string(c->port));
  } else {
    agfx::SoftBackend()->set_modes(dev->soft, c->port, modes.data(), uint32_t(modes.size()));
  }
}
- (bool)encodeCurrentFrameToCommandBuffer:(id<MTLCommandBuffer>)cb texture:(id<MTLTexture>)tex region:(MTLRegion)r {
  std::shared_ptr<DisplayCore> c = *core_;
  auto dev = c->dev.lock();
  if (!dev || dev->dead || !c->live) return false;
  if (!pvgdouble::IsDoubleCommandBuffer(cb) || !pvgdouble::IsDoubleTexture(tex) ||
      pvgdouble::DeviceOf(cb) != dev->cfg.mtl || pvgdouble::DeviceOf(tex) != dev->cfg.mtl) {
    Violation("encode-wrong-device",
              "encodeCurrentFrameToCommandBuffer: the command buffer and texture must come from the PGDevice's MTLDevice");
    return false;
  }
  if ((tex.usage & pvgdouble::kMinimumUsage) != pvgdouble::kMinimumUsage) {
    Note("encode-texture-usage", "the texture's usage lacks minimumTextureUsage: the encode fails (PVG)");
    return false;
  }
  if (r.size.width == 0 || r.size.height == 0 || r.origin.x + r.size.width > tex.width ||
      r.origin.y + r.size.height > tex.height) {
    Note("encode-region", "encode region outside the texture");
    return false;
  }
  bool hazard_lock = On(Hazard::kLockedHandlers);
  if (hazard_lock && !pvgdouble::g_pvg_lock.LockFromEncode()) {
    Violation("encode-under-pvg-lock",
              "encodeCurrentFrameToCommandBuffer called from inside a display handler, where PVG holds its internal "
              "lock: a deadlock on a Mac (QEMU encodes from a global queue for this reason)");
    return false;
  }
  ++encode_calls_;
  bool fail = On(Hazard::kFailingEncode) && encode_calls_ % 3 == 0;
  bool ok = false;
  if (!fail) {
    [tex retain];
    std::weak_ptr<DeviceCore> weak_dev = dev;
    uint32_t port = c->port;
    c->encodes_in_flight++;
    ok = pvgdouble::EncodeWork(cb, "PGDisplay encode", [c, weak_dev, tex, r, port] {
      c->encodes_in_flight--;
      bool done = false;
      if (auto d = weak_dev.lock(); d && !d->dead && d->soft) {
        agfx_frame_info info{};
        std::vector<uint8_t> frame;
        if (agfx::SoftBackend()->read_frame(d->soft, port, nullptr, 0, &info) && info.width && info.height) {
          frame.resize(size_t(info.stride) * info.height);
          if (agfx::SoftBackend()->read_frame(d->soft, port, frame.data(), frame.size(), &info)) {
            uint8_t* px = pvgdouble::GpuPixels(tex);
            size_t tw = tex.width;
            for (NSUInteger y = 0; y < r.size.height; ++y) {
              uint32_t sy = uint32_t(uint64_t(y) * info.height / r.size.height);
              uint8_t* dst = px + ((r.origin.y + y) * tw + r.origin.x) * 4;
              if (r.size.width == info.width) {
                std::memcpy(dst, frame.data() + size_t(sy) * info.stride, size_t(info.width) * 4);
                continue;
              }
              for (NSUInteger x = 0; x < r.size.width; ++x) {
                uint32_t sx = uint32_t(uint64_t(x) * info.width / r.size.width);
                std::memcpy(dst + x * 4, frame.data() + size_t(sy) * info.stride + size_t(sx) * 4, 4);
              }
            }
            c->host_presents++;
            done = true;
          }
        }
      }
      [tex release];
      return done;
    });
    if (!ok) {
      c->encodes_in_flight--;
      [tex release];
    }
  }
  if (hazard_lock) pvgdouble::g_pvg_lock.Unlock();
  if (ok && On(Hazard::kModeMidRender) && encode_calls_ % 8 == 1) {
    // A mode change (to another mode and back) lands while this render is in
    // flight; the guest's compositor then presents again.
    NSArray* modes = nil;
    uint32_t w, h;
    {
      std::lock_guard l(c->mu);
      modes = [[c->modes retain] autorelease];
      w = c->width, h = c->height;
    }
    for (PGDisplayMode* m in modes) {
      if (m.sizeInPixels.x == w && m.sizeInPixels.y == h) continue;
      PGDisplayCoord_t other = m.sizeInPixels, cur{uint16_t(w), uint16_t(h)};
      c->Deliver(^(DisplayCore* k) {
        if (k->mode_change) k->mode_change(other, 'BGRA');
        if (k->mode_change) k->mode_change(cur, 'BGRA');
        if (k->new_frame) k->new_frame();
      });
      break;
    }
  }
  return ok;
}
@end

// PVG displays: descriptor and handlers, the render pipeline (encode into a
// texture, synchronise managed storage, read back into the frame buffer that
// read_frame copies), cursor glyph/show/move. Manual retain/release.
#import "pvg_internal.h"

#include "portable/cursor_convert.h"
#include "portable/pvg_modes.h"

namespace agfx::pvg {

namespace {

using Outcome = FramePacer::Outcome;

// QEMU's 'A 20" display'. The ABI has no physical size; this sets guest DPI.
constexpr double kWidthMm = 400.0, kHeightMm = 300.0;

id<PGDisplay> RetainedDisplay(PvgDisplay* d) {  // +1 or nil
  std::lock_guard lock(d->disp_mu);
  return [d->pgdisp retain];
}

void StartRender(const std::shared_ptr<PvgDisplay>& d);

// Display queue. Publishes a finished render unless the mode changed meanwhile.
void FinishRender(const std::shared_ptr<PvgDisplay>& d, id<MTLTexture> tex, uint32_t w, uint32_t h, Outcome outcome) {
  if (outcome == Outcome::kPublished &&
      !(d->live && tex == d->texture && FramePacer::Publishable(w, h, d->tex_w, d->tex_h)))
    outcome = Outcome::kStale;
  if (outcome == Outcome::kPublished) {
    // Read back outside frame_mu (getBytes may take a while), swap in under it.
    std::vector<uint8_t> px(size_t(w) * h * 4);
    [tex getBytes:px.data() bytesPerRow:NSUInteger(w) * 4 fromRegion:MTLRegionMake2D(0, 0, w, h) mipmapLevel:0];
    bool swapped = false;
    {
      std::lock_guard lock(d->frame_mu);
      if (d->width == w && d->height == h) {
        d->frame.swap(px);
        ++d->sequence;
        swapped = true;
      }
    }
    // Fire-and-forget, no lock of ours held; nothing once the device is gone.
    if (swapped) d->link->With([&](const agfx_host& h) { h.new_frame(h.opaque, d->port); });
  } else if (outcome == Outcome::kFailed && d->live) {
    d->GuestError("pvg: encodeCurrentFrameToCommandBuffer or its command buffer failed");
  }
  if (d->pacer.OnRenderDone(outcome) && d->live) StartRender(d);
}

// Display queue.
void StartRender(const std::shared_ptr<PvgDisplay>& d) {
  id<PGDisplay> disp = RetainedDisplay(d.get());
  id<MTLTexture> tex = [d->texture retain];
  id<MTLCommandBuffer> cb = [[d->mtl_queue commandBuffer] retain];
  uint32_t w = d->tex_w, h = d->tex_h;
  bool managed = d->managed;
  if (!disp || !tex || !cb || !d->live) {  // no mode yet, or being detached
    [disp release];
    [tex release];
    [cb release];
    while (d->pacer.OnRenderDone(Outcome::kStale)) {
    }  // nothing can render: drop what is pending
    return;
  }
  dispatch_group_enter(d->inflight);
  std::shared_ptr<PvgDisplay> keep = d;  // the blocks keep the display alive
  dispatch_async(dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0), ^{ @autoreleasepool {
    // Not on the display queue and with none of our locks: PVG-internal locks
    // may be held while PVG waits on the display queue, so encoding there
    // could deadlock (QEMU moves encode off the BQL for the same reason).
    bool ok = [disp encodeCurrentFrameToCommandBuffer:cb texture:tex region:MTLRegionMake2D(0, 0, w, h)];
    if (ok && managed) {
      // Managed storage lives in VRAM and RAM: make the CPU copy current.
      id<MTLBlitCommandEncoder> blit = [cb blitCommandEncoder];
      [blit synchronizeResource:tex];
      [blit endEncoding];
    }
    // The blocks below hold `keep`, and through it the display queue and
    // render group (retained by the display, finding 11), however late
    // Metal's completion comes.
    if (!ok) {
      dispatch_async(keep->queue, ^{ @autoreleasepool {
        FinishRender(keep, tex, w, h, Outcome::kFailed);
        dispatch_group_leave(keep->inflight);
      } });
    } else {
      [cb addCompletedHandler:^(id<MTLCommandBuffer> done) { @autoreleasepool {
        // Metal's completion thread: only hop back to the display queue,
        // which owns the pipeline state.
        bool gpu_ok = done.status == MTLCommandBufferStatusCompleted;
        dispatch_async(keep->queue, ^{ @autoreleasepool {
          FinishRender(keep, tex, w, h, gpu_ok ? Outcome::kPublished : Outcome::kFailed);
          dispatch_group_leave(keep->inflight);
        } });
      } }];
      [cb commit];
    }
    [cb release];
    [tex release];  // the inner blocks retained it
    [disp release];
  } });
}

// Display queue (modeChangeHandler). A new texture of the new size with the
// usage PVG asks for; the frame buffer is resized at once (opaque black).
void SetMode(const std::shared_ptr<PvgDisplay>& d, uint32_t w, uint32_t h) {
  if (w == d->tex_w && h == d->tex_h && d->texture) return;
  id<MTLTexture> tex = nil;
  if (w && h) {
    id<PGDisplay> disp = RetainedDisplay(d.get());
    MTLTextureDescriptor* td = [MTLTextureDescriptor texture2DDescriptorWithPixelFormat:MTLPixelFormatBGRA8Unorm
                                                                                  width:w
                                                                                 height:h
                                                                              mipmapped:NO];
    td.usage = disp.minimumTextureUsage;  // encode fails without it
    [disp release];
    tex = [d->mtl newTextureWithDescriptor:td];  // +1
    if (!tex) {
      d->GuestError("pvg: cannot allocate the display texture for the new mode");
      w = h = 0;
    }
  }
  [d->texture release];
  d->texture = tex;
  d->managed = tex && tex.storageMode == MTLStorageModeManaged;
  d->tex_w = w;
  d->tex_h = h;
  {
    std::lock_guard lock(d->frame_mu);
    d->width = w;
    d->height = h;
    d->frame.assign(size_t(w) * h * 4, 0);
    for (size_t i = 3; i < d->frame.size(); i += 4) d->frame[i] = 0xff;
  }
  d->link->With([&](const agfx_host& hs) { hs.mode_changed(hs.opaque, d->port, w, h, AGFX_FORMAT_BGRA8); });
}

void SampleCursor(PvgDisplay* d, uint32_t* x, uint32_t* y) {
  id<PGDisplay> disp = RetainedDisplay(d);
  if (!disp) {
    *x = *y = AGFX_CURSOR_OFF_DISPLAY;
    return;
  }
  PGDisplayCoord_t pos = disp.cursorPosition;  // a cheap sample (PVG docs)
  [disp release];
  CursorPositionFromPvg(pos.x, pos.y, x, y);
}

}  // namespace

NSArray* ModeArray(const agfx_display_mode* modes, uint32_t n, std::string* err) {
  std::vector<PvgMode> converted;
  if (!ConvertModes(modes, n, &converted, err)) return nil;
  NSMutableArray* list = [NSMutableArray arrayWithCapacity:converted.size()];
  for (const PvgMode& m : converted) {
    PGDisplayMode* mode = [[PGDisplayMode alloc] initWithSizeInPixels:PGDisplayCoord_t{m.width, m.height}
                                                      refreshRateInHz:m.refresh_hz];
    if (!mode) {
      *err = "PVG refused mode " + std::to_string(m.width) + "x" + std::to_string(m.height);
      return nil;
    }
    [list addObject:mode];
    [mode release];
  }
  return list;
}

std::shared_ptr<PvgDisplay> NewDisplay(id<PGDevice> pgdev, const HostLinkRef& link, uint32_t port, uint32_t serial,
                                       const char* name, NSArray* modes, id<MTLDevice> mtl, id<MTLCommandQueue> queue,
                                       dispatch_queue_t display_queue, dispatch_group_t inflight,
                                       PvgDisplay* carry, std::string* err) {
  auto d = std::make_shared<PvgDisplay>();
  if (carry) {
    // A PGDevice swap: read_frame keeps the last picture and the sequence
    // stays monotonic until the new display's first mode change and frame.
    // The retired display's handlers are dead (live == false): no race.
    std::lock_guard lock(carry->frame_mu);
    d->frame = carry->frame;
    d->width = carry->width;
    d->height = carry->height;
    d->sequence = carry->sequence;
  }
  d->link = link;
  d->port = port;
  d->serial = serial;
  d->mtl = [mtl retain];
  d->mtl_queue = [queue retain];
  dispatch_retain(display_queue);
  d->queue = display_queue;
  dispatch_retain(inflight);
  d->inflight = inflight;
  std::weak_ptr<PvgDisplay> weak = d;  // handlers must not keep the display alive (cycle via pgdisp)

  PGDisplayDescriptor* desc = [[PGDisplayDescriptor new] autorelease];
  desc.name = name && *name ? [NSString stringWithUTF8String:name] : @"apple-gfxd";
  desc.sizeInMillimeters = NSMakeSize(kWidthMm, kHeightMm);
  desc.queue = display_queue;  // never the main queue: Node's main thread has no CFRunLoop
  // Every handler below runs on display_queue, drains its own autorelease
  // pool (finding 14) and only calls fire-and-forget host events: nothing
  // waits for the JS thread.
  desc.newFrameEventHandler = ^{ @autoreleasepool {
    auto s = weak.lock();
    if (!s || !s->live) return;
    if (s->pacer.OnNewFrame() == FramePacer::Event::kRenderNow) StartRender(s);
  } };
  desc.modeChangeHandler = ^(PGDisplayCoord_t size, OSType) { @autoreleasepool {  // pixelFormat ignored, as QEMU
    auto s = weak.lock();
    if (s && s->live) SetMode(s, size.x, size.y);
  } };
  desc.cursorGlyphHandler = ^(NSBitmapImageRep* glyph, PGDisplayCoord_t hot) { @autoreleasepool {
    auto s = weak.lock();
    if (!s || !s->live) return;
    CursorGlyph g;
    std::string e;
    NSInteger w = glyph.pixelsWide, h = glyph.pixelsHigh, bpr = glyph.bytesPerRow, bpp = glyph.bitsPerPixel;
    if (w < 0 || h < 0 || bpr < 0 || bpp < 0 ||
        !ConvertCursorGlyph(glyph.bitmapData, uint32_t(w), uint32_t(h), size_t(bpr), uint32_t(bpp), hot.x, hot.y, &g, &e)) {
      s->GuestError(("pvg: " + (e.empty() ? std::string("bad cursor glyph") : e)).c_str());
      return;
    }
    s->link->With([&](const agfx_host& h) {
      h.cursor_glyph(h.opaque, s->port, g.bgra.data(), g.width, g.height, g.width * 4, g.hot_x, g.hot_y);
    });
  } };
  desc.cursorShowHandler = ^(BOOL show) { @autoreleasepool {
    auto s = weak.lock();
    if (s && s->live) s->link->With([&](const agfx_host& h) { h.cursor_show(h.opaque, s->port, show); });
  } };
  if (@available(macOS 11.1, *)) {
    desc.cursorMoveHandler = ^{ @autoreleasepool {
      auto s = weak.lock();
      if (!s || !s->live) return;
      uint32_t x, y;
      SampleCursor(s.get(), &x, &y);  // the handler carries no position: re-sample
      s->link->With([&](const agfx_host& h) { h.cursor_moved(h.opaque, s->port, x, y); });
    } };
  }

  id<PGDisplay> disp = [pgdev newDisplayWithDescriptor:desc port:port serialNum:serial];  // "new": +1
  if (!disp) {
    *err = "PVG refused display port " + std::to_string(port);
    return nullptr;
  }
  {
    std::lock_guard lock(d->disp_mu);
    d->pgdisp = disp;
  }
  disp.modeList = modes;  // first assignment = hot-plug; first mode preferred
  return d;
}

void RetireDisplay(const std::shared_ptr<PvgDisplay>& d) {
  d->live = false;  // handlers and completions from now on do nothing
  id<PGDisplay> disp;
  {
    std::lock_guard lock(d->disp_mu);
    disp = d->pgdisp;
    d->pgdisp = nil;
  }
  [disp release];  // hot-unplug; renders in flight hold their own reference
}

PvgDisplay::~PvgDisplay() {
  [texture release];
  [pgdisp release];
  // The last reference: no render block or completion is left to use these.
  [mtl_queue release];
  [mtl release];
  if (inflight) dispatch_release(inflight);
  if (queue) dispatch_release(queue);
}

void PvgDisplay::GuestError(const char* msg) {
  link->With([&](const agfx_host& h) { h.guest_error(h.opaque, msg); });
}

bool PvgDevice::CursorPosition(uint32_t port, uint32_t* x, uint32_t* y) {
  auto d = Display(port);
  if (!d) return false;
  @autoreleasepool {
    SampleCursor(d.get(), x, y);  // no lock of ours held while PVG is asked
  }
  return true;
}

}  // namespace agfx::pvg

// Self-test of the PVG double's platform pieces (test-only): the libdispatch
// subset, the blocks runtime fix, the Metal subset and a few PVG contract
// checks, each asserting behaviour that could fail. Run by
// test/unit/pvg-double-selftest.test.ts; exit 0 and "selftest: N passed".
// Runs with AGFX_PVG_DOUBLE_VIOLATIONS=record (set below) so that contract
// checks are observed instead of aborting.
#import <Foundation/Foundation.h>
#import <Metal/Metal.h>
#import <ParavirtualizedGraphics/ParavirtualizedGraphics.h>
#include <dispatch/dispatch.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../src/double_core.h"
#include "../src/metal_internal.h"
#include "pvg_double.h"

static int g_passed = 0;
#define CHECK(c)                                                                    \
  do {                                                                              \
    if (!(c)) {                                                                     \
      std::fprintf(stderr, "selftest: FAILED %s (%s:%d)\n", #c, __FILE__, __LINE__); \
      std::exit(1);                                                                 \
    }                                                                               \
    ++g_passed;                                                                     \
  } while (0)

static bool HasViolation(const char* code) {
  char buf[65536];
  agfx_pvg_double_violations(buf, sizeof buf);
  return std::strstr(buf, code) != nullptr;
}

static void SerialQueues() {
  dispatch_queue_t q = dispatch_queue_create("t.serial", DISPATCH_QUEUE_SERIAL);
  __block std::vector<int>* order = new std::vector<int>();
  static std::atomic<int> running, overlap;  // statics: blocks share them
  running = 0, overlap = 0;
  for (int i = 0; i < 200; ++i)
    dispatch_async(q, ^{
      if (running.fetch_add(1) != 0) overlap++;
      order->push_back(i);
      running--;
    });
  dispatch_sync(q, ^{});
  CHECK(order->size() == 200);
  bool fifo = true;
  for (int i = 0; i < 200; ++i) fifo = fifo && (*order)[i] == i;
  CHECK(fifo);
  CHECK(overlap == 0);
  __block bool current = false;
  dispatch_sync(q, ^{
    current = dispatch_queue_is_current_np(q);
  });
  CHECK(current);
  CHECK(!dispatch_queue_is_current_np(q));
  delete order;
  dispatch_release(q);
}

static void ConcurrentAndGroups() {
  dispatch_queue_t g = dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0);
  dispatch_group_t grp = dispatch_group_create();
  static std::atomic<int> in, peak, done;
  in = 0, peak = 0, done = 0;
  for (int i = 0; i < 4; ++i)
    dispatch_group_async(grp, g, ^{
      int n = ++in;
      int p = peak.load();
      while (n > p && !peak.compare_exchange_weak(p, n)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      in--;
      done++;
    });
  CHECK(dispatch_group_wait(grp, DISPATCH_TIME_FOREVER) == 0);
  CHECK(done == 4);
  CHECK(peak >= 2);  // a global queue runs blocks in parallel
  dispatch_group_enter(grp);
  CHECK(dispatch_group_wait(grp, dispatch_time(DISPATCH_TIME_NOW, 20 * NSEC_PER_MSEC)) != 0);  // times out
  dispatch_semaphore_t notified = dispatch_semaphore_create(0);
  dispatch_group_notify(grp, g, ^{
    dispatch_semaphore_signal(notified);
  });
  CHECK(dispatch_semaphore_wait(notified, dispatch_time(DISPATCH_TIME_NOW, 20 * NSEC_PER_MSEC)) != 0);
  dispatch_group_leave(grp);
  CHECK(dispatch_semaphore_wait(notified, dispatch_time(DISPATCH_TIME_NOW, 2 * NSEC_PER_SEC)) == 0);
  dispatch_release(grp);
  dispatch_release(notified);
}

static void AfterAndSemaphores() {
  dispatch_queue_t q = dispatch_queue_create("t.after", DISPATCH_QUEUE_SERIAL);
  dispatch_semaphore_t s = dispatch_semaphore_create(0);
  auto t0 = std::chrono::steady_clock::now();
  dispatch_after(dispatch_time(DISPATCH_TIME_NOW, 100 * NSEC_PER_MSEC), q, ^{
    dispatch_semaphore_signal(s);
  });
  CHECK(dispatch_semaphore_wait(s, DISPATCH_TIME_FOREVER) == 0);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(ms >= 95 && ms < 2000);
  dispatch_release(s);
  dispatch_release(q);
}

static void MainQueue() {
  __block int ran = 0;
  dispatch_async(dispatch_get_main_queue(), ^{
    ran++;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(ran == 0);  // nothing runs the main queue unless the host services it
  CHECK(agfx_pvg_double_drain_main_queue() == 1);
  CHECK(ran == 1);
  // From the main thread, a sync onto the main queue is a deadlock on macOS.
  dispatch_sync(dispatch_get_main_queue(), ^{});
  CHECK(HasViolation("main-thread-waits-on-main-queue"));
  // A sync onto the current serial queue is a deadlock too.
  dispatch_queue_t q = dispatch_queue_create("t.self", DISPATCH_QUEUE_SERIAL);
  dispatch_sync(q, ^{
    dispatch_sync(q, ^{});
  });
  CHECK(HasViolation("dispatch-sync-deadlock"));
  dispatch_release(q);
}

static void Lifetimes() {
  // Copied blocks retain the objects they capture (Apple's runtime does).
  NSObject* o = [NSObject new];
  NSUInteger before = [o retainCount];
  dispatch_queue_t q = dispatch_queue_create("t.life", DISPATCH_QUEUE_SERIAL);
  dispatch_semaphore_t gate = dispatch_semaphore_create(0);
  dispatch_async(q, ^{
    dispatch_semaphore_wait(gate, DISPATCH_TIME_FOREVER);
    (void)o;
  });
  CHECK([o retainCount] == before + 1);
  dispatch_semaphore_signal(gate);
  dispatch_sync(q, ^{});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK([o retainCount] == before);
  [o release];
  // A group released while entered, then used: libdispatch crashes; reported here.
  dispatch_group_t g = dispatch_group_create();
  dispatch_group_enter(g);
  dispatch_release(g);
  CHECK(HasViolation("dispatch-group-released-in-use"));
  dispatch_group_leave(g);
  CHECK(HasViolation("dispatch-object-used-after-release"));
  dispatch_release(q);
  dispatch_release(gate);
}

static void Metal() {
  id<MTLDevice> dev = MTLCreateSystemDefaultDevice();
  id<MTLCommandQueue> cq = [dev newCommandQueue];
  MTLTextureDescriptor* td = [MTLTextureDescriptor texture2DDescriptorWithPixelFormat:MTLPixelFormatBGRA8Unorm width:4 height:2 mipmapped:NO];
  td.usage = MTLTextureUsageShaderRead;
  td.storageMode = MTLStorageModeManaged;
  id<MTLTexture> t = [dev newTextureWithDescriptor:td];
  CHECK(t.width == 4 && t.height == 2 && t.storageMode == MTLStorageModeManaged);
  id<MTLCommandBuffer> cb = [cq commandBuffer];
  CHECK(pvgdouble::EncodeWork(cb, "fill", [t] {
    std::memset(pvgdouble::GpuPixels(t), 0x7f, 4 * 2 * 4);
    return true;
  }));
  dispatch_semaphore_t s = dispatch_semaphore_create(0);
  __block bool other_thread = false;
  std::thread::id main_id = std::this_thread::get_id();
  [cb addCompletedHandler:^(id<MTLCommandBuffer> b) {
    other_thread = std::this_thread::get_id() != main_id;
    dispatch_semaphore_signal(s);
  }];
  [cb commit];
  CHECK(dispatch_semaphore_wait(s, dispatch_time(DISPATCH_TIME_NOW, 2 * NSEC_PER_SEC)) == 0);
  CHECK(other_thread);
  CHECK(cb.status == MTLCommandBufferStatusCompleted);
  uint8_t px[32];
  [t getBytes:px bytesPerRow:16 fromRegion:MTLRegionMake2D(0, 0, 4, 2) mipmapLevel:0];
  CHECK(px[0] == 0);  // managed: the CPU copy is stale until a blit synchronizes it
  id<MTLCommandBuffer> cb2 = [cq commandBuffer];
  id<MTLBlitCommandEncoder> blit = [cb2 blitCommandEncoder];
  [blit synchronizeResource:t];
  [blit endEncoding];
  [cb2 addCompletedHandler:^(id<MTLCommandBuffer> b) {
    dispatch_semaphore_signal(s);
  }];
  [cb2 commit];
  CHECK(dispatch_semaphore_wait(s, dispatch_time(DISPATCH_TIME_NOW, 2 * NSEC_PER_SEC)) == 0);
  [t getBytes:px bytesPerRow:16 fromRegion:MTLRegionMake2D(0, 0, 4, 2) mipmapLevel:0];
  CHECK(px[0] == 0x7f && px[31] == 0x7f);
  [cb2 addCompletedHandler:^(id<MTLCommandBuffer> b) {}];
  CHECK(HasViolation("metal-handler-after-commit"));
  [t release];
  [cq release];
  [dev release];
  dispatch_release(s);
}

static void Descriptors() {
  pvgdouble::SetMacOS("15.4");
  PGDeviceDescriptor* d = [PGDeviceDescriptor new];
  CHECK(d.mmioLength == 0x4000);
  CHECK([d respondsToSelector:@selector(setMemoryMapDescriptor:)]);
  pvgdouble::SetMacOS("15.3");
  CHECK(![d respondsToSelector:@selector(setMemoryMapDescriptor:)]);
  CHECK([d respondsToSelector:@selector(setCreateTask:)]);
  pvgdouble::SetMacOS("27.0");
  CHECK(![PGDeviceDescriptor instancesRespondToSelector:@selector(setCreateTask:)]);
  pvgdouble::SetMacOS("12.0");
  CHECK(PGMaxDisplayPortCount() == 1);
  pvgdouble::SetMacOS("15.4");
  CHECK(PGMaxDisplayPortCount() == 4);
  // A task-model device needs every task callback.
  d.device = [MTLCreateSystemDefaultDevice() autorelease];
  d.raiseInterrupt = ^(uint32_t) {
  };
  CHECK(PGNewDeviceWithDescriptor(d) == nil);
  CHECK(HasViolation("missing-task-callback"));
  [d release];
  PGDisplayMode* m = [[PGDisplayMode alloc] initWithSizeInPixels:PGDisplayCoord_t{0, 10} refreshRateInHz:60];
  CHECK(m == nil);  // no zero-sized modes
  NSURL* rom = PGCopyOptionROMURL();
  NSData* bytes = [NSData dataWithContentsOfFile:rom.path];
  CHECK(bytes.length >= 512 && ((const uint8_t*)bytes.bytes)[0] == 0x55 && ((const uint8_t*)bytes.bytes)[1] == 0xAA);
  [rom release];
}

int main() {
  setenv("AGFX_PVG_DOUBLE_VIOLATIONS", "record", 1);
  @autoreleasepool {
    pvgdouble::CheckBlocksRuntime();
    SerialQueues();
    ConcurrentAndGroups();
    AfterAndSemaphores();
    MainQueue();
    Lifetimes();
    Metal();
    Descriptors();
  }
  std::printf("selftest: %d passed, 0 failed\n", g_passed);
  return 0;
}

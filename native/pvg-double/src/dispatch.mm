// The PVG double's libdispatch subset on pthreads (sdk/dispatch/dispatch.h).
// Test-only. Debian has no libdispatch; this keeps the parts of its contract
// that PVG and native/pvg rely on (see the header), with one simplification:
// a dispatch_sync block runs on the pool thread that owns the queue at that
// moment, not on the caller's thread (the caller waits either way, and the
// block sees the queue as current).
#include <CoreFoundation/CoreFoundation.h>
#include <dispatch/dispatch.h>
#include <pthread.h>
#import <Foundation/Foundation.h>

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "double_core.h"
#include "pvg_double.h"

namespace {

struct QueueImpl;

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Absolute monotonic deadline of a dispatch_time_t (FOREVER stays FOREVER).
uint64_t Deadline(dispatch_time_t t) {
  if (t == DISPATCH_TIME_FOREVER) return DISPATCH_TIME_FOREVER;
  if (t == DISPATCH_TIME_NOW) return NowNs();
  return t;
}

template <typename Pred>
bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, uint64_t deadline, Pred pred) {
  if (deadline == DISPATCH_TIME_FOREVER) {
    cv.wait(lock, pred);
    return true;
  }
  while (!pred()) {
    uint64_t now = NowNs();
    if (now >= deadline) return false;
    cv.wait_for(lock, std::chrono::nanoseconds(deadline - now));
  }
  return true;
}

bool IsMainThread() { return ::syscall(SYS_gettid) == ::getpid(); }

// Dispatch objects after their last release: a later use is reported
// (libdispatch would crash or worse). Their C++ state is kept (leaked) so
// the report is all that happens.
std::mutex g_dead_mu;
std::set<const void*>* g_dead = new std::set<const void*>();
void MarkDead(const void* o) {
  std::lock_guard l(g_dead_mu);
  g_dead->insert(o);
}
void MarkLive(const void* o) {
  std::lock_guard l(g_dead_mu);
  g_dead->erase(o);
}
bool CheckLive(const void* o, const char* what) {
  {
    std::lock_guard l(g_dead_mu);
    if (!g_dead->count(o)) return true;
  }
  pvgdouble::Violation("dispatch-object-used-after-release",
                       std::string(what) + " on a dispatch object after its last release (a use after free on a Mac)");
  return false;
}

// The queues the calling thread is running blocks of (innermost last); a
// sync block also carries the stack of the thread that waits for it.
thread_local std::vector<QueueImpl*> t_current;

struct StackScope {
  size_t depth;
  StackScope(const std::vector<QueueImpl*>& extra, QueueImpl* q) : depth(t_current.size()) {
    t_current.insert(t_current.end(), extra.begin(), extra.end());
    t_current.push_back(q);
  }
  ~StackScope() { t_current.resize(depth); }
};

bool IsCurrent(QueueImpl* q) {
  for (QueueImpl* c : t_current)
    if (c == q) return true;
  return false;
}

// ---- worker pool: grows when every worker is busy (blocks may wait), idle
// workers leave after 5 s. Like libdispatch's workers for queues whose
// autorelease frequency is "inherit"/"never" (dispatch_queue_create's and the
// global queues' default), a worker does not give each block its own
// autorelease pool: what a block autoreleases without a pool of its own
// stays in the worker's pool until the worker drains it (when idle, or every
// 64 blocks). Each drain's object count is recorded (AutoreleaseStats).
std::atomic<uint64_t> g_ar_drains{0}, g_ar_objects{0}, g_ar_max{0};

void CountDrain(NSAutoreleasePool* pool) {
  uint64_t n = [pool autoreleaseCount];
  if (n && pvgdouble::On(pvgdouble::Hazard::kAutorelease))
    pvgdouble::Violation("autorelease-leftover",
                         std::to_string(n) + " objects autoreleased by dispatch blocks without a pool of their own were "
                         "left in a worker's pool until it drained (QEMU wraps its frame, mode-change and completion "
                         "paths in @autoreleasepool; finding 14)");
  g_ar_drains++;
  g_ar_objects += n;
  uint64_t m = g_ar_max.load();
  while (n > m && !g_ar_max.compare_exchange_weak(m, n)) {
  }
}

class Pool {
 public:
  static Pool& Get() {
    static Pool* p = new Pool();  // never destroyed: workers may outlive static destruction
    return *p;
  }
  void Submit(std::function<void()> job) {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
    // Enough idle workers for every queued job: wake one. Otherwise a new
    // worker (a waiting block must not hold up work queued behind it).
    if (size_t(idle_) >= jobs_.size()) {
      cv_.notify_one();
      return;
    }
    if (threads_ >= kMaxThreads) return;  // a busy worker takes it later
    ++threads_;
    std::thread([this] { Work(); }).detach();
  }

 private:
  static constexpr int kMaxThreads = 128;
  void Work() {
    GSRegisterCurrentThread();
    NSAutoreleasePool* pool = [NSAutoreleasePool new];
    int since_drain = 0;
    std::unique_lock lock(mu_);
    for (;;) {
      if (jobs_.empty() || since_drain >= 64) {
        lock.unlock();
        CountDrain(pool);
        [pool release];
        pool = [NSAutoreleasePool new];
        since_drain = 0;
        lock.lock();
      }
      ++idle_;
      bool got = cv_.wait_for(lock, std::chrono::seconds(5), [&] { return !jobs_.empty(); });
      --idle_;
      if (!got) break;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      ++since_drain;
      lock.lock();
    }
    --threads_;
    lock.unlock();
    CountDrain(pool);
    [pool release];
    GSUnregisterCurrentThread();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  int idle_ = 0, threads_ = 0;
};

struct SyncWait {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool abandoned = false;  // the waiter ran it itself (record mode after a violation)
  bool taken = false;      // a drain started it
  std::vector<QueueImpl*> caller_stack;
};

struct Item {
  dispatch_block_t block = nullptr;  // Block_copy'd, or borrowed for sync
  void* ctx = nullptr;
  dispatch_function_t fn = nullptr;
  // Shared with the waiter: an item the waiter abandoned (ran itself after
  // the 3 s main-queue timeout) stays queued and must not point at its stack.
  std::shared_ptr<SyncWait> sync;
  void Run() const {
    if (block) block();
    else if (fn) fn(ctx);
  }
};

struct QueueImpl {
  std::string label;
  bool concurrent = false;
  bool main = false;
  id owner = nil;  // the ObjC object (not retained: it owns us)
  std::mutex mu;
  std::deque<Item> items;
  bool running = false;  // serial: a drain is scheduled or running
  std::condition_variable queued;  // main queue: work arrived (the run loop's wake-up port)
};

void RunSyncItem(QueueImpl* q, const Item& it) {
  {
    std::lock_guard l(it.sync->mu);
    if (it.sync->abandoned) return;
    it.sync->taken = true;
  }
  {
    StackScope scope(it.sync->caller_stack, q);
    it.Run();
  }
  std::lock_guard l(it.sync->mu);
  it.sync->done = true;
  it.sync->cv.notify_all();
}

void RunItem(QueueImpl* q, const Item& it) {
  if (it.sync) return RunSyncItem(q, it);
  {
    StackScope scope({}, q);
    it.Run();
  }
  if (it.block) Block_release(it.block);
}

void DrainSerial(QueueImpl* q) {
  for (;;) {
    Item it;
    {
      std::lock_guard lock(q->mu);
      if (q->items.empty()) {
        q->running = false;
        break;
      }
      it = q->items.front();
      q->items.pop_front();
    }
    RunItem(q, it);
  }
}

}  // namespace

@interface AGFXDispatchObject : NSObject <OS_dispatch_object>
@end
@implementation AGFXDispatchObject
@end

@interface AGFXDispatchQueue : AGFXDispatchObject <OS_dispatch_queue> {
 @public
  QueueImpl* impl_;
}
@end
@implementation AGFXDispatchQueue
- (void)dealloc {
  MarkDead(self);  // impl_ is kept: a late use is reported, not a crash
  [super dealloc];
}
- (NSString*)description {
  return [NSString stringWithFormat:@"<dispatch queue '%s'>", impl_->label.c_str()];
}
@end

@interface AGFXDispatchAttr : AGFXDispatchObject <OS_dispatch_queue_attr>
@end
@implementation AGFXDispatchAttr
@end

struct GroupImpl {
  std::mutex mu;
  std::condition_variable cv;
  long count = 0;
  std::vector<std::pair<dispatch_queue_t, dispatch_block_t>> notify;
};
@interface AGFXDispatchGroup : AGFXDispatchObject <OS_dispatch_group> {
 @public
  GroupImpl* impl_;
}
@end
@implementation AGFXDispatchGroup
- (void)dealloc {
  if (impl_->count != 0)
    pvgdouble::Violation("dispatch-group-released-in-use",
                         "BUG IN CLIENT OF LIBDISPATCH: Group object deallocated while in use (" +
                             std::to_string(impl_->count) + " dispatch_group_enter without a leave yet)");
  MarkDead(self);
  [super dealloc];
}
@end

struct SemaImpl {
  std::mutex mu;
  std::condition_variable cv;
  intptr_t value = 0;
  intptr_t orig = 0;
};
@interface AGFXDispatchSemaphore : AGFXDispatchObject <OS_dispatch_semaphore> {
 @public
  SemaImpl* impl_;
}
@end
@implementation AGFXDispatchSemaphore
- (void)dealloc {
  if (impl_->value < impl_->orig) {
    std::fprintf(stderr, "pvg-double: BUG IN CLIENT OF LIBDISPATCH: semaphore object deallocated while in use\n");
    std::abort();
  }
  delete impl_;
  [super dealloc];
}
@end

namespace {

QueueImpl* Impl(dispatch_queue_t q) {
  if (!q) {
    std::fprintf(stderr, "pvg-double: libdispatch called with a NULL queue\n");
    std::abort();
  }
  return static_cast<AGFXDispatchQueue*>(q)->impl_;
}

// The queue's state, or null (and a violation) if it was released for good.
QueueImpl* LiveImpl(dispatch_queue_t q, const char* what) {
  if (q && !CheckLive(q, what)) return nullptr;
  return Impl(q);
}

AGFXDispatchQueue* NewQueue(const char* label, bool concurrent, bool main) {
  AGFXDispatchQueue* q = [AGFXDispatchQueue new];
  MarkLive(q);
  q->impl_ = new QueueImpl();
  q->impl_->label = label ? label : "";
  q->impl_->concurrent = concurrent;
  q->impl_->main = main;
  q->impl_->owner = q;
  return q;
}

AGFXDispatchQueue* MainQueue() {
  static AGFXDispatchQueue* q = NewQueue("com.apple.main-thread", false, true);  // immortal
  return q;
}

void Enqueue(dispatch_queue_t queue, Item it) {
  QueueImpl* q = LiveImpl(queue, "dispatch_async/dispatch_sync");
  if (!q) return;  // reported; the work is dropped
  if (q->concurrent) {
    [queue retain];  // queued work keeps the queue alive
    Pool::Get().Submit([q, it, queue] {
      RunItem(q, it);
      [queue release];
    });
    return;
  }
  bool schedule = false;
  {
    std::lock_guard lock(q->mu);
    q->items.push_back(it);
    if (!q->main && !q->running) schedule = q->running = true;
  }
  if (q->main) q->queued.notify_all();  // wakes a CFRunLoopRunInMode waiting on the main thread
  if (schedule) {
    [queue retain];
    Pool::Get().Submit([q, queue] {
      DrainSerial(q);
      [queue release];
    });
  }
}

// ---- dispatch_after: one timer thread
class Timers {
 public:
  static Timers& Get() {
    static Timers* t = new Timers();
    return *t;
  }
  void Add(uint64_t deadline, dispatch_queue_t q, dispatch_block_t b) {
    std::lock_guard lock(mu_);
    if (!started_) {
      started_ = true;
      std::thread([this] { Run(); }).detach();
    }
    timers_.emplace(deadline, std::make_pair(q, b));
    cv_.notify_one();
  }

 private:
  void Run() {
    GSRegisterCurrentThread();
    std::unique_lock lock(mu_);
    for (;;) {
      if (timers_.empty()) {
        cv_.wait(lock);
        continue;
      }
      uint64_t now = NowNs(), first = timers_.begin()->first;
      if (first > now) {
        cv_.wait_for(lock, std::chrono::nanoseconds(first - now));
        continue;
      }
      auto [q, b] = timers_.begin()->second;
      timers_.erase(timers_.begin());
      lock.unlock();
      Item it;
      it.block = b;  // already copied
      Enqueue(q, it);
      [q release];
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<uint64_t, std::pair<dispatch_queue_t, dispatch_block_t>> timers_;
  bool started_ = false;
};

}  // namespace

extern "C" {

dispatch_queue_attr_t _dispatch_queue_attr_concurrent_np(void) {
  static AGFXDispatchAttr* attr = [AGFXDispatchAttr new];  // immortal
  return attr;
}

dispatch_queue_t dispatch_queue_create(const char* label, dispatch_queue_attr_t attr) {
  return NewQueue(label, attr != nil && attr == _dispatch_queue_attr_concurrent_np(), false);
}

dispatch_queue_t dispatch_get_global_queue(intptr_t identifier, uintptr_t) {
  static std::mutex mu;
  static std::map<intptr_t, AGFXDispatchQueue*> globals;  // immortal
  std::lock_guard lock(mu);
  AGFXDispatchQueue*& q = globals[identifier];
  if (!q) q = NewQueue(("com.apple.root.global-" + std::to_string(identifier)).c_str(), true, false);
  return q;
}

dispatch_queue_t dispatch_get_main_queue(void) { return MainQueue(); }

const char* dispatch_queue_get_label(dispatch_queue_t queue) { return queue ? Impl(queue)->label.c_str() : ""; }

void dispatch_async(dispatch_queue_t queue, dispatch_block_t block) {
  Item it;
  it.block = Block_copy(block);
  Enqueue(queue, it);
}

void dispatch_async_f(dispatch_queue_t queue, void* context, dispatch_function_t work) {
  Item it;
  it.ctx = context;
  it.fn = work;
  Enqueue(queue, it);
}

// Set once main-queue work waited 3 s unserviced (recorded as a violation):
// later main-queue waits do not wait again, so a backend that never services
// the main queue fails in seconds, not in 3 s per work item (the MMIO of a
// whole ring run, and teardown, each put some there).
static std::atomic<bool> g_main_unserviced{false};

static void SyncImpl(dispatch_queue_t queue, dispatch_block_t block, void* ctx, dispatch_function_t fn) {
  QueueImpl* q = LiveImpl(queue, "dispatch_sync");
  if (!q) return;
  Item it;
  it.block = block;
  it.ctx = ctx;
  it.fn = fn;
  if (IsCurrent(q)) {
    pvgdouble::Violation("dispatch-sync-deadlock",
                         "dispatch_sync onto queue '" + q->label + "' from a block running on it: a deadlock on macOS");
    it.Run();  // record mode: go on as if re-entrant
    return;
  }
  if (q->main && IsMainThread()) {
    pvgdouble::Violation("main-thread-waits-on-main-queue",
                         "dispatch_sync onto the main queue from the main thread outside a main-queue drain: a deadlock on macOS");
    it.Run();
    return;
  }
  if (q->concurrent) {
    StackScope scope({}, q);
    it.Run();
    return;
  }
  auto wait = std::make_shared<SyncWait>();
  SyncWait& w = *wait;
  w.caller_stack = t_current;
  it.sync = wait;
  Enqueue(queue, it);
  std::unique_lock lock(w.mu);
  if (q->main) {
    // Only a host that services the main queue (a CFRunLoop on macOS) runs it.
    uint64_t deadline = NowNs() + (g_main_unserviced.load() ? 0 : 3000ull * NSEC_PER_MSEC);
    if (!WaitUntil(lock, w.cv, deadline, [&] { return w.done; })) {
      if (!w.taken) {
        w.abandoned = true;
        lock.unlock();
        g_main_unserviced.store(true);
        pvgdouble::Violation("main-queue-not-serviced",
                             "work PVG put on the main queue waited 3 s and nobody ran it: nothing services the main "
                             "queue in this process (Node's main thread runs no CFRunLoop)");
        it.Run();
        return;
      }
      w.cv.wait(lock, [&] { return w.done; });
    }
    return;
  }
  w.cv.wait(lock, [&] { return w.done; });
}

void dispatch_sync(dispatch_queue_t queue, DISPATCH_NOESCAPE dispatch_block_t block) { SyncImpl(queue, block, nullptr, nullptr); }
void dispatch_sync_f(dispatch_queue_t queue, void* context, dispatch_function_t work) {
  SyncImpl(queue, nullptr, context, work);
}

dispatch_time_t dispatch_time(dispatch_time_t when, int64_t delta) {
  if (when == DISPATCH_TIME_FOREVER) return DISPATCH_TIME_FOREVER;
  uint64_t base = when == DISPATCH_TIME_NOW ? NowNs() : when;
  if (delta < 0) return uint64_t(-delta) >= base ? 1 : base - uint64_t(-delta);
  uint64_t t = base + uint64_t(delta);
  return t < base || t == DISPATCH_TIME_FOREVER ? DISPATCH_TIME_FOREVER - 1 : t;
}

void dispatch_after(dispatch_time_t when, dispatch_queue_t queue, dispatch_block_t block) {
  [queue retain];
  Timers::Get().Add(Deadline(when), queue, Block_copy(block));
}

dispatch_group_t dispatch_group_create(void) {
  AGFXDispatchGroup* g = [AGFXDispatchGroup new];
  MarkLive(g);
  g->impl_ = new GroupImpl();
  return g;
}

// The group's state, or null (reported) after its last release.
static GroupImpl* G(dispatch_group_t g, const char* what) {
  if (!CheckLive(g, what)) return nullptr;
  return static_cast<AGFXDispatchGroup*>(g)->impl_;
}

void dispatch_group_enter(dispatch_group_t group) {
  GroupImpl* g = G(group, "dispatch_group_enter");
  if (!g) return;
  std::lock_guard lock(g->mu);
  g->count++;  // no retain: libdispatch crashes if the group is released while entered
}

void dispatch_group_leave(dispatch_group_t group) {
  GroupImpl* g = G(group, "dispatch_group_leave");
  if (!g) return;
  std::vector<std::pair<dispatch_queue_t, dispatch_block_t>> fire;
  {
    std::lock_guard lock(g->mu);
    if (g->count <= 0) {
      std::fprintf(stderr, "pvg-double: BUG IN CLIENT OF LIBDISPATCH: unbalanced call to dispatch_group_leave()\n");
      std::abort();
    }
    if (--g->count > 0) return;
    fire.swap(g->notify);
    g->cv.notify_all();
  }
  for (auto& [q, b] : fire) {
    Item it;
    it.block = b;
    Enqueue(q, it);
    [q release];
  }
}

intptr_t dispatch_group_wait(dispatch_group_t group, dispatch_time_t timeout) {
  GroupImpl* g = G(group, "dispatch_group_wait");
  if (!g) return 0;
  std::unique_lock lock(g->mu);
  return WaitUntil(lock, g->cv, Deadline(timeout), [&] { return g->count == 0; }) ? 0 : 1;
}

void dispatch_group_async(dispatch_group_t group, dispatch_queue_t queue, dispatch_block_t block) {
  dispatch_group_enter(group);
  [group retain];  // libdispatch keeps the group for its own work items
  dispatch_block_t b = Block_copy(block);
  dispatch_async(queue, ^{
    b();
    Block_release(b);
    dispatch_group_leave(group);
    [group release];
  });
}

void dispatch_group_notify(dispatch_group_t group, dispatch_queue_t queue, dispatch_block_t block) {
  GroupImpl* g = G(group, "dispatch_group_notify");
  if (!g) return;
  {
    std::lock_guard lock(g->mu);
    if (g->count > 0) {
      [queue retain];
      g->notify.emplace_back(queue, Block_copy(block));
      return;
    }
  }
  dispatch_async(queue, block);
}

dispatch_semaphore_t dispatch_semaphore_create(intptr_t value) {
  if (value < 0) return nil;
  AGFXDispatchSemaphore* s = [AGFXDispatchSemaphore new];
  s->impl_ = new SemaImpl();
  s->impl_->value = s->impl_->orig = value;
  return s;
}

intptr_t dispatch_semaphore_signal(dispatch_semaphore_t dsema) {
  SemaImpl* s = static_cast<AGFXDispatchSemaphore*>(dsema)->impl_;
  std::lock_guard lock(s->mu);
  ++s->value;
  s->cv.notify_one();
  return s->value <= 0 ? 1 : 0;
}

intptr_t dispatch_semaphore_wait(dispatch_semaphore_t dsema, dispatch_time_t timeout) {
  SemaImpl* s = static_cast<AGFXDispatchSemaphore*>(dsema)->impl_;
  std::unique_lock lock(s->mu);
  if (!WaitUntil(lock, s->cv, Deadline(timeout), [&] { return s->value > 0; })) return 1;
  --s->value;
  return 0;
}

void dispatch_retain(dispatch_object_t object) { [object retain]; }
void dispatch_release(dispatch_object_t object) { [object release]; }

size_t dispatch_main_queue_drain_np(void) {
  if (!IsMainThread()) {
    std::fprintf(stderr, "pvg-double: the main queue can only be drained on the main thread\n");
    std::abort();
  }
  QueueImpl* q = MainQueue()->impl_;
  size_t n;
  {
    std::lock_guard lock(q->mu);
    n = q->items.size();  // what is there now: work queued meanwhile waits for the next turn
  }
  for (size_t i = 0; i < n; ++i) {
    Item it;
    {
      std::lock_guard lock(q->mu);
      if (q->items.empty()) return i;
      it = q->items.front();
      q->items.pop_front();
    }
    @autoreleasepool {
      RunItem(q, it);
    }
  }
  return n;
}

dispatch_queue_t dispatch_current_queue_np(void) { return t_current.empty() ? nil : t_current.back()->owner; }

bool dispatch_queue_is_current_np(dispatch_queue_t queue) { return queue && IsCurrent(Impl(queue)); }

bool dispatch_is_main_thread_np(void) { return IsMainThread(); }

size_t agfx_pvg_double_drain_main_queue(void) { return dispatch_main_queue_drain_np(); }

// ---- CoreFoundation's run loop, as far as the main queue goes
// (sdk/CoreFoundation/CoreFoundation.h). On macOS the main queue is a source
// of the main thread's run loop: a turn that finds it signalled runs
// _dispatch_main_queue_callback_4CF, which drains what the queue holds. So
// here: on the main thread, one handled source is one snapshot drain; a
// thread other than the main one has no main-queue source, and its (empty)
// run loop returns kCFRunLoopRunFinished at once. In the daemon the main
// thread is Node's JS thread: main-queue blocks run there, between JS turns
// (docs/design.md invariant 1: nothing a backend thread waits for may need
// JS; OffMain keeps PVG calls off this thread while it turns).
const CFStringRef kCFRunLoopDefaultMode = reinterpret_cast<CFStringRef>("kCFRunLoopDefaultMode");
const CFStringRef kCFRunLoopCommonModes = reinterpret_cast<CFStringRef>("kCFRunLoopCommonModes");

CFRunLoopRunResult CFRunLoopRunInMode(CFStringRef mode, CFTimeInterval seconds, Boolean returnAfterSourceHandled) {
  if (!mode) return kCFRunLoopRunFinished;
  if (!IsMainThread()) return kCFRunLoopRunFinished;
  QueueImpl* q = MainQueue()->impl_;
  const uint64_t deadline = NowNs() + (seconds > 0 ? uint64_t(seconds * 1e9) : 0);
  bool handled = false;
  for (;;) {
    bool ready;
    {
      std::unique_lock lock(q->mu);
      ready = WaitUntil(lock, q->queued, deadline, [&] { return !q->items.empty(); });
    }
    if (!ready) return handled ? kCFRunLoopRunHandledSource : kCFRunLoopRunTimedOut;
    dispatch_main_queue_drain_np();
    handled = true;
    if (returnAfterSourceHandled) return kCFRunLoopRunHandledSource;
  }
}

int pthread_main_np(void) { return IsMainThread() ? 1 : 0; }

void agfx_pvg_double_autorelease_stats(uint64_t* drains, uint64_t* objects, uint64_t* max_per_drain) {
  if (drains) *drains = g_ar_drains;
  if (objects) *objects = g_ar_objects;
  if (max_per_drain) *max_per_drain = g_ar_max;
}

}  // extern "C"

#include "dataplane/data_plane.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#include <sys/syscall.h>
#endif

#include <cerrno>
#include <chrono>
#include <cstring>

#include "dataplane/wire.h"

namespace agfx {

namespace {

constexpr size_t kMaxFdsPerRecv = 64;  // control buffer; QEMU sends <= 16 (docs/design.md P18)

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) ::close(fd);
  fds.clear();
}

// A wake-up fd pair: an eventfd (read end == write end) on Linux, a pipe
// elsewhere. Both ends non-blocking and close-on-exec.
bool MakeWake(int* rd, int* wr) {
#ifdef __linux__
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return false;
  *rd = *wr = fd;
  return true;
#else
  int p[2];
  if (::pipe(p) < 0) return false;
  for (int fd : p) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  *rd = p[0];
  *wr = p[1];
  return true;
#endif
}

double NowUs() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::shared_ptr<DataPlane> DataPlane::Start(int fd, std::shared_ptr<const RegionTable> table,
                                            std::shared_ptr<MmioTarget> target, std::shared_ptr<DataPlaneStats> stats,
                                            std::shared_ptr<ControlPlane> control, const DataPlaneOptions& opts,
                                            std::string* err) {
  int rd = -1, wr = -1;
  if (!MakeWake(&rd, &wr)) {
    *err = std::string("cannot make the data plane's wake-up fd: ") + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  std::shared_ptr<DataPlane> dp(new DataPlane(fd, rd, std::move(table), std::move(target), std::move(stats),
                                              std::move(control), opts));
  dp->wake_write_fd_ = wr;
  try {
    // Detached: the thread holds its own reference and drops it last, so the
    // JS wrapper may go (garbage collection) while it runs, and nobody ever
    // joins it on the JS thread (a backend call may take long:
    // docs/design.md invariant 1).
    std::thread(&DataPlane::Main, dp).detach();
  } catch (const std::system_error& e) {
    *err = std::string("cannot start the data-plane thread: ") + e.what();
    return nullptr;  // the destructor closes the socket and the wake fds
  }
  return dp;
}

DataPlane::DataPlane(int fd, int wake_fd, std::shared_ptr<const RegionTable> table, std::shared_ptr<MmioTarget> target,
                     std::shared_ptr<DataPlaneStats> stats, std::shared_ptr<ControlPlane> control,
                     const DataPlaneOptions& opts)
    : opts_(opts),
      table_(std::move(table)),
      target_(std::move(target)),
      stats_(std::move(stats)),
      control_(std::move(control)),
      fd_(fd),
      framer_(opts.max_message_size, opts.max_fds),
      wake_fd_(wake_fd),
      wake_write_fd_(-1) {}

DataPlane::~DataPlane() {
  if (fd_ >= 0) ::close(fd_);  // only when the thread never ran
  std::vector<int> held = framer_.Reset();
  CloseAll(held);
  for (auto& o : outq_) CloseAll(o.fds);
  for (auto& o : pending_) CloseAll(o.fds);
  if (wake_write_fd_ >= 0 && wake_write_fd_ != wake_fd_) ::close(wake_write_fd_);
  ::close(wake_fd_);
}

// ------------------------------------------------------------ JS thread side

void DataPlane::Wake() {
#ifdef __linux__
  uint64_t one = 1;
  ssize_t n = ::write(wake_write_fd_, &one, sizeof one);
#else
  char one = 1;
  ssize_t n = ::write(wake_write_fd_, &one, 1);
#endif
  (void)n;  // EAGAIN: a wake-up is pending already
}

void DataPlane::Reply(std::vector<uint8_t>&& message, std::vector<int>&& fds, bool wake) {
  {
    std::lock_guard lock(mu_);
    pending_.push_back(Outgoing{std::move(message), 0, std::move(fds)});
  }
  if (wake) Wake();
}

void DataPlane::Complete() {
  {
    std::lock_guard lock(mu_);
    completed_ = true;
  }
  Wake();
}

void DataPlane::SetNegotiated(uint32_t max_data_xfer) {
  // Called by JS while it handles VERSION, so the thread (waiting for that
  // message's completion) sees it before it looks at the next message.
  max_data_xfer_.store(max_data_xfer, std::memory_order_release);
}

void DataPlane::Close() {
  stop_.store(true, std::memory_order_release);
  Wake();
}

std::vector<DataPlaneEvent> DataPlane::TakeEvents() {
  std::lock_guard lock(ev_mu_);
  std::vector<DataPlaneEvent> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
  events_.clear();
  if (events_dropped_ > 0) {
    DataPlaneEvent d;
    d.kind = DataPlaneEvent::kDropped;
    d.count = uint32_t(events_dropped_ > UINT32_MAX ? UINT32_MAX : events_dropped_);
    out.push_back(std::move(d));
    events_dropped_ = 0;
  }
  events_signalled_ = false;
  return out;
}

DataPlane::Counters DataPlane::counters() const {
  Counters c;
  c.messages = messages_.load(std::memory_order_relaxed);
  c.native = native_.load(std::memory_order_relaxed);
  c.handed = handed_.load(std::memory_order_relaxed);
  c.errors = errors_.load(std::memory_order_relaxed);
  c.fds_in = fds_in_.load(std::memory_order_relaxed);
  c.queued_bytes = queued_snapshot_.load(std::memory_order_relaxed);
  c.short_slice = short_slice_.load(std::memory_order_relaxed);
  std::lock_guard lock(ev_mu_);
  c.events_dropped = events_dropped_total_;
  return c;
}

// ------------------------------------------------------- data-plane thread

void DataPlane::Push(DataPlaneEvent&& ev) {
  bool signal = false;
  {
    std::lock_guard lock(ev_mu_);
    if (events_.size() >= opts_.max_events) {
      ++events_dropped_;
      ++events_dropped_total_;
      return;
    }
    events_.push_back(std::move(ev));
    if (!events_signalled_) signal = events_signalled_ = true;
  }
  // Posted, never waited for (docs/design.md invariant 1); outside ev_mu_.
  if (signal) control_->EventsReady();
}

#ifdef __linux__
namespace {
// struct sched_attr (linux/sched/types.h), which glibc 2.36 does not declare.
struct SchedAttr {
  uint32_t size, sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t sched_util_min, sched_util_max;
};
}  // namespace
#endif

// A vCPU waits (holding QEMU's big lock) for every reply this thread sends,
// so it asks the scheduler for a short time slice: under EEVDF (Linux 6.12+)
// a waking task with a shorter slice may preempt the one running, instead of
// waiting for its slice to end (~3 ms) when the viewers keep every core
// busy. No privilege needed; an older kernel ignores or refuses it, which
// only costs latency under load.
bool DataPlane::AskForShortSlice(uint64_t slice_ns) {
#ifdef __linux__
  SchedAttr a{};
  a.size = sizeof a;
  a.sched_policy = 0;  // SCHED_OTHER
  a.sched_runtime = slice_ns;
  return ::syscall(SYS_sched_setattr, 0, &a, 0) == 0;
#else
  (void)slice_ns;
  return false;
#endif
}

void DataPlane::Main(std::shared_ptr<DataPlane> self) {
#ifdef __linux__
  pthread_setname_np(pthread_self(), "agfx-dataplane");
#endif
  if (self->opts_.slice_ns > 0) self->short_slice_.store(AskForShortSlice(self->opts_.slice_ns), std::memory_order_relaxed);
  std::string reason = self->Run();
  self->Shutdown(reason);
  // `self` is dropped here; if JS has let go already, the object dies on this
  // thread, which touches nothing of it afterwards.
}

std::string DataPlane::Run() {
  std::string reason;
  for (;;) {
    if (stop_.load(std::memory_order_acquire)) return "closed by the daemon";
    if (!ServeBuffered(&reason)) return reason;

    // Wait for the socket (when we may read it, or have output queued) and
    // for JS (completion, close). While a message is with JS the socket is
    // not read at all: a hang-up is seen once JS is done.
    bool want_read = reading_allowed();
    bool want_write = !outq_.empty();
    pollfd p[2] = {{want_read || want_write ? fd_ : -1, short((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0)), 0},
                   {wake_fd_, POLLIN, 0}};
    int n = ::poll(p, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::string("poll: ") + std::strerror(errno);
    }
    if (p[1].revents) {
#ifdef __linux__
      uint64_t v;
      ssize_t r = ::read(wake_fd_, &v, sizeof v);
#else
      char buf[64];
      ssize_t r;
      while ((r = ::read(wake_fd_, buf, sizeof buf)) > 0) {
      }
#endif
      (void)r;
      TakeFromJs();
    }
    if (p[0].revents & (POLLOUT | POLLERR | POLLHUP)) {
      if (want_write && !Flush(&reason)) return reason;
    }
    if (want_read && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      bool ended = false;
      if (!ReadOnce(&reason, &ended) || ended) return reason;
    }
  }
}

// Serves every complete message already read, in order, until one goes to
// JS, output backs up, or the buffer holds no complete message.
bool DataPlane::ServeBuffered(std::string* reason) {
  Framer::Message m;
  while (reading_allowed() && !stop_.load(std::memory_order_relaxed)) {
    Framer::Next next = framer_.Pop(&m);
    if (next == Framer::Next::kNeedMore) return true;
    if (next == Framer::Next::kError) {
      *reason = framer_.error();
      return false;
    }
    messages_.fetch_add(1, std::memory_order_relaxed);
    uint32_t max_xfer = max_data_xfer_.load(std::memory_order_acquire);
    if (RouteMessage(m.data, m.size, m.fds.size(), *table_, max_xfer != 0) == Route::kNative) {
      ServeNative(m);
    } else if (!HandOver(m)) {
      *reason = "the daemon is shutting down";
      return false;
    }
  }
  return true;
}

void DataPlane::ServeNative(const Framer::Message& m) {
  double t0 = NowUs();
  uint16_t command = wire::U16(m.data + 2);
  // The backend's mmio call runs here, on this thread, never on the JS
  // thread: it may block (PVG), and whatever host services it needs meanwhile
  // complete natively (docs/design.md invariant 1). It never waits for QEMU
  // either: guest memory comes from mapped fds, not DMA_READ (invariant 3).
  bool ok = ServeRegionAccess(m.data, m.size, *table_, max_data_xfer_.load(std::memory_order_relaxed), *target_, *this,
                              &reply_);
  if (!reply_.empty()) {
    std::vector<uint8_t> out;
    out.swap(reply_);
    Send(std::move(out), {});
  }
  native_.fetch_add(1, std::memory_order_relaxed);
  if (!ok) errors_.fetch_add(1, std::memory_order_relaxed);
  stats_->Record(DataPlaneStats::Slot(command), NowUs() - t0, !ok);
}

bool DataPlane::HandOver(Framer::Message& m) {
  // Message order (docs/design.md invariant 2): nothing after this message is
  // looked at until JS completes it, so a posted write JS applies is applied
  // before any later message, and its reply (if any) leaves before theirs.
  awaiting_ = true;
  handed_.fetch_add(1, std::memory_order_relaxed);
  std::vector<uint8_t> copy(m.data, m.data + m.size);
  std::vector<int> fds;
  fds.swap(m.fds);
  return control_->Deliver(std::move(copy), std::move(fds));
}

void DataPlane::TakeFromJs() {
  std::vector<Outgoing> replies;
  bool done;
  {
    std::lock_guard lock(mu_);
    replies.swap(pending_);
    done = completed_;
    completed_ = false;
  }
  for (auto& r : replies) Send(std::move(r.data), std::move(r.fds));
  if (done) awaiting_ = false;
}

bool DataPlane::ReadOnce(std::string* reason, bool* ended) {
  size_t room = 0;
  uint8_t* space = framer_.ReadSpace(&room);
  iovec iov{space, room};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRecv)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
#ifdef MSG_CMSG_CLOEXEC
    n = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
#else
    n = ::recvmsg(fd_, &msg, MSG_DONTWAIT);
#endif
  } while (n < 0 && errno == EINTR);
  std::vector<int> fds;
  if (n >= 0) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const uint8_t* p = CMSG_DATA(c);
      for (size_t k = 0; k < count; ++k) {
        int fd;
        std::memcpy(&fd, p + k * sizeof(int), sizeof fd);
#ifndef MSG_CMSG_CLOEXEC
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
        fds.push_back(fd);
      }
    }
  }
  if (n < 0 && errno != ECONNRESET) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    *reason = std::string("recvmsg: ") + std::strerror(errno);
    return false;
  }
  if (n > 0 && (msg.msg_flags & MSG_CTRUNC)) {
    CloseAll(fds);
    *reason = "peer sent more file descriptors than fit the control buffer (MSG_CTRUNC)";
    return false;
  }
  // End of stream. ECONNRESET is a peer that closed with our reply unread in
  // its socket: as much a departure as EOF.
  if (n <= 0) {
    CloseAll(fds);
    size_t partial = framer_.buffered();
    if (partial > 0)
      *reason = "peer closed the socket inside a message (" + std::to_string(partial) + " bytes of it received)";
    *ended = true;  // orderly when `reason` stays empty
    return true;
  }
  fds_in_.fetch_add(fds.size(), std::memory_order_relaxed);
  if (!framer_.Commit(size_t(n), std::move(fds))) {
    *reason = framer_.error();  // the framer keeps the fds; Shutdown closes them
    return false;
  }
  return true;
}

// Sends one whole message in one sendmsg when nothing is queued (docs/design.md
// P4: a message is never split across writes by us unless the socket is
// full), else queues it behind the others.
void DataPlane::Send(std::vector<uint8_t>&& data, std::vector<int>&& fds) {
  if (peer_gone_) {
    CloseAll(fds);
    return;
  }
  size_t sent = 0;
  if (outq_.empty()) {
    iovec iov{data.data(), data.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRecv)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (!fds.empty() && fds.size() <= kMaxFdsPerRecv) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t n;
    do {
      n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      // The peer is gone; the read side reports the disconnect.
      peer_gone_ = true;
      CloseAll(fds);
      return;
    }
    if (n == ssize_t(data.size())) {
      CloseAll(fds);
      return;
    }
    if (n > 0) {
      sent = size_t(n);
      CloseAll(fds);  // they travelled with the first byte
    }
  }
  queued_bytes_ += data.size() - sent;
  queued_snapshot_.store(queued_bytes_, std::memory_order_relaxed);
  outq_.push_back(Outgoing{std::move(data), sent, std::move(fds)});
}

bool DataPlane::Flush(std::string* reason) {
  while (!outq_.empty()) {
    Outgoing& out = outq_.front();
    iovec iov{out.data.data() + out.sent, out.data.size() - out.sent};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRecv)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (out.sent == 0 && !out.fds.empty() && out.fds.size() <= kMaxFdsPerRecv) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * out.fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * out.fds.size());
      std::memcpy(CMSG_DATA(c), out.fds.data(), sizeof(int) * out.fds.size());
    }
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      *reason = std::string("sendmsg: ") + std::strerror(errno);
      return false;
    }
    if (n > 0) CloseAll(out.fds);
    out.sent += size_t(n);
    queued_bytes_ -= size_t(n);
    if (out.sent < out.data.size()) break;
    outq_.pop_front();
  }
  queued_snapshot_.store(queued_bytes_, std::memory_order_relaxed);
  return true;
}

void DataPlane::Shutdown(const std::string& reason) {
  ::close(fd_);
  fd_ = -1;
  std::vector<int> held = framer_.Reset();
  CloseAll(held);
  for (auto& o : outq_) CloseAll(o.fds);
  outq_.clear();
  queued_bytes_ = 0;
  queued_snapshot_.store(0, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    for (auto& o : pending_) CloseAll(o.fds);
    pending_.clear();
  }
  // Last: after this call JS may unmap guest memory and accept the next
  // client; this thread makes no backend call any more (docs/design.md
  // invariant 5).
  control_->Closed(reason);
}

}  // namespace agfx

#include "core/dataplane/data_plane.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "core/dataplane/wire.h"
#include "core/fd_util.h"
#include "platform/platform.h"

namespace agfx {

namespace {

double NowUs() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::shared_ptr<DataPlane> DataPlane::Start(int fd, std::shared_ptr<const RegionTable> table,
                                            std::shared_ptr<MmioTarget> target, std::shared_ptr<DataPlaneStats> stats,
                                            std::shared_ptr<ControlPlane> control, const DataPlaneOptions& opts,
                                            std::string* err) {
  std::shared_ptr<DataPlane> dp(
      new DataPlane(fd, std::move(table), std::move(target), std::move(stats), std::move(control), opts));
  if (int e = platform::CreateWakeup(&dp->wake_fd_, &dp->wake_write_fd_)) {
    *err = std::string("cannot make the data plane's wake-up fd: ") + std::strerror(e);
    return nullptr;  // the destructor closes the socket
  }
  // Blocking mode, for the idle read (Run); every other read and every send
  // passes MSG_DONTWAIT and never blocks.
  if (int e = platform::SetBlocking(fd)) {
    *err = std::string("cannot set up the client socket: ") + std::strerror(e);
    return nullptr;
  }
  try {
    // Detached: the thread holds its own reference and drops it last, so the
    // JS wrapper may go (garbage collection) while it runs, and nobody ever
    // joins it on the JS thread: a backend call may take long
    // (docs/design.md invariant 1).
    dp->started_ = true;
    std::thread(&DataPlane::Main, dp).detach();
  } catch (const std::system_error& e) {
    dp->started_ = false;
    *err = std::string("cannot start the data-plane thread: ") + e.what();
    return nullptr;
  }
  return dp;
}

DataPlane::DataPlane(int fd, std::shared_ptr<const RegionTable> table, std::shared_ptr<MmioTarget> target,
                     std::shared_ptr<DataPlaneStats> stats, std::shared_ptr<ControlPlane> control,
                     const DataPlaneOptions& opts)
    : opts_(opts),
      table_(std::move(table)),
      target_(std::move(target)),
      stats_(std::move(stats)),
      control_(std::move(control)),
      channel_(fd, opts.max_message_size, opts.max_fds) {}

DataPlane::~DataPlane() {
  if (!started_) channel_.Close();  // else the thread closed it (Shutdown)
  for (auto& o : pending_) CloseAll(o.fds);
  platform::CloseWakeup(wake_fd_, wake_write_fd_);  // -1 once Shutdown closed them
}

// ------------------------------------------------------------ JS thread side

// Under mu_: the thread closes the wake-up fds when it ends (Shutdown), and
// JS may still call in after that; a closed fd is never written (nor a
// number some other file got since).
void DataPlane::Wake() {
  std::lock_guard lock(mu_);
  if (wake_write_fd_ >= 0) platform::Wake(wake_write_fd_);
}

void DataPlane::Reply(std::vector<uint8_t>&& message, std::vector<int>&& fds, bool wake) {
  std::lock_guard lock(mu_);
  if (wake_fd_ < 0) {  // the thread is gone: nobody will send it
    CloseAll(fds);
    return;
  }
  pending_.push_back(Outgoing{std::move(message), std::move(fds)});
  if (wake) platform::Wake(wake_write_fd_);
}

void DataPlane::Complete() {
  std::lock_guard lock(mu_);
  completed_ = true;
  if (wake_write_fd_ >= 0) platform::Wake(wake_write_fd_);
}

void DataPlane::SetNegotiated(uint32_t max_data_xfer) {
  // Called by JS while it handles VERSION, so the thread (waiting for that
  // message's completion) sees it before it looks at the next message.
  max_data_xfer_.store(max_data_xfer, std::memory_order_release);
}

void DataPlane::Close() {
  stop_.store(true, std::memory_order_release);
  std::lock_guard lock(mu_);
  // The thread may be blocked reading the socket (Run): end its read. Under
  // mu_, so never after the thread has closed the fd (Shutdown).
  if (socket_open_) platform::ShutdownRead(channel_.fd());
  if (wake_write_fd_ >= 0) platform::Wake(wake_write_fd_);
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

void DataPlane::Main(std::shared_ptr<DataPlane> self) {
  platform::NameThread("agfx-dataplane");
  if (self->opts_.slice_ns > 0)
    self->short_slice_.store(platform::RequestShortTimeSlice(self->opts_.slice_ns), std::memory_order_relaxed);
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
    bool want_write = channel_.wants_write();
    if (want_read && !want_write) {
      // Idle, waiting for the client's next message: a blocking recvmsg.
      // Nothing but the client needs this thread now (JS completes only a
      // message it was handed; Close() ends the read with shutdown), and on
      // this VM a cross-core wake-up from poll() costs ~12 µs more than one
      // from a blocking read (docs/performance.md).
      uint64_t fds_before = channel_.stats().fds_in;
      MessageChannel::Read r = channel_.ReadOnce(true);
      fds_in_.fetch_add(channel_.stats().fds_in - fds_before, std::memory_order_relaxed);
      if (r == MessageChannel::Read::kEnded) {
        if (stop_.load(std::memory_order_acquire)) return "closed by the daemon";
        return channel_.end_reason();  // empty: orderly (nothing of ours is queued)
      }
      continue;
    }
    // The never-reading client (docs/design.md invariant 4): stopped for
    // backed-up replies, it gets stall_ms to take a byte of them.
    int timeout = -1;
    if (!awaiting_ && !want_read) {
      double now = NowUs() / 1000;
      if (!backed_up_) {
        backed_up_ = true;
        stalled_since_ms_ = now;
      }
      double left = stalled_since_ms_ + opts_.stall_ms - now;
      if (left <= 0)
        return "client read no reply for " + std::to_string(opts_.stall_ms / 1000) + " s (" +
               std::to_string(channel_.queued_messages()) + " replies, " + std::to_string(channel_.queued_bytes()) +
               " bytes queued); it was not read meanwhile";
      timeout = int(left) + 1;
    } else {
      backed_up_ = false;
    }
    pollfd p[2] = {{want_read || want_write ? channel_.fd() : -1,
                    short((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0)), 0},
                   {wake_fd_, POLLIN, 0}};
    int n = ::poll(p, 2, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::string("poll: ") + std::strerror(errno);
    }
    if (p[1].revents) {
      platform::DrainWakeup(wake_fd_);
      TakeFromJs();
    }
    short ev = p[0].revents;
    if (want_read && (ev & (POLLIN | POLLHUP | POLLERR))) {
      // What the peer sent before it left is read (and served) first.
      uint64_t fds_before = channel_.stats().fds_in;
      MessageChannel::Read r = channel_.ReadOnce();
      fds_in_.fetch_add(channel_.stats().fds_in - fds_before, std::memory_order_relaxed);
      if (r == MessageChannel::Read::kEnded) {
        // An orderly end, unless it left replies of ours unread.
        if (channel_.end_reason().empty() && channel_.queued_messages() > 0) return PeerGone(channel_.SocketError());
        return channel_.end_reason();
      }
    } else if (ev & POLLERR) {
      // Not reading (replies backed up): its socket error says how it left.
      return PeerGone(channel_.SocketError());
    }
    if (want_write && (ev & (POLLOUT | POLLHUP | POLLERR))) {
      if (!Flush(&reason)) return reason;
    }
  }
}

// Why the peer is gone, from its socket error. ECONNRESET with nothing of
// ours queued and no message cut short is a client that left with our last
// reply unread in its socket: an orderly departure (empty reason).
std::string DataPlane::PeerGone(int err) {
  size_t unread = channel_.queued_messages();
  if (err == 0) err = ECONNRESET;  // gone, error already reported: it left
  if (err == ECONNRESET && unread == 0 && channel_.buffered() == 0) return "";
  std::string why = std::strerror(err);
  if (unread > 0) why += " (" + std::to_string(unread) + " replies unread)";
  else if (channel_.buffered() > 0) why += " (inside a message: " + std::to_string(channel_.buffered()) + " bytes of it received)";
  return why;
}

bool DataPlane::Flush(std::string* reason) {
  size_t before = channel_.queued_bytes();
  if (!channel_.Flush()) {
    int err = channel_.SocketError();
    *reason = err ? PeerGone(err) : channel_.end_reason();
    return false;
  }
  if (channel_.queued_bytes() < before) stalled_since_ms_ = NowUs() / 1000;  // it reads: progress
  queued_snapshot_.store(channel_.queued_bytes(), std::memory_order_relaxed);
  return true;
}

// Serves every complete message already read, in order, until one goes to
// JS, output backs up, or the buffer holds no complete message.
bool DataPlane::ServeBuffered(std::string* reason) {
  Framer::Message m;
  while (reading_allowed() && !stop_.load(std::memory_order_relaxed)) {
    Framer::Next next = channel_.Pop(&m);
    if (next == Framer::Next::kNeedMore) return true;
    if (next == Framer::Next::kError) {
      *reason = channel_.end_reason();
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
    std::vector<int> none;
    Send(reply_, none);
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
  for (auto& r : replies) Send(r.data, r.fds);
  if (done) awaiting_ = false;
}

// One whole message in one sendmsg when nothing is queued (docs/design.md
// P4), else behind the others. A peer that is gone loses the reply; the read
// side then reports the departure. `fds` are ours and closed here (the
// channel keeps its own duplicates of any it queues).
void DataPlane::Send(const std::vector<uint8_t>& data, std::vector<int>& fds) {
  bool accepted = false;
  channel_.Send(data.data(), data.size(), fds, &accepted);
  CloseAll(fds);
  queued_snapshot_.store(channel_.queued_bytes(), std::memory_order_relaxed);
}

void DataPlane::Shutdown(const std::string& reason) {
  queued_snapshot_.store(0, std::memory_order_relaxed);
  {
    // Every fd of this connection is closed before JS hears of the end.
    std::lock_guard lock(mu_);
    socket_open_ = false;
    channel_.Close();  // the socket and every fd it still holds (under mu_: Close())
    for (auto& o : pending_) CloseAll(o.fds);
    pending_.clear();
    platform::CloseWakeup(wake_fd_, wake_write_fd_);
    wake_fd_ = wake_write_fd_ = -1;
  }
  // Last: after this call JS may unmap guest memory and accept the next
  // client; this thread makes no backend call any more (docs/design.md
  // invariant 5).
  control_->Closed(reason);
}

}  // namespace agfx

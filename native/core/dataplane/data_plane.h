// The data plane: one native thread per connected vfio-user client that owns
// the client's socket. It reads and frames every message (core/
// message_channel.h), answers
// region accesses to the device's BARs itself (region_access.h: the backend's
// mmio_read/mmio_write, called on this thread), and hands every other message
// to the TypeScript session through a ControlPlane, in arrival order: after a
// hand-over it looks at nothing more until JS has completed that message
// (docs/design.md invariant 2). Replies, its own and JS's, leave through
// one output queue it alone writes to the socket.
//
// Ownership (explicit, so that a live connection can later move to another
// process as a transfer: the socket, the bytes read and not yet handled, the
// queued output, the negotiated limit, and the tables it reads):
//   - the socket fd, the framer (buffered bytes, fds received and not yet
//     handed out) and the output queue: the data-plane thread alone;
//   - the region table: immutable, shared (shared_ptr<const RegionTable>);
//   - the backend: shared (shared_ptr<MmioTarget>), so it outlives the
//     thread's last mmio call;
//   - replies and the completion of a handed-over message: passed from the
//     JS thread under mu_, then the thread's;
//   - log events: a bounded queue under ev_mu_, drained by JS.
// Threading hazards and the lock order are in docs/design.md, "Threads and
// locks".
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/dataplane/region_access.h"
#include "core/dataplane/region_table.h"
#include "core/dataplane/stats.h"
#include "core/message_channel.h"

namespace agfx {

// The TypeScript side, as the data plane sees it. Calls come from the
// data-plane thread and must not wait for the JS thread (docs/design.md
// invariant 1): each one posts and returns.
class ControlPlane {
 public:
  virtual ~ControlPlane() = default;
  // A message for the session, with the fds that came with it (now the
  // callee's). The data plane reads nothing more until Complete(). False:
  // it could not be posted (the JS environment is going away); the callee
  // has closed the fds and the data plane ends the connection.
  virtual bool Deliver(std::vector<uint8_t>&& message, std::vector<int>&& fds) = 0;
  // Log events wait in the queue (called when it stops being empty).
  virtual void EventsReady() = 0;
  // The connection is over and the thread is done with the backend; nothing
  // follows. `reason` is empty for an orderly disconnect between messages.
  virtual void Closed(const std::string& reason) = 0;
};

struct DataPlaneOptions {
  uint32_t max_message_size = 0;  // framing limit (docs/design.md P7)
  uint32_t max_fds = 16;          // per message (docs/design.md P6)
  // The never-reading client: while more than this waits to be sent, the
  // thread stops reading the socket, so the queue holds at most this plus
  // one reply (docs/design.md invariant 4).
  size_t max_queued_bytes = 64 * 1024;
  // A client we stopped reading that takes no byte of its replies for this
  // long is closed ("read no reply"): it holds a connection and a bounded
  // queue but does nothing with them. QEMU reads every reply.
  uint32_t stall_ms = 10000;
  // Log events waiting for JS; beyond this they are counted and dropped.
  size_t max_events = 1024;
  // The scheduler time slice the thread asks for (0: the default): a vCPU
  // waits for every reply (platform::RequestShortTimeSlice).
  uint64_t slice_ns = 100 * 1000;
};

class DataPlane : private EventSink {
 public:
  // Takes the connected socket (non-blocking) and starts the thread. On
  // failure returns nullptr with *err set; the socket is then closed.
  static std::shared_ptr<DataPlane> Start(int fd, std::shared_ptr<const RegionTable> table,
                                          std::shared_ptr<MmioTarget> target, std::shared_ptr<DataPlaneStats> stats,
                                          std::shared_ptr<ControlPlane> control, const DataPlaneOptions& opts,
                                          std::string* err);
  ~DataPlane() override;
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  // ---- JS thread (or any thread but the data plane's) ----
  // A reply to the message being handed over; sent in order once the
  // message completes. The fds are the data plane's from now on. `wake`: a
  // message JS sends on its own, outside a hand-over: it leaves when the
  // thread next wakes, at the latest with the client's next message (the
  // thread may be blocked reading; the daemon sends no such messages).
  void Reply(std::vector<uint8_t>&& message, std::vector<int>&& fds, bool wake = false);
  // The handed-over message is done: the thread sends its reply and goes on
  // reading.
  void Complete();
  // VERSION negotiated: region accesses are answered natively from now on,
  // up to `max_data_xfer` bytes each.
  void SetNegotiated(uint32_t max_data_xfer);
  void SetTracing(bool on) { tracing_.store(on, std::memory_order_relaxed); }
  // Ends the connection: the thread finishes the message it is serving (a
  // backend call is never interrupted), closes the socket and calls
  // ControlPlane::Closed. Never waits.
  void Close();
  // Log events since the last call (with a kDropped entry if some were lost).
  std::vector<DataPlaneEvent> TakeEvents();

  struct Counters {
    uint64_t messages = 0, native = 0, handed = 0, errors = 0, fds_in = 0, queued_bytes = 0, events_dropped = 0;
    bool short_slice = false;  // the scheduler granted the short time slice
  };
  Counters counters() const;

 private:
  struct Outgoing {
    std::vector<uint8_t> data;
    std::vector<int> fds;  // ours; closed once sent (MessageChannel keeps duplicates)
  };

  DataPlane(int fd, std::shared_ptr<const RegionTable> table, std::shared_ptr<MmioTarget> target,
            std::shared_ptr<DataPlaneStats> stats, std::shared_ptr<ControlPlane> control, const DataPlaneOptions& opts);

  // ---- data-plane thread ----
  static void Main(std::shared_ptr<DataPlane> self);
  std::string Run();
  bool ServeBuffered(std::string* reason);
  void ServeNative(const Framer::Message& m);
  bool HandOver(Framer::Message& m);
  void Send(const std::vector<uint8_t>& data, std::vector<int>& fds);
  void TakeFromJs();
  bool Flush(std::string* reason);
  std::string PeerGone(int err);
  void Shutdown(const std::string& reason);
  bool reading_allowed() const { return !awaiting_ && channel_.queued_bytes() <= opts_.max_queued_bytes; }

  // EventSink (data-plane thread)
  void Push(DataPlaneEvent&& ev) override;
  bool tracing() const override { return tracing_.load(std::memory_order_relaxed); }

  void Wake();

  const DataPlaneOptions opts_;
  const std::shared_ptr<const RegionTable> table_;
  const std::shared_ptr<MmioTarget> target_;
  const std::shared_ptr<DataPlaneStats> stats_;
  const std::shared_ptr<ControlPlane> control_;

  // Thread-owned (see the header comment): the socket, the framer with the
  // bytes and fds not yet handled, the output queue.
  MessageChannel channel_;
  bool started_ = false;   // the thread ran (and so closes the socket)
  bool awaiting_ = false;  // a message is with JS
  std::vector<uint8_t> reply_;
  // Not reading because replies are backed up: since when no byte of them
  // left (steady clock, ms), for the stall close.
  bool backed_up_ = false;
  double stalled_since_ms_ = 0;

  // Wake-ups for the thread: Complete, Close, a reply outside a hand-over.
  // Written by JS and closed by the thread at its end, both under mu_; read
  // by the thread's poll (only it closes them).
  int wake_fd_ = -1, wake_write_fd_ = -1;
  bool socket_open_ = true;  // mu_: the thread has not closed the socket yet

  std::atomic<bool> stop_{false};
  std::atomic<bool> tracing_{false};
  std::atomic<bool> short_slice_{false};
  std::atomic<uint32_t> max_data_xfer_{0};  // 0: not negotiated

  // JS -> thread hand-back (mu_).
  std::mutex mu_;
  std::vector<Outgoing> pending_;
  bool completed_ = false;

  // Log events (ev_mu_). Never held together with mu_.
  mutable std::mutex ev_mu_;
  std::deque<DataPlaneEvent> events_;
  bool events_signalled_ = false;
  uint64_t events_dropped_ = 0, events_dropped_total_ = 0;

  std::atomic<uint64_t> messages_{0}, native_{0}, handed_{0}, errors_{0}, fds_in_{0}, queued_snapshot_{0};
};

}  // namespace agfx

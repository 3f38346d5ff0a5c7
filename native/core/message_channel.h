// One connected vfio-user peer: reads the byte stream with the fds that come
// along (SCM_RIGHTS, received close-on-exec), splits it into messages
// (core/framer.h) and writes whole messages with their fds, queueing what the
// socket does not take at once. No event loop here: the owner polls fd() and
// calls ReadOnce() / Flush() when it is readable / writable (the addon does
// it from a uv_poll watcher on Node's loop, addon/socket_binding.cc).
//
// Framing is checked here; everything inside a message is the protocol
// layer's business. Errors end the stream for good (end_reason()).
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/framer.h"

namespace agfx {

class MessageChannel {
 public:
  // Fds one message may carry, sent or received (the control buffer); QEMU
  // sends at most 16.
  static constexpr size_t kMaxFdsPerMessage = 64;

  // The socket stays the caller's until Close(), which closes it.
  MessageChannel(int fd, uint32_t max_message_size, uint32_t max_fds);
  // Closes the fds still held (not the socket: see Close()).
  ~MessageChannel();
  MessageChannel(const MessageChannel&) = delete;
  MessageChannel& operator=(const MessageChannel&) = delete;

  int fd() const { return fd_; }

  enum class Read { kData, kWouldBlock, kEnded };
  // One recvmsg. kEnded: the stream is over; end_reason() says why (empty:
  // an orderly disconnect between messages).
  // `wait`: block until data comes (the socket must be in blocking mode;
  // reads without it never block either way).
  Read ReadOnce(bool wait = false);
  // The next complete message, in arrival order; its fds become the
  // caller's. kError: a framing error, with end_reason().
  Framer::Next Pop(Framer::Message* m);
  const std::string& end_reason() const { return end_reason_; }

  // Sends one whole message with its fds, or queues what the socket does not
  // take now (the fds duplicated: the caller keeps its own). *accepted is
  // false when the peer is gone (the read side reports the disconnect).
  SysError Send(const uint8_t* data, size_t len, const std::vector<int>& fds, bool* accepted);
  // Writes what is queued; false when the peer is gone (end_reason()).
  bool Flush();
  bool wants_write() const { return !outq_.empty(); }
  // Bytes waiting in the output queue (the never-reading client's bound is
  // the caller's: docs/design.md invariant 4).
  size_t queued_bytes() const { return queued_bytes_; }
  size_t queued_messages() const { return outq_.size(); }
  // Bytes of messages read and not yet handed out (a message cut short).
  size_t buffered() const { return framer_.buffered(); }
  // The socket's pending error (SO_ERROR: ECONNRESET when the peer closed
  // with our data unread), or 0.
  int SocketError() const;

  // Closes the socket and every fd still held. Idempotent.
  void Close();

  struct Stats {
    uint64_t messages_in, messages_out, fds_in, queued;
  };
  Stats stats() const { return {messages_in_, messages_out_, fds_in_, uint64_t(outq_.size())}; }

 private:
  struct Outgoing {
    std::vector<uint8_t> data;
    size_t sent = 0;
    std::vector<int> fds;  // sent with the first byte, then closed
  };
  void End(std::string reason);
  void DropHeld();

  int fd_;
  Framer framer_;
  std::deque<Outgoing> outq_;
  std::string end_reason_;
  uint64_t messages_in_ = 0, messages_out_ = 0, fds_in_ = 0;
  size_t queued_bytes_ = 0;
};

}  // namespace agfx

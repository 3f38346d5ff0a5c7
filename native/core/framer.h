// Pure vfio-user stream framing, without sockets or N-API (so that it can be
// fuzzed on its own: native/fuzz/framer_fuzz.cc).
//
// The byte stream is split into messages: a 16-byte header whose uint32 at
// offset 4 is the total message size. File descriptors (SCM_RIGHTS) that
// arrive with a read belong to the last message that starts in the bytes
// received so far (the kernel returns them with the first byte of the
// sendmsg() that carried them and ends the read right after it; a peer sends
// one message per sendmsg()).
//
// Limits: a size below the header or above max_message_size, or more than
// max_fds fds on one message, is a framing error. Errors are sticky: the
// connection must be closed.
//
// Fds are plain numbers here: the framer never closes one. Fds handed out
// with a message belong to the caller; the rest are returned by TakeAllFds().
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace agfx {

class Framer {
 public:
  static constexpr size_t kHeaderSize = 16;
  static constexpr size_t kReadChunk = 64 * 1024;

  Framer(uint32_t max_message_size, uint32_t max_fds);

  // Zero-copy read path: room for at least kReadChunk bytes at the end of
  // the buffer (dispatched bytes are dropped first). Valid until the next
  // non-const call.
  uint8_t* ReadSpace(size_t* len);
  // `n` bytes were written into ReadSpace(), received together with `fds`.
  // Returns false on a framing error (the fds are then kept and released by
  // TakeAllFds()).
  bool Commit(size_t n, std::vector<int>&& fds);
  // Copying convenience for tests and fuzzers: one read of `len` bytes.
  bool Feed(const uint8_t* data, size_t len, std::vector<int> fds);

  enum class Next { kMessage, kNeedMore, kError };
  struct Message {
    const uint8_t* data = nullptr;  // valid until the next non-const call
    size_t size = 0;
    std::vector<int> fds;  // ownership moves to the caller
  };
  // The next complete message, in arrival order.
  Next Pop(Message* out);

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  // Bytes received that are not part of a message handed out yet.
  size_t buffered() const { return data_end_ - parse_off_; }
  size_t capacity() const { return buf_.size(); }
  size_t pending_fd_count() const;
  // Every fd not handed out with a message; the caller closes them.
  std::vector<int> TakeAllFds();
  // Drops all state (connection closed). Returns the fds to close.
  std::vector<int> Reset();

 private:
  struct PendingFds {
    size_t message_start;  // offset in buf_ of the message they belong to
    std::vector<int> fds;
  };
  void AttachFds(size_t new_data_end, std::vector<int>&& fds);
  void Fail(std::string reason);

  uint32_t max_message_size_;
  uint32_t max_fds_;
  std::vector<uint8_t> buf_;
  size_t parse_off_ = 0;  // start of the first message not yet handed out
  size_t data_end_ = 0;   // end of valid bytes in buf_
  std::vector<PendingFds> pending_fds_;
  std::string error_;
};

}  // namespace agfx

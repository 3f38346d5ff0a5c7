#include "core/message_channel.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/fd_util.h"
#include "platform/platform.h"

namespace agfx {

namespace {

// sendmsg of [data, data+len) with `fds` (if any) as SCM_RIGHTS.
ssize_t SendWithFds(int fd, const uint8_t* data, size_t len, const std::vector<int>& fds) {
  iovec iov{const_cast<uint8_t*>(data), len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * MessageChannel::kMaxFdsPerMessage)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  return platform::SendMsg(fd, &msg);
}

}  // namespace

MessageChannel::MessageChannel(int fd, uint32_t max_message_size, uint32_t max_fds)
    : fd_(fd), framer_(max_message_size, max_fds) {}

MessageChannel::~MessageChannel() { DropHeld(); }

void MessageChannel::DropHeld() {
  CloseAll(framer_.Reset());
  for (auto& o : outq_) CloseAll(o.fds);
  outq_.clear();
  queued_bytes_ = 0;
}

void MessageChannel::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  DropHeld();
}

void MessageChannel::End(std::string reason) {
  if (end_reason_.empty()) end_reason_ = std::move(reason);
}

MessageChannel::Read MessageChannel::ReadOnce(bool wait) {
  size_t room = 0;
  uint8_t* space = framer_.ReadSpace(&room);
  iovec iov{space, room};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = wait ? platform::RecvMsgWait(fd_, &msg) : platform::RecvMsg(fd_, &msg);
  } while (n < 0 && errno == EINTR);
  // ECONNRESET: the peer closed with data of ours unread; as much a
  // departure as EOF (below), orderly at a message boundary.
  if (n < 0 && errno != ECONNRESET) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Read::kWouldBlock;
    End(std::string("recvmsg: ") + std::strerror(errno));
    return Read::kEnded;
  }
  if (n < 0) {
    n = 0;
    msg.msg_controllen = 0;  // nothing received: no control messages to walk
  }

  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const int* p = reinterpret_cast<const int*>(CMSG_DATA(c));
    for (size_t k = 0; k < count; ++k) {
      int fd;
      std::memcpy(&fd, p + k, sizeof fd);
      fds.push_back(fd);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    CloseAll(fds);
    End("peer sent more file descriptors than fit the control buffer (MSG_CTRUNC)");
    return Read::kEnded;
  }
  if (n == 0) {
    CloseAll(fds);
    size_t partial = framer_.buffered();
    if (partial > 0)
      End("peer closed the socket inside a message (" + std::to_string(partial) + " bytes of it received)");
    return Read::kEnded;  // no reason: an orderly disconnect
  }
  fds_in_ += fds.size();
  if (!framer_.Commit(static_cast<size_t>(n), std::move(fds))) {
    End(framer_.error());  // the framer keeps the fds; Close() closes them
    return Read::kEnded;
  }
  return Read::kData;
}

int MessageChannel::SocketError() const {
  int err = 0;
  socklen_t len = sizeof err;
  if (fd_ < 0 || ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return 0;
  return err;
}

Framer::Next MessageChannel::Pop(Framer::Message* m) {
  Framer::Next next = framer_.Pop(m);
  if (next == Framer::Next::kError) End(framer_.error());
  if (next == Framer::Next::kMessage) ++messages_in_;
  return next;
}

SysError MessageChannel::Send(const uint8_t* data, size_t len, const std::vector<int>& fds_in, bool* accepted) {
  *accepted = false;
  if (fds_in.size() > kMaxFdsPerMessage) return {EINVAL, "too many fds for one message"};
  ++messages_out_;
  std::vector<int> fds = fds_in;
  size_t sent = 0;
  if (outq_.empty()) {
    ssize_t n;
    do {
      n = SendWithFds(fd_, data, len, fds);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return {};  // the peer is gone
    *accepted = true;
    if (n == static_cast<ssize_t>(len)) return {};
    if (n > 0) {
      sent = static_cast<size_t>(n);
      fds.clear();  // they travelled with the first byte
    }
  }
  // Queue the rest; fds are duplicated because the caller may close its own.
  Outgoing out;
  out.data.assign(data, data + len);
  out.sent = sent;
  for (int fd : fds) {
    int dup = platform::DupCloexec(fd);
    if (dup < 0) {
      int err = -dup;
      CloseAll(out.fds);
      *accepted = false;
      return {err, "dup(fd " + std::to_string(fd) + ")"};
    }
    out.fds.push_back(dup);
  }
  queued_bytes_ += out.data.size() - out.sent;
  outq_.push_back(std::move(out));
  *accepted = true;
  return {};
}

bool MessageChannel::Flush() {
  while (!outq_.empty()) {
    Outgoing& out = outq_.front();
    static const std::vector<int> kNone;
    ssize_t n = SendWithFds(fd_, out.data.data() + out.sent, out.data.size() - out.sent, out.sent == 0 ? out.fds : kNone);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      End(std::string("sendmsg: ") + std::strerror(errno));
      return false;
    }
    if (n > 0) CloseAll(out.fds);
    out.sent += static_cast<size_t>(n);
    queued_bytes_ -= static_cast<size_t>(n);
    if (out.sent < out.data.size()) return true;
    outq_.pop_front();
  }
  return true;
}

}  // namespace agfx

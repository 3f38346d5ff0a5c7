#include "unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "errors.h"

namespace agfx {

namespace {

constexpr size_t kHeaderSize = Framer::kHeaderSize;
constexpr size_t kMaxFdsPerRecv = 64;  // control buffer; QEMU sends <= 16
constexpr int kMaxReadsPerWakeup = 64;
// Replies queued for a peer that does not read them: past the high water
// (the larger of this and one maximal message) the peer is not read and no
// more of its messages are handled until the queue is half drained. QEMU
// waits for each reply (one per vCPU at most), so it never comes near.
constexpr size_t kMinHighWater = 256 << 10;
// What one queued reply costs beyond its bytes (its vector and deque entry).
constexpr size_t kQueueEntryCost = 128;
// A peer we stopped reading that takes no byte of its replies for this long is closed.
constexpr uint64_t kStallMs = 10000;
constexpr uint64_t kStallCheckMs = 1000;

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) ::close(fd);
  fds.clear();
}

void CloseAll(std::vector<int>&& fds) { CloseAll(fds); }

bool FillSockaddr(const std::string& path, sockaddr_un* sa) {
  std::memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sa->sun_path) return false;
  std::memcpy(sa->sun_path, path.data(), path.size());
  return true;
}

// Is something accepting connections on this path right now?
bool SomeoneListens(const sockaddr_un& sa) {
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  int rc = ::connect(probe, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  ::close(probe);
  return rc == 0;
}

Napi::Value ListenUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  uint32_t mode = info[1].As<Napi::Number>().Uint32Value();
  int backlog = info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : 4;
  sockaddr_un sa;
  if (!FillSockaddr(path, &sa)) ThrowErrno(env, ENAMETOOLONG, "socket path '" + path + "'");

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket()");
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    int err = errno;
    struct stat st;
    if (err == EADDRINUSE && ::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        ::close(fd);
        ThrowErrno(env, EEXIST, "'" + path + "' exists and is not a socket");
      }
      if (SomeoneListens(sa)) {
        ::close(fd);
        ThrowErrno(env, EADDRINUSE, "another process is serving '" + path + "'");
      }
      // A stale socket left by a process that is gone: replace it.
      ::unlink(path.c_str());
      if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) err = 0;
      else err = errno;
    }
    if (err != 0) {
      ::close(fd);
      ThrowErrno(env, err, "bind('" + path + "')");
    }
  }
  if (::chmod(path.c_str(), mode) < 0 || ::listen(fd, backlog) < 0) {
    int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    ThrowErrno(env, err, "listen('" + path + "')");
  }
  return Napi::Number::New(env, fd);
}

Napi::Value ConnectUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  sockaddr_un sa;
  if (!FillSockaddr(path, &sa)) ThrowErrno(env, ENAMETOOLONG, "socket path '" + path + "'");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket()");
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "connect('" + path + "')");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return Napi::Number::New(env, fd);
}

// Validates a listening socket handed over by a supervisor (--fd, LISTEN_FDS).
Napi::Value AdoptListener(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
    ThrowErrno(env, errno, "fd " + std::to_string(fd) + " is not a socket");
  len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
    ThrowErrno(env, EINVAL, "fd " + std::to_string(fd) + " is not a listening socket");
  sockaddr_storage ss;
  len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0 || ss.ss_family != AF_UNIX)
    ThrowErrno(env, EINVAL, "fd " + std::to_string(fd) + " is not a unix socket");
  if (type != SOCK_STREAM) ThrowErrno(env, EINVAL, "fd " + std::to_string(fd) + " is not SOCK_STREAM");
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return Napi::Number::New(env, fd);
}

}  // namespace

// ---------------------------------------------------------------- Listener

Napi::Function Listener::Init(Napi::Env env) {
  return DefineClass(env, "Listener",
                     {InstanceMethod("pause", &Listener::Pause),
                      InstanceMethod("resume", &Listener::Resume),
                      InstanceMethod("close", &Listener::Close)});
}

Listener::Listener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Listener>(info) {
  Napi::Env env = info.Env();
  fd_ = info[0].As<Napi::Number>().Int32Value();
  on_accept_ = Napi::Persistent(info[1].As<Napi::Function>());
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new uv_poll_t;
  if (uv_poll_init(loop, poll_, fd_) != 0) {
    delete poll_;
    poll_ = nullptr;
    ThrowErrno(env, EBADF, "uv_poll_init(listener)");
  }
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, &Listener::OnPoll);
  Ref();  // alive while the watcher is
}

Listener::~Listener() = default;

void Listener::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<Listener*>(handle->data);
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  for (;;) {
    if (self->paused_ || self->poll_ == nullptr) return;
    int fd = ::accept4(self->fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) return;
      fd = -errno;  // JS logs it and may pause (EMFILE)
    }
    try {
      self->on_accept_.MakeCallback(self->Value(), {Napi::Number::New(env, fd)});
    } catch (const Napi::Error&) {
      // already reported through process 'uncaughtException'
    }
    if (fd < 0) return;
  }
}

Napi::Value Listener::Pause(const Napi::CallbackInfo& info) {
  if (poll_ && !paused_) uv_poll_stop(poll_);
  paused_ = true;
  return info.Env().Undefined();
}

Napi::Value Listener::Resume(const Napi::CallbackInfo& info) {
  if (poll_ && paused_) uv_poll_start(poll_, UV_READABLE, &Listener::OnPoll);
  paused_ = false;
  return info.Env().Undefined();
}

void Listener::StopAndRelease() {
  if (!poll_) return;
  uv_poll_stop(poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) {
    auto* self = static_cast<Listener*>(h->data);
    delete reinterpret_cast<uv_poll_t*>(h);
    self->Unref();
  });
  poll_ = nullptr;
  ::close(fd_);
  fd_ = -1;
}

Napi::Value Listener::Close(const Napi::CallbackInfo& info) {
  StopAndRelease();
  return info.Env().Undefined();
}

// -------------------------------------------------------------- Connection

Napi::Function Connection::Init(Napi::Env env) {
  return DefineClass(env, "Connection",
                     {InstanceMethod("send", &Connection::Send),
                      InstanceMethod("close", &Connection::Close),
                      InstanceMethod("stats", &Connection::Stats)});
}

// new Connection(fd, onMessage(buf, fds), onClose(reason|null), {maxMessageSize, maxFds})
namespace {
uint32_t OptU32(const Napi::CallbackInfo& info, const char* name) {
  return info[3].As<Napi::Object>().Get(name).As<Napi::Number>().Uint32Value();
}
}  // namespace

Connection::Connection(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<Connection>(info),
      max_message_size_(OptU32(info, "maxMessageSize")),
      max_fds_(OptU32(info, "maxFds")),
      framer_(max_message_size_, max_fds_),
      high_water_(std::max<size_t>(kMinHighWater, max_message_size_)) {
  Napi::Env env = info.Env();
  fd_ = info[0].As<Napi::Number>().Int32Value();
  on_message_ = Napi::Persistent(info[1].As<Napi::Function>());
  on_close_ = Napi::Persistent(info[2].As<Napi::Function>());
  if (max_message_size_ < kHeaderSize) ThrowErrno(env, EINVAL, "maxMessageSize");

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new uv_poll_t;
  if (uv_poll_init(loop, poll_, fd_) != 0) {
    delete poll_;
    poll_ = nullptr;
    ThrowErrno(env, EBADF, "uv_poll_init(connection)");
  }
  poll_->data = this;
  stall_timer_ = new uv_timer_t;
  uv_timer_init(loop, stall_timer_);
  stall_timer_->data = this;
  Ref();  // alive until the timer is closed
  UpdatePollEvents();
  Ref();  // alive until the watcher is closed
}

Connection::~Connection() {
  CloseAll(framer_.Reset());
  for (auto& o : outq_) CloseAll(o.fds);
}

void Connection::UpdatePollEvents() {
  if (closed_ || !poll_ || !stall_timer_) return;
  int events = UV_DISCONNECT;
  if (reading_) events |= UV_READABLE;
  if (!outq_.empty()) events |= UV_WRITABLE;
  uv_poll_start(poll_, events, &Connection::OnPoll);
  // The stall clock runs while reading is stopped for a backed-up queue.
  if (!reading_ && !uv_is_active(reinterpret_cast<uv_handle_t*>(stall_timer_))) {
    bytes_out_at_check_ = bytes_out_;
    stalled_ms_ = 0;
    uv_timer_start(stall_timer_, &Connection::OnStallTimer, kStallCheckMs, kStallCheckMs);
  } else if (reading_) {
    uv_timer_stop(stall_timer_);
  }
}

void Connection::OnStallTimer(uv_timer_t* t) {
  auto* self = static_cast<Connection*>(t->data);
  if (self->closed_) return;
  if (self->bytes_out_ != self->bytes_out_at_check_) {
    self->bytes_out_at_check_ = self->bytes_out_;
    self->stalled_ms_ = 0;
    return;
  }
  self->stalled_ms_ += kStallCheckMs;
  if (self->stalled_ms_ < kStallMs) return;
  Napi::HandleScope scope(self->Env());
  self->Shutdown("client read no reply for " + std::to_string(kStallMs / 1000) + " s (" +
                     std::to_string(self->outq_.size()) + " replies, " + std::to_string(self->queued_bytes_) +
                     " bytes queued); it was not read meanwhile",
                 true);
}

void Connection::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<Connection*>(handle->data);
  if (self->closed_) return;
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  if (status < 0) {
    // libuv reports POLLERR as UV_EBADF: the socket's own error says what happened.
    int err = 0;
    socklen_t len = sizeof err;
    std::string why = ::getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0
                          ? std::strerror(err)
                          : std::string("poll error: ") + uv_strerror(status);
    if (!self->outq_.empty())
      why += " (" + std::to_string(self->outq_.size()) + " replies unread)";
    self->Shutdown(why, true);
    return;
  }
  if (events & UV_WRITABLE) self->HandleWritable();
  if (!self->closed_ && (events & (UV_READABLE | UV_DISCONNECT))) self->HandleReadable();
}

void Connection::HandleReadable() {
  for (int i = 0; i < kMaxReadsPerWakeup && !closed_ && reading_; ++i) {
    bool would_block = false;
    if (!ReadOnce(&would_block)) return;
    DispatchComplete();
    if (BackedUp()) {
      // Stop reading this peer until its replies drain (ResumeIfDrained).
      reading_ = false;
      UpdatePollEvents();
      return;
    }
    if (would_block) return;
  }
}

void Connection::ResumeIfDrained() {
  if (closed_ || reading_ || queued_bytes_ > high_water_ / 2) return;
  reading_ = true;
  DispatchComplete();  // what was framed while backed up, in order
  if (BackedUp()) reading_ = false;
  UpdatePollEvents();
}

bool Connection::ReadOnce(bool* would_block) {
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
    n = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);

  std::vector<int> fds;
  if (n >= 0) {
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
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      *would_block = true;
      return true;
    }
    Shutdown(std::string("recvmsg: ") + std::strerror(errno), true);
    return false;
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    CloseAll(fds);
    Shutdown("peer sent more file descriptors than fit the control buffer (MSG_CTRUNC)", true);
    return false;
  }
  if (n == 0) {
    CloseAll(fds);
    size_t partial = framer_.buffered();
    if (partial > 0)
      Shutdown("peer closed the socket inside a message (" + std::to_string(partial) +
                   " bytes of it received)",
               true);
    else
      Shutdown("", true);  // orderly disconnect
    return false;
  }
  fds_in_ += fds.size();
  if (!framer_.Commit(static_cast<size_t>(n), std::move(fds))) {
    Shutdown(framer_.error(), true);  // the framer keeps the fds; Shutdown closes them
    return false;
  }
  return !closed_;
}

void Connection::DispatchComplete() {
  Napi::Env env = Env();
  Framer::Message m;
  // A peer whose replies are backed up gets no more handled (they stay framed) until they drain.
  while (!closed_ && !BackedUp()) {
    Framer::Next next = framer_.Pop(&m);
    if (next == Framer::Next::kNeedMore) return;
    if (next == Framer::Next::kError) {
      Shutdown(framer_.error(), true);
      return;
    }
    Napi::Buffer<uint8_t> msg = Napi::Buffer<uint8_t>::Copy(env, m.data, m.size);
    Napi::Array fd_array = Napi::Array::New(env);
    for (size_t k = 0; k < m.fds.size(); ++k) fd_array.Set(k, Napi::Number::New(env, m.fds[k]));
    m.fds.clear();  // ownership moves to JS
    ++messages_in_;
    try {
      on_message_.MakeCallback(Value(), {msg, fd_array});
    } catch (const Napi::Error&) {
      // already reported through process 'uncaughtException'
    }
  }
}

Napi::Value Connection::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return Napi::Boolean::New(env, false);
  Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
  std::vector<int> fds;
  if (info.Length() > 1 && info[1].IsArray()) {
    Napi::Array a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i)
      fds.push_back(a.Get(i).As<Napi::Number>().Int32Value());
  }
  if (fds.size() > kMaxFdsPerRecv) ThrowErrno(env, EINVAL, "too many fds for one message");
  ++messages_out_;

  size_t sent = 0;
  if (outq_.empty()) {
    iovec iov{data.Data(), data.Length()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRecv)];
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
    ssize_t n;
    do {
      n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      // The peer is gone; the read side reports the disconnect.
      return Napi::Boolean::New(env, false);
    }
    if (n > 0) bytes_out_ += static_cast<uint64_t>(n);
    if (n == static_cast<ssize_t>(data.Length())) return Napi::Boolean::New(env, true);
    if (n > 0) {
      sent = static_cast<size_t>(n);
      fds.clear();  // they travelled with the first byte
    }
  }
  // Queue the rest; fds are duplicated because the caller may close its own.
  Outgoing out;
  out.data.assign(data.Data(), data.Data() + data.Length());
  out.sent = sent;
  for (int fd : fds) {
    int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
      CloseAll(out.fds);
      ThrowErrno(env, errno, "dup(fd " + std::to_string(fd) + ")");
    }
    out.fds.push_back(dup);
  }
  queued_bytes_ += out.data.size() - out.sent + kQueueEntryCost;
  outq_.push_back(std::move(out));
  UpdatePollEvents();
  return Napi::Boolean::New(env, true);
}

void Connection::HandleWritable() {
  while (!outq_.empty()) {
    Outgoing& out = outq_.front();
    iovec iov{out.data.data() + out.sent, out.data.size() - out.sent};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRecv)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (out.sent == 0 && !out.fds.empty()) {
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
      Shutdown(std::string("sendmsg: ") + std::strerror(errno), true);
      return;
    }
    if (n > 0) CloseAll(out.fds);
    out.sent += static_cast<size_t>(n);
    bytes_out_ += static_cast<uint64_t>(n);
    queued_bytes_ -= static_cast<size_t>(n);
    if (out.sent < out.data.size()) break;
    queued_bytes_ -= kQueueEntryCost;
    outq_.pop_front();
  }
  UpdatePollEvents();
  ResumeIfDrained();
}

void Connection::Shutdown(const std::string& reason, bool notify) {
  if (closed_) return;
  closed_ = true;
  if (poll_) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) {
      auto* self = static_cast<Connection*>(h->data);
      delete reinterpret_cast<uv_poll_t*>(h);
      self->Unref();
    });
    poll_ = nullptr;
  }
  if (stall_timer_) {
    uv_timer_stop(stall_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(stall_timer_), [](uv_handle_t* h) {
      auto* self = static_cast<Connection*>(h->data);
      delete reinterpret_cast<uv_timer_t*>(h);
      self->Unref();
    });
    stall_timer_ = nullptr;
  }
  ::close(fd_);
  fd_ = -1;
  CloseAll(framer_.Reset());
  for (auto& o : outq_) CloseAll(o.fds);
  outq_.clear();
  queued_bytes_ = 0;
  if (notify) {
    Napi::Env env = Env();
    Napi::Value r = reason.empty() ? env.Null() : Napi::String::New(env, reason);
    try {
      on_close_.MakeCallback(Value(), {r});
    } catch (const Napi::Error&) {
    }
  }
}

Napi::Value Connection::Close(const Napi::CallbackInfo& info) {
  Shutdown("", false);
  return info.Env().Undefined();
}

Napi::Value Connection::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("messagesIn", Napi::Number::New(env, static_cast<double>(messages_in_)));
  o.Set("messagesOut", Napi::Number::New(env, static_cast<double>(messages_out_)));
  o.Set("fdsIn", Napi::Number::New(env, static_cast<double>(fds_in_)));
  o.Set("queued", Napi::Number::New(env, static_cast<double>(outq_.size())));
  o.Set("queuedBytes", Napi::Number::New(env, static_cast<double>(queued_bytes_)));
  o.Set("reading", Napi::Boolean::New(env, reading_));
  return o;
}

void InitUnixSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("listenUnix", Napi::Function::New(env, ListenUnix));
  exports.Set("connectUnix", Napi::Function::New(env, ConnectUnix));
  exports.Set("adoptListener", Napi::Function::New(env, AdoptListener));
  exports.Set("Listener", Listener::Init(env));
  exports.Set("Connection", Connection::Init(env));
}

}  // namespace agfx

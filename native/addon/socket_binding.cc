// The vfio-user socket on Node's loop. Node's `net` reads non-IPC pipes with
// plain read(), so the kernel drops every fd a peer sends; the addon owns the
// socket instead: it listens, accepts, and reads from a uv_poll watcher on
// Node's own loop (core/message_channel.h does the I/O and the framing), and
// hands each complete message with the fds that arrived with it to JS,
// synchronously and in arrival order (docs/design.md invariant 2).
#include <unistd.h>
#include <uv.h>

#include <string>

#include "addon/bindings.h"
#include "addon/napi_util.h"
#include "core/message_channel.h"
#include "core/unix_socket.h"

namespace agfx {

namespace {

constexpr int kMaxReadsPerWakeup = 64;

// Starts a uv_poll watcher on `fd` for `self` (an ObjectWrap), or throws.
template <typename T>
uv_poll_t* StartPoll(Napi::Env env, T* self, int fd, const char* what) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  auto* poll = new uv_poll_t;
  if (uv_poll_init(loop, poll, fd) != 0) {
    delete poll;
    ThrowErrno(env, EBADF, std::string("uv_poll_init(") + what + ")");
  }
  poll->data = self;
  return poll;
}

// Stops and closes the watcher; `self` is unreferenced once libuv let go of it.
template <typename T>
void StopPoll(uv_poll_t* poll) {
  uv_poll_stop(poll);
  uv_close(reinterpret_cast<uv_handle_t*>(poll), [](uv_handle_t* h) {
    auto* self = static_cast<T*>(h->data);
    delete reinterpret_cast<uv_poll_t*>(h);
    self->Unref();
  });
}

// Watches a listening socket; calls onAccept(fd) for every new connection,
// onAccept(-errno) when accepting fails (JS logs it and may pause: EMFILE).
class Listener : public Napi::ObjectWrap<Listener> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Listener",
                       {InstanceMethod("pause", &Listener::Pause), InstanceMethod("resume", &Listener::Resume),
                        InstanceMethod("close", &Listener::Close)});
  }

  // new Listener(fd, onAccept)
  explicit Listener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Listener>(info) {
    fd_ = ArgI32(info[0]);
    on_accept_ = Napi::Persistent(info[1].As<Napi::Function>());
    poll_ = StartPoll(info.Env(), this, fd_, "listener");
    uv_poll_start(poll_, UV_READABLE, &Listener::OnPoll);
    Ref();  // alive while the watcher is
  }

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<Listener*>(handle->data);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    for (;;) {
      if (self->paused_ || self->poll_ == nullptr) return;
      int fd = AcceptConnection(self->fd_);
      if (fd == -EAGAIN || fd == -EWOULDBLOCK || fd == -ECONNABORTED) return;
      try {
        self->on_accept_.MakeCallback(self->Value(), {Napi::Number::New(env, fd)});
      } catch (const Napi::Error&) {
        // already reported through process 'uncaughtException'
      }
      if (fd < 0) return;
    }
  }

  Napi::Value Pause(const Napi::CallbackInfo& info) {
    if (poll_ && !paused_) uv_poll_stop(poll_);
    paused_ = true;
    return info.Env().Undefined();
  }

  Napi::Value Resume(const Napi::CallbackInfo& info) {
    if (poll_ && paused_) uv_poll_start(poll_, UV_READABLE, &Listener::OnPoll);
    paused_ = false;
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (poll_) {
      StopPoll<Listener>(poll_);
      poll_ = nullptr;
      ::close(fd_);
      fd_ = -1;
    }
    return info.Env().Undefined();
  }

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool paused_ = false;
  Napi::FunctionReference on_accept_;
};

uint32_t OptU32(const Napi::CallbackInfo& info, const char* name) {
  return info[3].As<Napi::Object>().Get(name).As<Napi::Number>().Uint32Value();
}

// One connected peer.
class Connection : public Napi::ObjectWrap<Connection> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Connection",
                       {InstanceMethod("send", &Connection::Send), InstanceMethod("close", &Connection::Close),
                        InstanceMethod("stats", &Connection::Stats)});
  }

  // new Connection(fd, onMessage(buf, fds), onClose(reason|null), {maxMessageSize, maxFds})
  explicit Connection(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<Connection>(info),
        channel_(ArgI32(info[0]), OptU32(info, "maxMessageSize"), OptU32(info, "maxFds")) {
    Napi::Env env = info.Env();
    on_message_ = Napi::Persistent(info[1].As<Napi::Function>());
    on_close_ = Napi::Persistent(info[2].As<Napi::Function>());
    if (OptU32(info, "maxMessageSize") < Framer::kHeaderSize) ThrowErrno(env, EINVAL, "maxMessageSize");
    poll_ = StartPoll(env, this, channel_.fd(), "connection");
    UpdatePollEvents();
    Ref();  // alive until the watcher is closed
  }

 private:
  void UpdatePollEvents() {
    if (closed_ || !poll_) return;
    int events = UV_READABLE | UV_DISCONNECT;
    if (channel_.wants_write()) events |= UV_WRITABLE;
    uv_poll_start(poll_, events, &Connection::OnPoll);
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<Connection*>(handle->data);
    if (self->closed_) return;
    Napi::HandleScope scope(self->Env());
    if (status < 0) {
      self->Shutdown(std::string("poll error: ") + uv_strerror(status), true);
      return;
    }
    if (events & UV_WRITABLE) self->HandleWritable();
    if (!self->closed_ && (events & (UV_READABLE | UV_DISCONNECT))) self->HandleReadable();
  }

  void HandleReadable() {
    for (int i = 0; i < kMaxReadsPerWakeup && !closed_; ++i) {
      MessageChannel::Read r = channel_.ReadOnce();
      if (r == MessageChannel::Read::kEnded) {
        Shutdown(channel_.end_reason(), true);
        return;
      }
      DispatchComplete();
      if (r == MessageChannel::Read::kWouldBlock) return;
    }
  }

  // Every complete message to JS, one at a time, in order.
  void DispatchComplete() {
    Napi::Env env = Env();
    Framer::Message m;
    while (!closed_) {
      Framer::Next next = channel_.Pop(&m);
      if (next == Framer::Next::kNeedMore) return;
      if (next == Framer::Next::kError) {
        Shutdown(channel_.end_reason(), true);
        return;
      }
      Napi::Buffer<uint8_t> msg = Napi::Buffer<uint8_t>::Copy(env, m.data, m.size);
      Napi::Array fd_array = Napi::Array::New(env);
      for (size_t k = 0; k < m.fds.size(); ++k) fd_array.Set(k, Napi::Number::New(env, m.fds[k]));
      m.fds.clear();  // ownership moves to JS
      try {
        on_message_.MakeCallback(Value(), {msg, fd_array});
      } catch (const Napi::Error&) {
        // already reported through process 'uncaughtException'
      }
    }
  }

  void HandleWritable() {
    if (!channel_.Flush()) {
      Shutdown(channel_.end_reason(), true);
      return;
    }
    UpdatePollEvents();
  }

  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return Napi::Boolean::New(env, false);
    Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
    std::vector<int> fds;
    if (info.Length() > 1 && info[1].IsArray()) fds = ArgFds(info[1]);
    bool accepted = false;
    ThrowIf(env, channel_.Send(data.Data(), data.Length(), fds, &accepted));
    if (channel_.wants_write()) UpdatePollEvents();  // a whole send needs no watcher change
    return Napi::Boolean::New(env, accepted);
  }

  void Shutdown(const std::string& reason, bool notify) {
    if (closed_) return;
    closed_ = true;
    if (poll_) {
      StopPoll<Connection>(poll_);
      poll_ = nullptr;
    }
    channel_.Close();
    if (notify) {
      Napi::Env env = Env();
      Napi::Value r = reason.empty() ? env.Null() : Napi::String::New(env, reason);
      try {
        on_close_.MakeCallback(Value(), {r});
      } catch (const Napi::Error&) {
      }
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown("", false);
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    MessageChannel::Stats s = channel_.stats();
    Napi::Object o = Napi::Object::New(env);
    o.Set("messagesIn", Napi::Number::New(env, static_cast<double>(s.messages_in)));
    o.Set("messagesOut", Napi::Number::New(env, static_cast<double>(s.messages_out)));
    o.Set("fdsIn", Napi::Number::New(env, static_cast<double>(s.fds_in)));
    o.Set("queued", Napi::Number::New(env, static_cast<double>(s.queued)));
    return o;
  }

  MessageChannel channel_;
  uv_poll_t* poll_ = nullptr;
  bool closed_ = false;
  Napi::FunctionReference on_message_;
  Napi::FunctionReference on_close_;
};

Napi::Value Listen(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>();
  int backlog = info.Length() > 2 ? ArgI32(info[2]) : 4;
  int fd = -1;
  ThrowIf(info.Env(), ListenUnix(path, ArgU32(info[1]), backlog, &fd));
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  int fd = -1;
  ThrowIf(info.Env(), ConnectUnix(info[0].As<Napi::String>(), &fd));
  return Napi::Number::New(info.Env(), fd);
}

// Validates a listening socket handed over by a supervisor (--fd, LISTEN_FDS).
Napi::Value Adopt(const Napi::CallbackInfo& info) {
  int fd = ArgI32(info[0]);
  ThrowIf(info.Env(), AdoptListener(fd));
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace

void InitUnixSocket(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "listenUnix", Listen);
  Export(env, exports, "connectUnix", Connect);
  Export(env, exports, "adoptListener", Adopt);
  exports.Set("Listener", Listener::Init(env));
  exports.Set("Connection", Connection::Init(env));
}

}  // namespace agfx

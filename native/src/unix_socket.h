// Unix-socket transport that carries file descriptors (SCM_RIGHTS).
//
// Node's `net` reads non-IPC pipes with plain read(), so the kernel drops
// every fd a peer sends. This addon owns the vfio-user socket instead: it
// listens, accepts, and reads with recvmsg() from a uv_poll watcher on Node's
// own loop, splits the byte stream into vfio-user messages (16-byte header,
// total size at offset 4) and hands each complete message with the fds that
// arrived with it to JS, synchronously and in arrival order.
#pragma once
#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "framer.h"

namespace agfx {

// Watches a listening socket; calls onAccept(fd) for every new connection.
class Listener : public Napi::ObjectWrap<Listener> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Listener(const Napi::CallbackInfo& info);
  ~Listener() override;

 private:
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  void StopAndRelease();

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool paused_ = false;
  Napi::FunctionReference on_accept_;
};

// One connected peer. Framing is checked here; everything inside a message
// is the protocol layer's business.
class Connection : public Napi::ObjectWrap<Connection> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Connection(const Napi::CallbackInfo& info);
  ~Connection() override;

 private:
  struct Outgoing {
    std::vector<uint8_t> data;
    size_t sent = 0;
    std::vector<int> fds;  // sent with the first byte, then closed
  };

  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  void HandleReadable();
  void HandleWritable();
  // Reads once; returns false when the connection ended (closed_ is set).
  bool ReadOnce(bool* would_block);
  void DispatchComplete();
  void UpdatePollEvents();
  void Shutdown(const std::string& reason, bool notify);
  // Replies backed up: stop reading (and dispatching) until they drain.
  bool BackedUp() const { return queued_bytes_ >= high_water_; }
  void ResumeIfDrained();
  static void OnStallTimer(uv_timer_t* t);

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool closed_ = false;
  bool dispatching_ = false;
  uint32_t max_message_size_;
  uint32_t max_fds_;

  Framer framer_;  // byte stream -> messages with their fds (framer.h)
  std::deque<Outgoing> outq_;
  // Bytes of replies queued (plus kQueueEntryCost per queued reply), and the
  // bound past which the peer is not read: docs/design.md invariant 4.
  size_t queued_bytes_ = 0;
  size_t high_water_;
  bool reading_ = true;
  // While reading is stopped: a peer that takes no byte for kStallMs is closed.
  uv_timer_t* stall_timer_ = nullptr;
  uint64_t bytes_out_ = 0, bytes_out_at_check_ = 0;
  uint64_t stalled_ms_ = 0;

  uint64_t messages_in_ = 0, messages_out_ = 0, fds_in_ = 0;

  Napi::FunctionReference on_message_;
  Napi::FunctionReference on_close_;
};

void InitUnixSocket(Napi::Env env, Napi::Object exports);

}  // namespace agfx

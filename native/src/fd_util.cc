// Small fd helpers for tools and tests that play the VMM: eventfds to receive
// interrupts, memfds to stand in for guest RAM.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "errors.h"
#include "fd_util.h"

namespace agfx {

namespace {

Napi::Value EventfdCreate(const Napi::CallbackInfo& info) {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) ThrowErrno(info.Env(), errno, "eventfd()");
  return Napi::Number::New(info.Env(), fd);
}

// Returns the counter (and resets it), or 0 when nothing was signalled.
Napi::Value EventfdRead(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint64_t v = 0;
  ssize_t n = ::read(fd, &v, sizeof v);
  if (n < 0) {
    if (errno == EAGAIN) return Napi::Number::New(info.Env(), 0);
    ThrowErrno(info.Env(), errno, "eventfd read");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(v));
}

Napi::Value EventfdWrite(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint64_t v = info.Length() > 1 ? info[1].As<Napi::Number>().Int64Value() : 1;
  if (::write(fd, &v, sizeof v) != sizeof v) ThrowErrno(info.Env(), errno, "eventfd write");
  return info.Env().Undefined();
}

Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>();
  int64_t size = info[1].As<Napi::Number>().Int64Value();
  int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), errno, "memfd_create()");
  if (::ftruncate(fd, size) < 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(info.Env(), err, "ftruncate(memfd)");
  }
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (fd >= 0) ::close(fd);
  return info.Env().Undefined();
}

}  // namespace

void InitFdUtil(Napi::Env env, Napi::Object exports) {
  exports.Set("eventfdCreate", Napi::Function::New(env, EventfdCreate));
  exports.Set("eventfdRead", Napi::Function::New(env, EventfdRead));
  exports.Set("eventfdWrite", Napi::Function::New(env, EventfdWrite));
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
}

}  // namespace agfx

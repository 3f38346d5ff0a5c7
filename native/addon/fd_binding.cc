// JS bindings of the fd helpers (core/fd_util.h), for tools and tests that
// play the VMM.
#include <unistd.h>

#include "addon/bindings.h"
#include "addon/napi_util.h"
#include "core/fd_util.h"

namespace agfx {

namespace {

Napi::Value EventfdCreate(const Napi::CallbackInfo& info) {
  int fd = -1;
  ThrowIf(info.Env(), CreateEventFd(&fd));
  return Napi::Number::New(info.Env(), fd);
}

// Returns the counter (and resets it), or 0 when nothing was signalled.
Napi::Value EventfdRead(const Napi::CallbackInfo& info) {
  uint64_t v = 0;
  ThrowIf(info.Env(), ReadEventFd(ArgI32(info[0]), &v));
  return Napi::Number::New(info.Env(), static_cast<double>(v));
}

Napi::Value EventfdWrite(const Napi::CallbackInfo& info) {
  uint64_t v = info.Length() > 1 ? info[1].As<Napi::Number>().Int64Value() : 1;
  ThrowIf(info.Env(), WriteEventFd(ArgI32(info[0]), v));
  return info.Env().Undefined();
}

Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>();
  int64_t size = info[1].As<Napi::Number>().Int64Value();
  int fd = -1;
  ThrowIf(info.Env(), CreateMemFd(name, uint64_t(size), &fd));
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = ArgI32(info[0]);
  if (fd >= 0) ::close(fd);
  return info.Env().Undefined();
}

}  // namespace

void InitFdUtil(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "eventfdCreate", EventfdCreate);
  Export(env, exports, "eventfdRead", EventfdRead);
  Export(env, exports, "eventfdWrite", EventfdWrite);
  Export(env, exports, "memfdCreate", MemfdCreate);
  Export(env, exports, "closeFd", CloseFd);
}

}  // namespace agfx

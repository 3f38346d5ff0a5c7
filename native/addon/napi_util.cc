#include "addon/napi_util.h"

#include <cstring>

namespace agfx {

void ThrowErrno(Napi::Env env, int err, const std::string& what) {
  Napi::Error e = Napi::Error::New(env, what + ": " + std::strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  throw e;
}

void ThrowIf(Napi::Env env, const SysError& e) {
  if (e) ThrowErrno(env, e.code, e.what);
}

uint64_t ArgU64(const Napi::Value& v) {
  bool lossless = true;
  if (v.IsBigInt()) return v.As<Napi::BigInt>().Uint64Value(&lossless);
  return static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
}

std::vector<int> ArgFds(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int> fds;
  fds.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) fds.push_back(a.Get(i).As<Napi::Number>().Int32Value());
  return fds;
}

}  // namespace agfx

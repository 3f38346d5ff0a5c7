// Small helpers shared by the N-API bindings: errors thrown to JS carry the
// errno as `.errno` and its name as `.code`, like Node's own system errors,
// so the protocol layer can reply with it; argument conversions.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/errors.h"

namespace agfx {

[[noreturn]] void ThrowErrno(Napi::Env env, int err, const std::string& what);
// Throws `e` when it holds an error.
void ThrowIf(Napi::Env env, const SysError& e);

// A number or a BigInt, as a uint64.
uint64_t ArgU64(const Napi::Value& v);
inline uint32_t ArgU32(const Napi::Value& v) { return v.As<Napi::Number>().Uint32Value(); }
inline int32_t ArgI32(const Napi::Value& v) { return v.As<Napi::Number>().Int32Value(); }
// An array of fds (numbers).
std::vector<int> ArgFds(const Napi::Value& v);

// Registers `fn` as exports[name].
inline void Export(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback fn) {
  exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace agfx

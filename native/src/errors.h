// Errors thrown to JS carry the errno as `.errno` and its name as `.code`,
// like Node's own system errors, so the protocol layer can reply with it.
#pragma once
#include <napi.h>
#include <string>

namespace agfx {

[[noreturn]] void ThrowErrno(Napi::Env env, int err, const std::string& what);
const char* ErrnoName(int err);

}  // namespace agfx

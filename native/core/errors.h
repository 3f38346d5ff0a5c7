// Errors of the native core: an errno and what failed. Plain C++; the addon
// turns them into JS errors (addon/napi_util.h), native tools print them.
#pragma once
#include <string>

namespace agfx {

struct SysError {
  int code = 0;  // a positive errno; 0: no error
  std::string what;
  explicit operator bool() const { return code != 0; }
};

// "EINVAL" for EINVAL, like Node's own system errors' `.code`.
const char* ErrnoName(int err);

}  // namespace agfx

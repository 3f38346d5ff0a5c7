// Small helpers shared by the soft device's parts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "agfx_backend.h"

namespace agfx::soft {

inline std::string Hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
  return b;
}

// A problem caused by the guest: logged by the daemon (apple_gfx_guest_error).
inline void GuestError(const agfx_host& host, const std::string& msg) { host.guest_error(host.opaque, msg.c_str()); }

inline uint32_t Fnv1a(const uint8_t* p, size_t n, uint32_t h = 0x811C9DC5u) {
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x01000193u;
  return h;
}

}  // namespace agfx::soft

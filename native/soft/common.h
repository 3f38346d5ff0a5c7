// Small helpers shared by the soft device's parts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "agfx_backend.h"
#include "agfx_soft.h"

namespace agfx::soft {

inline std::string Hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
  return b;
}

// A problem caused by the guest: logged by the daemon (apple_gfx_guest_error).
inline void GuestError(const agfx_host& host, const std::string& msg) { host.guest_error(host.opaque, msg.c_str()); }

inline uint32_t Fnv1a(const uint8_t* p, size_t n, uint32_t h = AGFX_SOFT_FNV_BASIS) {
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * AGFX_SOFT_FNV_PRIME;
  return h;
}

}  // namespace agfx::soft

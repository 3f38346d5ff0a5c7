#include "state_blob.h"

#include <cstring>

namespace agfx::pvg {

namespace {
constexpr char kMagic[8] = {'A', 'G', 'F', 'X', 'P', 'V', 'G', '1'};
constexpr size_t kHeader = sizeof kMagic + 16;

void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}
}  // namespace

std::vector<uint8_t> PackState(const void* pg, size_t pg_len, const void* iosfc, size_t iosfc_len) {
  if (!iosfc) iosfc_len = 0;
  std::vector<uint8_t> out(kHeader + pg_len + iosfc_len);
  std::memcpy(out.data(), kMagic, sizeof kMagic);
  PutU64(out.data() + 8, pg_len);
  // All ones: no IOSurface part at all (as opposed to an empty one).
  PutU64(out.data() + 16, iosfc ? iosfc_len : ~0ull);
  if (pg_len) std::memcpy(out.data() + kHeader, pg, pg_len);
  if (iosfc_len) std::memcpy(out.data() + kHeader + pg_len, iosfc, iosfc_len);
  return out;
}

bool UnpackState(const void* blob, size_t len, StateParts* out, std::string* err) {
  *out = StateParts{};
  const auto* b = static_cast<const uint8_t*>(blob);
  if (!b || len == 0) {
    *err = "empty device state";
    return false;
  }
  if (len < sizeof kMagic || std::memcmp(b, kMagic, sizeof kMagic) != 0) {
    out->pg = b;  // a bare PVG state
    out->pg_len = len;
    return true;
  }
  if (len < kHeader) {
    *err = "device state truncated in its header";
    return false;
  }
  uint64_t pg_len = GetU64(b + 8), io_len = GetU64(b + 16);
  bool has_io = io_len != ~0ull;
  if (!has_io) io_len = 0;
  if (pg_len > len - kHeader || io_len > len - kHeader - pg_len || kHeader + pg_len + io_len != len) {
    *err = "device state lengths do not match its size";
    return false;
  }
  if (pg_len == 0) {
    *err = "device state has no PVG part";
    return false;
  }
  out->pg = b + kHeader;
  out->pg_len = size_t(pg_len);
  if (has_io) {
    out->iosfc = b + kHeader + pg_len;
    out->iosfc_len = size_t(io_len);
  }
  return true;
}

}  // namespace agfx::pvg

// The pvg backend's device-state blob (save_state / restore_state): PVG's
// own suspend state (-finishSuspend) and, for the mmio variant, the
// IOSurface host device's (-saveState, finding 7), framed together:
//   "AGFXPVG1", u64 LE length of PVG's part, u64 LE length of the IOSurface
//   part, then the two parts.
// A blob without the magic is a bare PVG state (what save_state wrote before
// the framing; a PCI device). Framework-independent.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace agfx::pvg {

struct StateParts {
  const uint8_t* pg = nullptr;
  size_t pg_len = 0;
  const uint8_t* iosfc = nullptr;  // null: no IOSurface state in the blob
  size_t iosfc_len = 0;
};

// `iosfc` may be null (no IOSurface device).
std::vector<uint8_t> PackState(const void* pg, size_t pg_len, const void* iosfc, size_t iosfc_len);
// Points into `blob`. False with *err for a truncated or inconsistent blob.
bool UnpackState(const void* blob, size_t len, StateParts* out, std::string* err);

}  // namespace agfx::pvg

// IOSFC: map / unmap / peek by handle. iosfc_map is arithmetic on the host's
// guest-memory table: no syscall per mapping (docs/design.md invariant 6).
#include "soft/iosfc.h"

#include "platform/platform.h"
#include "soft/common.h"

namespace agfx::soft {

uint32_t Iosfc::Read(uint64_t off) {
  std::lock_guard lock(io_mu_);
  switch (off) {
    case AGFX_SOFT_IOSFC_GPA_LO: return uint32_t(gpa_);
    case AGFX_SOFT_IOSFC_GPA_HI: return uint32_t(gpa_ >> 32);
    case AGFX_SOFT_IOSFC_LENGTH: return len_;
    case AGFX_SOFT_IOSFC_HANDLE: return handle_;
    case AGFX_SOFT_IOSFC_STATUS: return status_;
    case AGFX_SOFT_IOSFC_PEEK_OFFSET: return peek_;
    case AGFX_SOFT_IOSFC_PEEK_DATA: {
      if (handle_ == 0 || handle_ > maps_.size() || !maps_[handle_ - 1].host) return Bad("PEEK of no mapping");
      const Mapping& m = maps_[handle_ - 1];
      if (peek_ % 4 || uint64_t(peek_) + 4 > m.len) return Bad("PEEK outside the mapping");
      uint32_t v;
      // Through the host alias, without faulting if the VMM shrank the file.
      if (!platform::SafeRead(&v, static_cast<uint8_t*>(m.host) + peek_, 4)) return Bad("PEEK of memory the VMM took away");
      return v;
    }
    case AGFX_SOFT_IOSFC_MAPPED: return live_;
    default: return 0;
  }
}

uint32_t Iosfc::Bad(const char* what) {
  GuestError(host_, std::string("IOSFC: ") + what);
  return AGFX_SOFT_IOSFC_BAD_PEEK;
}

void Iosfc::Write(uint64_t off, uint32_t v) {
  {
    std::lock_guard lock(io_mu_);
    switch (off) {
      case AGFX_SOFT_IOSFC_GPA_LO: gpa_ = (gpa_ & ~0xffffffffull) | v; return;
      case AGFX_SOFT_IOSFC_GPA_HI: gpa_ = (gpa_ & 0xffffffffull) | (uint64_t(v) << 32); return;
      case AGFX_SOFT_IOSFC_LENGTH: len_ = v; return;
      case AGFX_SOFT_IOSFC_HANDLE: handle_ = v; return;
      case AGFX_SOFT_IOSFC_PEEK_OFFSET: peek_ = v; return;
      case AGFX_SOFT_IOSFC_COMMAND: CommandLocked(v); break;
      default: return;
    }
  }
  host_.raise_interrupt(host_.opaque, 1);  // IOSFC vector
}

// COMMAND: map read-only or read-write (HANDLE := the new handle), unmap HANDLE.
void Iosfc::CommandLocked(uint32_t cmd) {
  if (cmd == AGFX_SOFT_IOSFC_MAP_RO || cmd == AGFX_SOFT_IOSFC_MAP_RW) {
    handle_ = 0;
    if (len_ == 0 || len_ > AGFX_SOFT_MAX_CHECKSUM_LEN) {
      status_ = AGFX_SOFT_ST_BAD_ARGS;
      return;
    }
    void* host = host_.iosfc_map(host_.opaque, gpa_, len_, cmd == AGFX_SOFT_IOSFC_MAP_RO);
    if (!host) {
      status_ = AGFX_SOFT_ST_MAP_FAILED;
      GuestError(host_, "IOSFC map of 0x" + Hex(gpa_) + "+" + std::to_string(len_) + " outside shared guest RAM");
      return;
    }
    size_t slot = 0;
    while (slot < maps_.size() && maps_[slot].host) ++slot;
    if (slot == AGFX_SOFT_MAX_IOSFC_HANDLES) {
      host_.iosfc_unmap(host_.opaque, host);
      status_ = AGFX_SOFT_ST_NO_MEMORY;
      return;
    }
    if (slot == maps_.size()) maps_.push_back({});
    maps_[slot] = Mapping{host, len_, gpa_, cmd == AGFX_SOFT_IOSFC_MAP_RO};
    ++live_;
    handle_ = uint32_t(slot + 1);
    status_ = AGFX_SOFT_ST_OK;
  } else if (cmd == AGFX_SOFT_IOSFC_UNMAP) {
    if (handle_ == 0 || handle_ > maps_.size() || !maps_[handle_ - 1].host) {
      status_ = AGFX_SOFT_ST_BAD_ARGS;
      GuestError(host_, "IOSFC unmap of unknown handle " + std::to_string(handle_));
      return;
    }
    host_.iosfc_unmap(host_.opaque, maps_[handle_ - 1].host);
    maps_[handle_ - 1] = Mapping{};
    --live_;
    status_ = AGFX_SOFT_ST_OK;
  } else {
    status_ = AGFX_SOFT_ST_BAD_ARGS;
  }
}

void Iosfc::ReleaseAll() {
  std::lock_guard lock(io_mu_);
  for (auto& m : maps_)
    if (m.host) host_.iosfc_unmap(host_.opaque, m.host);
  maps_.clear();
  live_ = 0;
  gpa_ = 0;
  len_ = handle_ = status_ = peek_ = 0;
}

void Iosfc::Save(StateWriter& w) {
  std::lock_guard lock(io_mu_);
  w.u32(live_);
  for (size_t i = 0; i < maps_.size(); ++i) {
    if (!maps_[i].host) continue;
    w.u32(uint32_t(i + 1));
    w.u64(maps_[i].gpa);
    w.u64(maps_[i].len);
    w.u8(maps_[i].read_only);
  }
}

bool Iosfc::Load(StateReader& r, std::string* err) {
  uint32_t nmaps = r.u32();
  std::lock_guard lock(io_mu_);
  for (uint32_t i = 0; r.ok() && i < nmaps && i < AGFX_SOFT_MAX_IOSFC_HANDLES; ++i) {
    uint32_t handle = r.u32();
    uint64_t gpa = r.u64(), mlen = r.u64();
    bool ro = r.u8() != 0;
    if (!r.ok() || handle == 0 || handle > AGFX_SOFT_MAX_IOSFC_HANDLES || mlen == 0 || mlen > AGFX_SOFT_MAX_CHECKSUM_LEN) {
      *err = "bad IOSFC mapping record";
      return false;
    }
    void* host = host_.iosfc_map(host_.opaque, gpa, mlen, ro);
    if (!host) continue;
    if (maps_.size() < handle) maps_.resize(handle);
    maps_[handle - 1] = Mapping{host, mlen, gpa, ro};
    ++live_;
  }
  return true;
}

}  // namespace agfx::soft

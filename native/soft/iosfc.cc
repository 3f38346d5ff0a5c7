// IOSFC: map / unmap / peek by handle. iosfc_map is arithmetic on the host's
// guest-memory table: no syscall per mapping (docs/design.md invariant 6).
#include "soft/iosfc.h"

#include "platform/platform.h"
#include "soft/common.h"

namespace agfx::soft {

uint32_t Iosfc::Read(uint64_t off) {
  std::lock_guard lock(io_mu_);
  switch (off) {
    case kIoGpaLo: return uint32_t(gpa_);
    case kIoGpaHi: return uint32_t(gpa_ >> 32);
    case kIoLength: return len_;
    case kIoHandle: return handle_;
    case kIoStatus: return status_;
    case kIoPeekOffset: return peek_;
    case kIoPeekData: {
      if (handle_ == 0 || handle_ > maps_.size() || !maps_[handle_ - 1].host) return Bad("PEEK of no mapping");
      const Mapping& m = maps_[handle_ - 1];
      if (peek_ % 4 || uint64_t(peek_) + 4 > m.len) return Bad("PEEK outside the mapping");
      uint32_t v;
      // Through the host alias, without faulting if the VMM shrank the file.
      if (!platform::SafeRead(&v, static_cast<uint8_t*>(m.host) + peek_, 4)) return Bad("PEEK of memory the VMM took away");
      return v;
    }
    case kIoMapped: return live_;
    default: return 0;
  }
}

uint32_t Iosfc::Bad(const char* what) {
  GuestError(host_, std::string("IOSFC: ") + what);
  return 0xffffffffu;
}

void Iosfc::Write(uint64_t off, uint32_t v) {
  {
    std::lock_guard lock(io_mu_);
    switch (off) {
      case kIoGpaLo: gpa_ = (gpa_ & ~0xffffffffull) | v; return;
      case kIoGpaHi: gpa_ = (gpa_ & 0xffffffffull) | (uint64_t(v) << 32); return;
      case kIoLength: len_ = v; return;
      case kIoHandle: handle_ = v; return;
      case kIoPeekOffset: peek_ = v; return;
      case kIoCommand: CommandLocked(v); break;
      default: return;
    }
  }
  host_.raise_interrupt(host_.opaque, 1);  // IOSFC vector
}

// COMMAND 1: map read-only, 2: map read-write, 3: unmap HANDLE.
void Iosfc::CommandLocked(uint32_t cmd) {
  if (cmd == 1 || cmd == 2) {
    handle_ = 0;
    if (len_ == 0 || len_ > kMaxChecksumLen) {
      status_ = kBadArgs;
      return;
    }
    void* host = host_.iosfc_map(host_.opaque, gpa_, len_, cmd == 1);
    if (!host) {
      status_ = kMapFailed;
      GuestError(host_, "IOSFC map of 0x" + Hex(gpa_) + "+" + std::to_string(len_) + " outside shared guest RAM");
      return;
    }
    size_t slot = 0;
    while (slot < maps_.size() && maps_[slot].host) ++slot;
    if (slot == kMaxIosfcHandles) {
      host_.iosfc_unmap(host_.opaque, host);
      status_ = kNoMemory;
      return;
    }
    if (slot == maps_.size()) maps_.push_back({});
    maps_[slot] = Mapping{host, len_, gpa_, cmd == 1};
    ++live_;
    handle_ = uint32_t(slot + 1);
    status_ = kOk;
  } else if (cmd == 3) {
    if (handle_ == 0 || handle_ > maps_.size() || !maps_[handle_ - 1].host) {
      status_ = kBadArgs;
      GuestError(host_, "IOSFC unmap of unknown handle " + std::to_string(handle_));
      return;
    }
    host_.iosfc_unmap(host_.opaque, maps_[handle_ - 1].host);
    maps_[handle_ - 1] = Mapping{};
    --live_;
    status_ = kOk;
  } else {
    status_ = kBadArgs;
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
  for (uint32_t i = 0; r.ok() && i < nmaps && i < kMaxIosfcHandles; ++i) {
    uint32_t handle = r.u32();
    uint64_t gpa = r.u64(), mlen = r.u64();
    bool ro = r.u8() != 0;
    if (!r.ok() || handle == 0 || handle > kMaxIosfcHandles || mlen == 0 || mlen > kMaxChecksumLen) {
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

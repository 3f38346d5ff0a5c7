// The soft device's IOSFC region (variant mmio, docs/soft-device.md): the
// guest asks for host mappings of guest RAM by GPA and length, gets handles,
// peeks through them and releases them; each command raises vector 1.
//
// Threading: served on the MMIO caller's thread (the JS thread); state and
// the handle table are io_mu_'s. io_mu_ is held across iosfc_map /
// iosfc_unmap and guest_error: host services that are arithmetic on the
// guest-memory table or a queue append, never waiting for the JS thread or a
// peer (docs/design.md invariant 1, invariant 6).
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "agfx_backend.h"
#include "agfx_soft.h"
#include "soft/state_io.h"

namespace agfx::soft {

class Iosfc {
 public:
  explicit Iosfc(const agfx_host& host) : host_(host) {}

  uint32_t Read(uint64_t off);
  void Write(uint64_t off, uint32_t v);
  // Releases every mapping and clears the registers (device reset).
  void ReleaseAll();
  void Save(StateWriter& w);
  // Maps the saved mappings again; one that no longer fits guest RAM is dropped.
  bool Load(StateReader& r, std::string* err);

 private:
  struct Mapping {
    void* host = nullptr;
    uint64_t len = 0;
    uint64_t gpa = 0;
    bool read_only = false;
  };
  void CommandLocked(uint32_t cmd);
  uint32_t Bad(const char* what);

  const agfx_host& host_;
  std::mutex io_mu_;  // everything below
  uint64_t gpa_ = 0;
  uint32_t len_ = 0, handle_ = 0, status_ = 0, peek_ = 0, live_ = 0;
  std::vector<Mapping> maps_;  // handle h is maps_[h - 1]
};

}  // namespace agfx::soft

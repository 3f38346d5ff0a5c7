// Little-endian serialisation of the soft device's state (state.cc and each
// part's Save/Load).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace agfx::soft {

// '2': the display port registers (interface 1.1) at the end of the display records.
constexpr char kStateMagic[8] = {'A', 'G', 'F', 'X', 'S', 'O', 'F', '2'};

class StateWriter {
 public:
  std::vector<uint8_t> out;
  void u8(uint8_t v) { out.push_back(v); }
  void u32(uint32_t v) { for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i))); }
  void u64(uint64_t v) { for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i))); }
  void bytes(const std::vector<uint8_t>& b) {
    u32(uint32_t(b.size()));
    out.insert(out.end(), b.begin(), b.end());
  }
};

// Reads stop at the first shortfall: ok() turns false and every later read
// returns 0 (or nothing).
class StateReader {
 public:
  StateReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool ok() const { return ok_; }
  uint8_t u8() { return Need(1) ? p_[pos_++] : 0; }
  uint32_t u32() {
    uint32_t v = 0;
    if (Need(4)) for (int i = 0; i < 4; ++i) v |= uint32_t(p_[pos_++]) << (8 * i);
    return v;
  }
  uint64_t u64() {
    uint64_t v = 0;
    if (Need(8)) for (int i = 0; i < 8; ++i) v |= uint64_t(p_[pos_++]) << (8 * i);
    return v;
  }
  std::vector<uint8_t> bytes(size_t max) {
    uint32_t len = u32();
    if (len > max || !Need(len)) {
      ok_ = false;
      return {};
    }
    std::vector<uint8_t> v(p_ + pos_, p_ + pos_ + len);
    pos_ += len;
    return v;
  }
  bool AtEnd() const { return pos_ == n_; }

 private:
  bool Need(size_t k) {
    if (!ok_ || n_ - pos_ < k) ok_ = false;
    return ok_;
  }
  const uint8_t* p_;
  size_t n_, pos_ = 0;
  bool ok_ = true;
};

}  // namespace agfx::soft

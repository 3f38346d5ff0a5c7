// The few vfio-user wire facts the data plane needs to answer region
// accesses itself (QEMU docs/interop/vfio-user.rst; the TypeScript side's
// protocol/src/constants.ts holds the same values, and a unit test checks
// that the two agree: test/unit/dataplane-wire.test.ts).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace agfx::wire {

constexpr size_t kHeaderSize = 16;

enum Command : uint16_t {
  kVersion = 1,
  kRegionRead = 9,
  kRegionWrite = 10,
  kRegionWriteMulti = 15,
};

enum Flags : uint32_t {
  kTypeMask = 0xf,
  kTypeCommand = 0,
  kTypeReply = 1,
  kNoReply = 0x10,
  kError = 0x20,
};

enum RegionFlags : uint32_t { kRegionFlagRead = 1u << 0, kRegionFlagWrite = 1u << 1 };

// REGION_READ / REGION_WRITE payload: offset u64, region u32, count u32, data.
constexpr size_t kRegionAccessSize = 16;
// REGION_WRITE_MULTI: wr_cnt u64, then entries of offset u64, region u32,
// count u32, data[8].
constexpr size_t kMultiEntrySize = 24;
constexpr uint64_t kMultiMax = 200;
constexpr uint32_t kMultiData = 8;

constexpr int kEINVAL = 22;

inline uint16_t U16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;  // vfio-user is host byte order (little-endian in practice)
}
inline uint32_t U32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint64_t U64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void Put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, sizeof v); }
inline void Put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, sizeof v); }
inline void Put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, sizeof v); }

struct Header {
  uint16_t id, command;
  uint32_t size, flags, error;
};
inline Header ReadHeader(const uint8_t* p) {
  return Header{U16(p), U16(p + 2), U32(p + 4), U32(p + 8), U32(p + 12)};
}

}  // namespace agfx::wire

// libFuzzer harness for the data plane's region accesses
// (dataplane/region_access.{h,cc}): RouteMessage() then ServeRegionAccess()
// on messages that are mostly well-formed REGION_READ / REGION_WRITE /
// REGION_WRITE_MULTI with hostile fields, against a region table shaped like
// apple-gfx's (BAR0 16 KiB with the PBA window, BAR2 64 KiB, config space
// served by the session). A fake backend records every mmio call. Checks:
//  - only plain, negotiated, fd-less region accesses to a native region are
//    routed to the data plane;
//  - NO_REPLY never gets a reply; otherwise exactly one, echoing id and
//    command, of the size the protocol allows (docs/design.md P2): 32 + count
//    for a read, 32 for a write, 24 for a batch, 16 for an error;
//  - the backend only sees aligned dword accesses inside a native region,
//    outside the PBA window, with the region's backend number;
//  - a refused request reaches the backend not at all; a batch is applied
//    whole or not at all; a read returns what the backend returned, zeros in
//    the PBA window.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/dataplane/region_access.h"
#include "core/dataplane/wire.h"

using namespace agfx;

#define CHECK(cond)                                                                            \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "region_access_fuzz: check failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

namespace {

constexpr uint64_t kBar0 = 0x4000, kBar2 = 0x10000, kPba = 0x800;

struct Call {
  bool write;
  uint32_t region;
  uint64_t offset;
  uint64_t value;
  bool wide = false;  // mmio_read64/mmio_write64
  bool operator==(const Call& o) const {
    return write == o.write && region == o.region && offset == o.offset && value == o.value && wide == o.wide;
  }
};

uint32_t Dword(uint64_t offset, uint32_t region) { return uint32_t(offset * 2654435761u) ^ region; }
uint64_t Qword(uint64_t offset, uint32_t region) { return offset * 0x9e3779b97f4a7c15ull ^ region; }

class FakeBackend : public MmioTarget {
 public:
  uint32_t Read(uint32_t region, uint64_t offset) override {
    calls.push_back({false, region, offset, 0});
    return Dword(offset, region);
  }
  void Write(uint32_t region, uint64_t offset, uint32_t value) override { calls.push_back({true, region, offset, value}); }
  bool Read64(uint32_t region, uint64_t offset, uint64_t* value) override {
    if (!offers64) return false;
    calls.push_back({false, region, offset, 0, true});
    *value = Qword(offset, region);
    return true;
  }
  bool Write64(uint32_t region, uint64_t offset, uint64_t value) override {
    if (!offers64) return false;
    calls.push_back({true, region, offset, value, true});
    return true;
  }
  bool offers64 = false;
  std::vector<Call> calls;
};

// The backend calls one served access must make: none in the zero window;
// one whole 8-byte call where the region and the backend take it; else one
// per dword, low first. `data`: a write's bytes.
void Expect(std::vector<Call>* out, const RegionRule& r, uint64_t off, uint32_t count, const uint8_t* data,
            bool offers64) {
  auto zero = [&](uint64_t o) { return r.zero_len && o >= r.zero_offset && o - r.zero_offset < r.zero_len; };
  if (zero(off) && off + count <= r.zero_offset + r.zero_len) return;
  if (r.whole64 && offers64 && count == 8 && off % 8 == 0 && !zero(off) && !zero(off + 4)) {
    out->push_back({data != nullptr, r.backend_region, off, data ? wire::U64(data) : 0, true});
    return;
  }
  for (uint32_t i = 0; i < count / 4; ++i)
    if (!zero(off + 4 * i))
      out->push_back({data != nullptr, r.backend_region, off + 4 * i, data ? wire::U32(data + 4 * i) : 0});
}

class Sink : public EventSink {
 public:
  void Push(DataPlaneEvent&& ev) override {
    CHECK(ev.kind == DataPlaneEvent::kRequestFailed || ev.kind == DataPlaneEvent::kGuestError || ev.kind == DataPlaneEvent::kTrace);
    if (ev.kind == DataPlaneEvent::kRequestFailed) ++failed;
  }
  bool tracing() const override { return trace; }
  bool trace = false;
  int failed = 0;
};

const RegionTable& Table() {
  static RegionTable t = [] {
    RegionTable t(9);
    RegionRule bar0;
    bar0.size = kBar0;
    bar0.readable = bar0.writable = bar0.native = true;
    bar0.backend_region = 0;
    bar0.zero_offset = kPba;
    bar0.zero_len = 8;
    bar0.trace_read = "apple_gfx_read";
    bar0.trace_write = "apple_gfx_write";
    t.Set(0, bar0);
    RegionRule bar2;
    bar2.size = kBar2;
    bar2.readable = bar2.writable = bar2.native = true;
    bar2.backend_region = 1;
    bar2.whole64 = true;  // IOSFC's 64-bit registers
    t.Set(2, bar2);
    RegionRule cfg;
    cfg.size = 256;
    cfg.readable = cfg.writable = true;  // the session's
    t.Set(7, cfg);
    return t;
  }();
  return t;
}

uint32_t AnyRegion(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0: case 1: return 0;
    case 2: return 2;
    case 3: return 7;
    case 4: return in.ConsumeIntegralInRange<uint32_t>(0, 12);
    default: return in.ConsumeIntegral<uint32_t>();
  }
}
uint64_t AnyOffset(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 4)) {
    case 0: return 0x1000 + 4 * in.ConsumeIntegralInRange<uint64_t>(0, 32);
    case 1: return kPba + in.ConsumeIntegralInRange<uint64_t>(0, 9);
    case 2: return in.ConsumeIntegralInRange<uint64_t>(0, kBar2 + 8);
    case 3: return in.ConsumeIntegral<uint64_t>();
    default: return kBar0 - in.ConsumeIntegralInRange<uint64_t>(0, 16);
  }
}
uint32_t AnyCount(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 4)) {
    case 0: case 1: return 4;
    case 2: return 8;
    case 3: return in.ConsumeIntegralInRange<uint32_t>(0, 300);
    default: return in.ConsumeIntegral<uint32_t>();
  }
}

void Put(std::vector<uint8_t>& m, size_t at, const void* p, size_t n) {
  if (m.size() < at + n) m.resize(at + n);
  std::memcpy(m.data() + at, p, n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const RegionTable& table = Table();
  uint16_t command = in.PickValueInArray<uint16_t>({9, 9, 10, 10, 15, 1, 5, 13});
  uint32_t flags = in.ConsumeBool() ? 0 : in.PickValueInArray<uint32_t>({0x10, 0x10, 0x1, 0x20, 0x40, 0x11});
  uint32_t error = in.ConsumeIntegralInRange(0, 10) == 0 ? in.ConsumeIntegral<uint32_t>() : 0;
  uint16_t id = in.ConsumeIntegral<uint16_t>();
  bool negotiated = in.ConsumeIntegralInRange(0, 15) != 0;
  size_t fds = in.ConsumeIntegralInRange(0, 20) == 0 ? 1 : 0;
  uint32_t max_xfer = in.ConsumeBool() ? (1u << 20) : in.ConsumeIntegralInRange<uint32_t>(1, 300);

  std::vector<uint8_t> m(16, 0);
  bool multi = command == wire::kRegionWriteMulti;
  uint64_t n = 0;
  if (multi) {
    n = in.ConsumeIntegralInRange(0, 12) == 0 ? in.ConsumeIntegral<uint64_t>() : in.ConsumeIntegralInRange<uint64_t>(1, 6);
    Put(m, 16, &n, 8);
    uint64_t entries = n > 6 ? in.ConsumeIntegralInRange<uint64_t>(0, 3) : n;
    for (uint64_t i = 0; i < entries; ++i) {
      uint64_t off = AnyOffset(in);
      uint32_t region = AnyRegion(in), count = in.ConsumeIntegralInRange(0, 6) == 0 ? AnyCount(in) : in.PickValueInArray<uint32_t>({4, 8});
      uint8_t d[8];
      for (auto& b : d) b = in.ConsumeIntegral<uint8_t>();
      size_t at = 24 + i * 24;
      Put(m, at, &off, 8);
      Put(m, at + 8, &region, 4);
      Put(m, at + 12, &count, 4);
      Put(m, at + 16, d, 8);
    }
  } else {
    uint64_t off = AnyOffset(in);
    uint32_t region = AnyRegion(in), count = AnyCount(in);
    Put(m, 16, &off, 8);
    Put(m, 24, &region, 4);
    Put(m, 28, &count, 4);
    if (command == wire::kRegionWrite) {
      size_t len = in.ConsumeIntegralInRange(0, 6) == 0 ? in.ConsumeIntegralInRange<size_t>(0, 300) : (count <= 300 ? count : 0);
      for (size_t i = 0; i < len; ++i) m.push_back(in.ConsumeIntegral<uint8_t>());
    }
  }
  // Sometimes truncate or extend the payload.
  if (in.ConsumeIntegralInRange(0, 10) == 0) m.resize(16 + in.ConsumeIntegralInRange<size_t>(0, m.size() + 8 - 16));
  uint32_t msize = uint32_t(m.size());
  wire::Put16(m.data(), id);
  wire::Put16(m.data() + 2, command);
  wire::Put32(m.data() + 4, msize);
  wire::Put32(m.data() + 8, flags);
  wire::Put32(m.data() + 12, error);

  Route route = RouteMessage(m.data(), m.size(), fds, table, negotiated);
  const uint8_t* p = m.data() + 16;
  size_t plen = m.size() - 16;
  bool region_cmd = command == wire::kRegionRead || command == wire::kRegionWrite || multi;
  if (route == Route::kNative) {
    CHECK(negotiated && fds == 0 && (flags & ~uint32_t(wire::kNoReply)) == 0 && error == 0 && region_cmd);
    if (!multi) CHECK(plen >= 12 && table.IsNative(wire::U32(p + 8)));
  } else if (negotiated && fds == 0 && (flags == 0 || flags == wire::kNoReply) && error == 0 && !multi && region_cmd &&
             plen >= 12) {
    CHECK(!table.IsNative(wire::U32(p + 8)));
  }
  if (route != Route::kNative) return 0;

  FakeBackend backend;
  backend.offers64 = in.ConsumeBool();
  Sink sink;
  sink.trace = in.ConsumeBool();
  std::vector<uint8_t> reply;
  bool ok = ServeRegionAccess(m.data(), m.size(), table, max_xfer, backend, sink, &reply);
  bool no_reply = flags & wire::kNoReply;
  if (no_reply) {
    CHECK(reply.empty());
  } else {
    CHECK(reply.size() >= 16);
    wire::Header h = wire::ReadHeader(reply.data());
    CHECK(h.id == id && h.command == command && h.size == reply.size());
    if (!ok) {
      CHECK(reply.size() == 16 && h.flags == (wire::kTypeReply | wire::kError) && h.error == uint32_t(wire::kEINVAL));
    } else {
      CHECK(h.flags == wire::kTypeReply && h.error == 0);
      if (command == wire::kRegionRead) CHECK(reply.size() == 32 + uint64_t(wire::U32(p + 12)));
      if (command == wire::kRegionWrite) CHECK(reply.size() == 32);
      if (multi) CHECK(reply.size() == 24 && wire::U64(reply.data() + 16) == n);
    }
  }
  CHECK(ok == (sink.failed == 0));
  if (!ok) {
    CHECK(backend.calls.empty());  // refused: the device never saw it
    return 0;
  }
  // Every backend call: an aligned dword (or, whole, an aligned qword of the
  // 64-bit region) inside a native region, outside the PBA window, on that
  // region's backend number.
  for (const Call& c : backend.calls) {
    uint64_t len = c.wide ? 8 : 4;
    CHECK(c.offset % len == 0);
    CHECK(c.region == 0 ? !c.wide && c.offset + 4 <= kBar0 && !(c.offset >= kPba && c.offset < kPba + 8)
                        : c.region == 1 && c.offset + len <= kBar2);
  }
  std::vector<Call> expect;
  if (command == wire::kRegionRead) {
    uint64_t off = wire::U64(p);
    uint32_t region = wire::U32(p + 8), count = wire::U32(p + 12);
    const RegionRule* r = table.Find(region);
    CHECK(count <= max_xfer && off + count <= r->size);
    Expect(&expect, *r, off, count, nullptr, backend.offers64);
    if (!no_reply) {
      // Each byte: zero where its dword is in the window, else what the
      // backend returned for it.
      for (uint32_t i = 0; i < count; ++i) {
        uint8_t b = reply[32 + i];
        uint64_t dw = off + (i & ~3u);
        bool zero = expect.empty() || (r->zero_len && dw >= r->zero_offset && dw - r->zero_offset < r->zero_len);
        if (zero) CHECK(b == 0);
        else if (expect[0].wide) CHECK(b == uint8_t(Qword(off, r->backend_region) >> (8 * i)));
        else CHECK(b == uint8_t(Dword(dw, r->backend_region) >> (8 * (i & 3))));
      }
    }
  }
  if (command == wire::kRegionWrite) {
    const RegionRule* r = table.Find(wire::U32(p + 8));
    Expect(&expect, *r, wire::U64(p), wire::U32(p + 12), p + 16, backend.offers64);
  }
  if (multi) {
    // Applied whole, in order.
    for (uint64_t i = 0; i < n; ++i) {
      const uint8_t* e = p + 8 + i * 24;
      const RegionRule* r = table.Find(wire::U32(e + 8));
      CHECK(r && r->native);
      Expect(&expect, *r, wire::U64(e), wire::U32(e + 12), e + 16, backend.offers64);
    }
  }
  CHECK(backend.calls == expect);
  return 0;
}

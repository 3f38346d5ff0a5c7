#include "core/dataplane/region_access.h"

#include <cstdio>

#include "core/dataplane/wire.h"

namespace agfx {

namespace {

using namespace wire;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

void PutHeader(std::vector<uint8_t>* out, const Header& req, uint32_t size, uint32_t flags, uint32_t error) {
  out->resize(size);
  uint8_t* p = out->data();
  Put16(p, req.id);
  Put16(p + 2, req.command);
  Put32(p + 4, size);
  Put32(p + 8, flags);
  Put32(p + 12, error);
}

struct Access {
  uint64_t offset;
  uint32_t region, count;
  const uint8_t* data;  // writes: count bytes
};

// One request being served: its header, its reply and the log.
class Request {
 public:
  Request(const uint8_t* msg, const RegionTable& table, uint32_t max_xfer, MmioTarget& target, EventSink& events,
          std::vector<uint8_t>* reply)
      : h_(ReadHeader(msg)), table_(table), max_xfer_(max_xfer), target_(target), events_(events), reply_(reply) {
    reply_->clear();
  }

  bool wants_reply() const { return (h_.flags & kNoReply) == 0; }

  // Refuses the request: logged as vfio_user_request_failed; a header-only
  // error reply unless NO_REPLY (docs/design.md P5).
  bool Fail(const std::string& why) {
    DataPlaneEvent ev;
    ev.kind = DataPlaneEvent::kRequestFailed;
    ev.id = h_.id;
    ev.command = h_.command;
    ev.err = kEINVAL;
    ev.no_reply = !wants_reply();
    ev.text = why;
    events_.Push(std::move(ev));
    if (wants_reply()) PutHeader(reply_, h_, kHeaderSize, kTypeReply | kError, kEINVAL);
    return false;
  }

  // The session's checks against the region table (region.ts checkAccess);
  // empty when the access may go to the device.
  std::string CheckRegion(const Access& a, bool write, bool in_batch) const {
    const RegionRule* r = table_.Find(a.region);
    if (!r) return "region index " + std::to_string(a.region) + " >= " + std::to_string(table_.count());
    if (r->size == 0) return "region " + std::to_string(a.region) + " does not exist on this device";
    if (write ? !r->writable : !r->readable)
      return "region " + std::to_string(a.region) + " is not " + (write ? "writable" : "readable");
    if (a.count > max_xfer_)
      return "access of " + std::to_string(a.count) + " bytes exceeds max_data_xfer_size " + std::to_string(max_xfer_);
    if (a.count > r->size || a.offset > r->size - a.count)
      return "access [" + Hex(a.offset) + ", +" + std::to_string(a.count) + ") outside region " +
             std::to_string(a.region) + " of " + std::to_string(r->size) + " bytes";
    if (!r->native)  // only a batch can get here (RouteMessage)
      return std::string(in_batch ? "a REGION_WRITE_MULTI batch" : "a data-plane access") + " writes region " +
             std::to_string(a.region) + " together with device BARs (QEMU batches only posted BAR writes)";
    return {};
  }

  // The device's own rules (apple-gfx-pci.ts before the data plane): false
  // after logging apple_gfx_guest_error and refusing.
  bool CheckDevice(const Access& a, bool write) {
    const RegionRule& r = *table_.Find(a.region);
    if (InsideZeroWindow(r, a)) return true;
    if ((a.count == 4 || a.count == 8) && a.offset % 4 == 0) return true;
    const char* kind = write ? "write" : "read";
    DataPlaneEvent ev;
    ev.kind = DataPlaneEvent::kGuestError;
    ev.region = a.region;
    ev.offset = a.offset;
    ev.count = a.count;
    ev.text = "invalid " + std::to_string(a.count) + "-byte " + kind + " at " + Hex(a.offset) +
              " (aligned 4- or 8-byte accesses only)";
    events_.Push(std::move(ev));
    return Fail("unsupported " + std::to_string(a.count) + "-byte " + kind + " at " + Hex(a.offset));
  }

  // The zero window is applied per dword: an access lying wholly inside it
  // (any size) reads zeros and is dropped; an aligned access that straddles
  // its edge reaches the backend only for the dwords outside it.
  static bool InZeroWindow(const RegionRule& r, uint64_t off, uint64_t len) {
    return r.zero_len > 0 && off < r.zero_offset + r.zero_len && r.zero_offset < off + len;
  }
  static bool InsideZeroWindow(const RegionRule& r, const Access& a) {
    return r.zero_len > 0 && a.offset >= r.zero_offset && a.offset - r.zero_offset < r.zero_len &&
           a.count <= r.zero_len - (a.offset - r.zero_offset);
  }

  void Read(const Access& a, uint8_t* out) {
    const RegionRule& r = *table_.Find(a.region);
    if (InsideZeroWindow(r, a)) {
      std::memset(out, 0, a.count);
      return;
    }
    uint64_t v64 = 0;
    if (Whole64(r, a) && !InZeroWindow(r, a.offset, 8) && target_.Read64(r.backend_region, a.offset, &v64)) {
      Put64(out, v64);
      if (events_.tracing()) Trace(r.trace_read, a.region, a.offset, v64, false);
      return;
    }
    for (uint32_t i = 0; i < a.count / 4; ++i) {  // low dword first (docs/design.md P14)
      uint64_t off = a.offset + 4 * i;
      if (InZeroWindow(r, off, 4)) {
        Put32(out + 4 * i, 0);
        continue;
      }
      uint32_t v = target_.Read(r.backend_region, off);
      Put32(out + 4 * i, v);
      if (events_.tracing()) Trace(r.trace_read, a.region, off, v, false);
    }
  }

  void Write(const Access& a) {
    const RegionRule& r = *table_.Find(a.region);
    if (InsideZeroWindow(r, a)) return;  // the PBA is read-only
    if (Whole64(r, a) && !InZeroWindow(r, a.offset, 8)) {
      uint64_t v64 = U64(a.data);
      if (target_.Write64(r.backend_region, a.offset, v64)) {
        if (events_.tracing()) Trace(r.trace_write, a.region, a.offset, v64, true);
        return;
      }
    }
    for (uint32_t i = 0; i < a.count / 4; ++i) {
      uint64_t off = a.offset + 4 * i;
      if (InZeroWindow(r, off, 4)) continue;
      uint32_t v = U32(a.data + 4 * i);
      if (events_.tracing()) Trace(r.trace_write, a.region, off, v, true);
      target_.Write(r.backend_region, off, v);
    }
  }

  static bool Whole64(const RegionRule& r, const Access& a) { return r.whole64 && a.count == 8 && a.offset % 8 == 0; }

  void Trace(const std::string& name, uint32_t region, uint64_t off, uint64_t v, bool write) {
    DataPlaneEvent ev;
    ev.kind = DataPlaneEvent::kTrace;
    ev.write = write;
    ev.region = region;
    ev.offset = off;
    ev.value = v;
    ev.text = name;
    events_.Push(std::move(ev));
  }

  bool Single(const uint8_t* p, size_t plen) {
    bool write = h_.command == kRegionWrite;
    const std::string name = write ? "REGION_WRITE" : "REGION_READ";
    if (plen < kRegionAccessSize)
      return Fail(name + " payload is " + std::to_string(plen) + " bytes; " + std::to_string(kRegionAccessSize) + " needed");
    Access a{U64(p), U32(p + 8), U32(p + 12), p + kRegionAccessSize};
    uint64_t expect = kRegionAccessSize + (write ? uint64_t(a.count) : 0);
    if (plen != expect)
      return Fail(name + " payload is " + std::to_string(plen) + " bytes; " + std::to_string(expect) +
                  " expected for count " + std::to_string(a.count));
    if (a.count == 0) return Fail(name + " of 0 bytes");
    std::string bad = CheckRegion(a, write, false);
    if (!bad.empty()) return Fail(bad);
    if (!CheckDevice(a, write)) return false;
    if (!write) {
      // Read straight into the reply: 32 + count bytes (docs/design.md P2).
      uint32_t size = uint32_t(kHeaderSize + kRegionAccessSize + a.count);
      std::vector<uint8_t> out;
      PutHeader(&out, h_, size, kTypeReply, 0);
      std::memcpy(out.data() + kHeaderSize, p, kRegionAccessSize);
      Read(a, out.data() + kHeaderSize + kRegionAccessSize);
      if (wants_reply()) reply_->swap(out);
      return true;
    }
    Write(a);
    if (wants_reply()) {
      PutHeader(reply_, h_, uint32_t(kHeaderSize + kRegionAccessSize), kTypeReply, 0);
      std::memcpy(reply_->data() + kHeaderSize, p, kRegionAccessSize);
      Put32(reply_->data() + kHeaderSize + 12, a.count);
    }
    return true;
  }

  bool Multi(const uint8_t* p, size_t plen) {
    if (plen < 8) return Fail("REGION_WRITE_MULTI payload is " + std::to_string(plen) + " bytes; 8 needed");
    uint64_t n = U64(p);
    if (n == 0 || n > kMultiMax)
      return Fail("REGION_WRITE_MULTI wr_cnt " + std::to_string(n) + " outside [1, " + std::to_string(kMultiMax) + "]");
    if (plen != 8 + n * kMultiEntrySize)
      return Fail("REGION_WRITE_MULTI payload is " + std::to_string(plen) + " bytes; " +
                  std::to_string(8 + n * kMultiEntrySize) + " expected");
    Access entries[kMultiMax];
    for (uint64_t i = 0; i < n; ++i) {
      const uint8_t* e = p + 8 + i * kMultiEntrySize;
      entries[i] = Access{U64(e), U32(e + 8), U32(e + 12), e + 16};
      if (entries[i].count == 0 || entries[i].count > kMultiData)
        return Fail("REGION_WRITE_MULTI entry " + std::to_string(i) + " count " + std::to_string(entries[i].count) +
                    " outside [1, " + std::to_string(kMultiData) + "]");
    }
    // Every entry is checked before any is applied.
    for (uint64_t i = 0; i < n; ++i) {
      std::string bad = CheckRegion(entries[i], true, true);
      if (!bad.empty()) return Fail(bad);
    }
    for (uint64_t i = 0; i < n; ++i)
      if (!CheckDevice(entries[i], true)) return false;
    for (uint64_t i = 0; i < n; ++i) Write(entries[i]);
    if (wants_reply()) {
      PutHeader(reply_, h_, uint32_t(kHeaderSize + 8), kTypeReply, 0);
      Put64(reply_->data() + kHeaderSize, n);
    }
    return true;
  }

  const Header h_;

 private:
  const RegionTable& table_;
  const uint32_t max_xfer_;
  MmioTarget& target_;
  EventSink& events_;
  std::vector<uint8_t>* reply_;
};

}  // namespace

Route RouteMessage(const uint8_t* msg, size_t size, size_t fd_count, const RegionTable& table, bool negotiated) {
  if (size < kHeaderSize || !negotiated || fd_count > 0) return Route::kControl;
  Header h = ReadHeader(msg);
  // Anything but a plain command (type bits, unknown flags, the error flag or
  // field) is the session's to refuse.
  if ((h.flags & ~uint32_t(kNoReply)) != 0 || h.error != 0 || h.size != size) return Route::kControl;
  const uint8_t* p = msg + kHeaderSize;
  size_t plen = size - kHeaderSize;
  switch (h.command) {
    case kRegionRead:
    case kRegionWrite:
      // The region index is at payload offset 8: without it, the session
      // refuses the short payload.
      return plen >= 12 && table.IsNative(U32(p + 8)) ? Route::kNative : Route::kControl;
    case kRegionWriteMulti: {
      if (plen < 8) return Route::kControl;
      uint64_t n = U64(p);
      if (n == 0 || n > kMultiMax || plen != 8 + n * kMultiEntrySize) return Route::kControl;
      for (uint64_t i = 0; i < n; ++i)
        if (table.IsNative(U32(p + 8 + i * kMultiEntrySize + 8))) return Route::kNative;
      return Route::kControl;
    }
    default:
      return Route::kControl;
  }
}

bool ServeRegionAccess(const uint8_t* msg, size_t size, const RegionTable& table, uint32_t max_data_xfer,
                       MmioTarget& target, EventSink& events, std::vector<uint8_t>* reply) {
  reply->clear();
  if (size < kHeaderSize) return false;
  Request r(msg, table, max_data_xfer, target, events, reply);
  const uint8_t* p = msg + kHeaderSize;
  size_t plen = size - kHeaderSize;
  switch (r.h_.command) {
    case kRegionRead:
    case kRegionWrite:
      return r.Single(p, plen);
    case kRegionWriteMulti:
      return r.Multi(p, plen);
    default:
      return r.Fail("command " + std::to_string(r.h_.command) + " is not a region access");
  }
}

}  // namespace agfx

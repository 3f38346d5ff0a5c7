// REGION_READ, REGION_WRITE and REGION_WRITE_MULTI to the regions the data
// plane serves, answered without JS: every field checked as the TypeScript
// session checks it (protocol/src/server/handlers/region.ts), the device's
// access rules from the region table (PBA window, aligned 4- and 8-byte
// accesses only, 8-byte ones split low dword first: docs/design.md P14),
// then the backend's mmio_read/mmio_write. Pure logic, no threads or
// sockets: the data plane calls it, and so does its fuzz harness.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dataplane/region_table.h"

namespace agfx {

// The backend as the data plane sees it. Calls come from the data-plane
// thread, one at a time per connection, while the JS thread may be calling
// the same backend's display and state functions (agfx_backend.h threading
// contract; docs/design.md invariant 1).
class MmioTarget {
 public:
  virtual ~MmioTarget() = default;
  virtual uint32_t Read(uint32_t backend_region, uint64_t offset) = 0;
  virtual void Write(uint32_t backend_region, uint64_t offset, uint32_t value) = 0;
  // A whole 8-byte access, where the backend takes one (agfx_backend
  // mmio_read64/mmio_write64); false: it does not, split it.
  virtual bool Read64(uint32_t /*backend_region*/, uint64_t /*offset*/, uint64_t* /*value*/) { return false; }
  virtual bool Write64(uint32_t /*backend_region*/, uint64_t /*offset*/, uint64_t /*value*/) { return false; }
};

// What the data plane has to say, for JS to log (pino, event names as
// before the data plane: vfio_user_request_failed, apple_gfx_guest_error,
// apple_gfx_read, ...).
struct DataPlaneEvent {
  enum Kind : uint8_t { kRequestFailed, kGuestError, kTrace, kDropped };
  Kind kind = kRequestFailed;
  bool no_reply = false;
  bool write = false;  // kTrace: a write (value) rather than a read (result)
  uint16_t id = 0, command = 0;
  int err = 0;
  uint32_t region = 0, count = 0;
  uint64_t value = 0;  // kTrace: 8 bytes for a whole 64-bit access
  uint64_t offset = 0;
  // kRequestFailed: the reason; kGuestError: what the guest did; kTrace: the
  // event name; kDropped: unused (count = events dropped).
  std::string text;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Push(DataPlaneEvent&& ev) = 0;
  // Trace-level MMIO logging on (read without a lock: a stale value costs
  // one trace line, never correctness).
  virtual bool tracing() const = 0;
};

enum class Route { kNative, kControl };

// Which side answers this message: the data plane, or the TypeScript session
// (everything that is not a well-formed-enough region access to a native
// region; the session then refuses what is malformed, with its own errors).
// `negotiated`: VERSION has been answered.
Route RouteMessage(const uint8_t* msg, size_t size, size_t fd_count, const RegionTable& table, bool negotiated);

// Serves a message RouteMessage() gave to the data plane. *reply is cleared,
// then holds the whole reply message, or stays empty for NO_REPLY (never a
// reply, even on error: docs/design.md P5). Returns false when the request
// was refused (counted as an error).
bool ServeRegionAccess(const uint8_t* msg, size_t size, const RegionTable& table, uint32_t max_data_xfer,
                       MmioTarget& target, EventSink& events, std::vector<uint8_t>* reply);

}  // namespace agfx

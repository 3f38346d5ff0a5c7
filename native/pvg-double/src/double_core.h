// The PVG double's switches and its record of contract violations.
//
// Test-only code: the double (native/pvg-double/) stands in for Apple's
// ParavirtualizedGraphics, Metal and libdispatch so that the unchanged
// native/pvg/*.mm runs on Linux. Two kinds of knobs:
//  - the macOS profile (AGFX_PVG_DOUBLE_MACOS=11.0 ... 15.3, 15.4, 26.0):
//    which run-time-probed API exists (respondsToSelector:,
//    NSClassFromString, PGMaxDisplayPortCount), as on that macOS;
//  - hazards (AGFX_PVG_DOUBLE_HAZARDS=name,name,... or "all"): behaviours
//    PVG is allowed to have and a client must survive, off by default so the
//    happy path runs; tests turn them on. Names in kHazardNames.
// Contract checks (what Apple's headers or QEMU's integration say a client
// "must" do) are always on: a violation is written to stderr and to
// AGFX_PVG_DOUBLE_LOG (one JSON line each), kept for
// agfx_pvg_double_violations(), and aborts the process unless
// AGFX_PVG_DOUBLE_VIOLATIONS=record.
#pragma once
#include <cstdint>
#include <string>

namespace pvgdouble {

enum class Hazard : uint32_t {
  kMainQueue = 0,      // MMIO writes, reset, finishSuspend wait on work they put on the main queue
  kReentrant,          // MMIO calls two host callbacks at once from other threads and waits for both
  kLockedHandlers,     // display handlers delivered holding PVG's internal lock, which encode takes too
  kLateTeardown,       // destroyTask / raiseInterrupt ~100 ms after the PGDevice's last release
  kMetalStall,         // command-buffer completions held back (AGFX_PVG_DOUBLE_STALL_MS, default 6000)
  kGpuWholeTask,       // every task is read (and writable aliases written) over its whole range, holes too
  kFrameFlood,         // several newFrameEventHandler calls per guest present
  kModeMidRender,      // a mode change delivered while an encode is in flight
  kFailingEncode,      // every 3rd encodeCurrentFrameToCommandBuffer fails
  kIrqOnResume,        // unpause and didResume raise an interrupt
  kResetMapRefused,    // resetWithMemoryMap: answers NO (keeps the old map)
  kTouchMap,           // every range of the memory map is touched every 50 ms for the device's life
  kAutorelease,        // objects left in dispatch workers' autorelease pools are violations
  kCount,
};

extern const char* const kHazardNames[];

bool On(Hazard h);
void SetHazards(const char* list);  // as the env var; NULL = from the environment again

// The macOS version the double pretends to be (major * 100 + minor).
int MacOS();
bool MacOSAtLeast(int major, int minor);
void SetMacOS(const char* version);  // "15.4"; NULL = from the environment again

// Records a contract violation (see the file comment). `code` is a short
// stable name tests match on; `msg` says what the contract is and what the
// client did.
void Violation(const char* code, const std::string& msg);
// A note: something PVG tolerates but the log should show (not a violation).
void Note(const char* code, const std::string& msg);
// All violations so far as a JSON array (for agfx_pvg_double_violations).
std::string ViolationsJson();
void ClearViolations();

// Aborts unless copied blocks retain captured objects (blocks_rr.mm).
void CheckBlocksRuntime();

// Milliseconds the kMetalStall hazard holds completions back.
uint32_t StallMs();

}  // namespace pvgdouble

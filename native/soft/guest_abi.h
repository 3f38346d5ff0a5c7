// The soft device's guest interface (docs/soft-device.md): registers,
// status bits, ring entry, opcodes, command statuses and the limits a guest
// can see.
#pragma once
#include <cstdint>

namespace agfx::soft {

constexpr uint32_t kId = 0x58464741;  // "AGFX"
constexpr uint32_t kVersion = 0x00010000;
constexpr uint32_t kPorts = 4;
constexpr uint32_t kMaxTasks = 64;
constexpr uint64_t kPage = 4096;
constexpr uint64_t kMaxTaskSize = 1ull << 30;
constexpr uint64_t kMaxChecksumLen = 64ull << 20;
constexpr uint32_t kMaxRanges = 256;
constexpr uint32_t kMaxRingEntries = 4096;
constexpr uint32_t kEntrySize = 64;
constexpr uint32_t kMaxIosfcHandles = 65535;

enum Reg : uint32_t {
  kRegId = 0x1000,
  kRegVersion = 0x1004,
  kRegScratch = 0x1008,
  kRegIrqTest = 0x100C,
  kRegStatus = 0x1010,
  kRegControl = 0x1014,
  kRegIrqStatus = 0x1018,
  kRegRingBaseLo = 0x1020,
  kRegRingBaseHi = 0x1024,
  kRegRingEntries = 0x1028,
  kRegRingHead = 0x102C,
  kRegRingTail = 0x1030,
  kRegDoorbell = 0x1034,
  kRegFenceLo = 0x1038,
  kRegFenceHi = 0x103C,
  kRegCompleted = 0x1040,
  kRegErrors = 0x1044,
  kRegLastError = 0x1048,
  kRegDisplays = 0x104C,
};
constexpr uint32_t kReady = 1, kBusy = 2, kHalted = 4, kIdle = 8;  // STATUS bits
constexpr uint32_t kIrqFence = 1, kIrqError = 2;                   // IRQ_STATUS bits

enum IosfcReg : uint32_t {
  kIoGpaLo = 0x00,
  kIoGpaHi = 0x04,
  kIoLength = 0x08,
  kIoCommand = 0x0C,
  kIoHandle = 0x10,
  kIoStatus = 0x14,
  kIoPeekOffset = 0x18,
  kIoPeekData = 0x1C,
  kIoMapped = 0x20,
};

enum Op : uint32_t {
  kNop = 0,
  kTaskCreate = 1,
  kTaskDestroy = 2,
  kTaskMap = 3,
  kTaskUnmap = 4,
  kChecksum = 5,
  kSetMode = 6,
  kPresent = 7,
  kCursorGlyph = 8,
  kCursorShow = 9,
  kCursorMove = 10,
  kFence = 11,
  kCopyRect = 12,
};

enum Status : uint32_t {
  kOk = 0,
  kBadOpcode = 1,
  kBadArgs = 2,
  kNoTask = 3,
  kTaskExists = 4,
  kMapFailed = 5,
  kOutOfRange = 6,
  kNoDisplay = 7,
  kBadMode = 8,
  kNoMemory = 9,
  kNotMapped = 10,
  kGuestMemory = 11,
};

struct Entry {
  uint32_t opcode, flags, status, result;
  uint64_t a[6];
};
static_assert(sizeof(Entry) == kEntrySize, "ring entry is 64 bytes");

}  // namespace agfx::soft

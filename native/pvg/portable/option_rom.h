// The PCI option ROM: PGCopyOptionROMURL()'s file, padded with zeros to a
// power of two (Apple: "pad with a zero-filled trailer"; QEMU's PCI core
// rounds a romfile up with pow2ceil). The size is also at least 2 KiB, the
// smallest PCI expansion-ROM BAR (address bits 31:11).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace agfx::pvg {

constexpr size_t kMinRomSize = 2048;
constexpr size_t kMaxRomSize = 16u << 20;  // the ROM BAR is 32-bit; PVG's is ~100 KiB

// Smallest power of two >= n and >= kMinRomSize; 0 if above kMaxRomSize.
size_t RomSizeFor(size_t n);
bool PadOptionRom(const uint8_t* data, size_t len, std::vector<uint8_t>* out, std::string* err);
// Reads `in_path`, pads it, writes `out_path` (replaced atomically via a
// temporary file beside it).
bool PadOptionRomFile(const std::string& in_path, const std::string& out_path, std::string* err);
bool ReadWholeFile(const std::string& path, std::vector<uint8_t>* out, std::string* err);

}  // namespace agfx::pvg

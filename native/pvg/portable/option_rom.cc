#include "option_rom.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace agfx::pvg {

size_t RomSizeFor(size_t n) {
  if (n > kMaxRomSize) return 0;
  size_t size = kMinRomSize;
  while (size < n) size <<= 1;
  return size;
}

bool PadOptionRom(const uint8_t* data, size_t len, std::vector<uint8_t>* out, std::string* err) {
  if (!data || len == 0) {
    *err = "the option ROM is empty";
    return false;
  }
  size_t size = RomSizeFor(len);
  if (size == 0) {
    *err = "the option ROM has " + std::to_string(len) + " bytes; at most " + std::to_string(kMaxRomSize);
    return false;
  }
  out->assign(size, 0);
  std::memcpy(out->data(), data, len);
  return true;
}

bool ReadWholeFile(const std::string& path, std::vector<uint8_t>* out, std::string* err) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    *err = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  out->clear();
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    if (out->size() + n > kMaxRomSize + 1) break;  // enough to know it is too big
    out->insert(out->end(), buf, buf + n);
  }
  bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) *err = "cannot read " + path;
  return !failed;
}

bool PadOptionRomFile(const std::string& in_path, const std::string& out_path, std::string* err) {
  std::vector<uint8_t> raw, rom;
  if (!ReadWholeFile(in_path, &raw, err)) return false;
  if (!PadOptionRom(raw.data(), raw.size(), &rom, err)) {
    *err = in_path + ": " + *err;
    return false;
  }
  std::string tmp = out_path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    *err = "cannot create " + tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = std::fwrite(rom.data(), 1, rom.size(), f) == rom.size();
  ok = (std::fclose(f) == 0) && ok;
  if (ok && std::rename(tmp.c_str(), out_path.c_str()) != 0) ok = false;
  if (!ok) {
    *err = "cannot write " + out_path + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
  }
  return ok;
}

}  // namespace agfx::pvg

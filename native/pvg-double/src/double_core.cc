// The PVG double's switches and violation record (double_core.h).
#include "double_core.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "pvg_double.h"

namespace pvgdouble {

const char* const kHazardNames[] = {
    "main-queue",     "reentrant",       "locked-handlers", "late-teardown",     "metal-stall", "gpu-whole-task",
    "frame-flood",    "mode-mid-render", "failing-encode",  "irq-on-resume",     "reset-map-refused",
    "touch-map",      "autorelease",
};
static_assert(sizeof(kHazardNames) / sizeof(kHazardNames[0]) == size_t(Hazard::kCount), "one name per hazard");

namespace {

std::atomic<uint32_t> g_hazards{0};
std::atomic<int> g_macos{0};
std::once_flag g_env_once;
std::mutex g_mu;
std::vector<std::string> g_violations;  // JSON objects

uint32_t ParseHazards(const char* list) {
  if (!list || !*list) return 0;
  std::string s(list);
  uint32_t bits = 0;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    std::string name = s.substr(pos, end - pos);
    if (name == "all") bits = (1u << uint32_t(Hazard::kCount)) - 1;
    else if (!name.empty()) {
      bool known = false;
      for (uint32_t i = 0; i < uint32_t(Hazard::kCount); ++i)
        if (name == kHazardNames[i]) bits |= 1u << i, known = true;
      if (!known) {
        std::fprintf(stderr, "pvg-double: unknown hazard '%s' in AGFX_PVG_DOUBLE_HAZARDS\n", name.c_str());
        std::abort();
      }
    }
    pos = end + 1;
  }
  return bits;
}

int ParseMacOS(const char* v) {
  if (!v || !*v) return 1504;  // default: macOS 15.4 (both memory models for pci)
  int major = 0, minor = 0;
  if (std::sscanf(v, "%d.%d", &major, &minor) < 1 || major < 11 || major > 30 || minor < 0 || minor > 99) {
    std::fprintf(stderr, "pvg-double: AGFX_PVG_DOUBLE_MACOS='%s' is not a macOS version like 15.4\n", v);
    std::abort();
  }
  return major * 100 + minor;
}

void FromEnv() {
  std::call_once(g_env_once, [] {
    g_hazards = ParseHazards(std::getenv("AGFX_PVG_DOUBLE_HAZARDS"));
    g_macos = ParseMacOS(std::getenv("AGFX_PVG_DOUBLE_MACOS"));
  });
}

std::string JsonEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (uint8_t(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else o += c;
  }
  return o;
}

void Emit(const char* kind, const char* code, const std::string& msg) {
  std::string line = std::string("{\"kind\":\"") + kind + "\",\"code\":\"" + JsonEscape(code) + "\",\"message\":\"" +
                     JsonEscape(msg) + "\"}";
  std::fprintf(stderr, "pvg-double %s: %s: %s\n", kind, code, msg.c_str());
  if (const char* path = std::getenv("AGFX_PVG_DOUBLE_LOG")) {
    int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      std::string l = line + "\n";
      (void)!::write(fd, l.data(), l.size());
      ::close(fd);
    }
  }
  if (std::strcmp(kind, "violation") == 0) {
    std::lock_guard lock(g_mu);
    if (g_violations.size() < 1000) g_violations.push_back(line);
  }
}

}  // namespace

bool On(Hazard h) {
  FromEnv();
  return (g_hazards.load(std::memory_order_relaxed) >> uint32_t(h)) & 1;
}

void SetHazards(const char* list) {
  FromEnv();
  g_hazards = ParseHazards(list ? list : std::getenv("AGFX_PVG_DOUBLE_HAZARDS"));
}

int MacOS() {
  FromEnv();
  return g_macos.load(std::memory_order_relaxed);
}

bool MacOSAtLeast(int major, int minor) { return MacOS() >= major * 100 + minor; }

void SetMacOS(const char* version) {
  FromEnv();
  g_macos = ParseMacOS(version ? version : std::getenv("AGFX_PVG_DOUBLE_MACOS"));
}

void Violation(const char* code, const std::string& msg) {
  Emit("violation", code, msg);
  const char* mode = std::getenv("AGFX_PVG_DOUBLE_VIOLATIONS");
  if (!mode || std::strcmp(mode, "record") != 0) {
    std::fprintf(stderr, "pvg-double: aborting on a PVG contract violation (AGFX_PVG_DOUBLE_VIOLATIONS=record to go on)\n");
    std::abort();
  }
}

void Note(const char* code, const std::string& msg) { Emit("note", code, msg); }

std::string ViolationsJson() {
  std::lock_guard lock(g_mu);
  std::string out = "[";
  for (size_t i = 0; i < g_violations.size(); ++i) out += (i ? "," : "") + g_violations[i];
  return out + "]";
}

void ClearViolations() {
  std::lock_guard lock(g_mu);
  g_violations.clear();
}

uint32_t StallMs() {
  const char* v = std::getenv("AGFX_PVG_DOUBLE_STALL_MS");
  return v && *v ? uint32_t(std::strtoul(v, nullptr, 10)) : 6000;
}

}  // namespace pvgdouble

// ---- the double's C API (pvg_double.h) ----

extern "C" {

size_t agfx_pvg_double_violations(char* out, size_t len) {
  std::string j = pvgdouble::ViolationsJson();
  if (out && len) std::snprintf(out, len, "%s", j.c_str());
  return j.size();
}
void agfx_pvg_double_clear_violations(void) { pvgdouble::ClearViolations(); }
void agfx_pvg_double_set_hazards(const char* list) { pvgdouble::SetHazards(list); }
void agfx_pvg_double_set_macos(const char* version) { pvgdouble::SetMacOS(version); }

}  // extern "C"

#include "memory_map.h"

#include <algorithm>
#include <cstdio>

namespace agfx::pvg {

namespace {
std::string Hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}
std::string Describe(const agfx_memory_range& r) { return "[" + Hex(r.gpa) + ", +" + Hex(r.len) + ")"; }
}  // namespace

bool BuildMemoryMap(const agfx_memory_range* ranges, uint32_t count, std::vector<agfx_memory_range>* out,
                    std::string* err) {
  out->clear();
  if (count > kMaxMapRanges) {
    *err = std::to_string(count) + " guest-RAM ranges; at most " + std::to_string(kMaxMapRanges);
    return false;
  }
  if (count && !ranges) {
    *err = "no range array";
    return false;
  }
  std::vector<agfx_memory_range> sorted(ranges, ranges + count);
  for (const auto& r : sorted) {
    if (r.len == 0 || r.gpa + r.len < r.gpa || !r.host ||
        reinterpret_cast<uintptr_t>(r.host) + r.len < reinterpret_cast<uintptr_t>(r.host)) {
      *err = "guest-RAM range " + Describe(r) + " is empty, wraps around or has no host mapping";
      return false;
    }
  }
  std::sort(sorted.begin(), sorted.end(), [](const agfx_memory_range& a, const agfx_memory_range& b) { return a.gpa < b.gpa; });
  for (const auto& r : sorted) {
    if (!out->empty()) {
      agfx_memory_range& last = out->back();
      uint64_t end = last.gpa + last.len;
      if (r.gpa < end) {
        *err = "guest-RAM ranges " + Describe(last) + " and " + Describe(r) + " overlap";
        return false;
      }
      if (r.gpa == end && static_cast<uint8_t*>(last.host) + last.len == r.host) {
        last.len += r.len;  // one mapping in both spaces: one range for PVG
        continue;
      }
    }
    out->push_back(r);
  }
  return true;
}

bool MemoryMapFromHost(const agfx_host* host, std::vector<agfx_memory_range>* out, std::string* err) {
  if (!host || !host->memory_map) {
    *err = "the host offers no memory_map service";
    return false;
  }
  std::vector<agfx_memory_range> snap(16);
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint32_t n = host->memory_map(host->opaque, snap.data(), uint32_t(snap.size()));
    if (n <= snap.size()) {
      snap.resize(n);
      return BuildMemoryMap(snap.data(), n, out, err);
    }
    if (n > kMaxMapRanges) break;
    snap.resize(n);  // it grew between two calls: try again with room for all
  }
  *err = "the guest-RAM map kept changing or is too large";
  return false;
}

bool SameMemoryMap(const std::vector<agfx_memory_range>& a, const std::vector<agfx_memory_range>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const agfx_memory_range& x, const agfx_memory_range& y) {
           return x.gpa == y.gpa && x.len == y.len && x.host == y.host;
         });
}

bool PinnedMemoryMap::Acquire(const agfx_host* host, std::string* err) {
  Release();
  if (!host) {
    *err = "no host services";
    return false;
  }
  if (!AGFX_HOST_HAS(host, memory_map_acquire) || !AGFX_HOST_HAS(host, memory_map_release))
    return MemoryMapFromHost(host, &ranges_, err);  // an older host: unpinned
  std::vector<agfx_memory_range> snap(16);
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint32_t n = 0;
    void* token = host->memory_map_acquire(host->opaque, snap.data(), uint32_t(snap.size()), &n);
    if (token) {
      if (n > snap.size()) n = uint32_t(snap.size());  // a host breaking its contract: use what fits
      snap.resize(n);
      std::vector<agfx_memory_range> built;
      if (!BuildMemoryMap(snap.data(), n, &built, err)) {
        host->memory_map_release(host->opaque, token);
        return false;
      }
      release_ = host->memory_map_release;
      opaque_ = host->opaque;
      token_ = token;
      ranges_.swap(built);
      return true;
    }
    if (n == 0) {
      *err = "the host could not take a snapshot of the guest-RAM map";
      return false;
    }
    if (n > kMaxMapRanges || n <= snap.size()) break;
    snap.resize(n);  // it grew between two calls: try again with room for all
  }
  *err = "the guest-RAM map kept changing or is too large";
  return false;
}

void PinnedMemoryMap::Release() {
  void* token = token_;
  token_ = nullptr;
  ranges_.clear();
  if (token && release_) release_(opaque_, token);
}

}  // namespace agfx::pvg

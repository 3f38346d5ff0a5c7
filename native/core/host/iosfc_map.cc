#include "core/host/iosfc_map.h"

namespace agfx {

IosfcMappings& IosfcMappings::Instance() {
  static IosfcMappings instance;
  return instance;
}

void* IosfcMappings::Map(uint64_t gpa, uint64_t len, bool read_only) {
  if (len == 0) return nullptr;
  RegionRef r = GuestMemory::Instance().Find(gpa, len);
  if (!r || (!read_only && !r->writable)) return nullptr;
  void* host = r->host + (gpa - r->gpa);
  std::lock_guard lock(mu_);
  auto [it, inserted] = live_.try_emplace(host, Entry{std::move(r), 0});
  ++it->second.count;
  return host;
}

bool IosfcMappings::Unmap(void* host) {
  RegionRef last;  // released outside the lock (may munmap)
  std::lock_guard lock(mu_);
  auto it = live_.find(host);
  if (it == live_.end()) return false;
  if (--it->second.count == 0) {
    last = std::move(it->second.region);
    live_.erase(it);
  }
  return true;
}

size_t IosfcMappings::ReleaseAll() {
  std::unordered_map<void*, Entry> old;
  {
    std::lock_guard lock(mu_);
    old.swap(live_);
  }
  return old.size();
}

size_t IosfcMappings::Live() {
  std::lock_guard lock(mu_);
  return live_.size();
}

}  // namespace agfx

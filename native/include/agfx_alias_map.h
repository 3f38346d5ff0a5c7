/*
 * Records of guest memory aliased into an address space (a task), keyed by
 * the offset where each alias starts: [offset, offset + len) shows guest
 * memory from `gpa`. C++ only, header-only; used by the host's task memory
 * (native/core/host/task_memory.cc) and by the soft backend's tasks
 * (native/soft/tasks.cc), which keep the same kind of records.
 */
#ifndef AGFX_ALIAS_MAP_H
#define AGFX_ALIAS_MAP_H

#ifndef __cplusplus
#error "agfx_alias_map.h is C++"
#endif

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace agfx {

// Alias: any copyable struct with `uint64_t len, gpa` (and whatever else it
// carries along, copied into both pieces of a split).
template <typename Alias>
using AliasMap = std::map<uint64_t, Alias>;

// Removes [off, off + len) from the records, splitting one that straddles an
// end into the piece outside.
template <typename Alias>
void DropAliasRange(AliasMap<Alias>& m, uint64_t off, uint64_t len) {
  const uint64_t end = off + len;
  auto it = m.upper_bound(off);
  if (it != m.begin()) --it;
  std::vector<std::pair<uint64_t, Alias>> keep;
  while (it != m.end() && it->first < end) {
    const uint64_t a_off = it->first, a_end = a_off + it->second.len;
    if (a_end <= off) {
      ++it;
      continue;
    }
    if (a_off < off) {
      Alias head = it->second;
      head.len = off - a_off;
      keep.emplace_back(a_off, head);
    }
    if (a_end > end) {
      Alias tail = it->second;
      tail.len = a_end - end;
      tail.gpa += end - a_off;
      keep.emplace_back(end, tail);
    }
    it = m.erase(it);
  }
  for (auto& [o, a] : keep) m.emplace(o, a);
}

}  // namespace agfx

#endif /* AGFX_ALIAS_MAP_H */

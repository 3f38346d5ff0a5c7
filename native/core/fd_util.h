// Fd helpers: closing fd lists, and the fds a tool or test that plays the VMM
// needs (eventfds to receive interrupts, memfds to stand in for guest RAM).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/errors.h"

namespace agfx {

void CloseAll(std::vector<int>& fds);
inline void CloseAll(std::vector<int>&& fds) { CloseAll(fds); }

// A non-blocking, close-on-exec eventfd.
SysError CreateEventFd(int* fd);
// The counter (reset by the read), or 0 when nothing was signalled.
SysError ReadEventFd(int fd, uint64_t* value);
SysError WriteEventFd(int fd, uint64_t value);
// A close-on-exec memfd of `size` bytes.
SysError CreateMemFd(const std::string& name, uint64_t size, int* fd);

}  // namespace agfx

#include "core/fd_util.h"

#include <unistd.h>

#include <cerrno>

#include "platform/platform.h"

namespace agfx {

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) ::close(fd);
  fds.clear();
}

SysError CreateEventFd(int* fd) {
  *fd = platform::CreateEventFd();
  if (*fd < 0) return {-*fd, "eventfd()"};
  return {};
}

SysError ReadEventFd(int fd, uint64_t* value) {
  int err = platform::ReadEventFd(fd, value);
  if (err && err != EAGAIN) return {err, "eventfd read"};
  return {};
}

SysError WriteEventFd(int fd, uint64_t value) {
  if (int err = platform::WriteEventFd(fd, value)) return {err, "eventfd write"};
  return {};
}

SysError CreateMemFd(const std::string& name, uint64_t size, int* fd) {
  *fd = platform::CreateSharedMemory(name.c_str(), size);
  if (*fd < 0) {
    int err = -*fd;
    *fd = -1;
    return {err, "memfd_create()"};
  }
  return {};
}

}  // namespace agfx

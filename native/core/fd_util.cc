#include "core/fd_util.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

namespace agfx {

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) ::close(fd);
  fds.clear();
}

SysError CreateEventFd(int* fd) {
  *fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (*fd < 0) return {errno, "eventfd()"};
  return {};
}

SysError ReadEventFd(int fd, uint64_t* value) {
  *value = 0;
  if (::read(fd, value, sizeof *value) < 0) {
    *value = 0;
    if (errno == EAGAIN) return {};
    return {errno, "eventfd read"};
  }
  return {};
}

SysError WriteEventFd(int fd, uint64_t value) {
  if (::write(fd, &value, sizeof value) != sizeof value) return {errno, "eventfd write"};
  return {};
}

SysError CreateMemFd(const std::string& name, uint64_t size, int* fd) {
  *fd = ::memfd_create(name.c_str(), MFD_CLOEXEC);
  if (*fd < 0) return {errno, "memfd_create()"};
  if (::ftruncate(*fd, static_cast<off_t>(size)) < 0) {
    int err = errno;
    ::close(*fd);
    *fd = -1;
    return {err, "ftruncate(memfd)"};
  }
  return {};
}

}  // namespace agfx

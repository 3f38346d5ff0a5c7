// The parts of platform/platform.h that are the same POSIX calls on every
// platform (linux, darwin, portable): fd flags, the DMA_MAP fd check, the
// interrupt fd check and write.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "platform/platform.h"
#include "platform/platform_internal.h"

namespace agfx::platform {

int DupCloexec(int fd) {
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return dup >= 0 ? dup : -errno;
}

int SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return errno;
  if (flags & O_NONBLOCK) return 0;
  return ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? errno : 0;
}

int SetBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return errno;
  if (!(flags & O_NONBLOCK)) return 0;
  return ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ? errno : 0;
}

int ShutdownRead(int fd) { return ::shutdown(fd, SHUT_RD) < 0 ? errno : 0; }

void CloseWakeup(int read_fd, int write_fd) {
  if (read_fd >= 0) ::close(read_fd);
  if (write_fd >= 0 && write_fd != read_fd) ::close(write_fd);
}

int SetCloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0) return errno;
  if (flags & FD_CLOEXEC) return 0;
  return ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0 ? errno : 0;
}

int MappableFromStat(uint32_t st_mode, int64_t st_size, uint64_t need) {
  const uint32_t type = st_mode & S_IFMT;
  if (type != S_IFREG && type != 0) return EINVAL;  // 0: XNU's POSIX shm (pshm_stat)
  if (st_size < 0) return EINVAL;
  return static_cast<uint64_t>(st_size) < need ? EINVAL : 0;
}

int CheckMappableFile(int fd, uint64_t need) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return EBADF;
  return MappableFromStat(static_cast<uint32_t>(st.st_mode), static_cast<int64_t>(st.st_size), need);
}

int ClassifyNotifier(int fd, NotifierKind* kind) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return EBADF;
  if (S_ISFIFO(st.st_mode)) {
    // A pipe's read end takes no write (EBADF at the first interrupt): QEMU
    // off Linux would send it unless its client sends the write end.
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0) return EBADF;
    if ((fl & O_ACCMODE) == O_RDONLY) return EINVAL;
    *kind = NotifierKind::kPipe;
    return 0;
  }
  if (IsEventFd(fd)) {
    *kind = NotifierKind::kEventFd;
    return 0;
  }
  return EINVAL;
}

bool Notify(int fd, NotifierKind kind) {
  ssize_t n;
  if (kind == NotifierKind::kEventFd) {
    uint64_t one = 1;
    do n = ::write(fd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    return n == sizeof one || (n < 0 && errno == EAGAIN);
  }
  char one = 1;
  do n = ::write(fd, &one, 1);
  while (n < 0 && errno == EINTR);
  return n == 1 || (n < 0 && errno == EAGAIN);
}

}  // namespace agfx::platform

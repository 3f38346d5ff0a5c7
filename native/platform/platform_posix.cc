// The POSIX implementation of platform/platform.h: what macOS runs
// (agfx_platform=darwin, with platform_darwin.cc's copies) and what the
// portable build runs on Linux (agfx_platform=portable, with
// platform_guarded_copy.cc), so the integration suite executes this file
// here (scripts/portable-test.sh). Only calls that exist on both: no
// accept4, SOCK_CLOEXEC/SOCK_NONBLOCK, MSG_CMSG_CLOEXEC or eventfd.
//
// Close-on-exec is set right after each fd is made (socket, accept,
// recvmsg): between the two calls a fork+exec on another thread could
// inherit it. The daemon never execs, so the window is harmless here; a
// tool that does must not share this process's threads.
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "platform/platform.h"
#include "platform/platform_internal.h"

namespace agfx::platform {

namespace {

int Closing(int fd, int err) {
  ::close(fd);
  return -err;
}

// Close-on-exec, non-blocking if asked, and (macOS) no SIGPIPE from writes
// to a socket whose peer is gone: SO_NOSIGPIPE on the socket, as well as
// MSG_NOSIGNAL per send where the headers define it (macOS 11 SDK: only
// with __DARWIN_C_LEVEL >= 200809L).
int Prepare(int fd, bool nonblock, bool socket) {
  if (int err = SetCloexec(fd)) return Closing(fd, err);
  if (nonblock)
    if (int err = SetNonBlocking(fd)) return Closing(fd, err);
#ifdef SO_NOSIGPIPE
  if (socket) {
    int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) < 0) return Closing(fd, errno);
  }
#else
  (void)socket;
#endif
  return fd;
}

}  // namespace

int UnixStreamSocket(bool nonblock) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return -errno;
  return Prepare(fd, nonblock, true);
}

int Accept(int listen_fd) {
  // A listening socket's O_NONBLOCK is not inherited by accepted ones on
  // Linux (it is on BSDs): set it either way.
  int fd = ::accept(listen_fd, nullptr, nullptr);
  if (fd < 0) return -errno;
  return Prepare(fd, true, true);
}

namespace {
ssize_t Recv(int fd, msghdr* msg, int flags) {
  ssize_t n = ::recvmsg(fd, msg, flags);
  if (n < 0) return n;
  int saved = errno;
  // Every fd that arrived is close-on-exec before anything else sees it.
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* p = CMSG_DATA(c);
    for (size_t k = 0; k < count; ++k) {
      int got;
      std::memcpy(&got, p + k * sizeof(int), sizeof got);
      SetCloexec(got);
    }
  }
  errno = saved;
  return n;
}
}  // namespace

ssize_t RecvMsg(int fd, msghdr* msg) { return Recv(fd, msg, MSG_DONTWAIT); }

ssize_t RecvMsgWait(int fd, msghdr* msg) { return Recv(fd, msg, 0); }

ssize_t SendMsg(int fd, const msghdr* msg) {
  int flags = MSG_DONTWAIT;
#ifdef MSG_NOSIGNAL
  flags |= MSG_NOSIGNAL;  // and SO_NOSIGPIPE on the socket (Prepare) where it exists
#endif
  return ::sendmsg(fd, msg, flags);
}

bool IsEventFd(int) { return false; }  // none on macOS; portable: pipes only, as there

// An unlinked FIFO opened read-write: one fd the daemon writes (after
// SET_IRQS) and the tool reads, as an eventfd is on Linux; to
// ClassifyNotifier it is a pipe, as QEMU's EventNotifier is off Linux.
int CreateEventFd() {
  static std::atomic<unsigned> serial{0};
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/agfx-notifier.XXXXXX";
  if (!::mkdtemp(dir.data())) return -errno;
  std::string path = dir + "/n" + std::to_string(serial++);
  int fd = -1, err = 0;
  if (::mkfifo(path.c_str(), 0600) < 0) {
    err = errno;
  } else {
    fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) err = errno;
    ::unlink(path.c_str());
  }
  ::rmdir(dir.c_str());
  return fd >= 0 ? fd : -err;
}

int ReadEventFd(int fd, uint64_t* value) {
  *value = 0;
  struct stat st;
  if (::fstat(fd, &st) < 0) return errno;
  if (!S_ISFIFO(st.st_mode)) {  // an eventfd made elsewhere (portable build on Linux)
    if (::read(fd, value, sizeof *value) == sizeof *value) return 0;
    *value = 0;
    return errno;
  }
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      *value += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (*value) return 0;
    return n == 0 ? EAGAIN : errno;
  }
}

int WriteEventFd(int fd, uint64_t value) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return errno;
  if (!S_ISFIFO(st.st_mode)) return ::write(fd, &value, sizeof value) == sizeof value ? 0 : errno;
  char buf[512];
  std::memset(buf, 1, sizeof buf);
  while (value > 0) {
    size_t chunk = value < sizeof buf ? static_cast<size_t>(value) : sizeof buf;
    ssize_t n = ::write(fd, buf, chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN ? 0 : errno;  // full: the signals are pending
    value -= static_cast<uint64_t>(n);
  }
  return 0;
}

// A pipe: no eventfd here. Both ends non-blocking and close-on-exec; a
// full pipe means a wake-up is pending already.
int CreateWakeup(int* read_fd, int* write_fd) {
  int p[2];
  if (::pipe(p) < 0) return errno;
  for (int fd : p) {
    int err = SetCloexec(fd);
    if (!err) err = SetNonBlocking(fd);
    if (err) {
      ::close(p[0]);
      ::close(p[1]);
      return err;
    }
  }
  *read_fd = p[0];
  *write_fd = p[1];
  return 0;
}

void Wake(int write_fd) {
  char one = 1;
  ssize_t n = ::write(write_fd, &one, 1);
  (void)n;  // EAGAIN: the pipe is full, a wake-up is pending anyway
}

void DrainWakeup(int read_fd) {
  char buf[64];
  while (::read(read_fd, buf, sizeof buf) > 0) {
  }
}

void NameThread(const char* name) {
#if defined(__APPLE__)
  ::pthread_setname_np(name);  // macOS names the calling thread only
#else
  ::pthread_setname_np(::pthread_self(), name);
#endif
}

bool RequestShortTimeSlice(uint64_t) { return false; }  // no such request here

int CreateSharedMemory(const char* name, uint64_t size) {
#if defined(__linux__)
  // The portable build on Linux keeps memfds (the tests look for their
  // /memfd: names in /proc/PID/maps); the daemon never calls this.
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return -errno;
#else
  // memory-backend-shm: shm_open, then unlinked at once. XNU limits names to
  // PSHMNAMLEN (31) characters and allows one ftruncate per object.
  (void)name;
  static std::atomic<unsigned> serial{0};
  char shm_name[32];
  std::snprintf(shm_name, sizeof shm_name, "/agfx.%d.%u", static_cast<int>(::getpid()), serial++);
  int fd = ::shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return -errno;
  ::shm_unlink(shm_name);
  if (int err = SetCloexec(fd)) return Closing(fd, err);
#endif
  if (::ftruncate(fd, static_cast<off_t>(size)) < 0) return Closing(fd, errno);
  return fd;
}

}  // namespace agfx::platform

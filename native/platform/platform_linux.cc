// The Linux implementation of platform/platform.h (agfx_platform=linux,
// the default on Linux); the calls shared by all platforms are in
// platform_common.cc.
#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "platform/platform.h"
#include "platform/platform_internal.h"

namespace agfx::platform {

int UnixStreamSocket(bool nonblock) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
  return fd >= 0 ? fd : -errno;
}

int Accept(int listen_fd) {
  int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  return fd >= 0 ? fd : -errno;
}

ssize_t RecvMsg(int fd, msghdr* msg) { return ::recvmsg(fd, msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT); }

ssize_t RecvMsgWait(int fd, msghdr* msg) { return ::recvmsg(fd, msg, MSG_CMSG_CLOEXEC); }

ssize_t SendMsg(int fd, const msghdr* msg) { return ::sendmsg(fd, msg, MSG_NOSIGNAL | MSG_DONTWAIT); }

// An eventfd is an anonymous inode; only its /proc link says which kind.
bool IsEventFd(int fd) {
  char link[64], target[PATH_MAX];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = ::readlink(link, target, sizeof target - 1);
  if (n <= 0) return false;
  target[n] = 0;
  return std::strcmp(target, "anon_inode:[eventfd]") == 0;
}

int CreateEventFd() {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return fd >= 0 ? fd : -errno;
}

int ReadEventFd(int fd, uint64_t* value) {
  *value = 0;
  if (::read(fd, value, sizeof *value) == sizeof *value) return 0;
  *value = 0;
  return errno;
}

int WriteEventFd(int fd, uint64_t value) {
  return ::write(fd, &value, sizeof value) == sizeof value ? 0 : errno;
}

int CreateWakeup(int* read_fd, int* write_fd) {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return errno;
  *read_fd = *write_fd = fd;
  return 0;
}

void Wake(int write_fd) {
  uint64_t one = 1;
  ssize_t n = ::write(write_fd, &one, sizeof one);
  (void)n;  // EAGAIN: the counter is full, a wake-up is pending anyway
}

void DrainWakeup(int read_fd) {
  uint64_t v;
  ssize_t n = ::read(read_fd, &v, sizeof v);
  (void)n;
}

void NameThread(const char* name) { ::pthread_setname_np(::pthread_self(), name); }

namespace {
// struct sched_attr (linux/sched/types.h); glibc 2.36 does not declare it.
struct SchedAttr {
  uint32_t size, sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t sched_util_min, sched_util_max;
};
}  // namespace

bool RequestShortTimeSlice(uint64_t ns) {
  SchedAttr a{};
  a.size = sizeof a;
  a.sched_policy = 0;  // SCHED_OTHER, nice unchanged (0)
  a.sched_runtime = ns;  // EEVDF's requested slice; older kernels ignore it
  return ::syscall(SYS_sched_setattr, 0, &a, 0) == 0;
}

int CreateSharedMemory(const char* name, uint64_t size) {
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return -errno;
  if (::ftruncate(fd, static_cast<off_t>(size)) < 0) {
    int err = errno;
    ::close(fd);
    return -err;
  }
  return fd;
}

// process_vm_readv/writev on our own process instead of memcpy: the kernel
// copy fails with EFAULT where touching the memory would raise SIGSEGV or
// SIGBUS (a VMM that shrank the shared file after DMA_MAP). Both sides of a
// call may be bad; the `remote` side is the one we suspect.
namespace {
constexpr size_t kMaxChunk = 16u << 20;
constexpr size_t kMaxIov = 1024;  // IOV_MAX

bool Copy(void* dst, const void* src, size_t len, bool remote_is_dst) {
  for (size_t done = 0; done < len;) {
    size_t chunk = std::min(len - done, kMaxChunk);
    iovec to{static_cast<uint8_t*>(dst) + done, chunk};
    iovec from{const_cast<uint8_t*>(static_cast<const uint8_t*>(src)) + done, chunk};
    ssize_t n = remote_is_dst ? ::process_vm_writev(::getpid(), &from, 1, &to, 1, 0)
                              : ::process_vm_readv(::getpid(), &to, 1, &from, 1, 0);
    if (n != static_cast<ssize_t>(chunk)) return false;
    done += chunk;
  }
  return true;
}
}  // namespace

bool SafeRead(void* dst, const void* src, size_t len) { return Copy(dst, src, len, false); }

bool SafeWrite(void* dst, const void* src, size_t len) { return Copy(dst, src, len, true); }

// One process_vm_readv per IOV_MAX spans (a 1080-row frame: 2 calls, not
// 1080).
bool SafeReadSpans(const CopySpan* spans, size_t count) {
  iovec local[kMaxIov], remote[kMaxIov];
  for (size_t first = 0; first < count; first += kMaxIov) {
    size_t n = std::min(kMaxIov, count - first);
    size_t total = 0;
    for (size_t i = 0; i < n; ++i) {
      const CopySpan& s = spans[first + i];
      local[i] = {s.dst, s.len};
      remote[i] = {const_cast<void*>(s.src), s.len};
      total += s.len;
    }
    // Unmapped pages fail the copy (EFAULT or a short count), never fault.
    if (::process_vm_readv(::getpid(), local, n, remote, n, 0) != static_cast<ssize_t>(total)) return false;
  }
  return true;
}

}  // namespace agfx::platform

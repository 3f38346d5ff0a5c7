// Unit tests of the POSIX platform implementation (platform_common.cc +
// platform_posix.cc + platform_guarded_copy.cc: the portable build, which is
// platform_darwin.cc's twin but for the Mach copies). Built with g++ by
// test/unit/platform-portable.test.ts; prints TAP lines and
// "N passed, M failed"; exits 1 on any failure.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "platform/platform.h"

using namespace agfx::platform;

namespace {

std::vector<std::pair<const char*, std::function<void()>>>& Cases() {
  static std::vector<std::pair<const char*, std::function<void()>>> c;
  return c;
}
struct Reg {
  Reg(const char* n, std::function<void()> f) { Cases().emplace_back(n, std::move(f)); }
};
std::string g_failure;
#define TEST(id, title)          \
  static void id();              \
  static Reg reg_##id(title, id); \
  static void id()
#define CHECK(cond)                                                                                                    \
  do {                                                                                                                 \
    if (!(cond) && g_failure.empty()) g_failure = std::string(#cond) + " (line " + std::to_string(__LINE__) + ")"; \
  } while (0)

bool Cloexec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }
bool NonBlocking(int fd) { return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

// XNU's pshm_stat (bsd/kern/posix_shm.c): st_mode = the object's permission
// bits only (no S_IFMT type), st_size = its length.
constexpr uint32_t kXnuPshmMode = 0600;

TEST(xnu_shm, "finding 3: XNU's fstat of a POSIX shm fd (mode 0600, no type bits) is mappable, size still checked") {
  CHECK(MappableFromStat(kXnuPshmMode, 8 << 20, 8 << 20) == 0);
  CHECK(MappableFromStat(kXnuPshmMode, 8 << 20, 4096) == 0);
  CHECK(MappableFromStat(kXnuPshmMode, 4096, 8192) == EINVAL);  // the VMM's range runs past the object
  CHECK(MappableFromStat(kXnuPshmMode, 0, 4096) == EINVAL);
}

TEST(other_types, "regular files pass; FIFOs, sockets, directories, devices do not, whatever their size") {
  CHECK(MappableFromStat(S_IFREG | 0644, 1 << 20, 1 << 20) == 0);
  CHECK(MappableFromStat(S_IFREG | 0644, 4095, 4096) == EINVAL);
  for (uint32_t t : {uint32_t(S_IFIFO), uint32_t(S_IFSOCK), uint32_t(S_IFDIR), uint32_t(S_IFCHR), uint32_t(S_IFBLK), uint32_t(S_IFLNK)})
    CHECK(MappableFromStat(t | 0600, 1 << 30, 4096) == EINVAL);
  CHECK(MappableFromStat(S_IFREG | 0600, -1, 0) == EINVAL);
}

TEST(real_fds, "CheckMappableFile on real fds: shared memory passes, a pipe and a too-short object do not") {
  int shm = CreateSharedMemory("platform-test", 1 << 16);
  CHECK(shm >= 0 && Cloexec(shm));
  CHECK(CheckMappableFile(shm, 1 << 16) == 0);
  CHECK(CheckMappableFile(shm, (1 << 16) + 1) == EINVAL);
  int p[2];
  CHECK(::pipe(p) == 0);
  CHECK(CheckMappableFile(p[0], 1) == EINVAL);
  CHECK(CheckMappableFile(-1, 1) == EBADF);
  ::close(p[0]);
  ::close(p[1]);
  ::close(shm);
}

TEST(notifiers, "interrupt fds: a pipe's write end and a FIFO are pipes, a read end is refused; Notify never blocks") {
  int p[2];
  CHECK(::pipe(p) == 0);
  NotifierKind k;
  CHECK(ClassifyNotifier(p[0], &k) == EINVAL);  // QEMU's event_notifier_get_fd() off Linux
  CHECK(ClassifyNotifier(p[1], &k) == 0 && k == NotifierKind::kPipe);
  CHECK(SetNonBlocking(p[1]) == 0);
  size_t n = 0;
  while (n < (1u << 20) && Notify(p[1], NotifierKind::kPipe)) {
    char c;
    if (::read(p[0], &c, 1) != 1) break;
    ++n;
  }
  CHECK(n == (1u << 20) || n > 0);
  // Full pipe: "already pending", true without blocking.
  for (int i = 0; i < 1 << 17; ++i) Notify(p[1], NotifierKind::kPipe);
  CHECK(Notify(p[1], NotifierKind::kPipe));
  ::close(p[0]);
  ::close(p[1]);
  int sock[2];
  CHECK(::socketpair(AF_UNIX, SOCK_STREAM, 0, sock) == 0);
  CHECK(ClassifyNotifier(sock[0], &k) == EINVAL);
  ::close(sock[0]);
  ::close(sock[1]);
  CHECK(ClassifyNotifier(-1, &k) == EBADF);
}

TEST(vmm_notifier, "CreateEventFd here is a FIFO: written by Notify, counted by ReadEventFd, EAGAIN when empty") {
  int fd = CreateEventFd();
  CHECK(fd >= 0 && Cloexec(fd) && NonBlocking(fd));
  NotifierKind k;
  CHECK(ClassifyNotifier(fd, &k) == 0 && k == NotifierKind::kPipe);
  uint64_t v = 99;
  CHECK(ReadEventFd(fd, &v) == EAGAIN && v == 0);
  CHECK(Notify(fd, k) && Notify(fd, k) && Notify(fd, k));
  CHECK(ReadEventFd(fd, &v) == 0 && v == 3);
  CHECK(WriteEventFd(fd, 5) == 0);
  CHECK(ReadEventFd(fd, &v) == 0 && v == 5);
  ::close(fd);
}

TEST(sockets, "sockets: listening, accepted and connected fds are close-on-exec and non-blocking as asked; received fds are close-on-exec") {
  char dir[] = "/tmp/agfx-plat.XXXXXX";
  CHECK(::mkdtemp(dir) != nullptr);
  std::string path = std::string(dir) + "/s";
  int l = UnixStreamSocket(true);
  CHECK(l >= 0 && Cloexec(l) && NonBlocking(l));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  CHECK(::bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 && ::listen(l, 4) == 0);
  CHECK(Accept(l) == -EAGAIN);
  int c = UnixStreamSocket(false);
  CHECK(c >= 0 && Cloexec(c) && !NonBlocking(c));
  CHECK(::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  int a = Accept(l);
  CHECK(a >= 0 && Cloexec(a) && NonBlocking(a));
  // Send an fd that is NOT close-on-exec; it must arrive close-on-exec.
  int p[2];
  CHECK(::pipe(p) == 0);
  ::fcntl(p[1], F_SETFD, 0);
  char byte = 'x';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl;
  m.msg_controllen = sizeof ctl;
  cmsghdr* h = CMSG_FIRSTHDR(&m);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(h), &p[1], sizeof(int));
  CHECK(SendMsg(c, &m) == 1);
  char got = 0;
  iovec riov{&got, 1};
  alignas(cmsghdr) char rctl[CMSG_SPACE(sizeof(int))];
  msghdr r{};
  r.msg_iov = &riov;
  r.msg_iovlen = 1;
  r.msg_control = rctl;
  r.msg_controllen = sizeof rctl;
  CHECK(RecvMsg(a, &r) == 1 && got == 'x');
  cmsghdr* rh = CMSG_FIRSTHDR(&r);
  int fd = -1;
  if (rh) std::memcpy(&fd, CMSG_DATA(rh), sizeof fd);
  CHECK(fd >= 0 && Cloexec(fd));
  // Nothing waiting: EAGAIN, never a block.
  CHECK(RecvMsg(a, &r) == -1 && (errno == EAGAIN || errno == EWOULDBLOCK));
  // A peer gone: EPIPE, no SIGPIPE (the test would die of it).
  ::close(a);
  ssize_t s;
  do s = SendMsg(c, &m);
  while (s > 0);
  CHECK(s < 0 && (errno == EPIPE || errno == ECONNRESET));
  for (int x : {fd, p[0], p[1], c, l}) ::close(x);
  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST(guarded_copy, "fault-safe copies: unmapped memory and a file shrunk under its mapping fail the copy, no SIGSEGV/SIGBUS") {
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  void* hole = ::mmap(nullptr, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char buf[64];
  CHECK(!SafeRead(buf, hole, sizeof buf));
  CHECK(!SafeWrite(hole, buf, sizeof buf));
  int fd = CreateSharedMemory("platform-shrink", 4 * page);
  uint8_t* m = static_cast<uint8_t*>(::mmap(nullptr, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  CHECK(m != MAP_FAILED);
  std::memset(m, 7, 4 * page);
  CHECK(SafeRead(buf, m + 3 * page, sizeof buf) && buf[0] == 7);
  CHECK(::ftruncate(fd, page) == 0);  // the VMM takes the memory away
  CHECK(!SafeRead(buf, m + 3 * page, sizeof buf));
  CHECK(!SafeWrite(m + 2 * page, buf, sizeof buf));
  CHECK(SafeRead(buf, m, sizeof buf) && buf[0] == 7);  // what is left still copies
  CopySpan spans[2] = {{buf, m, 8}, {buf + 8, m + 3 * page, 8}};
  CHECK(SafeReadSpans(spans, 1) && !SafeReadSpans(spans, 2));
  // The guard is per thread: another thread's guarded copy works too.
  bool other = false;
  std::thread([&] { other = !SafeRead(buf, m + 3 * page, 8) && SafeRead(buf, m, 8); }).join();
  CHECK(other);
  ::munmap(m, 4 * page);
  ::munmap(hole, page);
  ::close(fd);
}

}  // namespace

int main() {
  int passed = 0, failed = 0, i = 0;
  for (auto& [name, fn] : Cases()) {
    g_failure.clear();
    fn();
    ++i;
    if (g_failure.empty()) {
      std::printf("ok %d - %s\n", i, name);
      ++passed;
    } else {
      std::printf("not ok %d - %s: %s\n", i, name, g_failure.c_str());
      ++failed;
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

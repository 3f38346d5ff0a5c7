#include "core/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "platform/platform.h"

namespace agfx {

namespace {

bool FillSockaddr(const std::string& path, sockaddr_un* sa) {
  std::memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sa->sun_path) return false;
  std::memcpy(sa->sun_path, path.data(), path.size());
  return true;
}

// Is something accepting connections on this path right now?
bool SomeoneListens(const sockaddr_un& sa) {
  int probe = platform::UnixStreamSocket(false);
  if (probe < 0) return false;
  int rc = ::connect(probe, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  ::close(probe);
  return rc == 0;
}

SysError Closing(int fd, int err, std::string what) {
  ::close(fd);
  return {err, std::move(what)};
}

}  // namespace

SysError ListenUnix(const std::string& path, uint32_t mode, int backlog, int* out) {
  sockaddr_un sa;
  if (!FillSockaddr(path, &sa)) return {ENAMETOOLONG, "socket path '" + path + "'"};
  int fd = platform::UnixStreamSocket(true);
  if (fd < 0) return {-fd, "socket()"};
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    int err = errno;
    struct stat st;
    if (err == EADDRINUSE && ::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) return Closing(fd, EEXIST, "'" + path + "' exists and is not a socket");
      if (SomeoneListens(sa)) return Closing(fd, EADDRINUSE, "another process is serving '" + path + "'");
      // A stale socket left by a process that is gone: replace it.
      ::unlink(path.c_str());
      err = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 ? 0 : errno;
    }
    if (err != 0) return Closing(fd, err, "bind('" + path + "')");
  }
  if (::chmod(path.c_str(), mode) < 0 || ::listen(fd, backlog) < 0) {
    int err = errno;
    ::unlink(path.c_str());
    return Closing(fd, err, "listen('" + path + "')");
  }
  *out = fd;
  return {};
}

SysError ConnectUnix(const std::string& path, int* out) {
  sockaddr_un sa;
  if (!FillSockaddr(path, &sa)) return {ENAMETOOLONG, "socket path '" + path + "'"};
  int fd = platform::UnixStreamSocket(false);
  if (fd < 0) return {-fd, "socket()"};
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return Closing(fd, errno, "connect('" + path + "')");
  platform::SetNonBlocking(fd);
  *out = fd;
  return {};
}

SysError AdoptListener(int fd) {
  const std::string name = "fd " + std::to_string(fd);
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return {errno, name + " is not a socket"};
  len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
    return {EINVAL, name + " is not a listening socket"};
  sockaddr_storage ss;
  len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0 || ss.ss_family != AF_UNIX)
    return {EINVAL, name + " is not a unix socket"};
  if (type != SOCK_STREAM) return {EINVAL, name + " is not SOCK_STREAM"};
  platform::SetNonBlocking(fd);
  platform::SetCloexec(fd);
  return {};
}

int AcceptConnection(int listen_fd) {
  for (;;) {
    int fd = platform::Accept(listen_fd);
    if (fd != -EINTR) return fd;
  }
}

}  // namespace agfx

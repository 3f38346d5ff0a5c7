// Unix stream sockets for vfio-user: listening (replacing a stale socket
// file, never a live one), connecting, adopting a socket a supervisor handed
// over, accepting. Every fd made here is close-on-exec; the ones the daemon
// polls are non-blocking.
#pragma once
#include <cstdint>
#include <string>

#include "core/errors.h"

namespace agfx {

// Binds and listens on `path` with file mode `mode`. A socket file left by a
// process that is gone is replaced; a live one (someone accepts) is EADDRINUSE,
// any other file EEXIST.
SysError ListenUnix(const std::string& path, uint32_t mode, int backlog, int* fd);
// A blocking connect, then non-blocking I/O.
SysError ConnectUnix(const std::string& path, int* fd);
// Checks that `fd` is a listening unix stream socket (--fd, LISTEN_FDS) and
// makes it non-blocking and close-on-exec.
SysError AdoptListener(int fd);
// The next connection on a listening socket, non-blocking and close-on-exec;
// or -errno (EAGAIN: none waiting). EINTR is retried.
int AcceptConnection(int listen_fd);

}  // namespace agfx

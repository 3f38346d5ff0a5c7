/* The physical floor for the REGION_READ round trip: a C server on the same
 * kind of socket that answers each message with a reply of the same size the
 * daemon would send (VERSION: 20 bytes; REGION_READ of 4: 36 bytes). One
 * blocking read and one write per message.
 *
 *   echo-server SOCKET   (serves one client, then exits)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "short-slice.h"

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strncpy(sa.sun_path, argv[1], sizeof sa.sun_path - 1);
  unlink(argv[1]);
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1) < 0) {
    perror("bind/listen");
    return 1;
  }
  printf("listening\n");
  fflush(stdout);
  bench_short_slice(); /* as the daemon's data-plane thread does */
  int fd = accept(lfd, NULL, NULL);
  uint8_t buf[4096];
  size_t have = 0;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof buf - have);
    if (n <= 0) break;
    have += (size_t)n;
    while (have >= 16) {
      uint32_t size;
      memcpy(&size, buf + 4, 4);
      if (size < 16 || size > sizeof buf) return 1;
      if (have < size) break;
      uint16_t cmd;
      memcpy(&cmd, buf + 2, 2);
      uint8_t reply[64] = {0};
      uint32_t rsize = cmd == 9 ? 36 : 20, flags = 1;
      memcpy(reply, buf, 4); /* id + command */
      memcpy(reply + 4, &rsize, 4);
      memcpy(reply + 8, &flags, 4);
      if (cmd == 9) memcpy(reply + 16, buf + 16, 16);
      if (write(fd, reply, rsize) != (ssize_t)rsize) return 1;
      memmove(buf, buf + size, have - size);
      have -= size;
    }
  }
  unlink(argv[1]);
  return 0;
}

/* The smallest vfio-user server QEMU 11.1's vfio-user-pci will realize: one
 * PCI function (106b:eeee, class 0x038000, the same identity as apple-gfxd so
 * the same guest program finds it) with one 16 KiB memory BAR0 whose dword
 * at 0x1000 reads the soft device's ID ("AGFX") and which ignores writes.
 * No interrupts beyond what QEMU insists on, no DMA use (maps are accepted
 * and their fds closed at once). It is the floor for the guest-visible MMIO
 * benchmark: a guest BAR0 read loop through real QEMU against this server and
 * against apple-gfxd, in the same run (scripts/benchmarks/guest-mmio.sh).
 *
 * One client, blocking I/O on one thread, one recvmsg per message header:
 * nothing here that a real device needs, and nothing that costs time.
 *
 *   min-vfio-user-server SOCKET      (serves one client, exits at EOF)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "short-slice.h"

enum {
  VERSION = 1, DMA_MAP, DMA_UNMAP, GET_INFO, GET_REGION_INFO, GET_REGION_IO_FDS,
  GET_IRQ_INFO, SET_IRQS, REGION_READ, REGION_WRITE, DMA_READ, DMA_WRITE, RESET,
  WRITE_MULTI = 15,
};
#define F_REPLY 0x1u
#define F_NO_REPLY 0x10u
#define F_ERROR 0x20u
#define BAR0_SIZE 0x4000u
#define CFG_SIZE 256u
#define MAX_MSG (1u << 20)

struct hdr {
  uint16_t id, cmd;
  uint32_t size, flags, error;
};

static uint8_t cfg[CFG_SIZE], cfg_mask[CFG_SIZE];

static void cfg_init(void) {
  cfg[0x00] = 0x6b; cfg[0x01] = 0x10;             /* vendor 0x106b */
  cfg[0x02] = 0xee; cfg[0x03] = 0xee;             /* device 0xeeee */
  cfg[0x09] = 0x00; cfg[0x0a] = 0x80; cfg[0x0b] = 0x03; /* class 0x038000 */
  cfg[0x2c] = 0xf4; cfg[0x2d] = 0x1a;             /* subsystem vendor */
  cfg_mask[0x04] = 0x07;                          /* command: io, mem, master */
  uint32_t bar_mask = ~(BAR0_SIZE - 1) & 0xfffffff0u;
  memcpy(cfg_mask + 0x10, &bar_mask, 4);
}

static int read_full(int fd, void *buf, size_t len, int *fds, int *nfds) {
  size_t got = 0;
  while (got < len) {
    char ctl[CMSG_SPACE(sizeof(int) * 16)];
    struct iovec iov = {(char *)buf + got, len - got};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    if (n <= 0) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < k; i++) {
        int f;
        memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
        if (fds && *nfds < 16) fds[(*nfds)++] = f;
        else close(f);
      }
    }
    got += (size_t)n;
  }
  return 0;
}

static void reply(int fd, const struct hdr *req, const void *payload, uint32_t len) {
  struct hdr h = {req->id, req->cmd, (uint32_t)sizeof h + len, F_REPLY, 0};
  struct iovec iov[2] = {{&h, sizeof h}, {(void *)payload, len}};
  struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
  if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) exit(1);
}

static void reply_error(int fd, const struct hdr *req, int err) {
  if (req->flags & F_NO_REPLY) return;
  struct hdr h = {req->id, req->cmd, sizeof h, F_REPLY | F_ERROR, (uint32_t)err};
  if (send(fd, &h, sizeof h, MSG_NOSIGNAL) < 0) exit(1);
}

static void region_access(int fd, const struct hdr *h, uint8_t *p, uint32_t plen, int write) {
  if (plen < 16) return reply_error(fd, h, EINVAL);
  uint64_t off; uint32_t region, count;
  memcpy(&off, p, 8); memcpy(&region, p + 8, 4); memcpy(&count, p + 12, 4);
  uint32_t size = region == 0 ? BAR0_SIZE : region == 7 ? CFG_SIZE : 0;
  if (count > 4096 || off > size || count > size - off || (write && plen < 16 + count))
    return reply_error(fd, h, EINVAL);
  if (write) {
    if (region == 7)
      for (uint32_t i = 0; i < count; i++)
        cfg[off + i] = (uint8_t)((cfg[off + i] & ~cfg_mask[off + i]) | (p[16 + i] & cfg_mask[off + i]));
    if (!(h->flags & F_NO_REPLY)) reply(fd, h, p, 16);
    return;
  }
  static uint8_t out[16 + 4096];
  memcpy(out, p, 16);
  for (uint32_t i = 0; i < count; i++) {
    uint64_t o = off + i;
    uint8_t b = 0;
    if (region == 7) b = cfg[o];
    else if (o >= 0x1000 && o < 0x1004) b = (uint8_t)("AGFX"[o - 0x1000]);
    out[16 + i] = b;
  }
  reply(fd, h, out, 16 + count);
}

static void serve(int fd) {
  static uint8_t buf[MAX_MSG];
  for (;;) {
    struct hdr h;
    int fds[16], nfds = 0;
    if (read_full(fd, &h, sizeof h, fds, &nfds)) return;
    if (h.size < sizeof h || h.size > MAX_MSG) return;
    uint32_t plen = h.size - (uint32_t)sizeof h;
    if (plen && read_full(fd, buf, plen, fds, &nfds)) return;
    for (int i = 0; i < nfds; i++) close(fds[i]); /* nothing here keeps an fd */
    switch (h.cmd) {
    case VERSION: {
      static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576}}";
      uint8_t v[4 + sizeof caps] = {0};
      memcpy(v + 4, caps, sizeof caps); /* major 0, minor 0, JSON with its NUL */
      reply(fd, &h, v, sizeof v);
      break;
    }
    case DMA_MAP: case DMA_UNMAP: case SET_IRQS: case RESET:
      reply(fd, &h, NULL, 0);
      break;
    case GET_INFO: {
      uint32_t v[4] = {16, 0x2 /* PCI */, 9, 5};
      reply(fd, &h, v, sizeof v);
      break;
    }
    case GET_REGION_INFO: {
      if (plen < 32) { reply_error(fd, &h, EINVAL); break; }
      uint32_t index; memcpy(&index, buf + 8, 4);
      uint8_t v[32] = {0};
      uint32_t argsz = 32, flags = 0;
      uint64_t size = 0;
      if (index == 0) { flags = 3; size = BAR0_SIZE; }
      else if (index == 7) { flags = 3; size = CFG_SIZE; }
      memcpy(v, &argsz, 4); memcpy(v + 4, &flags, 4); memcpy(v + 8, &index, 4); memcpy(v + 16, &size, 8);
      reply(fd, &h, v, sizeof v);
      break;
    }
    case GET_IRQ_INFO: {
      if (plen < 16) { reply_error(fd, &h, EINVAL); break; }
      uint32_t v[4]; memcpy(v, buf, 16);
      v[1] = 0x1; /* EVENTFD */
      v[3] = v[2] == 1 ? 1 : 0; /* one MSI vector is all QEMU needs to realize */
      reply(fd, &h, v, sizeof v);
      break;
    }
    case REGION_READ: region_access(fd, &h, buf, plen, 0); break;
    case REGION_WRITE: region_access(fd, &h, buf, plen, 1); break;
    default: reply_error(fd, &h, ENOSYS); break;
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: %s SOCKET\n", argv[0]); return 2; }
  cfg_init();
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strncpy(sa.sun_path, argv[1], sizeof sa.sun_path - 1);
  unlink(argv[1]);
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1) < 0) { perror("bind/listen"); return 1; }
  printf("listening\n");
  fflush(stdout);
  bench_short_slice(); /* as the daemon's data-plane thread does */
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0) { perror("accept"); return 1; }
  serve(fd);
  unlink(argv[1]);
  return 0;
}

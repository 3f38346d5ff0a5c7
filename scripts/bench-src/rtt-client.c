/* Round-trip latency of a 4-byte REGION_READ (BAR0, offset 0x1000) over a
 * vfio-user unix socket: the request is 32 bytes, the reply 36, as QEMU's
 * guest BAR reads produce. Negotiates VERSION first (0.0, no JSON).
 *
 *   rtt-client SOCKET WARMUP COUNT  ->  prints "p50_us p99_us mean_us"
 *
 * With `present W H [SQUARE]` after COUNT it is also a guest that keeps a
 * display busy, as the soft device's driver would (docs/soft-device.md):
 * guest RAM is a memfd shared with DMA_MAP, two W x H BGRA frames that differ
 * everywhere sit in it, and a second thread PRESENTs them alternately at
 * 60 Hz through the command ring: whole frames, or with SQUARE, only a
 * SQUARE x SQUARE area given as the damage hint, moving across the display
 * (as the demo's guest draws) (posted REGION_WRITEs of RING_TAIL and DOORBELL = 0, the
 * work done by the device's worker). Both threads share the socket under a
 * mutex; a round trip is timed from after the mutex is taken, so a present
 * never counts as read latency. Prints the present count as a fourth figure.
 *
 * The timing thread stands for a vCPU waiting on the reply; like the
 * daemon's data-plane thread it asks the scheduler for a short time slice
 * (short-slice.h), so that under load the figure shows the server, not the
 * client's own wait for a core.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "short-slice.h"

static int read_full(int fd, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, (char *)buf + got, len - got);
    if (n <= 0) return -1;
    got += (size_t)n;
  }
  return 0;
}

/* Reads one whole message; returns its size. */
static int read_message(int fd, uint8_t *buf, size_t cap) {
  if (read_full(fd, buf, 16)) return -1;
  uint32_t size;
  memcpy(&size, buf + 4, 4);
  if (size < 16 || size > cap) return -1;
  if (read_full(fd, buf + 16, size - 16)) return -1;
  return (int)size;
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* ---- the presenting guest (present W H) ---- */

enum { REG_RING_BASE_LO = 0x1020, REG_RING_BASE_HI = 0x1024, REG_RING_ENTRIES = 0x1028, REG_RING_TAIL = 0x1030,
       REG_DOORBELL = 0x1034, REG_ERRORS = 0x1044 };
enum { OP_TASK_CREATE = 1, OP_TASK_MAP = 3, OP_PRESENT = 7 };
#define RAM_GPA 0x40000000ull
#define RING_ENTRIES 64u
#define LIST_OFF 0x10000u
#define FRAMES_OFF (1u << 20)

static int sock;
static pthread_mutex_t sock_mu = PTHREAD_MUTEX_INITIALIZER;
static uint16_t next_id = 1;
static uint8_t *ram;
static uint32_t tail;
static volatile int stop_presenting;
static uint32_t square; /* 0: whole frames; else the side of the hinted square */
static unsigned long presents;

static void header(uint8_t *m, uint16_t cmd, uint32_t size, uint32_t flags) {
  uint16_t id = next_id++;
  memset(m, 0, 16);
  memcpy(m, &id, 2);
  memcpy(m + 2, &cmd, 2);
  memcpy(m + 4, &size, 4);
  memcpy(m + 8, &flags, 4);
}

/* REGION_WRITE of a dword to BAR0; posted (NO_REPLY) or waiting for the reply. Caller holds sock_mu. */
static int write32(uint32_t off, uint32_t v, int posted) {
  uint8_t m[36], reply[64];
  header(m, 10, 36, posted ? 0x10 : 0);
  uint64_t o = off;
  uint32_t region = 0, count = 4;
  memcpy(m + 16, &o, 8);
  memcpy(m + 24, &region, 4);
  memcpy(m + 28, &count, 4);
  memcpy(m + 32, &v, 4);
  if (write(sock, m, 36) != 36) return -1;
  return posted ? 0 : (read_message(sock, reply, sizeof reply) == 32 ? 0 : -1);
}

static uint32_t read32(uint32_t off) {
  uint8_t m[32], reply[64];
  header(m, 9, 32, 0);
  uint64_t o = off;
  uint32_t region = 0, count = 4, v = 0;
  memcpy(m + 16, &o, 8);
  memcpy(m + 24, &region, 4);
  memcpy(m + 28, &count, 4);
  if (write(sock, m, 32) != 32 || read_message(sock, reply, sizeof reply) != 36) return 0xffffffff;
  memcpy(&v, reply + 32, 4);
  return v;
}

/* Writes a ring entry; returns its slot. */
static uint32_t push(uint32_t op, const uint64_t *args, int n) {
  uint32_t slot = tail % RING_ENTRIES;
  uint8_t *e = ram + slot * 64;
  memset(e, 0, 64);
  uint32_t pending = 0xffffffff;
  memcpy(e, &op, 4);
  memcpy(e + 8, &pending, 4);
  memcpy(e + 16, args, sizeof(uint64_t) * (size_t)n);
  tail++;
  return slot;
}

static int setup_guest(uint32_t w, uint32_t h) {
  size_t frame = (size_t)w * h * 4, slot = (frame + 4095) & ~(size_t)4095;
  size_t size = FRAMES_OFF + 2 * slot;
  int mfd = memfd_create("rtt-guest-ram", MFD_CLOEXEC);
  if (mfd < 0 || ftruncate(mfd, (off_t)size) < 0) return -1;
  ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  if (ram == MAP_FAILED) return -1;
  /* Whole frames: a gradient where every pixel differs (the worst case for
   * a VNC encoder). Hinted squares: blocks of eight solid colours, as a
   * desktop has, shifted by one block between the two frames. */
  static const uint32_t colours[8] = {0xff203040, 0xffe0e0e0, 0xff3060c0, 0xff40a040,
                                      0xffc04030, 0xff101010, 0xfff0c020, 0xff808080};
  for (size_t y = 0; y < h; y++)
    for (size_t x = 0; x < w; x++)
      for (int s = 0; s < 2; s++) {
        uint32_t px = square ? colours[(y / 64 + x / 128 + (size_t)s) % 8]
                             : 0xff000000u | (uint32_t)((x * 4 + s * 97) & 0xff) | (uint32_t)(((y * 5 + s * 31) & 0xff) << 8) |
                                   (uint32_t)((((x ^ y) * 3 + s * 7) & 0xff) << 16);
        memcpy(ram + FRAMES_OFF + s * slot + (y * w + x) * 4, &px, 4);
      }
  uint64_t list[2] = {RAM_GPA + FRAMES_OFF, 2 * slot};
  memcpy(ram + LIST_OFF, list, sizeof list);

  /* DMA_MAP with the memfd */
  uint8_t m[48], reply[64];
  header(m, 2, 48, 0);
  uint32_t argsz = 32, flags = 3;
  uint64_t off = 0, iova = RAM_GPA, len = size;
  memcpy(m + 16, &argsz, 4);
  memcpy(m + 20, &flags, 4);
  memcpy(m + 24, &off, 8);
  memcpy(m + 32, &iova, 8);
  memcpy(m + 40, &len, 8);
  char ctl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {m, 48};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &mfd, sizeof(int));
  if (sendmsg(sock, &mh, 0) != 48 || read_message(sock, reply, sizeof reply) < 16 || (reply[8] & 0x20)) return -1;
  close(mfd);

  if (write32(REG_RING_BASE_LO, (uint32_t)RAM_GPA, 0) || write32(REG_RING_BASE_HI, 0, 0) ||
      write32(REG_RING_ENTRIES, RING_ENTRIES, 0))
    return -1;
  uint64_t create[2] = {1, 2 * slot}, map[5] = {1, 0, RAM_GPA + LIST_OFF, 1, 1};
  push(OP_TASK_CREATE, create, 2);
  push(OP_TASK_MAP, map, 5);
  if (write32(REG_RING_TAIL, tail, 0) || write32(REG_DOORBELL, 1, 0) || read32(REG_ERRORS) != 0) return -1;
  return (int)slot;
}

static uint32_t frame_w, frame_h, slot_bytes;

static void *presenter(void *arg) {
  (void)arg;
  double next = now_us();
  for (unsigned long n = 0; !stop_presenting; n++) {
    next += 1e6 / 60;
    double wait = next - now_us();
    if (wait > 0) usleep((useconds_t)wait);
    /* The slot this present reuses must be done (status written). */
    uint32_t status;
    memcpy(&status, ram + (tail % RING_ENTRIES) * 64 + 8, 4);
    if (tail >= RING_ENTRIES && status == 0xffffffff) continue;
    uint64_t hint = 0;
    if (square) {
      uint64_t x = (n * 16) % (frame_w - square), y = (n * 9) % (frame_h - square);
      hint = x | y << 16 | (uint64_t)square << 32 | (uint64_t)square << 48;
    }
    uint64_t args[6] = {0, 1, (n & 1) * (uint64_t)slot_bytes, (uint64_t)frame_w * 4, 0, hint};
    pthread_mutex_lock(&sock_mu);
    push(OP_PRESENT, args, 6);
    int bad = write32(REG_RING_TAIL, tail, 1) || write32(REG_DOORBELL, 0, 1);
    pthread_mutex_unlock(&sock_mu);
    if (bad) break;
    presents++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 7 && argc != 8) {
    fprintf(stderr, "usage: %s SOCKET WARMUP COUNT [present W H [SQUARE]]\n", argv[0]);
    return 2;
  }
  int warmup = atoi(argv[2]), count = atoi(argv[3]);
  int present = argc >= 7 && strcmp(argv[4], "present") == 0;
  int fd = sock = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strncpy(sa.sun_path, argv[1], sizeof sa.sun_path - 1);
  /* The socket file appears at bind(), a moment before listen(): retry. */
  int rc, tries = 0;
  while ((rc = connect(fd, (struct sockaddr *)&sa, sizeof sa)) < 0 && tries++ < 500) usleep(10000);
  if (rc < 0) {
    perror("connect");
    return 1;
  }
  uint8_t msg[64] = {0}, reply[4096];
  /* VERSION 0.0 */
  uint16_t id = 0, cmd = 1;
  uint32_t size = 20;
  memcpy(msg, &id, 2);
  memcpy(msg + 2, &cmd, 2);
  memcpy(msg + 4, &size, 4);
  if (write(fd, msg, size) != (ssize_t)size || read_message(fd, reply, sizeof reply) < 0) {
    fprintf(stderr, "VERSION failed\n");
    return 1;
  }
  bench_short_slice();
  pthread_t thread;
  if (present) {
    frame_w = (uint32_t)atoi(argv[5]);
    frame_h = (uint32_t)atoi(argv[6]);
    square = argc == 8 ? (uint32_t)atoi(argv[7]) : 0;
    if (square >= frame_w || square >= frame_h) square = 0;
    int slot = setup_guest(frame_w, frame_h);
    if (slot < 0) {
      fprintf(stderr, "guest setup (DMA_MAP, ring, task) failed\n");
      return 1;
    }
    slot_bytes = (uint32_t)slot;
    pthread_create(&thread, NULL, presenter, NULL);
    /* PRESENT_WARMUP_MS: present for a while before timing anything (the
     * viewers' first whole-frame updates are behind us then). */
    const char *w = getenv("PRESENT_WARMUP_MS");
    if (w) usleep((useconds_t)atoi(w) * 1000);
  }
  /* REGION_READ region 0, offset 0x1000, count 4 */
  memset(msg, 0, sizeof msg);
  cmd = 9;
  size = 32;
  uint64_t offset = 0x1000;
  uint32_t region = 0, n = 4;
  memcpy(msg + 2, &cmd, 2);
  memcpy(msg + 4, &size, 4);
  memcpy(msg + 16, &offset, 8);
  memcpy(msg + 24, &region, 4);
  memcpy(msg + 28, &n, 4);
  double *lat = malloc(sizeof(double) * (size_t)count);
  for (int i = 0; i < warmup + count; i++) {
    if (present) pthread_mutex_lock(&sock_mu);
    id = next_id++;
    memcpy(msg, &id, 2);
    double t0 = now_us();
    if (write(fd, msg, 32) != 32) return 1;
    int got = read_message(fd, reply, sizeof reply);
    double t1 = now_us();
    if (present) pthread_mutex_unlock(&sock_mu);
    if (got != 36) {
      fprintf(stderr, "bad reply size %d at %d\n", got, i);
      return 1;
    }
    if (i >= warmup) lat[i - warmup] = t1 - t0;
  }
  if (present) {
    stop_presenting = 1;
    pthread_join(thread, NULL);
  }
  double sum = 0;
  for (int i = 0; i < count; i++) sum += lat[i];
  qsort(lat, (size_t)count, sizeof(double), cmp);
  if (present)
    printf("%.2f %.2f %.2f %lu\n", lat[count / 2], lat[(int)(count * 0.99)], sum / count, presents);
  else
    printf("%.2f %.2f %.2f\n", lat[count / 2], lat[(int)(count * 0.99)], sum / count);
  close(fd);
  return 0;
}

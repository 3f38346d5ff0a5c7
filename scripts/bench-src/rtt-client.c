/* Round-trip latency of a 4-byte REGION_READ (BAR0, offset 0x1000) over a
 * vfio-user unix socket: the request is 32 bytes, the reply 36, as QEMU's
 * guest BAR reads produce. Negotiates VERSION first (0.0, no JSON).
 *
 *   rtt-client SOCKET WARMUP COUNT  ->  prints "p50_us p99_us mean_us"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s SOCKET WARMUP COUNT\n", argv[0]);
    return 2;
  }
  int warmup = atoi(argv[2]), count = atoi(argv[3]);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strncpy(sa.sun_path, argv[1], sizeof sa.sun_path - 1);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
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
    id = (uint16_t)(i + 1);
    memcpy(msg, &id, 2);
    double t0 = now_us();
    if (write(fd, msg, 32) != 32) return 1;
    int got = read_message(fd, reply, sizeof reply);
    double t1 = now_us();
    if (got != 36) {
      fprintf(stderr, "bad reply size %d at %d\n", got, i);
      return 1;
    }
    if (i >= warmup) lat[i - warmup] = t1 - t0;
  }
  double sum = 0;
  for (int i = 0; i < count; i++) sum += lat[i];
  qsort(lat, (size_t)count, sizeof(double), cmp);
  printf("%.2f %.2f %.2f\n", lat[count / 2], lat[(int)(count * 0.99)], sum / count);
  close(fd);
  return 0;
}

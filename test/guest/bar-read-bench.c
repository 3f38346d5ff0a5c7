// Guest-visible MMIO cost: times a loop of 32-bit reads of BAR0 offset 0x1000
// (the ID register) of the 106b:eeee device, through QEMU's vfio-user-pci, so
// every read is a REGION_READ round trip to the device process. Used by
// scripts/benchmarks/guest-mmio.sh against apple-gfxd and against a minimal C
// vfio-user server in the same run.
//
//   bar-read-bench [reads] [rounds]  ->  "AGFX-RESULT round<i>_us_per_read=X"
//                                       "AGFX-RESULT us_per_read=<median>"
//
// Build: static, for the guest's architecture (scripts/rig/build-guest-programs.sh).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define VENDOR 0x106b
#define DEVICE 0xeeee
#define ID_REG 0x1000
#define AGFX_ID 0x58464741u

static unsigned long read_hex(const char *dir, const char *name) {
  char p[400], b[64] = {0};
  snprintf(p, sizeof p, "%s/%s", dir, name);
  int fd = open(p, O_RDONLY);
  if (fd < 0) return ~0ul;
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  return n > 0 ? strtoul(b, NULL, 0) : ~0ul;
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
  long reads = argc > 1 ? atol(argv[1]) : 5000, rounds = argc > 2 ? atol(argv[2]) : 5;
  if (reads < 1 || rounds < 1 || rounds > 100) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  char dev[300] = {0};
  DIR *d = opendir("/sys/bus/pci/devices");
  struct dirent *e;
  while (d && (e = readdir(d))) {
    char p[300];
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s", e->d_name);
    if (e->d_name[0] != '.' && read_hex(p, "vendor") == VENDOR && read_hex(p, "device") == DEVICE) {
      snprintf(dev, sizeof dev, "%s", p);
      break;
    }
  }
  if (d) closedir(d);
  if (!dev[0]) { printf("AGFX-FAIL bench: no %04x:%04x device\n", VENDOR, DEVICE); return 1; }
  char p[400];
  snprintf(p, sizeof p, "%s/enable", dev);
  if (read_hex(dev, "enable") != 1) {
    int fd = open(p, O_WRONLY);
    if (fd < 0 || write(fd, "1", 1) != 1) { printf("AGFX-FAIL bench: enable: %s\n", strerror(errno)); return 1; }
    close(fd);
  }
  snprintf(p, sizeof p, "%s/resource0", dev);
  int fd = open(p, O_RDWR | O_SYNC);
  void *m = fd < 0 ? MAP_FAILED : mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { printf("AGFX-FAIL bench: map %s: %s\n", p, strerror(errno)); return 1; }
  volatile uint32_t *bar0 = m;
  uint32_t id = bar0[ID_REG / 4];
  if (id != AGFX_ID) { printf("AGFX-FAIL bench: ID reads 0x%08x\n", id); return 1; }
  double per[100];
  for (long r = 0; r < rounds; r++) {
    uint32_t acc = 0;
    double t0 = now_us();
    for (long i = 0; i < reads; i++) acc ^= bar0[ID_REG / 4];
    double t1 = now_us();
    if (acc != (reads & 1 ? AGFX_ID : 0)) { printf("AGFX-FAIL bench: a read returned another value\n"); return 1; }
    per[r] = (t1 - t0) / (double)reads;
    printf("AGFX-RESULT round%ld_us_per_read=%.2f\n", r, per[r]);
  }
  qsort(per, (size_t)rounds, sizeof per[0], cmp);
  printf("AGFX-RESULT us_per_read=%.2f\n", per[rounds / 2]);
  printf("AGFX-RESULT bench=pass\n");
  return 0;
}

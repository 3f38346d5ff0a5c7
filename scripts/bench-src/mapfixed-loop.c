/* The floor for task map+unmap: the same mmap(MAP_FIXED) pair a task uses,
 * in a plain C loop: alias LEN bytes of a memfd into a PROT_NONE reservation,
 * then put inaccessible pages back.
 *   mapfixed-loop COUNT LEN  ->  prints total ns */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  long count = atol(argv[1]);
  size_t len = (size_t)atol(argv[2]), span = 64u << 20;
  int fd = memfd_create("floor-ram", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, 2u << 20) < 0) return 1;
  uint8_t *base = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return 1;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < count; i++) {
    uint8_t *at = base + ((size_t)i * len) % span;
    if (mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) != at) return 1;
    mmap(at, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.0f\n", (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec));
  return 0;
}

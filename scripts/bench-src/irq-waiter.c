/* Interrupt latency, the receiving side: another process blocked in read()
 * on an eventfd, as QEMU's irqfd/main loop would be.
 *   irq-waiter COUNT            waits on fd 3 until COUNT signals arrived; prints
 *                               "wake_ns n" per wake-up (n signals coalesced)
 *   irq-waiter COUNT INTERVAL   the floor: forks a C raiser that writes the
 *                               eventfd every INTERVAL us; prints "raise wake" pairs */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
  int count = atoi(argv[1]);
  if (argc == 2) {
    uint64_t v;
    struct pollfd p = {.fd = 3, .events = POLLIN};
    for (int got = 0; got < count; got += (int)v) {
      /* the inherited eventfd is non-blocking: wait with poll() */
      if (poll(&p, 1, 5000) != 1) return 1;
      double wake = now_ns();
      if (read(3, &v, 8) != 8) return 1;
      printf("%.0f %llu\n", wake, (unsigned long long)v);
    }
    return 0;
  }
  int interval = atoi(argv[2]);
  int efd = eventfd(0, EFD_NONBLOCK), pfd[2];
  struct pollfd p = {.fd = efd, .events = POLLIN};
  if (pipe(pfd) < 0) return 1;
  pid_t pid = fork();
  if (pid == 0) { /* raiser */
    uint64_t one = 1;
    for (int i = 0; i < count; i++) {
      usleep(interval);
      double t = now_ns();
      if (write(efd, &one, 8) != 8) _exit(1);
      if (write(pfd[1], &t, sizeof t) != sizeof t) _exit(1);
    }
    _exit(0);
  }
  uint64_t v;
  for (int got = 0; got < count; got += (int)v) {
    if (poll(&p, 1, 5000) != 1) return 1;
    double wake = now_ns(), raised;
    if (read(efd, &v, 8) != 8) return 1;
    for (uint64_t k = 0; k < v; k++) { /* one latency per signal, coalesced ones included */
      if (read(pfd[0], &raised, sizeof raised) != sizeof raised) return 1;
      printf("%.0f %.0f\n", raised, wake);
    }
  }
  waitpid(pid, NULL, 0);
  return 0;
}

/* The scheduler time slice every latency-sensitive thread in the
 * benchmarks asks for, the same one apple-gfxd's data-plane thread asks for
 * (platform::RequestShortTimeSlice, native/platform/): 100 us under EEVDF
 * (Linux 6.12+), so that a waking thread may preempt a busy core instead of
 * waiting out the running task's slice. Servers (the C floors and the
 * daemon) and clients get it alike, so a ratio compares like with like.
 * BENCH_DEFAULT_SLICE=1 skips it in these programs (the daemon always asks).
 * A kernel without it ignores the call. */
#ifndef BENCH_SHORT_SLICE_H
#define BENCH_SHORT_SLICE_H
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline void bench_short_slice(void) {
  struct {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t prio;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
  } a = {.size = sizeof a, .runtime = 100000};
  if (!getenv("BENCH_DEFAULT_SLICE")) syscall(SYS_sched_setattr, 0, &a, 0);
}
#endif

#!/bin/sh
# Guest side of scripts/benchmarks/guest-mmio.sh: runs /bin/bar-read-bench
# (test/guest/bar-read-bench.c) with agfx.reads=N agfx.rounds=R from the
# kernel command line and passes its exit status on.
reads=5000
rounds=5
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    agfx.reads=*) reads=${arg#agfx.reads=} ;;
    agfx.rounds=*) rounds=${arg#agfx.rounds=} ;;
  esac
done
exec /bin/bar-read-bench "$reads" "$rounds"

// CHECK(cond) for the harnesses: a failed check prints where and aborts, which
// libFuzzer reports as a crash with the input that caused it (run.sh greps
// for "check failed").
#pragma once
#include <cstdio>
#include <cstdlib>

#define CHECK(cond)                                                                               \
  do {                                                                                            \
    if (!(cond)) {                                                                                \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
      std::abort();                                                                               \
    }                                                                                             \
  } while (0)

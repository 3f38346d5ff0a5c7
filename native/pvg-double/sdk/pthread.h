/* <pthread.h> of the PVG double (test-only): the system's, plus Darwin's
 * pthread_main_np (non-zero on the process's main thread), implemented in
 * native/pvg-double/src/dispatch.mm. */
#ifndef AGFX_DOUBLE_PTHREAD_H
#define AGFX_DOUBLE_PTHREAD_H
#include_next <pthread.h>
#ifdef __cplusplus
extern "C" __attribute__((visibility("default")))
#else
extern __attribute__((visibility("default")))
#endif
int pthread_main_np(void);
#endif

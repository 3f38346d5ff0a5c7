/* C API of the PVG double (test-only; native/pvg-double/). Exported by the
 * double's shared library next to agfx_backend_entry, for tests that load it
 * directly. Everything here can also be set through the environment (see
 * native/pvg-double/README.md). */
#ifndef AGFX_PVG_DOUBLE_H
#define AGFX_PVG_DOUBLE_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
/* The contract violations recorded so far, as a JSON array of
 * {"kind","code","message"}; returns the full length (snprintf-style). */
__attribute__((visibility("default"))) size_t agfx_pvg_double_violations(char *out, size_t len);
__attribute__((visibility("default"))) void agfx_pvg_double_clear_violations(void);
/* As AGFX_PVG_DOUBLE_HAZARDS ("a,b" or "all"); NULL: from the environment. */
__attribute__((visibility("default"))) void agfx_pvg_double_set_hazards(const char *list);
/* As AGFX_PVG_DOUBLE_MACOS ("15.4"); NULL: from the environment. */
__attribute__((visibility("default"))) void agfx_pvg_double_set_macos(const char *version);
/* Runs the main dispatch queue's pending blocks (main thread only), as a
 * CFRunLoop iteration on macOS would; returns how many ran. */
__attribute__((visibility("default"))) size_t agfx_pvg_double_drain_main_queue(void);
/* Objects left in dispatch workers' autorelease pools (what blocks
 * autoreleased without a pool of their own), counted at each drain. */
__attribute__((visibility("default"))) void agfx_pvg_double_autorelease_stats(uint64_t *drains, uint64_t *objects,
                                                                              uint64_t *max_per_drain);
#ifdef __cplusplus
}
#endif
#endif

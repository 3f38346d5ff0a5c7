/* Stub of <ParavirtualizedGraphics/PGDefines.h>. The SDK defines the feature
 * macros without publishing values; 1 here. PG_SUPPORT_CREATE_DEVICE appears
 * with the macOS 15.2 SDK. */
#ifndef AGFX_STUB_PGDEFINES_H
#define AGFX_STUB_PGDEFINES_H
#include <os/availability.h>

#ifdef __cplusplus
#define PG_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define PG_EXPORT extern __attribute__((visibility("default")))
#endif

#define PG_SUPPORT_EFI 1
#define PG_SUPPORT_PAUSE_UNPAUSE 1
#define PG_SUPPORT_CURSOR_GLYPH_HANDLER2 1
#define PG_SUPPORT_DISPLAY_SLEEP_HANDLER 1
#define PG_SUPPORT_DISPLAY_SLEEP PG_SUPPORT_DISPLAY_SLEEP_HANDLER
#define PG_SUPPORT_RESET 1
#define PG_SUPPORT_MODELIST_RESPONSIVENESS_HANDLER 1
#define PG_SUPPORT_DISPLAY_PORT_COUNT 1
#define PG_SUPPORT_CREATE_DEVICE 1

#ifndef NS_RETURNS_RETAINED
#define NS_RETURNS_RETAINED __attribute__((ns_returns_retained))
#endif

/* OSType comes from MacTypes.h through CoreFoundation in the real SDK. */
#ifndef __APPLE__
typedef uint32_t OSType;
#endif
#endif

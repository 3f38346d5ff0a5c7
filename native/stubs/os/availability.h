/* Stub of <os/availability.h>: API_AVAILABLE / API_DEPRECATED / API_UNAVAILABLE
 * as clang availability attributes, single-platform forms only (all that the
 * stubs use). On a non-Apple target clang ignores macos availability; on an
 * Apple target it enforces it (-Wunguarded-availability). */
#ifndef AGFX_STUB_OS_AVAILABILITY_H
#define AGFX_STUB_OS_AVAILABILITY_H

#ifndef AGFX_STUB_SDK_MAJOR
#define AGFX_STUB_SDK_MAJOR 15
#endif
/* The SDK's AvailabilityVersions.h defines one MAC_OS_VERSION_X_Y per release. */
#define MAC_OS_VERSION_11_0 110000
#define MAC_OS_VERSION_12_0 120000
#define MAC_OS_VERSION_13_0 130000
#define MAC_OS_VERSION_15_0 150000
#if AGFX_STUB_SDK_MAJOR >= 27
#define MAC_OS_VERSION_26_0 260000
#define MAC_OS_VERSION_27_0 270000
#endif

#define __AGFX_AVAIL_macos(v) macos, introduced = v
#define __AGFX_AVAIL_ios(v) ios, introduced = v
#define __AGFX_UNAVAIL_ios ios, unavailable
#define __AGFX_UNAVAIL_tvos tvos, unavailable
#define __AGFX_DEPR_macos(a, d) macos, introduced = a, deprecated = d

#ifndef API_AVAILABLE
#define API_AVAILABLE(p) __attribute__((availability(__AGFX_AVAIL_##p)))
#endif
#ifndef API_DEPRECATED
#define API_DEPRECATED(msg, p) __attribute__((availability(__AGFX_DEPR_##p, message = msg)))
#endif
#ifndef API_UNAVAILABLE
#define API_UNAVAILABLE(p) __attribute__((availability(__AGFX_UNAVAIL_##p)))
#endif
#endif

// Between the platform files only (not for the rest of native/): the one
// step of ClassifyNotifier that differs per platform.
#pragma once

namespace agfx::platform {

// True when fd is an eventfd (linux); false where there are none
// (platform_posix.cc: darwin, portable).
bool IsEventFd(int fd);

}  // namespace agfx::platform

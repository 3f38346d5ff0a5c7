// The built-in software backend (docs/soft-device.md): its agfx_backend
// table. The device itself: soft/device.h.
#pragma once
#include "agfx_backend.h"

namespace agfx {
const agfx_backend* SoftBackend();
}

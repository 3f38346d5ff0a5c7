// The built-in software backend (docs/soft-device.md).
#pragma once
#include "agfx_backend.h"

namespace agfx {
const agfx_backend* SoftBackend();
}

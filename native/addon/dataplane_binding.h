// JS binding of the data plane (dataplane/data_plane.h): the per-client
// native thread that answers BAR accesses and hands everything else to the
// TypeScript session.
#pragma once
#include <napi.h>

#include <memory>

#include "core/dataplane/region_access.h"

namespace agfx {

// The backend behind a JS Backend object, for a data plane's mmio calls
// (backend_binding.cc). Throws when `v` is not a live Backend.
std::shared_ptr<MmioTarget> BackendMmioTarget(Napi::Env env, Napi::Value v);

void InitDataPlane(Napi::Env env, Napi::Object exports);

}  // namespace agfx

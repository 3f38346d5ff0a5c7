#pragma once
#include <napi.h>

namespace agfx {
void InitFdUtil(Napi::Env env, Napi::Object exports);
}

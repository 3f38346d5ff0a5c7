// What the PVG double's ParavirtualizedGraphics part needs from its Metal
// part: the device a texture or command buffer belongs to, a texture's
// pixels as the "GPU" sees them, and work encoded into a command buffer.
#pragma once
#import <Metal/Metal.h>

#include <cstdint>
#include <functional>

namespace pvgdouble {

// The MTLDevice a texture / command buffer was made by (not retained).
id<MTLDevice> DeviceOf(id object);
bool IsDoubleTexture(id object);
bool IsDoubleCommandBuffer(id object);
// The texture's GPU-side pixels (BGRA8, width * 4 bytes per row). Only for
// GPU work, i.e. inside an EncodeWork function.
uint8_t* GpuPixels(id<MTLTexture> texture);
// Appends work to a command buffer, run in order on the command queue's GPU
// thread after commit; false marks the buffer failed. Violation if the
// buffer is already committed or an encoder is open.
bool EncodeWork(id<MTLCommandBuffer> buffer, const char* what, std::function<bool()> work);

}  // namespace pvgdouble

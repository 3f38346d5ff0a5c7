// The macOS part of platform/platform.h (agfx_platform=darwin, with
// platform_posix.cc): fault-safe copies through the Mach VM calls on our own
// task. The kernel copies and returns an error (KERN_INVALID_ADDRESS,
// KERN_PROTECTION_FAILURE, KERN_MEMORY_ERROR) where a memcpy would take
// SIGSEGV or SIGBUS: an unmapped page, or a page of a file-backed mapping
// past the end of a file the VMM truncated after DMA_MAP
// (memory-backend-file; a POSIX shm object cannot shrink on XNU, which takes
// one ftruncate per object). Compiled here by scripts/check-darwin.sh for
// arm64 and x86_64; not executed on Linux (the portable build runs
// platform_guarded_copy.cc instead).
#include <mach/mach.h>

#include <cerrno>
#include <cstdint>

#include "platform/platform.h"

// The SDK declares mach_vm_read_overwrite/mach_vm_write in <mach/mach_vm.h>;
// zig's bundled Darwin headers have only <mach/vm_map.h>, whose
// vm_read_overwrite/vm_write are the same calls on 64-bit tasks
// (vm_address_t is 64 bits wide on arm64 and x86_64).
#if __has_include(<mach/mach_vm.h>)
#include <mach/mach_vm.h>
#define AGFX_VM_READ_OVERWRITE mach_vm_read_overwrite
#define AGFX_VM_WRITE mach_vm_write
typedef mach_vm_address_t agfx_vm_address_t;
typedef mach_vm_size_t agfx_vm_size_t;
#else
#define AGFX_VM_READ_OVERWRITE vm_read_overwrite
#define AGFX_VM_WRITE vm_write
typedef vm_address_t agfx_vm_address_t;
typedef vm_size_t agfx_vm_size_t;
#endif
static_assert(sizeof(agfx_vm_address_t) == sizeof(void*), "64-bit task addresses");

namespace agfx::platform {

namespace {
// vm_write takes a 32-bit count; reads are chunked the same way.
constexpr size_t kMaxChunk = 16u << 20;

agfx_vm_address_t Addr(const void* p) { return static_cast<agfx_vm_address_t>(reinterpret_cast<uintptr_t>(p)); }

bool Read(void* dst, const void* src, size_t len) {
  for (size_t done = 0; done < len;) {
    size_t chunk = len - done < kMaxChunk ? len - done : kMaxChunk;
    agfx_vm_size_t got = 0;
    kern_return_t kr = AGFX_VM_READ_OVERWRITE(mach_task_self(), Addr(static_cast<const uint8_t*>(src) + done), chunk,
                                              Addr(static_cast<uint8_t*>(dst) + done), &got);
    if (kr != KERN_SUCCESS || got != chunk) {
      errno = EFAULT;
      return false;
    }
    done += chunk;
  }
  return true;
}

bool Write(void* dst, const void* src, size_t len) {
  for (size_t done = 0; done < len;) {
    size_t chunk = len - done < kMaxChunk ? len - done : kMaxChunk;
    kern_return_t kr = AGFX_VM_WRITE(mach_task_self(), Addr(static_cast<uint8_t*>(dst) + done),
                                     static_cast<vm_offset_t>(reinterpret_cast<uintptr_t>(static_cast<const uint8_t*>(src) + done)),
                                     static_cast<mach_msg_type_number_t>(chunk));
    if (kr != KERN_SUCCESS) {
      errno = EFAULT;
      return false;
    }
    done += chunk;
  }
  return true;
}
}  // namespace

bool SafeRead(void* dst, const void* src, size_t len) { return Read(dst, src, len); }

bool SafeWrite(void* dst, const void* src, size_t len) { return Write(dst, src, len); }

// One Mach call per span: no vectored form exists (a frame of 1080 rows is
// 1080 traps; the rows of a frame usually sit in one region, but the spans
// are the caller's contract).
bool SafeReadSpans(const CopySpan* spans, size_t count) {
  for (size_t i = 0; i < count; ++i)
    if (!Read(spans[i].dst, spans[i].src, spans[i].len)) return false;
  return true;
}

}  // namespace agfx::platform

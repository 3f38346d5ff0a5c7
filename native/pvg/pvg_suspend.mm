// agfx_pvg_extras.h: suspend/resume (PGDevice willSuspend / finishSuspend /
// willResumeWithSuspendState:error: / didResume), the option ROM, and the
// host queries. Manual retain/release.
#import "pvg_internal.h"
#import "pvg_private.h"

#include <cstdlib>
#include <cstring>

#include "portable/option_rom.h"
#include "portable/resume_errors.h"

namespace agfx::pvg {

void PvgDevice::SuspendBegin() {
  @autoreleasepool {
    [pgdev_ willSuspend];  // no lock held: PVG may still call the host services
  }
}

bool PvgDevice::SuspendFinish(void** blob, size_t* len, char* err, size_t err_len) {
  @autoreleasepool {
    NSData* state = [pgdev_ finishSuspend];  // NS_RETURNS_RETAINED: +1; may block while GPU work drains
    if (!state) {
      Fail(err, err_len, "finishSuspend returned no state");
      return false;
    }
    size_t n = state.length;
    void* copy = std::malloc(n ? n : 1);
    if (copy && n) std::memcpy(copy, state.bytes, n);
    [state release];
    if (!copy) {
      Fail(err, err_len, "out of memory for the suspend state");
      return false;
    }
    *blob = copy;
    *len = n;
    return true;
  }
}

const char* PvgDevice::ResumeBegin(const void* blob, size_t len) {
  if (touched_) {
    last_error_ = "resume must be the first call on a freshly created pvg device (before any MMIO, display or reset)";
    return last_error_.c_str();
  }
  if (!blob || len == 0) {
    last_error_ = "empty suspend state";
    return last_error_.c_str();
  }
  touched_ = true;
  @autoreleasepool {
    NSData* state = [NSData dataWithBytes:blob length:len];
    NSError* e = nil;
    if ([pgdev_ willResumeWithSuspendState:state error:&e]) return nullptr;
    bool pvg_domain = e && [e.domain isEqualToString:PGResumeErrorDomain];
    last_error_ = e ? FormatResumeError(pvg_domain, e.domain.UTF8String, int64_t(e.code), e.localizedDescription.UTF8String)
                    : "PVG refused the suspend state without saying why";
    return last_error_.c_str();
  }
}

void PvgDevice::ResumeFinish() {
  @autoreleasepool {
    [pgdev_ didResume];  // guest RAM must be mapped by now; may raise an interrupt
  }
}

}  // namespace agfx::pvg

using agfx::pvg::PvgDevice;

extern "C" {

void agfx_pvg_suspend_begin(agfx_device* dev) { reinterpret_cast<PvgDevice*>(dev)->SuspendBegin(); }

bool agfx_pvg_suspend_finish(agfx_device* dev, void** blob, size_t* len, char* err, size_t err_len) {
  if (!dev || !blob || !len) return false;
  return reinterpret_cast<PvgDevice*>(dev)->SuspendFinish(blob, len, err, err_len);
}

const char* agfx_pvg_resume_begin(agfx_device* dev, const void* blob, size_t len) {
  if (!dev) return "no device";
  return reinterpret_cast<PvgDevice*>(dev)->ResumeBegin(blob, len);
}

void agfx_pvg_resume_finish(agfx_device* dev) { reinterpret_cast<PvgDevice*>(dev)->ResumeFinish(); }

size_t agfx_pvg_default_mmio_length(void) {
  @autoreleasepool {
    PGDeviceDescriptor* d = [PGDeviceDescriptor new];  // QEMU: a throw-away descriptor
    size_t n = d.mmioLength;
    [d release];
    return n;
  }
}

uint32_t agfx_pvg_max_display_ports(void) {
  if (@available(macOS 13.0, *)) return PGMaxDisplayPortCount();
  return 1;
}

uint32_t agfx_pvg_supported_memory_models(void) {
  uint32_t models = 0;
#if AGFX_PVG_HAVE_TASK_API
  if ([PGDeviceDescriptor instancesRespondToSelector:@selector(setCreateTask:)]) models |= 1u << AGFX_MEMORY_TASKS;
#endif
  if (NSClassFromString(@"PGMemoryMapDescriptor") &&
      [PGDeviceDescriptor instancesRespondToSelector:@selector(setMemoryMapDescriptor:)])
    models |= 1u << AGFX_MEMORY_STATIC_MAP;
  return models;
}

bool agfx_pvg_copy_option_rom(void** data, size_t* len, char* err, size_t err_len) {
  if (!data || !len) return false;
  std::string path;
  @autoreleasepool {
    NSURL* url = PGCopyOptionROMURL();  // "Copy": +1 (QEMU releases it too)
    const char* fs = url.path.fileSystemRepresentation;
    if (fs) path = fs;
    [url release];
  }
  if (path.empty()) {
    agfx::pvg::Fail(err, err_len, "PGCopyOptionROMURL() gave no file path");
    return false;
  }
  std::vector<uint8_t> raw, rom;
  std::string e;
  if (!agfx::pvg::ReadWholeFile(path, &raw, &e) || !agfx::pvg::PadOptionRom(raw.data(), raw.size(), &rom, &e)) {
    agfx::pvg::Fail(err, err_len, "option ROM " + path + ": " + e);
    return false;
  }
  void* out = std::malloc(rom.size());
  if (!out) {
    agfx::pvg::Fail(err, err_len, "out of memory for the option ROM");
    return false;
  }
  std::memcpy(out, rom.data(), rom.size());
  *data = out;
  *len = rom.size();
  return true;
}

bool agfx_pvg_write_option_rom(const char* path, char* err, size_t err_len) {
  if (!path || !*path) {
    agfx::pvg::Fail(err, err_len, "no output path for the option ROM");
    return false;
  }
  std::string src;
  @autoreleasepool {
    NSURL* url = PGCopyOptionROMURL();  // +1
    const char* fs = url.path.fileSystemRepresentation;
    if (fs) src = fs;
    [url release];
  }
  std::string e;
  if (src.empty() || !agfx::pvg::PadOptionRomFile(src, path, &e)) {
    agfx::pvg::Fail(err, err_len, src.empty() ? std::string("PGCopyOptionROMURL() gave no file path") : e);
    return false;
  }
  return true;
}

void agfx_pvg_free(void* p) { std::free(p); }

}  // extern "C"

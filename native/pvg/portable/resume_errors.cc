#include "resume_errors.h"

namespace agfx::pvg {

std::string ResumeErrorMessage(uint64_t code) {
  switch (code) {
    case kResumeInternalFault:
      return "PVG internal fault while restoring the device state";
    case kResumeInvalidSuspendStateVersion:
      return "the saved device state was written by a different ParavirtualizedGraphics version and cannot be read by this host";
    case kResumeInvalidContent:
      return "the saved device state is corrupt or truncated";
    case kResumeInvalidGuestVersion:
      return "the saved state belongs to a guest driver version this host does not support";
    case kResumeIncompatibleDevice:
      return "the saved state was taken on an incompatible device (different GPU or device configuration)";
    case kResumeInvalidDisplayPortCount:
      return "the saved state has a different display port count than this device (--displays must match)";
    default:
      return "unknown PVG resume error " + std::to_string(code);
  }
}

std::string FormatResumeError(bool is_resume_domain, const char* domain, int64_t code, const char* description) {
  std::string desc = description ? description : "";
  if (is_resume_domain) {
    std::string msg = ResumeErrorMessage(uint64_t(code)) + " (PGResumeErrorCode " + std::to_string(code) + ")";
    return desc.empty() ? msg : msg + ": " + desc;
  }
  std::string msg = std::string(domain && *domain ? domain : "unknown domain") + " error " + std::to_string(code);
  return desc.empty() ? msg : msg + ": " + desc;
}

}  // namespace agfx::pvg

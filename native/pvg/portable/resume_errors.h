// PGResumeErrorCode (PGDevice.h, domain PGResumeErrorDomain) as messages a
// user can act on.
#pragma once
#include <cstdint>
#include <string>

namespace agfx::pvg {

// Values of PGResumeErrorCode as published in the SDK headers.
enum ResumeErrorCode : uint64_t {
  kResumeInternalFault = 0,
  kResumeInvalidSuspendStateVersion = 1,
  kResumeInvalidContent = 2,
  kResumeInvalidGuestVersion = 3,
  kResumeIncompatibleDevice = 4,
  kResumeInvalidDisplayPortCount = 5,
};

// A fixed message for a known code, "unknown PVG resume error N" otherwise.
std::string ResumeErrorMessage(uint64_t code);
// The whole message for an NSError: code message for PGResumeErrorDomain
// (plus the framework's own description when it has one), else
// "<domain> error <code>: <description>".
std::string FormatResumeError(bool is_resume_domain, const char* domain, int64_t code, const char* description);

}  // namespace agfx::pvg

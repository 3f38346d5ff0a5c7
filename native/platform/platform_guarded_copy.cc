// The portable build's fault-safe copies (agfx_platform=portable, with
// platform_posix.cc): memcpy with a SIGSEGV/SIGBUS handler that, when the
// fault happens inside a guarded copy on this thread, jumps back out of it
// and makes the copy fail; any other fault goes to the handler that was
// there before (Node's, V8's, a sanitizer's) or to the default action.
// Neither process_vm_* nor the Mach calls: so the portable build runs the
// copy path of no particular kernel, and a guest region truncated under a
// mapping (SIGBUS) fails the copy instead of killing the daemon
// (test/integration/shrunk-memory.test.ts runs against it).
//
// Threading: the guard is per thread (thread_local); the handler is
// installed once (std::call_once) and never removed. A fault while the
// guard is set can only come from the memcpy (nothing else runs between
// sigsetjmp and the clear), so jumping out leaves no lock or allocation
// half done.
#include <setjmp.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "platform/platform.h"

namespace agfx::platform {

namespace {

thread_local sigjmp_buf* t_guard = nullptr;
struct sigaction g_previous[2];  // SIGSEGV, SIGBUS

int Slot(int sig) { return sig == SIGBUS ? 1 : 0; }

void OnFault(int sig, siginfo_t* info, void* ctx) {
  if (sigjmp_buf* guard = t_guard) {
    t_guard = nullptr;
    siglongjmp(*guard, 1);
  }
  // Not ours: hand it on.
  const struct sigaction& prev = g_previous[Slot(sig)];
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction) return prev.sa_sigaction(sig, info, ctx);
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    return prev.sa_handler(sig);
  }
  // Default action: put it back and return, so the faulting instruction
  // runs again and the process dies of the signal as it would have.
  ::sigaction(sig, &prev, nullptr);
  if (prev.sa_handler == SIG_IGN) ::signal(sig, SIG_DFL);
}

void Install() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = OnFault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGSEGV, &sa, &g_previous[0]);
  ::sigaction(SIGBUS, &sa, &g_previous[1]);
}

bool GuardedCopy(void* dst, const void* src, size_t len) {
  static std::once_flag once;
  std::call_once(once, Install);
  sigjmp_buf guard;
  if (sigsetjmp(guard, 1) != 0) {  // 1: the signal mask comes back too
    errno = EFAULT;
    return false;
  }
  t_guard = &guard;
  std::atomic_signal_fence(std::memory_order_seq_cst);  // the guard is up before the first byte moves
  std::memcpy(dst, src, len);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_guard = nullptr;
  return true;
}

}  // namespace

bool SafeRead(void* dst, const void* src, size_t len) { return GuardedCopy(dst, src, len); }

bool SafeWrite(void* dst, const void* src, size_t len) { return GuardedCopy(dst, src, len); }

bool SafeReadSpans(const CopySpan* spans, size_t count) {
  for (size_t i = 0; i < count; ++i)
    if (!GuardedCopy(spans[i].dst, spans[i].src, spans[i].len)) return false;
  return true;
}

}  // namespace agfx::platform

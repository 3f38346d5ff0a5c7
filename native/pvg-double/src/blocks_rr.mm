// Blocks that capture Objective-C objects retain them when copied, as Apple's
// blocks runtime does under manual retain/release. Test-only (the PVG double).
//
// Debian's libBlocksRuntime keeps its retain hook (_Block_use_RR) private
// and leaves it a no-op, and GNUstep base 1.28 on the GCC runtime exports a
// blocks runtime of its own whose _Block_copy does not copy blocks from
// current clang (it wants the long-gone BLOCK_HAS_DESCRIPTOR flag). The
// double links libBlocksRuntime ahead of GNUstep (so _Block_copy is the real
// one) and defines _Block_object_assign/_Block_object_dispose here, first in
// its own lookup scope: object captures are retained/released, everything
// else (__block variables, nested blocks) goes to libBlocksRuntime. Without
// this, native/pvg's "the inner blocks retained it" would be a use after free
// here and not on a Mac.
#import <Foundation/Foundation.h>
#include <Block.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace {
constexpr int kFieldIsObject = 3;  // BLOCK_FIELD_IS_OBJECT without BLOCK_BYREF_CALLER

using AssignFn = void (*)(void*, const void*, int);
using DisposeFn = void (*)(const void*, int);

void* Runtime() {
  static void* h = [] {
    void* r = dlopen("libBlocksRuntime.so.0", RTLD_NOW | RTLD_NOLOAD);
    if (!r) r = dlopen("libBlocksRuntime.so.0", RTLD_NOW);
    if (!r) {
      std::fprintf(stderr, "pvg-double: libBlocksRuntime.so.0 not found (%s)\n", dlerror());
      std::abort();
    }
    return r;
  }();
  return h;
}
}  // namespace

extern "C" __attribute__((visibility("default"))) void _Block_object_assign(void* dst, const void* obj, const int flags) {
  if (flags == kFieldIsObject) {
    *static_cast<id*>(dst) = [(id)obj retain];
    return;
  }
  static AssignFn real = reinterpret_cast<AssignFn>(dlsym(Runtime(), "_Block_object_assign"));
  real(dst, obj, flags);
}

extern "C" __attribute__((visibility("default"))) void _Block_object_dispose(const void* obj, const int flags) {
  if (flags == kFieldIsObject) {
    [(id)obj release];
    return;
  }
  static DisposeFn real = reinterpret_cast<DisposeFn>(dlsym(Runtime(), "_Block_object_dispose"));
  real(obj, flags);
}

// A copied stack block must be a new heap block that retained what it
// captured; anything else means the link order above is wrong. Run once
// before the first device (not at load: Objective-C is not ready in a
// shared library's constructors under GCC's runtime).
namespace pvgdouble {
void CheckBlocksRuntime() {
  static bool checked = false;
  if (checked) return;
  checked = true;
  @autoreleasepool {
    NSObject* o = [NSObject new];
    NSUInteger before = [o retainCount];
    void (^stack)(void) = ^{ (void)o; };
    void (^heap)(void) = Block_copy(stack);
    bool copied = (void*)heap != (void*)stack;
    NSUInteger held = [o retainCount];
    Block_release(heap);
    NSUInteger after = [o retainCount];
    [o release];
    if (!copied || held != before + 1 || after != before) {
      std::fprintf(stderr,
                   "pvg-double: the blocks runtime in this process does not copy blocks or retain their captures "
                   "(copied=%d, retain count %lu -> %lu -> %lu): link -lBlocksRuntime before -lgnustep-base\n",
                   copied, (unsigned long)before, (unsigned long)held, (unsigned long)after);
      std::abort();
    }
  }
}
}  // namespace pvgdouble

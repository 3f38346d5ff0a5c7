/* GNUstep's GSVersionMacros.h includes <objc/blocks_runtime.h> (libobjc2's
 * name); Debian's GCC Objective-C runtime has none. libblocksruntime-dev
 * provides the same declarations as <Block.h>. Not an Apple SDK stub. */
#include <Block.h>

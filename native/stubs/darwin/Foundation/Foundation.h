/* Stub of <Foundation/Foundation.h> for the Darwin compile check
 * (scripts/check-darwin.sh): zig ships Darwin's libc, Mach, objc and
 * libdispatch headers but no frameworks. Declares only what native/ and the
 * other stubs use, with the SDK's signatures; NSObject itself is the objc
 * runtime's real <objc/NSObject.h>. Nothing here is implemented. */
#ifndef AGFX_STUB_DARWIN_FOUNDATION_H
#define AGFX_STUB_DARWIN_FOUNDATION_H
#include <CoreFoundation/CoreFoundation.h>
#include <objc/NSObject.h>
#include <objc/objc.h>
#include <stdint.h>

#define NS_ASSUME_NONNULL_BEGIN _Pragma("clang assume_nonnull begin")
#define NS_ASSUME_NONNULL_END _Pragma("clang assume_nonnull end")
#ifndef NS_RETURNS_RETAINED
#define NS_RETURNS_RETAINED __attribute__((ns_returns_retained))
#endif
#define NS_ENUM(_type, _name) enum _name : _type _name; enum _name : _type
#define NS_OPTIONS(_type, _name) enum _name : _type _name; enum _name : _type
#define NS_TYPED_EXTENSIBLE_ENUM
#ifdef __cplusplus
#define FOUNDATION_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define FOUNDATION_EXPORT extern __attribute__((visibility("default")))
#endif
#ifndef NSEC_PER_SEC
#define NSEC_PER_SEC 1000000000ull
#endif

NS_ASSUME_NONNULL_BEGIN

typedef double CGFloat;
typedef struct CGSize { CGFloat width; CGFloat height; } CGSize;
typedef CGSize NSSize;
static inline NSSize NSMakeSize(CGFloat w, CGFloat h) {
  NSSize s = {w, h};
  return s;
}

@class NSString;

@protocol NSCopying
- (id)copyWithZone:(nullable struct _NSZone *)zone;
@end

@interface NSString : NSObject <NSCopying>
+ (nullable instancetype)stringWithUTF8String:(const char *)nullTerminatedCString;
@property (nullable, readonly) const char *UTF8String NS_RETURNS_INNER_POINTER;
@property (readonly) const char *fileSystemRepresentation NS_RETURNS_INNER_POINTER;
@property (readonly) NSUInteger length;
- (BOOL)isEqualToString:(NSString *)aString;
@end

typedef NSString *NSErrorDomain;

@interface NSError : NSObject <NSCopying>
@property (readonly, copy) NSErrorDomain domain;
@property (readonly) NSInteger code;
@property (readonly, copy) NSString *localizedDescription;
@end

@interface NSData : NSObject <NSCopying>
+ (instancetype)dataWithBytes:(nullable const void *)bytes length:(NSUInteger)length;
@property (readonly) NSUInteger length;
@property (readonly) const void *bytes NS_RETURNS_INNER_POINTER;
@end

@interface NSArray<__covariant ObjectType> : NSObject <NSCopying>
@property (readonly) NSUInteger count;
- (ObjectType)objectAtIndex:(NSUInteger)index;
- (NSUInteger)countByEnumeratingWithState:(void *)state
                                  objects:(__unsafe_unretained id _Nullable [_Nonnull])buffer
                                    count:(NSUInteger)len;
@end

@interface NSMutableArray<ObjectType> : NSArray<ObjectType>
+ (instancetype)arrayWithCapacity:(NSUInteger)numItems;
- (void)addObject:(ObjectType)anObject;
@end

@interface NSURL : NSObject <NSCopying>
@property (nullable, readonly, copy) NSString *path;
@end

@interface NSAutoreleasePool : NSObject
- (void)drain;
@end

FOUNDATION_EXPORT Class _Nullable NSClassFromString(NSString *aClassName);

NS_ASSUME_NONNULL_END
#endif

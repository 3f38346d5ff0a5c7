/* Stub of <ParavirtualizedGraphics/PGDisplay.h> (public API, macOS 11+). */
#ifndef AGFX_STUB_PGDISPLAY_H
#define AGFX_STUB_PGDISPLAY_H
#import <Foundation/Foundation.h>
#import <AppKit/AppKit.h>
#import <Metal/Metal.h>
#include <dispatch/dispatch.h>
#include <ParavirtualizedGraphics/PGDefines.h>

NS_ASSUME_NONNULL_BEGIN

typedef struct PGDisplayCoord_s {
  uint16_t x;
  uint16_t y;
} PGDisplayCoord_t;

typedef void (^PGDisplayModeChangeHandler)(PGDisplayCoord_t sizeInPixels, OSType pixelFormat);
typedef void (^PGDisplayNewFrameEventHandler)(void);
typedef void (^PGDisplayCursorGlyphHandler)(NSBitmapImageRep *glyph, PGDisplayCoord_t hotSpot);
typedef void (^PGDisplayCursorShowHandler)(BOOL show);
typedef void (^PGDisplayCursorMoveHandler)(void) API_AVAILABLE(macos(11.1));

API_AVAILABLE(macos(11.0))
@interface PGDisplayDescriptor : NSObject
@property (readwrite, nonatomic, copy, nullable) NSString *name;
@property (readwrite, nonatomic) NSSize sizeInMillimeters;
@property (readwrite, nonatomic, retain) dispatch_queue_t queue;
@property (readwrite, nonatomic, copy, nullable) PGDisplayModeChangeHandler modeChangeHandler;
@property (readwrite, nonatomic, copy, nullable) PGDisplayNewFrameEventHandler newFrameEventHandler;
@property (readwrite, nonatomic, copy, nullable) PGDisplayCursorGlyphHandler cursorGlyphHandler;
@property (readwrite, nonatomic, copy, nullable) PGDisplayCursorShowHandler cursorShowHandler;
@property (readwrite, nonatomic, copy, nullable) PGDisplayCursorMoveHandler cursorMoveHandler API_AVAILABLE(macos(11.1));
@end

API_AVAILABLE(macos(11.0))
@interface PGDisplayMode : NSObject
- (nullable instancetype)initWithSizeInPixels:(PGDisplayCoord_t)sizeInPixels refreshRateInHz:(double)refreshRateInHz;
@property (readonly, nonatomic) PGDisplayCoord_t sizeInPixels;
@property (readonly, nonatomic) double refreshRate;
@end

API_AVAILABLE(macos(11.0))
@protocol PGDisplay <NSObject>
@property (readonly, nonatomic, copy, nullable) NSString *name;
@property (readonly, nonatomic) NSSize sizeInMillimeters;
@property (readonly, nonatomic, retain) dispatch_queue_t queue;
@property (readonly, nonatomic, copy, nullable) PGDisplayModeChangeHandler modeChangeHandler;
@property (readonly, nonatomic, copy, nullable) PGDisplayNewFrameEventHandler newFrameEventHandler;
@property (readonly, nonatomic, copy, nullable) PGDisplayCursorGlyphHandler cursorGlyphHandler;
@property (readonly, nonatomic, copy, nullable) PGDisplayCursorShowHandler cursorShowHandler;
@property (readonly, nonatomic, copy, nullable) PGDisplayCursorMoveHandler cursorMoveHandler API_AVAILABLE(macos(11.1));
@property (readonly, nonatomic) PGDisplayCoord_t cursorPosition;
@property (readonly, nonatomic) uint32_t serialNum;
@property (readonly, nonatomic) NSUInteger port;
@property (readonly, nonatomic) MTLTextureUsage minimumTextureUsage;
@property (readonly, nonatomic) NSUInteger guestPresentCount;
@property (readonly, nonatomic) NSUInteger hostPresentCount;
@property (readwrite, nonatomic, copy) NSArray<PGDisplayMode *> *modeList;
- (bool)encodeCurrentFrameToCommandBuffer:(id<MTLCommandBuffer>)commandBuffer
                                  texture:(id<MTLTexture>)texture
                                   region:(MTLRegion)region;
@end

NS_ASSUME_NONNULL_END
#endif

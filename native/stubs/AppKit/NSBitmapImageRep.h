/* Stub of AppKit's NSImageRep / NSBitmapImageRep: the members native/pvg uses. */
#ifndef AGFX_STUB_NSBITMAPIMAGEREP_H
#define AGFX_STUB_NSBITMAPIMAGEREP_H
#import <Foundation/Foundation.h>

@interface NSImageRep : NSObject
@property NSInteger pixelsWide;
@property NSInteger pixelsHigh;
@end

@interface NSBitmapImageRep : NSImageRep
@property (readonly) unsigned char *bitmapData;
@property (readonly) NSInteger bitsPerPixel;
@property (readonly) NSInteger bytesPerRow;
@end
#endif

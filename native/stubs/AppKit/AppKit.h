/* Stub of <AppKit/AppKit.h>: only NSBitmapImageRep (PVG cursor glyphs). */
#import <AppKit/NSBitmapImageRep.h>

/* Stub of the ParavirtualizedGraphics umbrella header. */
#include <ParavirtualizedGraphics/PGDefines.h>
#import <ParavirtualizedGraphics/PGDevice.h>
#import <ParavirtualizedGraphics/PGDisplay.h>
#include <ParavirtualizedGraphics/PGDeviceSpec.h>

/* Stub of <ParavirtualizedGraphics/PGDeviceSpec.h> (values of the 12.1 SDK). */
#ifndef AGFX_STUB_PGDEVICESPEC_H
#define AGFX_STUB_PGDEVICESPEC_H
#define PG_PCI_BAR_MMIO 0
#define PG_PCI_MAX_MSI_VECTORS 1
#define PG_PCI_VENDOR_ID 0x106b
#define PG_PCI_DEVICE_ID 0xeeee
#endif

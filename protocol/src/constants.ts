// vfio-user wire constants (QEMU docs/interop/vfio-user.rst, hw/vfio-user/protocol.h).

export const HEADER_SIZE = 16;

export const Command = {
  VERSION: 1,
  DMA_MAP: 2,
  DMA_UNMAP: 3,
  DEVICE_GET_INFO: 4,
  DEVICE_GET_REGION_INFO: 5,
  DEVICE_GET_REGION_IO_FDS: 6,
  DEVICE_GET_IRQ_INFO: 7,
  DEVICE_SET_IRQS: 8,
  REGION_READ: 9,
  REGION_WRITE: 10,
  DMA_READ: 11,
  DMA_WRITE: 12,
  DEVICE_RESET: 13,
  DIRTY_PAGES: 14,
  REGION_WRITE_MULTI: 15,
  DEVICE_FEATURE: 16,
  MIG_DATA_READ: 17,
  MIG_DATA_WRITE: 18,
} as const;
export type CommandId = (typeof Command)[keyof typeof Command];

const commandNames = new Map<number, string>(Object.entries(Command).map(([name, id]) => [id, name]));
export function commandName(id: number): string {
  return commandNames.get(id) ?? `UNKNOWN(${id})`;
}

/** Header flags. Bits 0-3 are the message type. */
export const MsgFlag = {
  TYPE_MASK: 0xf,
  TYPE_COMMAND: 0,
  TYPE_REPLY: 1,
  NO_REPLY: 0x10,
  ERROR: 0x20,
  KNOWN: 0x3f,
} as const;

export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  ENOTSUP: 95,
  E2BIG: 7,
  ETIMEDOUT: 110,
  EFBIG: 27,
} as const;

export const DmaFlag = { READ: 1 << 0, WRITE: 1 << 1 } as const;
export const DmaUnmapFlag = { GET_DIRTY_BITMAP: 1 << 0, ALL: 1 << 1 } as const;

export const DeviceFlag = { RESET: 1 << 0, PCI: 1 << 1 } as const;

export const RegionFlag = { READ: 1 << 0, WRITE: 1 << 1, MMAP: 1 << 2, CAPS: 1 << 3 } as const;
export const RegionCap = { SPARSE_MMAP: 1, TYPE: 2 } as const;

export const PciRegion = {
  BAR0: 0,
  BAR1: 1,
  BAR2: 2,
  BAR3: 3,
  BAR4: 4,
  BAR5: 5,
  ROM: 6,
  CONFIG: 7,
  VGA: 8,
  COUNT: 9,
} as const;

export const PciIrq = { INTX: 0, MSI: 1, MSIX: 2, ERR: 3, REQ: 4, COUNT: 5 } as const;

export const IrqInfoFlag = { EVENTFD: 1 << 0, MASKABLE: 1 << 1, AUTOMASKED: 1 << 2, NORESIZE: 1 << 3 } as const;

export const IrqSetFlag = {
  DATA_NONE: 1 << 0,
  DATA_BOOL: 1 << 1,
  DATA_EVENTFD: 1 << 2,
  ACTION_MASK: 1 << 3,
  ACTION_UNMASK: 1 << 4,
  ACTION_TRIGGER: 1 << 5,
  DATA_MASK: 0x7,
  ACTION_MASK_ALL: 0x38,
} as const;

/** QEMU's limits (hw/vfio-user/protocol.h). */
export const Limits = {
  /** QEMU's receive buffer for the VERSION reply (docs/design.md P1): the whole reply must fit. */
  VERSION_REPLY_MAX: 214,
  /** The most fds QEMU accepts as our max_msg_fds. */
  MAX_MAX_FDS: 16,
  DEFAULT_MAX_DATA_XFER: 1 << 20,
  MAX_MAX_DATA_XFER: 64 << 20,
  DEFAULT_MAX_DMA_MAPS: 65535,
  MULTI_MAX: 200,
  MULTI_DATA: 8,
} as const;

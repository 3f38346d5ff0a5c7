/*
 * The soft device's guest interface (docs/soft-device.md): BAR0 registers,
 * their bits, the IOSFC region (variant mmio), the ring entry, opcodes,
 * command statuses and the limits a guest can run into. The one definition:
 * the device (native/soft/), the guest program (test/guest/soft-driver.c), the
 * fuzzer (native/fuzz/soft_device_fuzz.cc) include it, and
 * test/unit/soft-guest-abi.test.ts checks test/support/soft-ring.ts against
 * it. Plain C (C11 and C++), no dependencies: a guest program can include it.
 *
 * Everything is little-endian, as on the hosts and guests this runs on.
 */
#ifndef AGFX_SOFT_H
#define AGFX_SOFT_H

#include <stdint.h>

/* ---- identity (registers ID and VERSION) */
#define AGFX_SOFT_ID 0x58464741u      /* "AGFX" in little-endian bytes */
#define AGFX_SOFT_VERSION 0x00010001u /* major << 16 | minor: 1.1 (1.1: the display port registers) */

/* ---- BAR0 registers (32-bit; the device's from 0x1000) */
enum agfx_soft_reg {
  AGFX_SOFT_REG_ID = 0x1000,
  AGFX_SOFT_REG_VERSION = 0x1004,
  AGFX_SOFT_REG_SCRATCH = 0x1008,
  AGFX_SOFT_REG_IRQ_TEST = 0x100C,
  AGFX_SOFT_REG_STATUS = 0x1010,
  AGFX_SOFT_REG_CONTROL = 0x1014,
  AGFX_SOFT_REG_IRQ_STATUS = 0x1018,
  AGFX_SOFT_REG_RING_BASE_LO = 0x1020,
  AGFX_SOFT_REG_RING_BASE_HI = 0x1024,
  AGFX_SOFT_REG_RING_ENTRIES = 0x1028,
  AGFX_SOFT_REG_RING_HEAD = 0x102C,
  AGFX_SOFT_REG_RING_TAIL = 0x1030,
  AGFX_SOFT_REG_DOORBELL = 0x1034,
  AGFX_SOFT_REG_FENCE_LO = 0x1038,
  AGFX_SOFT_REG_FENCE_HI = 0x103C,
  AGFX_SOFT_REG_COMPLETED = 0x1040,
  AGFX_SOFT_REG_ERRORS = 0x1044,
  AGFX_SOFT_REG_LAST_ERROR = 0x1048,
  AGFX_SOFT_REG_DISPLAYS = 0x104C,
  /* display ports as the guest sees them (1.1): PORT_SELECT picks the port
   * the PORT_* registers describe, PORT_MODE_INDEX the mode of its list */
  AGFX_SOFT_REG_PORT_SELECT = 0x1050,
  AGFX_SOFT_REG_PORT_STATUS = 0x1054,
  AGFX_SOFT_REG_PORT_GENERATION = 0x1058,
  AGFX_SOFT_REG_PORT_MODE_COUNT = 0x105C,
  AGFX_SOFT_REG_PORT_MODE_INDEX = 0x1060,
  AGFX_SOFT_REG_PORT_MODE_SIZE = 0x1064,
  AGFX_SOFT_REG_PORT_MODE_RATE = 0x1068,
  AGFX_SOFT_REG_PORT_CURRENT = 0x106C,
  AGFX_SOFT_REG_DISPLAY_CHANGED = 0x1070,
  AGFX_SOFT_REG_DISPLAY_IRQ = 0x1074,
};

/* PORT_STATUS bits */
enum agfx_soft_port_status_bit {
  AGFX_SOFT_PORT_ATTACHED = 1,
};
/* DISPLAY_IRQ bits */
enum agfx_soft_display_irq_bit {
  AGFX_SOFT_DISPLAY_IRQ_ENABLE = 1, /* raise vector 0 when a DISPLAY_CHANGED bit is set */
};
/* PORT_MODE_SIZE and PORT_CURRENT: width | height << 16 */
#define AGFX_SOFT_SIZE_WIDTH(v) ((uint32_t)(v) & 0xFFFFu)
#define AGFX_SOFT_SIZE_HEIGHT(v) ((uint32_t)(v) >> 16)

/* STATUS bits */
enum agfx_soft_status_bit {
  AGFX_SOFT_STATUS_RING_READY = 1,
  AGFX_SOFT_STATUS_BUSY = 2,
  AGFX_SOFT_STATUS_HALTED = 4,
  AGFX_SOFT_STATUS_IDLE = 8,
};

/* IRQ_STATUS bits (write 1 to clear) */
enum agfx_soft_irq_bit {
  AGFX_SOFT_IRQ_FENCE = 1,
  AGFX_SOFT_IRQ_ERROR = 2,
};

/* CONTROL */
#define AGFX_SOFT_CONTROL_RESET 1u
/* DOORBELL: 0 processes the ring asynchronously; 1 returns when it is drained */
#define AGFX_SOFT_DOORBELL_ASYNC 0u
#define AGFX_SOFT_DOORBELL_SYNC 1u

/* ---- IOSFC region (variant mmio; raises vector 1 after each COMMAND) */
enum agfx_soft_iosfc_reg {
  AGFX_SOFT_IOSFC_GPA_LO = 0x00,
  AGFX_SOFT_IOSFC_GPA_HI = 0x04,
  AGFX_SOFT_IOSFC_LENGTH = 0x08,
  AGFX_SOFT_IOSFC_COMMAND = 0x0C,
  AGFX_SOFT_IOSFC_HANDLE = 0x10,
  AGFX_SOFT_IOSFC_STATUS = 0x14,
  AGFX_SOFT_IOSFC_PEEK_OFFSET = 0x18,
  AGFX_SOFT_IOSFC_PEEK_DATA = 0x1C,
  AGFX_SOFT_IOSFC_MAPPED = 0x20,
};
enum agfx_soft_iosfc_command {
  AGFX_SOFT_IOSFC_MAP_RO = 1,
  AGFX_SOFT_IOSFC_MAP_RW = 2,
  AGFX_SOFT_IOSFC_UNMAP = 3,
};
#define AGFX_SOFT_IOSFC_BAD_PEEK 0xFFFFFFFFu /* PEEK_DATA out of range */

/* ---- the command ring */
/* One 64-byte entry. The driver writes opcode, flags and a[]; it sets status
 * to AGFX_SOFT_ST_PENDING; the device writes status and result. */
typedef struct agfx_soft_entry {
  uint32_t opcode;
  uint32_t flags;
  uint32_t status;
  uint32_t result;
  uint64_t a[6];
} agfx_soft_entry;

/* TASK_MAP's range list: a3 of these at GPA a2. */
typedef struct agfx_soft_range {
  uint64_t gpa;
  uint64_t len;
} agfx_soft_range;

#ifdef __cplusplus
static_assert(sizeof(agfx_soft_entry) == 64, "a ring entry is 64 bytes");
static_assert(sizeof(agfx_soft_range) == 16, "a range is 16 bytes");
#else
_Static_assert(sizeof(agfx_soft_entry) == 64, "a ring entry is 64 bytes");
_Static_assert(sizeof(agfx_soft_range) == 16, "a range is 16 bytes");
#endif

enum agfx_soft_op {
  AGFX_SOFT_OP_NOP = 0,
  AGFX_SOFT_OP_TASK_CREATE = 1,  /* a0 task id, a1 size */
  AGFX_SOFT_OP_TASK_DESTROY = 2, /* a0 task id */
  AGFX_SOFT_OP_TASK_MAP = 3,     /* a0 task, a1 offset, a2 range-list GPA, a3 count, a4 read-only */
  AGFX_SOFT_OP_TASK_UNMAP = 4,   /* a0 task, a1 offset, a2 length */
  AGFX_SOFT_OP_CHECKSUM = 5,     /* a0 task, a1 offset, a2 length; result: FNV-1a */
  AGFX_SOFT_OP_SET_MODE = 6,     /* a0 port, a1 width, a2 height */
  AGFX_SOFT_OP_PRESENT = 7,      /* a0 port, a1 task, a2 offset, a3 stride, a4 format, a5 damage rect or 0 */
  AGFX_SOFT_OP_CURSOR_GLYPH = 8, /* a0 port, a1 task, a2 offset, a3 w | h << 16, a4 hot x | hot y << 16 */
  AGFX_SOFT_OP_CURSOR_SHOW = 9,  /* a0 port, a1 0/1 */
  AGFX_SOFT_OP_CURSOR_MOVE = 10, /* a0 port, a1 x, a2 y */
  AGFX_SOFT_OP_FENCE = 11,       /* a0 value, a1 vector */
  AGFX_SOFT_OP_COPY_RECT = 12,   /* a0 port, a1 src x | y << 16, a2 dst x | y << 16, a3 w | h << 16 */
};

/* Command statuses (an entry's status, LAST_ERROR, IOSFC STATUS). */
enum agfx_soft_cmd_status {
  AGFX_SOFT_ST_OK = 0,
  AGFX_SOFT_ST_BAD_OPCODE = 1,
  AGFX_SOFT_ST_BAD_ARGS = 2,
  AGFX_SOFT_ST_NO_TASK = 3,
  AGFX_SOFT_ST_TASK_EXISTS = 4,
  AGFX_SOFT_ST_MAP_FAILED = 5,
  AGFX_SOFT_ST_OUT_OF_RANGE = 6,
  AGFX_SOFT_ST_NO_DISPLAY = 7,
  AGFX_SOFT_ST_BAD_MODE = 8,
  AGFX_SOFT_ST_NO_MEMORY = 9,
  AGFX_SOFT_ST_NOT_MAPPED = 10,
  AGFX_SOFT_ST_GUEST_MEMORY = 11,
  AGFX_SOFT_ST_COUNT = 12, /* how many there are */
};
#define AGFX_SOFT_ST_PENDING 0xFFFFFFFFu /* written by the driver, replaced by the device */

/* PRESENT's a4 (as agfx_backend.h's agfx_pixel_format) */
enum agfx_soft_format {
  AGFX_SOFT_FORMAT_BGRA8 = 0,
  AGFX_SOFT_FORMAT_XRGB8 = 1,
};

/* CHECKSUM: 32-bit FNV-1a */
#define AGFX_SOFT_FNV_BASIS 0x811C9DC5u
#define AGFX_SOFT_FNV_PRIME 0x01000193u

/* ---- limits */
#define AGFX_SOFT_PORTS 4u                  /* DISPLAYS */
#define AGFX_SOFT_PAGE 4096u                /* alignment of GPAs, task offsets and sizes */
#define AGFX_SOFT_MAX_TASKS 64u             /* task ids 1 .. 63 */
#define AGFX_SOFT_MAX_TASK_SIZE (1ull << 30)
#define AGFX_SOFT_MAX_RANGES 256u           /* TASK_MAP range count */
#define AGFX_SOFT_MAX_CHECKSUM_LEN (64ull << 20) /* also the IOSFC LENGTH limit */
#define AGFX_SOFT_MAX_RING_ENTRIES 4096u    /* a power of two from 1 */
#define AGFX_SOFT_ENTRY_SIZE 64u
#define AGFX_SOFT_MAX_GLYPH 256u            /* cursor width and height */
#define AGFX_SOFT_MAX_STRIDE (1u << 20)     /* PRESENT a3 */
#define AGFX_SOFT_MAX_IOSFC_HANDLES 65535u

#endif /* AGFX_SOFT_H */

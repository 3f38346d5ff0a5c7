/*
 * apple-gfxd backend ABI.
 *
 * Every graphics backend (soft, pvg, or a shared library loaded with
 * --backend lib:PATH) implements `agfx_backend` and is driven by the daemon.
 * The daemon gives the backend `agfx_host`: the host services PVG asks of a
 * VMM (tasks, guest memory, IOSFC mapping, interrupts) and the display event
 * sinks. The shape follows PVG's host contract (PGDeviceDescriptor blocks,
 * PGDisplay handlers) in plain C.
 *
 * Threading contract (docs/design.md invariant 1):
 *  - Every host service may be called from any backend thread, concurrently,
 *    including while an mmio_read/mmio_write call is in progress on another
 *    thread. None of them ever waits for the daemon's JS thread.
 *  - Display events (new_frame, mode_changed, cursor_*) are fire-and-forget:
 *    they copy what they need and return at once.
 *  - Calls from the daemon into the backend (mmio_*, reset, displays) never
 *    hold a lock that a host service takes.
 *  - mmio_read/mmio_write come from the connected client's data-plane thread
 *    (one at a time: one client, one message after the other), never from
 *    the daemon's JS thread. The other calls never overlap one another:
 *    displays, frames, cursor and memory_map_changed come from the JS
 *    thread; reset, save_state/restore_state, set_running and
 *    guest_memory_gone, which may take long, from a thread the daemon starts
 *    for the call (docs/design.md, "Long backend calls"). Any of them may run
 *    while an MMIO call is in progress on the data-plane thread.
 *    Only calls the client orders are ordered with its MMIO: DEVICE_RESET's
 *    reset, migration's set_running and restore_state, memory_map_changed
 *    for its DMA_MAP/UNMAP never overlap an mmio call; a control-API call
 *    (display hot-plug, `ctl reset`, `ctl restore`) may. An mmio call may block (PVG's
 *    may wait on the main queue): it delays that client only.
 *
 * Versioning: `abi_version` must equal AGFX_BACKEND_ABI_VERSION; structs carry
 * their own `struct_size` so that fields can be appended compatibly.
 */
#ifndef AGFX_BACKEND_H
#define AGFX_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AGFX_BACKEND_ABI_VERSION 1u
/* The symbol a lib:PATH backend exports. */
#define AGFX_BACKEND_ENTRY_SYMBOL "agfx_backend_entry"

enum agfx_region { AGFX_REGION_GFX = 0, AGFX_REGION_IOSFC = 1 };
enum agfx_variant { AGFX_VARIANT_PCI = 0, AGFX_VARIANT_MMIO = 1 };
enum agfx_memory_model {
  /* createTask/mapMemory callbacks (PVG on macOS 11 to 15.3). */
  AGFX_MEMORY_TASKS = 0,
  /* the whole guest-RAM map handed over at once (PGMemoryMapDescriptor, 15.4+). */
  AGFX_MEMORY_STATIC_MAP = 1,
};
/* Pixel formats of frames and cursor glyphs (little-endian byte order names). */
enum agfx_pixel_format { AGFX_FORMAT_BGRA8 = 0, AGFX_FORMAT_XRGB8 = 1 };

/* Off-display cursor position sentinel (PVG's {0xffff, 0xffff}). */
#define AGFX_CURSOR_OFF_DISPLAY 0xffffu

typedef struct agfx_task agfx_task; /* owned by the host */

typedef struct agfx_phys_range {
  uint64_t gpa;
  uint64_t len;
} agfx_phys_range;

/* One range of the static memory map: guest-physical -> host address. */
typedef struct agfx_memory_range {
  uint64_t gpa;
  uint64_t len;
  void *host;
} agfx_memory_range;

typedef struct agfx_display_mode {
  uint16_t width;
  uint16_t height;
  uint32_t refresh_millihz; /* 60 Hz = 60000 */
} agfx_display_mode;

#define AGFX_MAX_MODES 128u

typedef struct agfx_host {
  size_t struct_size;
  void *opaque; /* passed back as the first argument of every call */

  /* -- tasks (AGFX_MEMORY_TASKS) -------------------------------------- */
  /* Reserves vm_size bytes of contiguous host address space. NULL on failure. */
  agfx_task *(*create_task)(void *opaque, uint64_t vm_size, void **base);
  void (*destroy_task)(void *opaque, agfx_task *task);
  /* Maps `count` guest ranges back to back from base + virtual_offset, as
   * aliases of guest RAM. False if any range is not shared guest RAM or falls
   * outside the task; the ranges that could be mapped stay mapped (PVG). */
  bool (*map_memory)(void *opaque, agfx_task *task, uint64_t virtual_offset,
                     const agfx_phys_range *ranges, uint32_t count, bool read_only);
  /* Replaces the range with fresh inaccessible pages, keeping the reservation. */
  bool (*unmap_memory)(void *opaque, agfx_task *task, uint64_t virtual_offset, uint64_t length);

  /* -- guest memory ---------------------------------------------------- */
  bool (*read_memory)(void *opaque, uint64_t gpa, uint64_t len, void *dst);
  bool (*write_memory)(void *opaque, uint64_t gpa, uint64_t len, const void *src);
  /* Snapshot of the static map (AGFX_MEMORY_STATIC_MAP). Returns the number of
   * ranges, writing at most `max` of them. It holds no reference: a host
   * pointer may be unmapped by the next DMA_UNMAP, so only copy through it
   * with a fault-safe copy (process_vm_readv), or use memory_map_acquire. */
  uint32_t (*memory_map)(void *opaque, agfx_memory_range *out, uint32_t max);

  /* -- interrupts ------------------------------------------------------ */
  /* Thread-safe; an eventfd write. Dropped when the vector is not enabled. */
  void (*raise_interrupt)(void *opaque, uint32_t vector);

  /* -- IOSFC (variant mmio) -------------------------------------------- */
  /* Host address aliasing [gpa, gpa+len) of guest RAM, or NULL. Arithmetic on
   * the guest-memory table plus a reference count: no syscall. */
  void *(*iosfc_map)(void *opaque, uint64_t gpa, uint64_t len, bool read_only);
  bool (*iosfc_unmap)(void *opaque, void *host);

  /* -- display events (fire-and-forget) --------------------------------- */
  void (*new_frame)(void *opaque, uint32_t port);
  void (*mode_changed)(void *opaque, uint32_t port, uint32_t width, uint32_t height, uint32_t format);
  /* BGRA8, `stride` bytes per row; copied before return. */
  void (*cursor_glyph)(void *opaque, uint32_t port, const uint8_t *pixels, uint32_t width,
                       uint32_t height, uint32_t stride, uint32_t hot_x, uint32_t hot_y);
  void (*cursor_show)(void *opaque, uint32_t port, bool show);
  void (*cursor_moved)(void *opaque, uint32_t port, uint32_t x, uint32_t y);
  /* A problem caused by the guest (bad command, bad address): logged as
   * apple_gfx_guest_error. Fire-and-forget. */
  void (*guest_error)(void *opaque, const char *message);

  /* -- static map with references (appended: present when struct_size
   *    covers them) ------------------------------------------------------ */
  /* memory_map for a backend that hands the host pointers on and keeps
   * using them (PGMemoryMapDescriptor): the returned snapshot holds a
   * reference on every region it lists, so each listed [host, host+len)
   * stays mapped until memory_map_release, even if the VMM unmaps the
   * region (DMA_UNMAP) meanwhile; the unmap then happens at release. The
   * memory may by then be reused by the guest for something else: the
   * reference only keeps the mapping, not the contents, valid.
   * Returns the snapshot and sets *count to the number of ranges written
   * when all of them fit in `max` (an empty table gives a snapshot with
   * *count = 0). Returns NULL when they do not fit (*count = how many
   * there are: call again with room for them) or on failure (*count = 0).
   * Any thread; never waits for the JS thread. */
  void *(*memory_map_acquire)(void *opaque, agfx_memory_range *out, uint32_t max, uint32_t *count);
  /* Drops a snapshot's references, exactly once per snapshot. Any thread,
   * including a backend's own; a region the VMM has unmapped meanwhile is
   * unmapped here, on the calling thread, and nothing else waits for it. */
  void (*memory_map_release)(void *opaque, void *snapshot);

  /* -- tasks as QEMU's apple-gfx makes them (appended) ------------------ */
  /* create_task, but the reservation and every hole (never mapped, or
   * unmapped by unmap_memory or a DMA_UNMAP) are read-write zero-fill
   * memory, and a read_only alias never faults on a write (read-only guest
   * RAM is mapped copy-on-write, writable RAM stays writable): a GPU-like
   * access anywhere in the task never kills the daemon. What PVG expects
   * (pvg-on-a-mac.md finding 9); create_task keeps holes inaccessible. */
  agfx_task *(*create_task_zero_fill)(void *opaque, uint64_t vm_size, void **base);
} agfx_host;

/* True when `host` (whose struct_size the caller trusts) carries `field`. */
#define AGFX_HOST_HAS(host, field) \
  ((host)->struct_size >= offsetof(agfx_host, field) + sizeof(((agfx_host *)0)->field) && (host)->field != NULL)

typedef struct agfx_device_config {
  size_t struct_size;
  uint32_t variant;            /* enum agfx_variant */
  uint32_t memory_model;       /* enum agfx_memory_model */
  uint32_t display_port_count; /* displays the device may attach (<= max_display_ports) */
} agfx_device_config;

typedef struct agfx_frame_info {
  uint32_t width;
  uint32_t height;
  uint32_t stride;
  uint32_t format;    /* enum agfx_pixel_format */
  uint64_t sequence;  /* frames presented on this display so far */
} agfx_frame_info;

typedef struct agfx_rect {
  uint32_t x, y, width, height; /* width or height 0: empty */
} agfx_rect;

/*
 * Damage-tracked read-out (update_frame). Every change of a display's pixels
 * (a present, a blit, a mode change, a reset) makes a new frame version. The
 * caller's buffer holds version `since`; the backend tells what changed from
 * that version to the current one and copies just those pixels.
 *
 * What changed is one optional move, then up to AGFX_MAX_DAMAGE damaged
 * rectangles: a viewer that holds version `since` gets the current frame by
 * copying the rectangle at (move_src_x, move_src_y, move.width, move.height)
 * of its own image to (move.x, move.y) first, then replacing the damage
 * rectangles with the new pixels. A second move folds into the damage, and
 * more rectangles than fit are merged. When the backend cannot tell (since is
 * 0, too old, or before a mode change), `full` is set and the whole frame is
 * copied.
 */
#define AGFX_MAX_DAMAGE 16u
typedef struct agfx_frame_update {
  size_t struct_size;   /* sizeof(agfx_frame_update) */
  uint64_t since;       /* in: the version the caller's buffer holds; 0: none */
  uint64_t version;     /* out: the version the buffer holds now */
  bool full;            /* out: the whole frame was copied */
  agfx_rect move;       /* out: destination of the move; width 0: no move */
  uint32_t move_src_x, move_src_y;
  uint32_t damage_count; /* out: rectangles in damage[] */
  agfx_rect damage[AGFX_MAX_DAMAGE]; /* out: replaced after the move */
} agfx_frame_update;

typedef struct agfx_device agfx_device; /* owned by the backend */

typedef struct agfx_backend {
  uint32_t abi_version; /* AGFX_BACKEND_ABI_VERSION */
  size_t struct_size;
  const char *name;

  /* NULL on failure, with a message in err. The host outlives the device. */
  agfx_device *(*create)(const agfx_device_config *config, const agfx_host *host, char *err,
                         size_t err_len);
  void (*destroy)(agfx_device *dev);

  /* Aligned 4-byte accesses; the daemon splits 8-byte ones. */
  uint32_t (*mmio_read)(agfx_device *dev, uint32_t region, uint64_t offset);
  void (*mmio_write)(agfx_device *dev, uint32_t region, uint64_t offset, uint32_t value);
  /* Blocking reset to the power-on state. */
  void (*reset)(agfx_device *dev);

  /* Displays: attach hot-plugs with a mode list (first mode preferred),
   * set_modes replaces the list, detach hot-unplugs. */
  bool (*attach_display)(agfx_device *dev, uint32_t port, uint32_t serial, const char *name,
                         const agfx_display_mode *modes, uint32_t mode_count);
  bool (*set_modes)(agfx_device *dev, uint32_t port, const agfx_display_mode *modes,
                    uint32_t mode_count);
  bool (*detach_display)(agfx_device *dev, uint32_t port);
  /* Copies the current frame; false if none or dst is too small. */
  bool (*read_frame)(agfx_device *dev, uint32_t port, void *dst, size_t dst_len,
                     agfx_frame_info *info);
  /* AGFX_CURSOR_OFF_DISPLAY when the cursor is not on this display. */
  bool (*cursor_position)(agfx_device *dev, uint32_t port, uint32_t *x, uint32_t *y);

  /* Static memory model: the guest-memory table changed (DMA_MAP/UNMAP). */
  void (*memory_map_changed)(agfx_device *dev);

  /* Device state (optional: NULL when unsupported). save_state returns a
   * blob allocated by the backend, released with free_state; its format is
   * the backend's own (for pvg, the framework's suspend state). The device
   * keeps running. restore_state replaces the state of a device whose
   * displays are attached and whose guest memory is shared; on failure it
   * leaves the device reset and explains in err. */
  bool (*save_state)(agfx_device *dev, void **blob, size_t *len);
  void (*free_state)(agfx_device *dev, void *blob);
  bool (*restore_state)(agfx_device *dev, const void *blob, size_t len, char *err, size_t err_len);
  /* Quiesce (false) or resume (true) the device, as PVG's pause/unpause:
   * while stopped it touches no guest memory and raises no interrupts; MMIO is
   * still answered. Returns when the device is quiet. Optional. */
  void (*set_running)(agfx_device *dev, bool running);

  /* Damage-tracked read-out (optional: NULL makes the daemon read whole frames
   * with read_frame and compare them). dst holds frame version update->since
   * in packed rows (width * 4 bytes each) of the current mode; the backend
   * brings it to the current version, copying into dst only the pixels of the
   * move's destination and of the damage rectangles (see agfx_frame_update). False,
   * with *info set, if the display is not attached or dst_len is too small. */
  bool (*update_frame)(agfx_device *dev, uint32_t port, void *dst, size_t dst_len,
                       agfx_frame_info *info, agfx_frame_update *update);

  /* Appended (optional: NULL, or a smaller struct_size, means absent). */
  /* 8-byte accesses passed whole, for registers that are 64 bits wide
   * (PVG's IOSurface device). Without them the daemon splits an 8-byte access
   * into two mmio_* calls, low dword first. Aligned to 8. */
  uint64_t (*mmio_read64)(agfx_device *dev, uint32_t region, uint64_t offset);
  void (*mmio_write64)(agfx_device *dev, uint32_t region, uint64_t offset, uint64_t value);
  /* The size the backend wants for a region's BAR (a power of two), or 0 for
   * the daemon's default: PVG's [PGDeviceDescriptor new].mmioLength for
   * BAR0, as QEMU sizes it. Asked once, after create. */
  uint64_t (*region_size)(agfx_device *dev, uint32_t region);
  /* The most display ports a device of this backend can have on this host:
   * the daemon creates devices with display_port_count up to it and offers
   * that many ports. Called before create, from the daemon's thread.
   * Optional: NULL, or a library built before the field existed, means
   * AGFX_DEFAULT_DISPLAY_PORTS. */
  uint32_t (*max_display_ports)(void);
  /* The VMM is gone (its vfio-user client disconnected), and with it its
   * guest memory: drop everything that reaches it, as libvfio-user's
   * vfu_reset_ctx does on a lost connection. After the call returns the
   * device holds no task (destroy_task), no IOSFC mapping (iosfc_unmap), no
   * static-map snapshot (memory_map_release) and no guest-physical address
   * through which the next VMM could observe the old guest's memory (IOSFC
   * handles, ring or queue pointers); it may keep what the next VMM could
   * need and that holds no guest memory (displays, plain registers). Called
   * off the daemon's JS thread, with no other call in flight, before the daemon
   * empties the guest-memory table; memory_map_changed follows. Optional:
   * without it the daemon logs what the backend still holds
   * (docs/security.md, "A client leaving"). */
  void (*guest_memory_gone)(agfx_device *dev);
} agfx_backend;

/* The display ports of a backend that does not say (max_display_ports). */
#define AGFX_DEFAULT_DISPLAY_PORTS 4u

typedef const agfx_backend *(*agfx_backend_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif /* AGFX_BACKEND_H */

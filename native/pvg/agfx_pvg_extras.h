/*
 * Extra C entry points of the pvg backend (macOS only), beside the generic
 * backend ABI in agfx_backend.h: the backend table itself, options the ABI
 * has no field for, suspend/resume, and the PCI option ROM.
 *
 * Threading: like the ABI calls, call these from the daemon's threads, never
 * from a host-service callback or display handler (they serialise with MMIO
 * on the device's gate, which those never take).
 */
#ifndef AGFX_PVG_EXTRAS_H
#define AGFX_PVG_EXTRAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agfx_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The pvg backend table (name "pvg"). */
const agfx_backend *agfx_pvg_backend(void);

/*
 * Device options the ABI config has no field for. Pass this struct as the
 * `config` of create() with config.struct_size = sizeof(agfx_pvg_device_config);
 * a plain agfx_device_config (smaller struct_size) gets the defaults.
 */
enum agfx_pvg_isolation {
  AGFX_PVG_ISOLATION_DEFAULT = 0, /* on with the static memory map, n/a with tasks */
  AGFX_PVG_ISOLATION_ON = 1,      /* enableProcessIsolation = YES (GPU work in a sandboxed process) */
  AGFX_PVG_ISOLATION_OFF = 2,
};
typedef struct agfx_pvg_device_config {
  agfx_device_config base; /* base.struct_size = sizeof(agfx_pvg_device_config) */
  uint32_t process_isolation; /* enum agfx_pvg_isolation */
} agfx_pvg_device_config;

/* [PGDeviceDescriptor new].mmioLength: the BAR0 size to advertise (0 if PVG is unavailable). */
size_t agfx_pvg_default_mmio_length(void);
/* PGMaxDisplayPortCount() on macOS 13+, else 1. */
uint32_t agfx_pvg_max_display_ports(void);
/* Which memory models this host supports: bit (1 << enum agfx_memory_model). */
uint32_t agfx_pvg_supported_memory_models(void);

/*
 * The backend table's save_state / restore_state / set_running already do
 * PVG's whole suspend/resume (a PGDevice swap inside the same agfx_device)
 * and pause/unpause; the calls below are the same steps one by one, for a
 * caller that must put something between them (e.g. halting vCPUs).
 *
 * Suspend (save). agfx_pvg_suspend_begin calls -willSuspend: the device raises
 * no new interrupts and takes no new guest commands; halt the guest's vCPUs
 * promptly after it. agfx_pvg_suspend_finish calls -finishSuspend (may take
 * long while GPU work drains), returns the state blob in *blob / *len (free
 * with agfx_pvg_free) and releases the PGDevice, as PVG requires. The
 * agfx_device stays valid without one (MMIO reads 0, writes are dropped, its
 * displays are unplugged) until agfx_pvg_resume_begin or reset() creates a
 * fresh PGDevice; destroy() is fine too.
 */
void agfx_pvg_suspend_begin(agfx_device *dev);
bool agfx_pvg_suspend_finish(agfx_device *dev, void **blob, size_t *len, char *err, size_t err_len);

/*
 * Resume (restore). agfx_pvg_resume_begin calls
 * -willResumeWithSuspendState:error: as the first call on a fresh PGDevice:
 * if the device's PGDevice was used (any MMIO, display or reset since it was
 * created) it is released and replaced first, its displays unplugged. Guest
 * vCPUs must not run yet. Returns NULL on success, else a message
 * (PGResumeErrorCode mapped to plain words) valid until the next call on this
 * device; on failure the device is left reset (a plain fresh PGDevice). Then
 * attach the displays again, make guest RAM accessible and call
 * agfx_pvg_resume_finish (-didResume; may raise an interrupt).
 */
const char *agfx_pvg_resume_begin(agfx_device *dev, const void *blob, size_t len);
void agfx_pvg_resume_finish(agfx_device *dev);

/*
 * The PCI option ROM: PGCopyOptionROMURL()'s contents, zero-padded to a power
 * of two (at least 2 KiB). agfx_pvg_copy_option_rom returns a malloc'd buffer
 * (free with agfx_pvg_free); agfx_pvg_write_option_rom writes it to `path`
 * (for `apple-gfxd --write-option-rom PATH`).
 */
bool agfx_pvg_copy_option_rom(void **data, size_t *len, char *err, size_t err_len);
bool agfx_pvg_write_option_rom(const char *path, char *err, size_t err_len);
void agfx_pvg_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* AGFX_PVG_EXTRAS_H */

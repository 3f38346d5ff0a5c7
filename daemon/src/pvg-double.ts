// Linux only: `--backend pvg` runs the real pvg backend (native/pvg/*.mm)
// against the PVG double, a test-only stand-in for ParavirtualizedGraphics,
// Metal and libdispatch (native/pvg-double/, built by `npm run build:pvg-double`).
// The build is a backend library the daemon loads like lib:PATH; its table
// is the pvg backend's own (name "pvg"). Never part of the macOS build.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build:pvg-double` puts the library (relative to the package root). */
export const PVG_DOUBLE_LIBRARY = 'native/build-pvg-double/libagfx_pvg_double.so';

/** The PVG double library to load for `--backend pvg` on Linux, or null if none is built. */
export function pvgDoubleLibrary(): string | null {
  const fromEnv = process.env.APPLE_GFXD_PVG_DOUBLE;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : null;
  // dist/daemon/src/pvg-double.js -> package root
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const path = join(root, PVG_DOUBLE_LIBRARY);
  return existsSync(path) ? path : null;
}
